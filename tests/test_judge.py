"""The local PRM: parsing, voting, rules, modes (fakes), and one real run on the embedded model."""

from __future__ import annotations

import json

import pytest

from openclaw_local.engine import Preempted
from openclaw_local.judge import DEFAULT_MODE, make_judge
from openclaw_local.judge.data import ASSETS, load_labeled
from openclaw_local.judge.evaluate import evaluate, format_report
from openclaw_local.judge.prompted import (
    HINT_CLOSE,
    HINT_OPEN,
    build_eval_messages,
    build_hint_messages,
    logprob_vote,
    majority,
    parse_hint,
    parse_score,
    pick_hint,
)
from openclaw_local.judge.rules import rule_hint, rule_score

# the first hand-labeled set (cue-rule era, no categories): the rules were developed on it
EARLY_SET = ASSETS / "train_early1.jsonl"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("+1", 1), ("1", 1), (" -1\n", -1), ("0", 0), ("−1", -1), ("–1 because the user complained", -1),
        ("Score: -1", -1), ("score=+1.", 1), ("+1 (thanks)", 1), ("The answer is 0.", 0),
        ("good", 1), ("Negative.", -1), ("unclear", 0),
        ("", None), (None, None), ("+2", None), ("maybe", None), ("10", None), ("1.5", None), ("<hint>", None),
    ],
)
def test_parse_score(text, expected):
    assert parse_score(text) == expected


def test_majority_ties_and_nothing_parseable():
    assert majority([1, 1, -1]) == 1
    assert majority([-1, None, -1]) == -1
    assert majority([1, -1, 0]) == 0  # three-way tie
    assert majority([1, -1]) == 0
    assert majority([1, -1, None]) == 0
    assert majority([None, None, None]) == 0
    assert majority([]) == 0
    assert majority([0, 0, 1]) == 0


def test_parse_hint_malformed():
    assert parse_hint(f"{HINT_OPEN}Keep the reply under two sentences.{HINT_CLOSE}") == "Keep the reply under two sentences."
    assert parse_hint(f"sure! {HINT_OPEN} Use a formal tone. ") == "Use a formal tone."  # unclosed
    assert parse_hint(f"{HINT_OPEN}Use metric units.<|im_end|>") == "Use metric units."
    assert parse_hint(f"{HINT_OPEN}none{HINT_CLOSE}") is None
    assert parse_hint(f"{HINT_OPEN}None.{HINT_CLOSE}") is None
    assert parse_hint(f"{HINT_OPEN}ok{HINT_CLOSE}") is None  # too short
    assert parse_hint(f"{HINT_OPEN}12345678!{HINT_CLOSE}") is None  # no words
    assert parse_hint("Keep it short.") is None  # no markers
    assert parse_hint(None) is None
    assert parse_hint(f"{HINT_OPEN}Keep the answer to a single short line.{HINT_CLOSE}") is None  # parroted example
    long = f"{HINT_OPEN}One. Two is here. Three is here. Four is here.{HINT_CLOSE}"
    assert parse_hint(long) == "One. Two is here. Three is here."


def test_pick_hint_longest_valid():
    assert pick_hint([None, "Be brief.", "Answer in one short sentence."]) == "Answer in one short sentence."
    assert pick_hint([None, None]) is None


def test_logprob_vote_with_calibration():
    scores = {1: -1.0, -1: -1.5, 0: -2.0}
    assert logprob_vote(scores) == 1
    assert logprob_vote(scores, {1: -0.5, -1: -2.0, 0: -2.0}) == -1


def test_prompts_are_short_chat_messages():
    msgs = build_eval_messages("x" * 5000, "y" * 5000, "z" * 5000)
    assert msgs[0]["role"] == "system" and msgs[-1]["role"] == "user"
    assert msgs[-1]["content"].endswith("Score:") and len(msgs[-1]["content"]) < 1100
    assert [m["role"] for m in msgs[1:-1]] == ["user", "assistant"] * ((len(msgs) - 2) // 2)
    hm = build_hint_messages("r", "too long", "p")
    assert HINT_OPEN in hm[0]["content"] and hm[-1]["content"].endswith("Hint:")


@pytest.mark.parametrize(
    "next_state,expected",
    [
        ("Thanks, that's perfect!", 1),
        ("Great. Now, how do I bake bread?", 1),
        ("thanks, but that's wrong", -1),  # push-back beats thanks
        ("No, shorter please.", -1),
        ("Please just give me the command.", -1),
        ("no problem, thanks", 1),
        ("ok", 0),
        ("hmm", 0),
        # rules v3 (docs/JUDGE.md)
        ("That did the trick.", 1),
        ("huge works, ta", 1),
        ("it's 56", -1),  # a bare numeric assertion after an answer corrects it
        ("We can't send that, be apologetic and professional.", -1),
        ("Can you actually give me a list instead of this?", -1),
        ("Great answer. How would I do it with grid instead?", 1),  # a follow-up, not push-back
        ("that's fast", None),  # no rule fires: the judge abstains
    ],
)
def test_rule_score(next_state, expected):
    assert rule_score("some reply", next_state, "some request")[0] == expected


def test_rule_rephrase_and_hint():
    assert rule_score("Use reversed().", "How do I reverse a list in Python without changing it?", "How do I reverse a list in Python?")[0] == -1
    h = rule_hint("A long answer ...", "Way too long, one line please.")
    assert h.startswith("Keep the reply short") and "one line please" in h
    assert rule_hint("Paris.", "thanks!") is None
    assert rule_hint("Paris.", "no") is None  # no direction in a bare "no"


class FakeEngine:
    """Answers from a script; records the kwargs the judge passes."""

    def __init__(self, outputs, logprobs=None, preempt_first=0):
        self.outputs = list(outputs)
        self.logprobs = logprobs or {}
        self.calls = []
        self.preempt_first = preempt_first

    def complete(self, messages, **kw):
        self.calls.append(kw)
        if self.preempt_first:
            self.preempt_first -= 1
            raise Preempted()
        return self.outputs.pop(0)

    def token_logprobs(self, messages, reply, *, background=False):
        self.calls.append({"background": background, "option": reply})
        return [self.logprobs.get(reply, -5.0)]


def test_generate_mode_votes_with_fakes():
    eng = FakeEngine(["+1", "garbage", "+1 I think"])
    j = make_judge("generate", eng, votes=3, temperature=0.6, seed=7)
    reward, votes = j.score("r", "n")
    assert reward == 1 and [v["vote"] for v in votes] == [1, None, 1] and votes[1]["raw"] == "garbage"
    assert all(c["background"] is True and c["temperature"] == 0.6 for c in eng.calls)
    assert [c["seed"] for c in eng.calls] == [7, 8, 9]
    tie = make_judge("generate", FakeEngine(["+1", "-1", "??"]), votes=3)
    assert tie.score("r", "n")[0] == 0


def test_judge_hint_votes_longest_wins_and_skipped_for_positive():
    eng = FakeEngine(["-1", "-1", "0",
                      f"{HINT_OPEN}Be brief.{HINT_CLOSE}", "nonsense", f"{HINT_OPEN}Answer in one sentence only.{HINT_CLOSE}"])
    v = make_judge("generate", eng).judge("r", "n")
    assert v.reward == -1 and v.hint == "Answer in one sentence only." and len(v.hint_votes) == 3
    pos = make_judge("generate", FakeEngine(["+1", "+1", "+1"])).judge("r", "n")
    assert pos.reward == 1 and pos.hint is None and pos.hint_votes == []


def test_logprob_mode_uses_background_scoring():
    eng = FakeEngine([], logprobs={"+1": -3.0, "-1": -1.0, "0": -2.0})
    j = make_judge("logprob", eng, calibrate=False)
    reward, votes = j.score("r", "n")
    assert reward == -1 and votes[0]["logprobs"] == {"1": -3.0, "-1": -1.0, "0": -2.0}
    assert all(c["background"] for c in eng.calls)


def test_preempted_propagates_to_the_caller():
    j = make_judge("generate", FakeEngine(["+1"] * 3, preempt_first=1))
    with pytest.raises(Preempted):
        j.score("r", "n")
    assert j.score("r", "n")[0] == 1  # retried later: works


def test_rules_and_hybrid_modes():
    assert DEFAULT_MODE == "learned"
    r = make_judge("rules")
    assert r.score("r", "thanks!") == (1, [{"rule": "thanks0", "vote": 1}])
    assert r.score("r", "The quarterly numbers look odd", "recipe?")[0] in (0, 1)
    with pytest.raises(ValueError):
        make_judge("generate")
    eng = FakeEngine(["-1", "-1", "-1"])
    h = make_judge("hybrid", eng)
    assert h.score("r", "thanks!")[0] == 1 and eng.calls == []  # a rule fired: no model call
    assert h.score("Reply about cats.", "Cats and dogs", "Tell me about cats")[0] == -1  # no rule fired: model votes
    assert len(eng.calls) == 3


def test_labeled_set_is_balanced_and_rules_meet_target():
    rows = load_labeled(EARLY_SET)
    assert len(rows) >= 60
    counts = {lab: sum(1 for r in rows if r["label"] == lab) for lab in (1, 0, -1)}
    assert min(counts.values()) >= 18
    result = evaluate(make_judge("rules"), EARLY_SET)
    assert result["accuracy"] >= 0.75 and result["majority_baseline"] < 0.4
    assert sum(map(sum, result["confusion"])) == len(rows)
    assert "pred +1" in format_report(result)


@pytest.mark.slow
def test_real_model_judges_a_couple_of_lines(engine_judge, tmp_path):
    """The embedded model runs the model modes end to end (accuracy is measured in docs/JUDGE.md, not here)."""
    rows = load_labeled(EARLY_SET)
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (rows[0], rows[22])))
    result = evaluate(make_judge("generate", engine_judge, votes=1, seed=0, max_tokens=4), path)
    assert result["n"] == 2 and all(p in (-1, 0, 1) for p in result["predictions"])
    reward, votes = make_judge("logprob", engine_judge, calibrate=False).score(rows[22]["reply"], rows[22]["next_state"])
    assert reward in (-1, 0, 1) and set(votes[0]["logprobs"]) == {"1", "-1", "0"}
    v = make_judge("generate", engine_judge, votes=1, seed=0, max_tokens=4, hint_max_tokens=16).judge(
        "Here are ten tips: ...", "Too long, one tip please.")
    assert v.reward in (-1, 0, 1) and (v.hint is None or isinstance(v.hint, str)) and len(v.votes) == 1


@pytest.fixture(scope="module")
def engine_judge():
    from openclaw_local.engine import Engine
    from openclaw_local.paths import embedded_model_path

    eng = Engine(embedded_model_path(), n_ctx=2048, threads=1, seed=0)  # 1 thread: the 2 cores are shared
    yield eng
    eng.close()
