"""The judge learns this user's way of talking: gestures → labels (real SQLite) → calibration → verdicts."""

from __future__ import annotations

import subprocess
import sys
import json

import pytest

from openclaw_local.config import Settings
from openclaw_local.judge import make_judge
from openclaw_local.services import container
from openclaw_local.services.data_export import export_data
from openclaw_local.services.judge_calibration import CalibrationFitter, overrule_verdict
from openclaw_local.services.judging import JudgeWorker
from openclaw_local.store import Store
from openclaw_local.store.judge_labels import JudgeLabelStore
from openclaw_local.store.samples import SampleStore

# this user pushes back in cricket slang, which no training line uses
PUSHBACK = ["that's a golden duck", "caught behind, that one", "bit of a dropped catch there", "clean bowled, try again mate",
            "that's a no-ball", "stumped, that", "howzat? out, that answer", "run out, that one"]
PRAISE = ["six over the boundary", "a proper century, that", "straight down the ground", "hat-trick, cheers"]
CONTEXT = ("Plan a picnic menu.", "Sandwiches, fruit and lemonade.")
UNSEEN = ["bit of a leg bye, that one", "trapped lbw there", "bowled a googly, that"]  # same style, never labeled


@pytest.fixture
def env(tmp_path):
    store = Store.open(tmp_path)
    yield store, SampleStore(store)
    store.close()


def _exchange(store, conv, prompt, reply, rating, next_state):
    store.add_message(conv.id, "user", prompt)
    msg = store.add_message(conv.id, "assistant", reply)
    if rating:
        store.rate(msg.id, rating)
    store.add_message(conv.id, "user", next_state)
    return msg


@pytest.mark.slow
def test_gestures_label_the_next_message_and_move_a_verdict(env, tmp_path):
    store, samples = env
    worker = JudgeWorker(samples, container.build_judge(Settings(), None, "learned"))
    conv = store.create_conversation("sys")
    learned = worker.judge
    before = [(learned.probabilities(CONTEXT[1], t, CONTEXT[0]), learned.score(CONTEXT[1], t, CONTEXT[0])[0]) for t in UNSEEN]
    for text, label in [(t, -1) for t in PUSHBACK] + [(t, 1) for t in PRAISE]:
        msg = _exchange(store, conv, "Suggest a weekend plan.", "Go for a walk and read a book.", label, text)
        worker.notify(msg.id)
    labels = JudgeLabelStore(store).all()
    assert len(labels) == len(PUSHBACK) + len(PRAISE)
    assert {(r["next_state"], r["label"], r["source"]) for r in labels} >= {(PUSHBACK[0], -1, "rating"), (PRAISE[0], 1, "rating")}

    fitter = CalibrationFitter(store, container.build_judge(Settings(), None, "learned"))  # as in the learner process
    assert fitter.stale() and fitter.maybe_refit() == len(labels) and not fitter.stale()
    worker.refresh_calibration()
    assert worker.judge.calibration is not None
    after = [(learned.probabilities(CONTEXT[1], t, CONTEXT[0]), learned.score(CONTEXT[1], t, CONTEXT[0])[0]) for t in UNSEEN]
    # unseen messages in the same style are now read as push-back: more probable, and verdicts flip to -1
    assert all(a[0][2] > b[0][2] + 0.2 for a, b in zip(after, before)), (before, after)
    assert any(b[1] != -1 and a[1] == -1 for a, b in zip(after, before)), (before, after)

    # the labels are exported with export-data, and `judge reset` forgets them and the calibration
    out = tmp_path / "labels.jsonl"
    assert export_data(store, "judge-labels", out) == len(labels)
    row = json.loads(out.read_text().splitlines()[0])
    assert set(row) >= {"prompt", "reply", "next_state", "label", "source"}
    assert JudgeLabelStore(store).clear() == len(labels)
    worker.refresh_calibration()
    assert worker.judge.calibration is None
    assert not fitter.stale()


def test_correction_labels_minus_one_and_overrule_wins(env):
    store, samples = env
    conv = store.create_conversation("sys")
    store.add_message(conv.id, "user", "capital of Australia?")
    a = store.add_message(conv.id, "assistant", "Sydney.")
    store.correct(a.id, "Canberra.")
    store.add_message(conv.id, "user", "right, and of Canada?")
    samples.record_next_state(a.id)
    labels = JudgeLabelStore(store)
    assert labels.record_gesture(a.id)["label"] == -1
    # a judged reply the user overrules: reward and label follow the user; a later gesture does not replace it
    store.add_message(conv.id, "user", "recipe for pancakes?")
    b = store.add_message(conv.id, "assistant", "Flour, eggs, milk.")
    store.add_message(conv.id, "user", "hm, ok")
    samples.record_next_state(b.id)
    samples.record_judgement(b.id, next_state="hm, ok", judge_reward=0, votes=[], hint=None, hint_votes=[], mode="learned")
    assert samples.get(b.id).status == "skipped"
    assert overrule_verdict(store, b.id, 1)
    row = samples.get(b.id)
    assert row.status == "judged" and row.reward == 1 and row.reward_source == "overrule"
    assert samples.record_next_state(b.id).reward == 1  # recomputing keeps the user's verdict
    assert labels.get(b.id)["source"] == "overrule" and labels.get(b.id)["label"] == 1
    store.rate(b.id, -1)
    samples.record_next_state(b.id)
    assert labels.record_gesture(b.id)["source"] == "overrule"
    with pytest.raises(ValueError):
        overrule_verdict(store, b.id, 2)


def test_cli_judge_status_and_reset(tmp_path):
    env = {"OPENCLAW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    import os

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "") or str(__import__("pathlib").Path(__file__).resolve().parents[1])
    store = Store.open(tmp_path)
    conv = store.create_conversation("sys")
    msg = _exchange(store, conv, "q", "a", -1, "meh, that's not it")
    SampleStore(store).record_next_state(msg.id)
    JudgeLabelStore(store).record_gesture(msg.id)
    store.close()
    run = lambda *a: subprocess.run([sys.executable, "-m", "openclaw_local", *a], env=env, capture_output=True, text=True,
                                    timeout=120)
    r = run("judge", "status")
    assert r.returncode == 0 and "1 judge label (1 from rating)" in r.stdout
    r = run("judge", "reset")
    assert r.returncode == 0 and "forgot 1 judge label" in r.stdout
    assert "0 judge labels" in run("judge", "status").stdout


def test_generate_mode_judge_unaffected():
    assert make_judge("rules").score("r", "thanks!")[0] == 1
