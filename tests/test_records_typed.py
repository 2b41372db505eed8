"""Samples, learner state and learn requests leave the store as typed records, never as row dicts.

The annotations are checked (every public ``SampleStore`` method, ``AdapterStore.state`` and
``AdapterStore.request``), then the records themselves go through the real store.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import pytest

from openclaw_local.records import (
    LearnerPhase, LearnerState, LearnRequest, Sample, TrainItem, WaitingReply,
)
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore

# the record each reading method hands out
EXPECTED_RETURNS = {
    (SampleStore, "get"): Sample | None,
    (SampleStore, "all"): list[Sample],
    (SampleStore, "record_next_state"): Sample | None,
    (SampleStore, "to_judge"): list[WaitingReply],
    (SampleStore, "training_items"): list[TrainItem],
    (SampleStore, "heldout_items"): list[TrainItem],
    (SampleStore, "feedback_items"): list[TrainItem],
    (SampleStore, "replay_correction_items"): list[TrainItem],
    (AdapterStore, "state"): LearnerState,
    (AdapterStore, "request"): LearnRequest | None,
}
BUSY = {LearnerPhase.LOADING, LearnerPhase.PREPARING_MODEL, LearnerPhase.GATING, LearnerPhase.DISTILLING_PREFERENCES,
        LearnerPhase.TRAINING, LearnerPhase.REPAIRING, LearnerPhase.PUBLISHING, LearnerPhase.MEASURING_PREFERENCES,
        LearnerPhase.PREPARING_REHEARSAL, LearnerPhase.PAUSED}
NOT_BUSY = {LearnerPhase.IDLE, LearnerPhase.STOPPED, LearnerPhase.ERROR}


def _row_dicts(hint: Any) -> list[Any]:
    """The ``dict[str, Any]`` (or bare ``dict``) types inside an annotation, at any depth."""
    if hint is dict or (typing.get_origin(hint) is dict and typing.get_args(hint)[1:] == (Any,)):
        return [hint]
    return [found for arg in typing.get_args(hint) for found in _row_dicts(arg)]


def _public_methods(cls) -> list[str]:
    return [name for name, fn in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")]


@pytest.mark.parametrize("cls, name", [*((SampleStore, n) for n in _public_methods(SampleStore)),
                                       (AdapterStore, "state"), (AdapterStore, "request")])
def test_no_reading_method_is_annotated_to_return_row_dicts(cls, name):
    hints = typing.get_type_hints(getattr(cls, name))
    assert "return" in hints, f"{cls.__name__}.{name} has no return annotation"
    assert not _row_dicts(hints["return"]), f"{cls.__name__}.{name} returns {hints['return']}: use a record"
    if (cls, name) in EXPECTED_RETURNS:
        assert hints["return"] == EXPECTED_RETURNS[(cls, name)]


def test_the_annotation_check_sees_a_row_dict():
    assert _row_dicts(dict[str, Any]) and _row_dicts(list[dict[str, Any]]) and _row_dicts(dict[str, Any] | None)
    assert not _row_dicts(dict[str, int]) and not _row_dicts(list[Sample])


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path)
    yield store
    store.close()


def test_a_sample_round_trips_through_the_store(store):
    samples = SampleStore(store)
    conv = store.create_conversation("sys")
    store.add_message(conv.id, "user", "capital of France?")
    reply = store.add_message(conv.id, "assistant", "Paris.")
    store.add_message(conv.id, "user", "too short, say more")
    waiting = samples.record_next_state(reply.id)
    assert isinstance(waiting, Sample) and waiting.status == "waiting" and waiting.votes is None
    assert samples.to_judge() == [WaitingReply(reply.id, "Paris.", "too short, say more", "capital of France?")]
    votes = [{"raw": "-1", "vote": -1}, {"raw": "-1", "vote": -1}]
    assert samples.record_judgement(reply.id, next_state="too short, say more", judge_reward=-1, votes=votes,
                                    hint="Say more.", hint_votes=["Say more."], mode="rules")
    got = samples.get(reply.id)
    assert (got.message_id, got.status, got.prompt, got.next_state) == (
        reply.id, "judged", "capital of France?", "too short, say more")
    assert (got.reward, got.reward_source, got.judge_reward, got.judge_mode) == (-1, "judge", -1, "rules")
    assert (got.votes, got.hint, got.hint_votes) == (votes, "Say more.", ["Say more."])  # JSON columns decoded
    assert (got.correction, got.trained_version, got.gate_retries, got.gate_refusal) == (None, None, 0, None)
    assert got.created_at and got.judged_at and got.updated_at
    raw = store._query("select * from samples where message_id = ?", [reply.id])[0]  # noqa: SLF001
    assert Sample.from_row(raw) == got == samples.all("judged")[0] == samples.record_next_state(reply.id)
    [item] = samples.training_items([reply.id])
    assert item == TrainItem(prompt_messages=[{"role": "system", "content": "sys"},
                                              {"role": "user", "content": "capital of France?"}],
                             reply="Paris.", reward=-1, hint="Say more.", kind="reply", message_id=reply.id)


def test_busy_is_right_for_every_phase_the_learner_writes(store):
    assert BUSY | NOT_BUSY == set(LearnerPhase) and not BUSY & NOT_BUSY  # a new phase must be placed here
    adapters = AdapterStore(store)
    assert adapters.state() == LearnerState() and adapters.state().phase is LearnerPhase.IDLE  # no row yet
    assert not adapters.state().busy
    for phase in LearnerPhase:
        adapters.set_state(phase, step=1, total=2, pid=123)
        state = adapters.state()
        assert (state.phase, state.note, state.step, state.total, state.pid) == (phase, None, 1, 2, 123)
        assert state.busy is (phase in BUSY), phase
        assert state.label == phase.value


def test_a_phase_keeps_its_note_apart_and_the_store_takes_only_phases(store):
    adapters = AdapterStore(store)
    adapters.set_state(LearnerPhase.IDLE, detail="cpu priority: nice 19")
    adapters.set_state(LearnerPhase.PREPARING_MODEL, note="writing tokenizer", step=85, total=100)
    state = adapters.state()
    assert (state.phase, state.note, state.label) == (
        LearnerPhase.PREPARING_MODEL, "writing tokenizer", "preparing model: writing tokenizer")
    assert state.detail == "cpu priority: nice 19" and state.busy  # fields not given are kept
    adapters.set_state(LearnerPhase.TRAINING, step=1, total=4)
    assert adapters.state().note is None  # a new phase drops the old note
    with pytest.raises(ValueError):
        adapters.set_state("preparing model: writing tokenizer")  # the note is not part of the phase
    with pytest.raises(TypeError):
        adapters.set_state(LearnerPhase.IDLE, state="idle")  # the phase is the first argument


def test_a_learn_request_is_a_record_from_asking_to_answer(store):
    adapters = AdapterStore(store)
    rid = adapters.request_update()
    asked = adapters.request(rid)
    assert isinstance(asked, LearnRequest) and not asked.taken and not asked.done
    assert adapters.take_request() == rid and adapters.request(rid).taken
    adapters.finish_request(rid, "error: out of memory")
    done = adapters.request(rid)
    assert done.done and done.failed and done.result == "error: out of memory"
    assert adapters.request(rid + 1) is None
