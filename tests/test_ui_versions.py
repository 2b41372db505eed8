"""Regenerate keeps alternatives: versions (←/→, "2/3"), ratings per version, a push-back signal,
and exports that mark superseded versions. Fake engine, real SQLite."""

from __future__ import annotations

import json

import pytest

from openclaw_local.services.data_export import full_rows, kto_rows
from openclaw_local.store import Store
from openclaw_local.store.samples import SampleStore
from tests.ui_helpers import make_fake_app, wait_for, wait_idle

SIZE = (120, 36)


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def make(store):
    samples = SampleStore(store)
    app = make_fake_app(store)
    app.chat.on_next_state = samples.record_next_state  # what the runtime wires (without a judge)
    return app, samples


async def regenerate(pilot, app, n: int) -> None:
    if app.focused is not app.chat_view:  # reply mode lasts one command: esc returns to it
        await pilot.press("escape")
    await pilot.press("r")
    await wait_for(pilot, lambda: app.chat_view.replies and f"number {n}" in app.chat_view.replies[-1].body_text
                   and not app.streaming, 5, f"reply {n}")
    await pilot.pause()


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
async def test_versions_switch_and_ratings_belong_to_a_version(store):
    app, samples = make(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hello", "enter")
        first = await wait_idle(pilot, app, 1)
        v1 = first.message.id
        await pilot.press("escape", "plus")  # 👍 version 1
        await regenerate(pilot, app, 2)
        await regenerate(pilot, app, 3)
        view = app.chat_view.replies[-1]
        assert "⟳ 3/3" in view.header_text() and "👍" not in view.header_text()
        assert len(app.chat_view.replies) == 1
        await pilot.press("escape", "left", "left")
        await wait_for(pilot, lambda: "⟳ 1/3" in app.chat_view.replies[-1].header_text(), 5, "version 1")
        view = app.chat_view.replies[-1]
        assert view.message.id == v1 and "👍" in view.header_text() and "number 1" in view.body_text
        assert app.focused is app.chat_view
        await pilot.press("left")  # already the first: nothing changes
        assert app.chat_view.replies[-1].message.id == v1
        await pilot.press("right")
        await wait_for(pilot, lambda: "⟳ 2/3" in app.chat_view.replies[-1].header_text(), 5, "version 2")
        await pilot.press("minus")
        shown = [m for m in app.chat.messages(app.conversation_id) if m.role == "assistant"]
        assert len(shown) == 1 and shown[0].version == 2 and shown[0].rating == -1
        versions = app.chat.versions(v1)
        assert [m.rating for m in versions] == [1, -1, None]
        assert [m.superseded for m in versions] == [True, False, True]


async def test_regenerate_is_a_push_back_unless_rated(store):
    app, samples = make(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hello", "enter")
        first = (await wait_idle(pilot, app, 1)).message.id
        await pilot.press("escape")
        await regenerate(pilot, app, 2)
        second = app.chat_view.replies[-1].message.id
        await pilot.press("escape", "plus")
        await regenerate(pilot, app, 3)
    s1, s2 = samples.get(first), samples.get(second)
    assert (s1.status, s1.reward, s1.reward_source) == ("judged", -1, "regenerate")
    assert (s2.status, s2.reward, s2.reward_source) == ("judged", 1, "rating")  # the rating wins
    rows = {r["message_id"]: r for r in full_rows(samples)}
    assert rows[first]["superseded"] is True and rows[first]["reward_source"] == "regenerate"
    kto = [r for r in kto_rows(samples)]
    assert kto and all(r.get("superseded") is True for r in kto)  # both replaced versions say so
    assert {r["label"] for r in kto} == {True, False}
    json.dumps(kto)


async def test_only_the_last_reply_switches_versions(store):
    app, _ = make(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"one", "enter")
        await wait_idle(pilot, app, 1)
        await pilot.press("escape")
        await regenerate(pilot, app, 2)
        await pilot.press("enter", *"two", "enter")
        await wait_idle(pilot, app, 2)
        notices = []
        original = app.notify
        app.notify = lambda message, *a, **k: (notices.append(str(message)), original(message, *a, **k))[1]
        await pilot.press("escape", "up", "left")
        await pilot.pause()
        assert any("only the last reply" in n for n in notices)
        assert len(app.chat_view.replies) == 2


def test_chat_export_lists_superseded_versions(store):
    from openclaw_local.cli.history import conversation_record

    conv = store.create_conversation()
    store.add_message(conv.id, "user", "hi")
    v1 = store.add_message(conv.id, "assistant", "first")
    store.rate(v1.id, 1)
    store.update_message(v1.id, reply_group=v1.id, superseded=True)
    store.add_message(conv.id, "assistant", "second", reply_group=v1.id)
    record = conversation_record(store, conv.id)
    reply = record["messages"][-1]
    assert reply["content"] == "second" and reply["metadata"]["version"] == "2/2"
    assert reply["metadata"]["other_versions"] == [
        {"message_id": v1.id, "content": "first", "rating": 1, "correction": None, "superseded": True}]
