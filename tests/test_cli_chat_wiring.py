"""``openclaw-local chat`` builds the TUI from the runtime's parts: no attribute is patched afterwards."""

from __future__ import annotations

from openclaw_local.cli import main
from openclaw_local.services import container
from openclaw_local.services.runtime import Runtime
from openclaw_local.ui.app import OpenClawApp
from tests.fake_engine import FakeEngine


def test_chat_gives_the_app_the_runtimes_adapters_events_and_start_notices(home, monkeypatch):
    monkeypatch.setattr(container, "load_chat_engine",
                        lambda home, settings, *, gate=None, notices=None: FakeEngine(default="ok", gate=gate))
    opened: list[Runtime] = []
    real_open = Runtime.open.__func__
    monkeypatch.setattr(Runtime, "open", classmethod(lambda cls, *a, **k: opened.append(real_open(cls, *a, **k)) or opened[-1]))
    seen = {}

    def run(app: OpenClawApp) -> None:  # instead of taking over the terminal: look at what was built
        rt = opened[0]
        rt.notices.append("llama.cpp self-test: running on the CPU")  # a notice decided after the app was built
        seen.update(chat=app.chat is rt.chat, adapters=app.adapter_service is rt.adapters, events=app.events is rt.events,
                    notices=list(app._start_notices), learn_now=app.on_learn_now)

    monkeypatch.setattr(OpenClawApp, "run", run)
    assert main(["chat", "--no-learn"]) == 0
    assert seen == {"chat": True, "adapters": True, "events": True, "learn_now": None,
                    "notices": ["llama.cpp self-test: running on the CPU"]}
