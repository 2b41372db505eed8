"""The gate's check on generated replies (learn/reply_check.py): measures and the rule."""

from __future__ import annotations

import pytest

from openclaw_local.learn import reply_check
from openclaw_local.learn.promotion import GateConfig, decide

PROSE = ("Open the window in the morning, water the plants, and make a pot of tea. "
         "Then sit down with a book for half an hour before work starts.")
LOOP = " ".join(["Set yourself a new workout goal each week and track your progress."] * 4)


def test_repetition_is_zero_for_prose_and_high_for_a_looped_paragraph():
    assert reply_check.repetition(PROSE) == 0.0
    assert reply_check.repetition(LOOP) > 0.6
    assert reply_check.repetition("too short") == 0.0


def _summary(texts, ended, tokens):
    return reply_check.summarize([{"text": t, "ended": e, "tokens": n} for t, e, n in zip(texts, ended, tokens)])


BASE = _summary([PROSE] * 6, [True, True, True, False, True, False], [60, 50, 70, 96, 40, 96])
LIMITS = dict(max_repetition_rise=GateConfig.max_repetition_rise, max_unended_rise=GateConfig.max_unended_rise)


def test_a_model_that_loops_is_refused_and_says_why():
    looping = _summary([LOOP] * 6, [False] * 6, [96] * 6)
    ok, reason, results = reply_check.compare(BASE, looping, **LIMITS)
    assert not ok and "repeat themselves" in reason and results["ok"] is False


def test_replies_that_no_longer_end_and_grow_longer_are_refused():
    rambling = _summary([PROSE] * 6, [False] * 6, [96] * 6)
    ok, reason, _ = reply_check.compare(BASE, rambling, **LIMITS)
    assert not ok and "no longer end" in reason


@pytest.mark.parametrize("style", ["brief", "lowercase"])
def test_a_style_passes(style):
    if style == "brief":
        new = _summary(["Tea, plants, a book."] * 6, [True] * 6, [8] * 6)
    else:
        new = _summary([PROSE.lower()] * 6, [True, True, True, False, True, False], [62, 50, 70, 96, 41, 96])
    ok, reason, _ = reply_check.compare(BASE, new, **LIMITS)
    assert ok and reason is None


def test_decide_refuses_on_replies_alone():
    new = {"replies": _summary([LOOP] * 6, [False] * 6, [96] * 6)}
    passed, reason, results = decide({}, new, {"replies": BASE}, [])
    assert not passed and "repeat themselves" in reason and results["replies"]["ok"] is False
    passed, _, _ = decide({}, {"replies": BASE}, {"replies": BASE}, [])
    assert passed


def test_prompts_are_not_trained_on_or_in_the_ability_set():
    from openclaw_local.learn import ability, rehearsal

    prompts = {p.casefold() for p in reply_check.load_prompts()}
    assert len(prompts) >= 4
    assert not prompts & {p.casefold() for p in rehearsal.load_prompts()}
    assert not prompts & {str(i.get("question", "")).casefold() for i in ability.load_set()}


def test_generate_reads_ended_tokens_and_text_from_a_real_model(tiny_hf_dirs):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny_hf_dirs["llama"]
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    replies = reply_check.generate(model, tok, "You are helpful.", ["Hi there", "Name a fruit."], max_new_tokens=8)
    assert len(replies) == 2
    for r in replies:
        assert set(r) == {"text", "tokens", "ended"} and 0 <= r["tokens"] <= 8
        assert r["ended"] or r["tokens"] == 8
