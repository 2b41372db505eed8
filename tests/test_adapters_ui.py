"""The Adapters screen and the "what changed" view, driven by Pilot on a real store."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from textual.app import App

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish  # noqa: E402

from openclaw_local.config import Settings  # noqa: E402
from openclaw_local.services.adapters import AdapterService  # noqa: E402
from openclaw_local.store import Store  # noqa: E402
from openclaw_local.ui.adapters_screen import AdaptersScreen, WhatChangedScreen  # noqa: E402


class FakeEngine:
    """Answers a probe with the adapter it is told to use (the screen only needs the text)."""

    def __init__(self):
        self.adapter = None

    def set_adapter(self, path, merged=None):
        self.adapter = path
        return 0.0

    def complete(self, messages, **kwargs):
        who = Path(self.adapter).parent.name if self.adapter else "base"
        return f"{who} answers: {messages[-1]['content']}"


def make_versions(home: Path) -> AdapterService:
    store = Store.open(home)
    tmpl = home / "tmpl"
    tmpl.mkdir()
    (tmpl / "adapter.gguf").write_bytes(b"GGUF fake")
    (tmpl / "adapter_config.json").write_text("{}")
    v1 = publish(home, store, None, None, template=tmpl)
    publish(home, store, None, None, template=tmpl, parent=v1.id)
    return AdapterService(home, Settings(), store, engine_factory=FakeEngine)


async def until(pilot, cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if cond():
            return
    raise AssertionError("timed out")


async def test_adapters_screen_rollback_activate_and_what_changed(home):
    svc = make_versions(home)

    class Host(App):
        def on_mount(self):
            self.push_screen(AdaptersScreen(svc))

    app = Host()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AdaptersScreen)
        assert screen.query_one("DataTable").row_count == 2
        await pilot.press("u")  # one key press undoes the active version
        await pilot.pause()
        assert svc.active().id == 1 and "now serving v1" in str(screen.query_one("#message").render())
        await pilot.press("a")  # cursor is on the newest (v2): it was rolled back, so no --force needed
        await pilot.pause()
        assert svc.active().id == 2

        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WhatChangedScreen) and app.screen.rows)
        view = app.screen
        assert len(view.rows) == 3  # the default probes
        row = view.rows[0]
        assert row.previous.startswith("v0001 answers") and row.selected.startswith("v0002 answers")
        # answers are cached per version and probe
        assert svc.adapters.probe_answer(2, row.probe_id) == row.selected

        await pilot.press("n")
        await pilot.pause()
        for ch in "Say hi":
            await pilot.press("space" if ch == " " else ch)
        await pilot.press("enter")
        await until(pilot, lambda: len(view.rows) == 4)
        assert view.rows[-1].prompt == "Say hi" and view.rows[-1].selected == "v0002 answers: Say hi"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AdaptersScreen)
