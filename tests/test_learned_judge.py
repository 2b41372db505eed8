"""The learned judge with the real encoder (all-MiniLM-L6-v2 from its wheel, offline) and the shipped head."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openclaw_local.judge import LearnedJudge, make_judge
from openclaw_local.judge import head as lj


@pytest.fixture(scope="module")
def judge():
    return LearnedJudge()  # the encoder reads its local directory only (local_files_only): no network


CLEAR = [
    ("What's the capital of Australia?", "The capital of Australia is Canberra.", "Perfect, thank you so much!", 1),
    ("Convert 5 miles to km.", "5 miles is about 8.05 km.", "great, that's exactly what I needed, thanks", 1),
    ("When is the meeting?", "The meeting is on Monday.", "No, that's wrong. It's on Tuesday.", -1),
    ("Summarize this email in one line.", "Here is a detailed five-paragraph summary of the email ...",
     "That's way too long, I asked for one line.", -1),
]


@pytest.mark.parametrize("prompt,reply,next_state,label", CLEAR)
def test_clear_cases(judge, prompt, reply, next_state, label):
    reward, votes = judge.score(reply, next_state, prompt)
    assert reward == label, votes
    assert votes[0]["vote"] == label and set(votes[0]["learned"]) == {"1", "0", "-1"}


@pytest.mark.parametrize("gibberish", ["xqz vlorp trebnik", "asdfgh", "", "   "])
def test_abstains_on_gibberish(judge, gibberish):
    assert judge.score("Here is the recipe.", gibberish, "Give me a pancake recipe.")[0] == 0


def test_judge_mode_learned_gives_a_request_hint_on_pushback():
    j = make_judge("learned")
    v = j.judge("Paris is the capital of France.", "Thanks! Can you also add a source for that?", "What is the capital of France?")
    if v.reward == -1:  # praise + change request is -1; whatever the verdict, a hint only comes with -1
        assert v.hint and "source" in v.hint.lower()
    else:
        assert v.hint is None
    pos = j.judge("Canberra.", "Perfect, thank you so much!", "Capital of Australia?")
    assert pos.reward == 1 and pos.hint is None and pos.mode == "learned"


def test_latency_is_milliseconds_once_loaded(judge):
    import time

    judge.score("Paris.", "thanks", "capital of France?")  # loaded
    t = time.perf_counter()
    for _ in range(5):
        judge.score("Paris.", "ok and what about Spain?", "capital of France?")
    assert (time.perf_counter() - t) / 5 < 1.0  # ~10 ms on a free core; generous for a loaded CI box


def test_head_file_is_small_and_consistent():
    head = lj.Head.load()
    assert lj.HEAD_PATH.stat().st_size < 200_000
    assert head.W.shape[0] == 3 and head.b.shape == (3,) and 0.34 <= head.threshold < 1.0
    assert head.feature_set in lj.FEATURE_SETS
    report = json.loads(lj.HEAD_PATH.with_suffix(".json").read_text())
    assert report["chosen"]["feature_set"] == head.feature_set and report["chosen"]["C"] == head.C


@pytest.mark.slow
def test_retraining_reproduces_the_shipped_head():
    """Same data, same choice → the same head (within float noise of the encoder)."""
    from openclaw_local.judge import train as judge_train

    shipped = lj.Head.load()
    head, report = judge_train.train(feature_sets=[shipped.feature_set], c_grid=[shipped.C])
    assert head.feature_set == shipped.feature_set and head.C == shipped.C
    assert abs(head.threshold - shipped.threshold) <= 0.011
    np.testing.assert_allclose(head.W, shipped.W, atol=2e-3)
    np.testing.assert_allclose(head.b, shipped.b, atol=2e-3)


def test_auto_mode_picks_by_model_size(monkeypatch):
    """The composition root decides the mode: ``auto`` → generate for a ≥ 3B judge model, else learned."""
    from openclaw_local.config import Settings
    from openclaw_local.engine import model_size
    from openclaw_local.services import container

    for n_params, mode in ((4.0e9, "generate"), (135e6, "learned"), (None, "learned")):
        monkeypatch.setattr(model_size, "parameter_count", lambda path, n=n_params: n)
        assert container.judge_mode(Settings(judge_mode="auto")) == mode
        assert container.judge_mode(Settings(judge_mode="rules")) == "rules"


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_parameter_count_of_the_embedded_model():
    from openclaw_local.engine.model_size import parameter_count
    from openclaw_local.paths import embedded_model_path

    n = parameter_count(embedded_model_path())
    assert 100e6 < n < 200e6  # SmolLM2-135M
    assert parameter_count("/nonexistent.gguf") is None
