"""ChatService and JudgeWorker on a FakeEngine (queued replies) and a real SQLite store: milliseconds each.

The same flows run on the real model in test_chat_service.py and test_judging_worker.py;
these pin down what the services do with what the model says, exactly.
"""

from __future__ import annotations

import threading

import pytest

from openclaw_local.config import Settings
from openclaw_local.judge import make_judge
from openclaw_local.services.chat import ChatService
from openclaw_local.services.events import EventBus, Judged, ReplyDelta, ReplyFinished, ReplyStarted
from openclaw_local.services.judging import JudgeWorker
from openclaw_local.store import Store
from openclaw_local.store.samples import SampleStore
from tests.fake_engine import FakeEngine

SETTINGS = Settings(max_tokens=24, temperature=0.0, seed=7, system_prompt="Be brief.")


@pytest.fixture
def store(home):
    s = Store.open(home)
    yield s
    s.close()


@pytest.fixture
def chat(store, fake_engine):
    next_states: list[int] = []
    svc = ChatService(store, fake_engine, SETTINGS, adapter_version=lambda: 3, on_next_state=next_states.append)
    svc.next_states = next_states
    return svc


def test_send_streams_the_queued_reply_and_stores_it(chat, fake_engine):
    fake_engine.queue("Hello there, friend.")
    conv = chat.new_conversation()
    events = []
    reply = chat.send(conv.id, "Say hello.", events.append)

    assert fake_engine.prompts == [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]]
    assert fake_engine.calls[0].kwargs["max_tokens"] == 24 and fake_engine.calls[0].kwargs["background"] is False
    assert isinstance(events[0], ReplyStarted) and events[0].message.id == reply.id and events[0].notice is None
    assert [e.reply for e in events if isinstance(e, ReplyDelta)] == ["Hello", "Hello there,", "Hello there, friend."]
    assert isinstance(events[-1], ReplyFinished) and events[-1].finish_reason == "stop"
    rows = chat.store.messages(conv.id)
    assert [(m.role, m.content) for m in rows] == [("user", "Say hello."), ("assistant", "Hello there, friend.")]
    a = rows[1]
    assert not a.interrupted and a.n_tokens == 3 and a.model == "fake-model.gguf" and a.adapter_version == 3
    assert a.settings == {"temperature": 0.0, "top_p": 0.95, "max_tokens": 24, "thinking": False}


def test_the_next_turn_sends_the_whole_thread_and_reports_the_previous_reply(chat, fake_engine):
    fake_engine.queue("Paris.", "About 2 million.")
    conv = chat.new_conversation()
    first = chat.send(conv.id, "Capital of France?", lambda e: None)
    chat.send(conv.id, "How many people live there?", lambda e: None)
    assert chat.next_states == [first.id]
    assert [m["content"] for m in fake_engine.prompts[1]] == [
        "Be brief.", "Capital of France?", "Paris.", "How many people live there?"]


def test_thinking_is_kept_apart_from_the_reply(chat, fake_engine):
    fake_engine.queue(["<think>", "the user wants", " a word", "</think>", "Serendipity."])
    conv = chat.new_conversation()
    reply = chat.send(conv.id, "A word?", lambda e: None)
    assert reply.content == "Serendipity." and reply.thinking == "the user wants a word"
    assert chat.context_for(conv.id)[-1] == {"role": "assistant", "content": "Serendipity."}


def test_interrupt_keeps_the_partial_reply_marked_interrupted(chat, fake_engine):
    fake_engine.queue("one two three four five six")
    conv = chat.new_conversation()
    cancel = threading.Event()
    events = []

    def emit(event):
        events.append(event)
        if isinstance(event, ReplyDelta) and event.reply == "one two":
            cancel.set()

    reply = chat.send(conv.id, "Count.", emit, cancel)
    assert reply.content == "one two" and reply.interrupted and reply.n_tokens == 2
    assert events[-1].finish_reason == "cancelled"
    assert chat.store.get_message(reply.id).interrupted


def test_max_tokens_cuts_the_reply_and_is_not_an_interruption(chat, fake_engine):
    chat.settings = SETTINGS.replace(max_tokens=2)
    fake_engine.queue("one two three four")
    conv = chat.new_conversation()
    events = []
    reply = chat.send(conv.id, "Count.", events.append)
    assert reply.content == "one two" and not reply.interrupted and events[-1].finish_reason == "length"


def test_a_model_error_mid_reply_leaves_the_row_marked_interrupted(chat, fake_engine):
    fake_engine.queue(RuntimeError("llama.cpp died"))
    conv = chat.new_conversation()
    with pytest.raises(RuntimeError):
        chat.send(conv.id, "Hello?", lambda e: None)
    rows = chat.store.messages(conv.id)
    assert [m.role for m in rows] == ["user", "assistant"] and rows[1].interrupted and rows[1].content == ""


def test_regenerate_supersedes_the_old_reply_and_asks_without_it(chat, fake_engine):
    fake_engine.queue("Bad answer.", "Good answer.")
    conv = chat.new_conversation()
    old = chat.send(conv.id, "Question?", lambda e: None)
    new = chat.regenerate(old.id, lambda e: None)
    assert fake_engine.prompts[1] == fake_engine.prompts[0]  # the superseded reply is not in the context
    assert [m.content for m in chat.store.messages(conv.id)] == ["Question?", "Good answer."]
    everything = chat.store.messages(conv.id, include_superseded=True)
    assert [m.id for m in everything if m.superseded] == [old.id] and new.id != old.id
    assert chat.next_states == [old.id]  # regenerating is push-back on the replaced reply (judged like a next state)
    with pytest.raises(ValueError):
        chat.regenerate(everything[0].id, lambda e: None)  # a user message


def test_rating_and_correction_reach_the_hook_and_the_context(chat, fake_engine):
    fake_engine.queue("Serendipty.")
    conv = chat.new_conversation()
    reply = chat.send(conv.id, "A word?", lambda e: None)
    chat.rate(reply.id, -1)
    chat.correct(reply.id, "Serendipity.")
    assert chat.next_states == [reply.id, reply.id]
    assert chat.context_for(conv.id)[-1] == {"role": "assistant", "content": "Serendipity."}
    with pytest.raises(ValueError):
        chat.correct(reply.id, "  ")


def test_a_training_sample_is_prompted_with_the_context_its_reply_was_generated_from(chat, fake_engine, store):
    """ChatService.context_for and SampleStore.prompt_messages are one definition (records.model_context)."""
    fake_engine.queue("Paris.", "About 2 million.")
    conv = chat.new_conversation()
    first = chat.send(conv.id, "Capital of France?", lambda e: None)
    chat.correct(first.id, "Paris, France.")
    second = chat.send(conv.id, "Population?", lambda e: None)
    samples = SampleStore(store, default_system_prompt=SETTINGS.system_prompt)
    assert samples.prompt_messages(first.id) == fake_engine.prompts[0] == chat.context_for(conv.id, upto=first.id)
    assert samples.prompt_messages(second.id) == fake_engine.prompts[1] == chat.context_for(conv.id, upto=second.id)
    assert fake_engine.prompts[1][2] == {"role": "assistant", "content": "Paris, France."}


def test_dropped_turns_become_a_notice(chat, fake_engine):
    fake_engine.n_ctx = 40  # fake tokens are words: room for the system prompt, the reply reserve and one turn
    fake_engine.queue("First.", "Second.")
    conv = chat.new_conversation()
    chat.send(conv.id, "word " * 10, lambda e: None)
    events = []
    chat.send(conv.id, "short", events.append)
    assert events[0].notice and "left out to fit the context window" in events[0].notice


def test_empty_message_is_ignored_without_a_model_call(chat, fake_engine):
    conv = chat.new_conversation()
    assert chat.send(conv.id, " \n", lambda e: None) is None
    assert fake_engine.calls == [] and chat.store.messages(conv.id) == []


def test_an_unexpected_model_call_fails_loudly(fake_engine):
    with pytest.raises(AssertionError, match="no response is queued"):
        fake_engine.complete([{"role": "user", "content": "hi"}])


# ------------------------------------------------------------------ judge worker


def _exchange(store, conv, user, reply):
    store.add_message(conv.id, "user", user)
    return store.add_message(conv.id, "assistant", reply)


def test_judge_worker_stores_the_votes_the_model_gave(store):
    engine = FakeEngine(["+1", "-1", "-1", "<hint>Answer in one line.</hint>", "no hint"])
    samples = SampleStore(store)
    judged = []
    bus = EventBus()
    bus.subscribe(judged.append)
    worker = JudgeWorker(samples, make_judge("generate", engine, votes=3, hint_votes=2, seed=0), events=bus)
    conv = store.create_conversation()
    a = _exchange(store, conv, "Summarize the report.", "It covers sales, hiring, budgets and more, at length.")
    store.add_message(conv.id, "user", "Too long. One line please.")
    worker.notify(a.id)
    assert worker.run_pending() == 1

    row = samples.get(a.id)
    assert [v["raw"] for v in row.votes] == ["+1", "-1", "-1"] and row.judge_reward == -1
    assert row.reward == -1 and row.hint == "Answer in one line." and row.status == "judged"
    assert judged == [Judged(a.id, -1, "Answer in one line.")]
    assert engine.pending == 0 and all(c.kwargs["background"] for c in engine.calls)
    assert "Too long. One line please." in engine.prompts[0][-1]["content"]


def test_the_judge_yields_the_model_to_chat_and_judges_the_sample_again(store):
    """A chat message that arrives while the judge generates gets the model; the judge starts over after."""
    engine = FakeEngine(piece_delay_s=0.01)
    # the judge's first vote is long enough to still be streaming when the chat message arrives
    engine.queue("+1 " + "x " * 200, "Here you go.", "+1")
    samples = SampleStore(store)
    worker = JudgeWorker(samples, make_judge("generate", engine, votes=1, seed=0, max_tokens=500), retry_s=0.0)
    chat = ChatService(store, engine, SETTINGS)
    conv = store.create_conversation()
    a = _exchange(store, conv, "Name a fruit.", "Apple.")
    store.add_message(conv.id, "user", "Thanks! And a vegetable?")
    samples.record_next_state(a.id)
    worker.start()
    try:
        assert engine.streaming.wait(10)  # the judge holds the model and is generating
        reply = chat.send(conv.id, "Also a colour?", lambda e: None)
        assert worker.wait_idle(10)
    finally:
        worker.stop()
    assert reply.content == "Here you go."
    assert [c.kwargs["background"] for c in engine.calls] == [True, False, True]
    assert worker.preemptions == 1 and samples.get(a.id).votes[0]["raw"] == "+1"
