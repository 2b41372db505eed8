"""The learner status record: what the status bar is given, under the names it has always shown."""

from __future__ import annotations

from openclaw_local.config import Settings
from openclaw_local.records import LearnerPhase
from openclaw_local.services.learner import LearnerService
from openclaw_local.services.status import LearnerStatus
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore


def test_fields_use_the_status_bar_names_and_leave_out_what_is_unset():
    st = LearnerStatus("v3", "training", step="2/8", loss=0.5, samples_to_train=4, replies_to_judge=0)
    assert st.fields() == {"adapter": "v3", "learner": "training", "step": "2/8", "loss": 0.5,
                           "waiting": 4, "judging": 0}


def test_learner_service_reports_the_state_row(home, fake_engine):
    store = Store.open(home)
    try:
        AdapterStore(store).set_state(LearnerPhase.TRAINING, step=3, total=8, loss=0.25, mean_reward=0.5, error="")
        st = LearnerService(home, Settings(learn=True), store, fake_engine).status()
        assert st == LearnerStatus("none", "training", step="3/8", loss=0.25, reward=0.5)
        AdapterStore(store).set_state(LearnerPhase.IDLE, step=0, total=0)
        idle = LearnerService(home, Settings(learn=True), store, fake_engine).status()
        assert (idle.learner, idle.step) == ("idle", None)  # only training shows a step
        assert LearnerService(home, Settings(learn=False), store, fake_engine).status().learner == "off"
    finally:
        store.close()


def test_runtime_status_counts_judged_samples_as_to_train_and_waiting_ones_as_to_judge(home, fake_engine, monkeypatch):
    from openclaw_local.services.runtime import Runtime
    from openclaw_local.store.samples import SampleStore

    store = Store.open(home)
    try:
        samples = SampleStore(store)
        monkeypatch.setattr(samples, "counts", lambda: {"waiting": 2, "judged": 5, "trained": 9, "skipped": 1})
        rt = Runtime(home, Settings(learn=True))  # parts set by hand: no model is loaded
        rt.samples, rt.learner = samples, LearnerService(home, Settings(learn=True), store, fake_engine)
        st = rt.status()
        assert (st.samples_to_train, st.replies_to_judge) == (5, 2)
        assert st.fields()["waiting"] == 5 and st.fields()["judging"] == 2  # what the status bar has always shown
    finally:
        store.close()
