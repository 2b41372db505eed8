"""The store methods that replaced SQL in services and the simulator (tests/test_sql_in_store.py keeps it there)."""

from __future__ import annotations

import os

import pytest

from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore


@pytest.fixture
def env(tmp_path):
    store = Store.open(tmp_path)
    yield store, SampleStore(store), AdapterStore(store)
    store.close()


def _rated(store, samples, conv, prompt: str, reply: str, value: int) -> int:
    store.add_message(conv.id, "user", prompt)
    msg = store.add_message(conv.id, "assistant", reply)
    store.rate(msg.id, value)
    samples.record_next_state(msg.id)
    return msg.id


def test_reply_text_and_find_message_read_the_stored_row(env):
    store, samples, _ = env
    conv = store.create_conversation("sys")
    msg = store.add_message(conv.id, "assistant", "Paris.", thinking="hmm", model="m.gguf")
    store.correct(msg.id, "Paris, France.")
    assert store.reply_text(msg.id) == "Paris."  # the model's own text, not the correction
    found = store.find_message(msg.id)
    assert (found.content, found.thinking, found.model, found.superseded) == ("Paris.", "hmm", "m.gguf", False)
    assert store.reply_text(msg.id + 100) is None and store.find_message(msg.id + 100) is None


def test_heldout_items_take_any_status_and_only_rewarded_replies(env, tmp_path):
    store, samples, adapters = env
    conv = store.create_conversation("sys")
    up = _rated(store, samples, conv, "a?", "A.", 1)
    down = _rated(store, samples, conv, "b?", "B.", -1)
    version = adapters.reserve(os.getpid(), "trained")
    adapters.publish(version, tmp_path / f"v{version}", parent_id=None, sample_ids=[up], metrics={}, activate=True)
    assert samples.get(up).status == "trained"
    assert samples.recent_labeled_ids(10) == [down, up]  # newest first, trained ones too
    assert samples.recent_labeled_ids(1) == [down]
    items = samples.heldout_items([down, up, 999])
    assert [(i.message_id, i.reply, i.reward) for i in items] == [(down, "B.", -1), (up, "A.", 1)]
    assert samples.training_items([up]) == []  # training takes judged samples only


def test_forget_versions_returns_the_batches_and_the_samples_to_the_pool(env, tmp_path):
    store, samples, adapters = env
    conv = store.create_conversation("sys")
    ids = [_rated(store, samples, conv, f"q{i}?", f"r{i}.", 1) for i in range(3)]
    for batch in ([ids[0]], ids[1:]):
        v = adapters.reserve(os.getpid(), "trained")
        adapters.publish(v, tmp_path / f"v{v}", parent_id=None, sample_ids=batch, metrics={}, activate=True)
    assert adapters.forget_versions() == [[ids[0]], ids[1:]]
    assert adapters.versions() == [] and adapters.active() is None
    assert samples.counts()["judged"] == 3 and samples.counts()["trained"] == 0


def test_pending_requests_counts_the_unfinished(env):
    _, _, adapters = env
    assert adapters.pending_requests() == 0
    first, _second = adapters.request_update(), adapters.request_update()
    assert adapters.take_request() == first
    assert adapters.pending_requests() == 2  # taken is not finished
    adapters.finish_request(first, "nothing to learn")
    assert adapters.pending_requests() == 1
