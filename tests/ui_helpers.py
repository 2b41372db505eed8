"""Helpers for Pilot-driven UI tests on the fake engine (fast) and a real SQLite store."""

from __future__ import annotations

import time

from openclaw_local.config import Settings
from openclaw_local.services.chat import ChatService
from openclaw_local.store import Store
from openclaw_local.ui import OpenClawApp, build_app
from tests.fake_engine import FakeEngine


def make_fake_app(store: Store, engine: FakeEngine | None = None, **kwargs) -> OpenClawApp:
    chat = ChatService(store, engine or FakeEngine(default="Reply number {n}: a short answer."), Settings(max_tokens=24, n_ctx=1024, temperature=0.0))
    return build_app(chat, "fake-model.gguf", **kwargs)


async def wait_for(pilot, condition, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")


async def wait_idle(pilot, app: OpenClawApp, n_replies: int, timeout: float = 10.0):
    def done() -> bool:
        replies = app.chat_view.replies
        return not app.streaming and len(replies) >= n_replies and not replies[-1].streaming

    await wait_for(pilot, done, timeout, f"{n_replies} finished replies")
    await pilot.pause()
    return app.chat_view.replies[-1]


def seed_chat(store: Store, turns: list[tuple[str, str]], title: str | None = None) -> int:
    """A stored conversation of (user, assistant) turns; returns its id."""
    conv = store.create_conversation()
    for user, reply in turns:
        store.add_message(conv.id, "user", user)
        store.add_message(conv.id, "assistant", reply)
    return conv.id
