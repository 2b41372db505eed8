"""ChatService on the real engine and a real SQLite store."""

import threading

import pytest

from openclaw_local.services.chat import ChatService
from openclaw_local.services.events import ReplyDelta, ReplyFinished, ReplyStarted
from openclaw_local.store import Store


@pytest.fixture
def chat(home, engine, quick_settings):
    store = Store.open(home)
    seen = []
    svc = ChatService(store, engine, quick_settings, on_next_state=seen.append)
    svc.next_states = seen
    yield svc
    store.close()


def test_send_streams_and_stores_everything(chat):
    conv = chat.new_conversation()
    events = []
    reply = chat.send(conv.id, "Say hello to me.", events.append)
    assert isinstance(events[0], ReplyStarted) and isinstance(events[-1], ReplyFinished)
    assert any(isinstance(e, ReplyDelta) for e in events)
    rows = chat.store.messages(conv.id)
    assert [m.role for m in rows] == ["user", "assistant"]
    assert rows[1].content == reply.content and reply.content
    assert not rows[1].interrupted and rows[1].n_tokens > 0 and rows[1].tokens_per_s > 0
    assert rows[1].model == chat.engine.model_name
    assert rows[1].settings["max_tokens"] == 24


def test_empty_message_is_ignored(chat):
    conv = chat.new_conversation()
    assert chat.send(conv.id, "   \n ", lambda e: None) is None
    assert chat.store.messages(conv.id) == []


def test_cancel_keeps_partial_reply_marked_interrupted(chat):
    chat.settings = chat.settings.replace(max_tokens=200, temperature=0.8)
    conv = chat.new_conversation()
    cancel = threading.Event()

    def emit(event):
        if isinstance(event, ReplyDelta) and len(event.reply) > 5:
            cancel.set()

    reply = chat.send(conv.id, "Write a long poem about rain.", emit, cancel)
    stored = chat.store.get_message(reply.id)
    assert stored.interrupted and stored.content and stored.content == reply.content


def test_next_state_hook_regenerate_rate_correct(chat):
    conv = chat.new_conversation()
    first = chat.send(conv.id, "Give me a word.", lambda e: None)
    chat.send(conv.id, "Another one please.", lambda e: None)
    assert chat.next_states == [first.id]
    chat.rate(first.id, -1)
    chat.correct(first.id, "Serendipity.")
    assert chat.next_states == [first.id] * 3
    assert chat.context_for(conv.id)[2] == {"role": "assistant", "content": "Serendipity."}
    last = chat.store.messages(conv.id)[-1]
    new = chat.regenerate(last.id, lambda e: None)
    all_rows = chat.store.messages(conv.id, include_superseded=True)
    assert [m.id for m in all_rows if m.superseded] == [last.id]
    assert chat.store.messages(conv.id)[-1].id == new.id


def test_a_crash_mid_reply_leaves_the_row_marked_interrupted(chat):
    conv = chat.new_conversation()

    class Boom(Exception):
        pass

    def emit(event):
        if isinstance(event, ReplyDelta):
            raise Boom()

    with pytest.raises(Boom):
        chat.send(conv.id, "Tell me a story.", emit)
    rows = chat.store.messages(conv.id)
    assert rows[0].content == "Tell me a story."
    assert rows[1].role == "assistant" and rows[1].interrupted
