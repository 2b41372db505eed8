"""JudgeWorker with a real Engine and a real Store: judging in the background, never delaying chat."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from openclaw_local.config import Settings
from openclaw_local.engine import ModelGate
from openclaw_local.judge import make_judge
from openclaw_local.services.chat import ChatService
from openclaw_local.services.events import EventBus
from openclaw_local.services.judging import JudgeWorker
from openclaw_local.store import Store
from openclaw_local.store.samples import SampleStore


@pytest.fixture(scope="module")
def engine():
    from openclaw_local.engine import Engine
    from openclaw_local.paths import embedded_model_path

    eng = Engine(embedded_model_path(), n_ctx=2048, threads=1, seed=0)  # 1 thread: the 2 cores are shared
    yield eng
    eng.close()


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def _judge(engine, votes=2):
    return make_judge("generate", engine, votes=votes, seed=0, max_tokens=4, hint_max_tokens=16)


def _exchange(store, conv, user, reply):
    store.add_message(conv.id, "user", user)
    return store.add_message(conv.id, "assistant", reply)


@pytest.mark.slow
def test_worker_judges_rated_corrected_and_pushed_back_replies(engine, store, tmp_path):
    samples = SampleStore(store)
    events = []
    bus = EventBus()
    bus.subscribe(lambda e: events.append((e.message_id, e.reward, e.hint)))
    worker = JudgeWorker(samples, _judge(engine), events=bus)
    chat = ChatService(store, engine, Settings(max_tokens=4, temperature=0.0, seed=0), on_next_state=worker.notify)
    conv = chat.new_conversation()
    a1 = _exchange(store, conv, "What's the capital of France?", "Paris.")
    a2 = _exchange(store, conv, "When is the meeting?", "The meeting is on Monday.")
    a3 = _exchange(store, conv, "Summarize the report in one line.", "The report covers sales, hiring, budgets, risks, plans and more, in great detail across many sections.")
    worker.start()
    chat.rate(a1.id, 1)
    chat.correct(a2.id, "The meeting is on Tuesday at 10.")
    reply = chat.send(conv.id, "Too long. One line please.", emit=lambda event: None)
    assert reply is not None and reply.role == "assistant"
    assert worker.wait_idle(120), "judge worker did not finish"

    r1, r2, r3 = samples.get(a1.id), samples.get(a2.id), samples.get(a3.id)
    # rated: the judge ran on the following message (votes kept), the thumbs up stays the reward
    assert r1.status == "judged" and r1.reward == 1 and r1.reward_source == "rating"
    assert len(r1.votes) == 2 and r1.judge_reward in (-1, 0, 1) and r1.judge_mode == "generate"
    # corrected: no judge needed, -1 and the corrected text as hint / known-good reply
    assert r2.status == "judged" and r2.reward == -1 and r2.reward_source == "correction"
    assert r2.hint == r2.correction == "The meeting is on Tuesday at 10." and r2.votes is None
    # pushed back: judged by the model, every vote stored with its raw output
    # (a 0 without a hint is stored as skipped, "judge could not tell")
    assert r3.status == ("judged" if r3.reward or r3.hint else "skipped")
    assert r3.reward_source == "judge" and r3.next_state == "Too long. One line please."
    assert len(r3.votes) == 2 and all("raw" in v and "vote" in v for v in r3.votes)
    assert r3.reward == r3.judge_reward in (-1, 0, 1)
    assert samples.get(reply.id) is None  # the new reply has no next state yet
    seen = {mid: (reward, hint) for mid, reward, hint in events}
    assert seen[a1.id][0] == 1 and seen[a2.id] == (-1, "The meeting is on Tuesday at 10.") and seen[a3.id][0] == r3.reward
    assert samples.counts()["waiting"] == 0 and worker.judged == 2
    worker.stop()
    assert not worker.running

    # left waiting when the app stopped: a worker (here the same one, restarted) picks it up on start
    a5 = _exchange(store, conv, "Name a fruit.", "Apple.")
    store.add_message(conv.id, "user", "Name a vegetable.")
    assert samples.record_next_state(a5.id).status == "waiting"
    worker.start()
    try:
        assert worker.wait_idle(60)
        r5 = samples.get(a5.id)
        assert r5.status in ("judged", "skipped") and r5.judged_at
        assert len(r5.votes) == 2 and all(v["raw"] for v in r5.votes)
    finally:
        worker.stop()


class RecordingGate(ModelGate):
    """The real gate, logging who asks for the model, who gets it and who gives it back, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str]] = []  # (side, "request" | "acquire" | "release")
        self.held_by: str | None = None

    def _record(self, side: str, cm):
        @contextmanager
        def held():
            self.log.append((side, "request"))
            with cm:
                self.log.append((side, "acquire"))
                self.held_by = side
                try:
                    yield
                finally:
                    self.held_by = None
                    self.log.append((side, "release"))

        return held()

    def foreground(self):
        return self._record("chat", super().foreground())

    def background(self):
        return self._record("judge", super().background())


@pytest.mark.slow
def test_the_judge_gives_the_model_to_a_waiting_chat_message(engine, store):
    """Behaviour, not timing (TTFT under judge load is measured by ``bench``, docs/BENCHMARKS.md):
    the model is never held by both; a chat request that arrives while the judge generates is
    served next (the judge is preempted mid-generation, not allowed to finish); the judge never
    takes the model while a chat message waits; the preempted sample is judged after all."""
    chat_msgs = [
        {"role": "system", "content": "You are a helpful, concise personal assistant."},
        {"role": "user", "content": "The menu please. One guest is vegetarian and another cannot eat nuts."},
    ]
    gate, engine.gate = engine.gate, RecordingGate()
    samples = SampleStore(store)
    conv = store.create_conversation()
    for i in range(2):
        _exchange(store, conv, f"Question number {i} about the weather in a city?", f"Here is a fairly long answer number {i} about the weather, with several details.")
    store.add_message(conv.id, "user", "ok")
    samples.record_all()
    judge = make_judge("generate", engine, votes=2, hint_votes=1, seed=0, max_tokens=32, hint_max_tokens=32)
    worker = JudgeWorker(samples, judge).start()
    log = engine.gate.log
    requested_while_judging = 0
    try:
        for _ in range(3):
            deadline = time.monotonic() + 60
            while engine.gate.held_by != "judge" and time.monotonic() < deadline:
                time.sleep(0.002)
            requested_while_judging += engine.gate.held_by == "judge"
            reply = engine.complete(chat_msgs, max_tokens=4, temperature=0.0)
            assert reply.strip(), "the chat request got no reply"
        assert worker.wait_idle(300), "judge worker did not finish"
    finally:
        worker.stop()
        engine.gate = gate
    assert requested_while_judging >= 1, "the judge never held the model: nothing was tested"
    holder = None
    for n, (side, what) in enumerate(log):
        if what == "acquire":
            assert holder is None, f"{side} got the model while {holder} held it (event {n})"
            holder = side
        elif what == "release":
            holder = None
        if side == "chat" and what == "request":
            nxt = next(e for e in log[n + 1:] if e[1] == "acquire")
            assert nxt[0] == "chat", f"the judge took the model while a chat message waited (event {n})"
    # the judge was preempted (the chat came in mid-generation) and the sample judged afterwards
    assert worker.preemptions >= 1 and samples.counts()["waiting"] == 0 and worker.errors == 0
