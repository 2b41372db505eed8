"""Background events reach the TUI through the runtime's event bus, beside any other subscriber.

A real :class:`Runtime` (store, verdict relay, learner service, chat service) on the fake engine:
the user rates a reply in the TUI, the learner service's follower thread publishes the verdict on
``runtime.events``, and both the app (through ui/event_bridge.py) and a second subscriber get it.
(The rules judge runs in the learner process, not started here: a rating needs no judge.)
"""

from __future__ import annotations

import threading

import pytest

from openclaw_local.config import Settings
from openclaw_local.services import container
from openclaw_local.services.events import AdapterSwapped, Judged
from openclaw_local.services.learner import LearnerService
from openclaw_local.services.runtime import Runtime
from openclaw_local.ui import build_app
from tests.fake_engine import FakeEngine
from tests.ui_helpers import seed_chat, wait_for

SIZE = (120, 36)


@pytest.fixture
def runtime(home, monkeypatch):
    # Everything as `chat` builds it, except the chat engine: a fake, so nothing loads llama.cpp.
    monkeypatch.setattr(container, "load_chat_engine",
                        lambda home, settings, *, gate=None, notices=None: FakeEngine(default="A short answer.", gate=gate))
    monkeypatch.setattr(LearnerService, "_spawn", lambda self: None)  # the follower thread, not the learner process
    rt = Runtime.open(home, Settings(learn=True, judge_mode="rules", max_tokens=24, n_ctx=1024, temperature=0.0))
    yield rt
    rt.close()


def app_for(rt: Runtime, **kwargs):
    """The app as ``openclaw-local chat`` builds it from the runtime."""
    return build_app(rt.chat, rt.engine.model_name, status_provider=lambda: rt.status().fields(),
                     adapter_service=rt.adapters, events=rt.events, **kwargs)


def spy_notices(app) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message, *args, **kwargs):
        seen.append((str(message), kwargs.get("severity", "information")))
        return original(message, *args, **kwargs)

    app.notify = notify
    return seen


async def test_a_verdict_published_by_the_runtime_reaches_the_tui_and_a_second_subscriber(runtime):
    seed_chat(runtime.store, [("What is 2+2?", "4.")])
    other: list[object] = []
    runtime.events.subscribe(other.append)  # e.g. the endpoint, or a CLI's progress line
    app = app_for(runtime)
    runtime.start_background()  # the follower thread publishes verdicts, as in the chat
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert len(runtime.events) == 2  # the app subscribed while it runs
        (reply,) = app.chat_view.replies
        assert reply.judgment == ""
        await pilot.press("up", "plus")  # reply mode, 👍: the reply's sample is judged at once
        await wait_for(pilot, lambda: reply.judgment == "✓", what="the judge's ✓ on the reply")
        assert Judged(reply.message.id, 1, None) in other
    assert len(runtime.events) == 1  # the closed app unsubscribed; the other subscriber stays


async def test_adapter_swaps_from_another_thread_are_shown_as_before(runtime):
    app = app_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        seen = spy_notices(app)
        swaps = [AdapterSwapped(4, 0.1), AdapterSwapped(None, 0.0), AdapterSwapped(None, 0.0, "adapter v4 is broken (missing)")]
        publisher = threading.Thread(target=lambda: [runtime.events.publish(e) for e in swaps])
        publisher.start()
        publisher.join()
        await wait_for(pilot, lambda: len(seen) == 3, what="three notices")
    assert seen == [("now serving adapter v4", "information"), ("now serving the base model", "information"),
                    ("adapter v4 is broken (missing)", "warning")]


async def test_start_notices_are_read_when_the_app_runs(runtime):
    notices = ["llama.cpp self-test: running on the CPU"]
    app = app_for(runtime, start_notices=iter(notices))
    notices.append("serving the OpenAI-compatible endpoint at http://127.0.0.1:8000/v1")  # added after build, before run
    shown = []
    original = app.notify
    app.notify = lambda message, *a, **k: (shown.append((str(message), k.get("severity"), k.get("timeout"))),
                                           original(message, *a, **k))[1]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert shown == [(text, "warning", 15) for text in notices]
