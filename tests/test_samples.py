"""SampleStore: next states → sample rows in a real SQLite database."""

from __future__ import annotations

import os

import pytest

from openclaw_local.records import JudgeAgreement, WaitingReply
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore


@pytest.fixture
def env(tmp_path):
    store = Store.open(tmp_path)
    yield store, SampleStore(store)
    store.close()


def _publish(adapters, sample_ids, root) -> int:
    """Train-and-publish as the learner records it: reserve an id, then the version row marks its samples trained."""
    version_id = adapters.reserve(os.getpid(), "trained")
    adapters.publish(version_id, root / f"v{version_id}", parent_id=None, sample_ids=sample_ids, metrics={}, activate=True)
    return version_id


def _exchange(store, conv, user, reply, **kw):
    store.add_message(conv.id, "user", user)
    return store.add_message(conv.id, "assistant", reply, **kw)


def test_no_next_state_no_row(env):
    store, samples = env
    conv = store.create_conversation("sys")
    a = _exchange(store, conv, "hi", "hello")
    assert samples.record_next_state(a.id) is None
    assert samples.get(a.id) is None
    assert samples.counts() == {"waiting": 0, "judged": 0, "trained": 0, "skipped": 0}


def test_next_user_message_waits_for_judge_and_is_idempotent(env):
    store, samples = env
    conv = store.create_conversation("sys")
    a = _exchange(store, conv, "capital of France?", "Paris.")
    store.add_message(conv.id, "user", "thanks! and Germany?")
    row = samples.record_next_state(a.id)
    assert row.status == "waiting" and row.next_state == "thanks! and Germany?"
    assert row.prompt == "capital of France?" and row.reward is None
    again = samples.record_next_state(a.id)
    assert again == row  # nothing rewritten
    todo = samples.to_judge()
    assert todo == [WaitingReply(message_id=a.id, reply="Paris.", next_state="thanks! and Germany?", prompt="capital of France?")]
    ok = samples.record_judgement(a.id, next_state="thanks! and Germany?", judge_reward=1,
                                  votes=[{"raw": "+1", "vote": 1}] * 3, hint=None, hint_votes=[], mode="generate")
    assert ok
    row = samples.get(a.id)
    assert row.status == "judged" and row.reward == 1 and row.reward_source == "judge"
    assert row.votes == [{"raw": "+1", "vote": 1}] * 3 and row.judge_reward == 1
    # judged once: recording again neither resets it nor queues it for the judge
    assert samples.record_next_state(a.id).status == "judged"
    assert samples.to_judge() == []
    assert not samples.record_judgement(a.id, next_state="thanks! and Germany?", judge_reward=-1,
                                        votes=[], hint=None, hint_votes=[], mode="generate")


def test_rating_sets_reward_and_overrides_judge(env):
    store, samples = env
    conv = store.create_conversation("sys")
    a = _exchange(store, conv, "q", "answer")
    store.rate(a.id, -1)
    row = samples.record_next_state(a.id)
    assert row.status == "judged" and row.reward == -1 and row.reward_source == "rating"
    # a following message: the judge still runs (for a hint and to measure it), the rating stays
    store.add_message(conv.id, "user", "great, thanks")
    row = samples.record_next_state(a.id)
    assert row.status == "waiting" and row.reward == -1
    samples.record_judgement(a.id, next_state="great, thanks", judge_reward=1, votes=[{"vote": 1}],
                             hint=None, hint_votes=[], mode="rules")
    row = samples.get(a.id)
    assert row.reward == -1 and row.reward_source == "rating" and row.judge_reward == 1
    assert samples.judge_agreement() == JudgeAgreement(n=1, agree=0, accuracy=0.0)
    # rating changed after judging: the latest rating wins, no re-judge
    store.rate(a.id, 1)
    row = samples.record_next_state(a.id)
    assert row.status == "judged" and row.reward == 1
    # rating cleared: the judge's score comes back
    store.rate(a.id, 0)
    row = samples.record_next_state(a.id)
    assert row.reward == 1 and row.reward_source == "judge"


def test_correction_gives_minus_one_hint_and_known_good_item(env):
    store, samples = env
    conv = store.create_conversation("be brief")
    a1 = _exchange(store, conv, "when is the meeting?", "Monday.")
    store.correct(a1.id, "Tuesday at 10.")
    a2 = _exchange(store, conv, "and where?", "Room 4.")
    store.add_message(conv.id, "user", "ok thanks")
    row = samples.record_next_state(a1.id)
    assert row.status == "judged" and row.reward == -1 and row.reward_source == "correction"
    assert row.hint == "Tuesday at 10." and row.correction == "Tuesday at 10."
    samples.record_next_state(a2.id)
    samples.record_judgement(a2.id, next_state="ok thanks", judge_reward=1, votes=[], hint=None, hint_votes=[], mode="rules")
    items = samples.training_items([a1.id, a2.id])
    assert [(i.message_id, i.kind, i.reward) for i in items] == [(a1.id, "reply", -1), (a1.id, "correction", 1), (a2.id, "reply", 1)]
    assert items[0].reply == "Monday." and items[0].hint == "Tuesday at 10."
    assert items[1].reply == "Tuesday at 10." and items[1].hint is None
    assert items[0].prompt_messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "when is the meeting?"}]
    # the later reply's prompt shows the corrected text of the earlier one
    assert items[2].prompt_messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "when is the meeting?"},
        {"role": "assistant", "content": "Tuesday at 10."},
        {"role": "user", "content": "and where?"},
    ]


def test_interrupted_superseded_and_empty_are_skipped(env):
    store, samples = env
    conv = store.create_conversation()
    a = _exchange(store, conv, "q1", "partial", interrupted=True)
    store.add_message(conv.id, "user", "q2")
    b = store.add_message(conv.id, "assistant", "old")
    store.update_message(b.id, superseded=True)
    store.add_message(conv.id, "assistant", "new")
    store.rate(b.id, 1)
    c = _exchange(store, conv, "q3", "   ")
    store.add_message(conv.id, "user", "q4")
    assert samples.record_next_state(a.id).reason == "interrupted"
    assert samples.record_next_state(b.id).reason.startswith("superseded")
    assert samples.record_next_state(c.id).reason == "empty reply"
    assert samples.counts()["skipped"] == 3
    assert samples.training_items([a.id, b.id, c.id]) == []


def test_next_state_ignores_superseded_following_messages(env):
    store, samples = env
    conv = store.create_conversation()
    a = _exchange(store, conv, "q", "reply")
    u = store.add_message(conv.id, "user", "no, wrong")
    store.update_message(u.id, superseded=True)
    assert samples.record_next_state(a.id) is None
    store.add_message(conv.id, "user", "thanks")
    assert samples.record_next_state(a.id).next_state == "thanks"


def test_zero_reward_without_hint_is_not_trained_and_nothing_trains_twice(env, tmp_path):
    store, samples = env
    conv = store.create_conversation()
    a = _exchange(store, conv, "q", "r1")
    b = _exchange(store, conv, "q2", "r2")
    store.add_message(conv.id, "user", "hmm")
    samples.record_next_state(a.id)
    samples.record_next_state(b.id)
    samples.record_judgement(a.id, next_state="q2", judge_reward=-1, votes=[], hint="be clearer", hint_votes=[], mode="m")
    samples.record_judgement(b.id, next_state="hmm", judge_reward=0, votes=[], hint=None, hint_votes=[], mode="m")
    assert samples.get(b.id).status == "skipped" and samples.get(b.id).reason == "judge could not tell"
    assert samples.record_next_state(b.id).status == "skipped"  # stays skipped...
    assert samples.trainable_ids() == [a.id]
    assert [i.message_id for i in samples.training_items([a.id, b.id])] == [a.id]
    adapters = AdapterStore(store)
    first = _publish(adapters, [a.id], tmp_path)
    assert samples.get(a.id).trained_version == first
    assert samples.training_items([a.id]) == [] and samples.trainable_ids() == []
    store.rate(b.id, -1)  # ...until the user says what the judge could not
    assert samples.record_next_state(b.id).status == "judged" and samples.get(b.id).reward == -1
    assert samples.get(b.id).reason is None
    second = _publish(adapters, [b.id], tmp_path)
    assert samples.get(b.id).trained_version == second > first
    # new feedback on a trained reply changes nothing
    store.rate(a.id, 1)
    assert samples.record_next_state(a.id).status == "trained"
    samples.mark_skipped(a.id, "x")
    assert samples.get(a.id).status == "trained"
    # state survives a reopen
    store.close()
    store2 = Store.open(tmp_path)
    s2 = SampleStore(store2)
    assert s2.counts() == {"waiting": 0, "judged": 0, "trained": 2, "skipped": 0}
    assert s2.get(a.id).votes == []
    store2.close()


def test_new_next_state_rejudges_and_stale_judgement_is_refused(env):
    store, samples = env
    conv = store.create_conversation()
    a = _exchange(store, conv, "q", "r")
    u = store.add_message(conv.id, "user", "first")
    samples.record_next_state(a.id)
    # the following message was regenerated away and replaced while the judge worked
    store.update_message(u.id, superseded=True)
    store.add_message(conv.id, "user", "second")
    assert samples.record_next_state(a.id).next_state == "second"
    assert not samples.record_judgement(a.id, next_state="first", judge_reward=1, votes=[], hint=None, hint_votes=[], mode="m")
    assert samples.get(a.id).status == "waiting"


def test_record_all(env):
    store, samples = env
    conv = store.create_conversation()
    a = _exchange(store, conv, "q", "r")
    _exchange(store, conv, "q2", "r2")
    assert samples.record_all() == 1
    assert samples.get(a.id).status == "waiting"


def test_replay_correction_items_are_recent_trained_corrections(env, tmp_path):
    store, samples = env
    conv = store.create_conversation("sys")
    ids = []
    for n in range(4):
        a = _exchange(store, conv, f"q{n}", f"r{n}")
        store.correct(a.id, f"fixed {n}")
        samples.record_next_state(a.id)
        ids.append(a.id)
    assert samples.replay_correction_items(8) == []  # nothing trained yet
    _publish(AdapterStore(store), ids[:3], tmp_path)
    items = samples.replay_correction_items(2, exclude=[ids[2]])
    assert [(i.message_id, i.reply, i.kind, i.reward) for i in items] == [
        (ids[1], "fixed 1", "correction", 1), (ids[0], "fixed 0", "correction", 1)]
    assert items[0].prompt_messages[-1] == {"role": "user", "content": "q1"}
    assert samples.replay_correction_items(0) == []
