"""A served version under which the user's push-back rose clearly is rolled back automatically."""

from __future__ import annotations

import pytest

from openclaw_local.config import Settings
from openclaw_local.services.adapters import AdapterService, gate_refused
from openclaw_local.services.helping import Outcome, pushback_rose, rollback_if_pushed_back, status_words
from openclaw_local.store import Store
from openclaw_local.store.samples import SampleStore
from tests.adapters_helpers import publish, random_lora


def outcome(version, pushed, accepted):
    return Outcome(version=version, replies=pushed + accepted, accepted_explicit=0, accepted_judged=accepted,
                   pushed_explicit=0, pushed_judged=pushed, corrected=0)


def test_clearly_means_enough_replies_a_real_rise_and_a_significant_one():
    assert pushback_rose(outcome(1, 2, 10), outcome(2, 9, 3))  # 17% → 75% over 12 each: clearly
    assert pushback_rose(outcome(1, 2, 10), outcome(2, 4, 3)) is None  # 7 judged: too few to say
    assert pushback_rose(outcome(1, 5, 10), outcome(2, 7, 8)) is None  # 33% → 47%: a rise, not a clear one
    assert pushback_rose(outcome(1, 9, 3), outcome(2, 2, 10)) is None  # it fell
    assert pushback_rose(None, outcome(2, 12, 0)) is None  # nothing to compare with
    why = pushback_rose(outcome(None, 1, 11), outcome(2, 10, 2))
    assert "10 of 12 replies under v2" in why and "under base" in why


def _replies(store, samples, version, pushed, accepted):
    conv = store.create_conversation()
    for i in range(pushed + accepted):
        store.add_message(conv.id, "user", f"question {version} {i}")
        mid = store.add_message(conv.id, "assistant", f"reply {i}", adapter_version=version).id
        store.rate(mid, -1 if i < pushed else 1)
        samples.record_next_state(mid)


@pytest.fixture
def two_versions(home, embedded_model):
    """A data dir serving v2, trained on top of v1: (store, samples, service, v1, v2)."""
    store = Store.open(home)
    lora = random_lora(embedded_model, rank=2, std=0.01)
    v1 = publish(home, store, lora, embedded_model)
    v2 = publish(home, store, lora, embedded_model, parent=v1.id)
    yield store, SampleStore(store), AdapterService(home, Settings(), store), v1, v2
    store.close()


def test_the_served_version_is_rolled_back_and_says_why(two_versions):
    store, samples, svc, v1, v2 = two_versions
    _replies(store, samples, v1.id, pushed=2, accepted=10)
    _replies(store, samples, v2.id, pushed=5, accepted=5)
    assert rollback_if_pushed_back(store, svc) is None  # 17% → 50% on 10: not clear yet
    _replies(store, samples, v2.id, pushed=6, accepted=0)
    said = rollback_if_pushed_back(store, svc)
    assert said.startswith(f"v{v2.id} was rolled back automatically") and f"now serving v{v1.id}" in said
    undone = svc.get(v2.id)
    assert svc.active().id == v1.id and undone.status == "rejected" and "11 of 16 replies" in undone.reason
    assert status_words(undone) == "rolled back automatically" and not gate_refused(undone)
    assert rollback_if_pushed_back(store, svc) is None  # v1 is fine against the base (no base replies)


def test_the_chat_says_why_when_it_swaps_after_an_automatic_rollback(two_versions, home, embedded_model, fake_engine):
    from openclaw_local.services.learner import LearnerService

    store, samples, svc, v1, v2 = two_versions
    fake_engine.model_path = embedded_model
    learner = LearnerService(home, Settings(learn=False), store, fake_engine)
    assert learner.serve_active().version == v2.id
    _replies(store, samples, v1.id, pushed=2, accepted=10)
    _replies(store, samples, v2.id, pushed=11, accepted=1)
    assert rollback_if_pushed_back(store, svc)
    event = learner.serve_active()
    assert event.version == v1.id and f"v{v2.id} was rolled back automatically" in event.notice
