"""Persona files: shipped ones load; bad ones give one clear line and exit code 6; the simulated user;
phrasing pools (sampled with the seed, old single-string format still valid); the indirect persona."""

from __future__ import annotations

import json
import random

import pytest

from openclaw_local.cli import main
from openclaw_local.judge.rules import NEG_RX, rule_score
from openclaw_local.sim.persona import (
    PersonaError, SimulatedUser, default_complaint, load_persona, parse_persona, sample, shipped_personas,
)
from openclaw_local.sim.rules import RULE_TYPES, Rule


def good(**changes):
    data = {
        "name": "t", "description": "d", "system_prompt": None,
        "rules": [{"type": "no_markdown"}, {"type": "max_words", "value": 5}, {"type": "must_start_with", "value": "Hi"}],
        "feedback": {"correct": 0.4, "complain": 0.4, "rate": 0.2},
        "train_prompts": [f"train question {i}" for i in range(36)],
        "eval_prompts": [f"eval question {i}" for i in range(10)],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def test_shipped_personas_load_and_have_disjoint_prompts():
    paths = shipped_personas()
    assert {p.stem for p in paths} >= {"student", "teacher", "commuter"}
    for p in paths:
        persona = load_persona(p)
        assert len(persona.train_prompts) >= 36 and len(persona.eval_prompts) >= 10
        assert not set(persona.train_prompts) & set(persona.eval_prompts)
    assert load_persona("student").name == "casual-student"  # a shipped name works too


@pytest.mark.parametrize("changes,message", [
    ({"rules": ...}, 'missing field "rules"'),
    ({"train_prompts": ...}, 'missing field "train_prompts"'),
    ({"rules": [{"type": "shout"}]}, "unknown type 'shout'"),
    ({"rules": []}, '"rules" must be a non-empty list'),
    ({"rules": [{"type": "max_words", "value": "ten"}]}, "positive integer"),
    ({"rules": [{"type": "forbid_phrases", "value": []}]}, "non-empty list"),
    ({"rules": [{"type": "lowercase", "value": 3}]}, "takes no value"),
    ({"feedback": {"correct": 0.5, "complain": 0.6}}, "add up to 1"),
    ({"feedback": {"correct": 1.5}}, "between 0 and 1"),
    ({"feedback": {"shout": 1.0}}, "unknown feedback kind"),
    ({"train_prompts": [f"q{i}" for i in range(35)]}, "at least 36 train_prompts (has 35)"),
    ({"eval_prompts": [f"e{i}" for i in range(9)]}, "at least 10 eval_prompts (has 9)"),
    ({"eval_prompts": [f"e{i}" for i in range(9)] + ["Train Question 3"]}, "train and eval prompts overlap"),
    ({"complaints": {"shout": "x"}}, "unknown rule type"),
    ({"complaints": {"max_words": []}}, "complaint for 'max_words' must be a non-empty string or a non-empty list"),
    ({"complaints": {"max_words": ["fine", 3]}}, "complaint for 'max_words' must be a non-empty string or a non-empty list"),
    ({"complaints": {"max_words": ""}}, "complaint for 'max_words' must be"),
    ({"neutral": []}, '"neutral" must be a non-empty list'),
    ({"neutral": "ok"}, '"neutral" must be a non-empty list'),
    ({"neutral": ["ok", " "]}, '"neutral" must be a non-empty string or a non-empty list'),
    ({"color": "red"}, "unknown field(s) color"),
])
def test_bad_personas_are_explained(changes, message):
    with pytest.raises(PersonaError) as err:
        parse_persona(good(**changes), "p.json")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 6


def test_bad_files_through_the_cli(tmp_path, capsys):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{nope")
    missing_field = tmp_path / "missing.json"
    missing_field.write_text(json.dumps(good(eval_prompts=...)))
    for path, text, code in [(bad_json, "not valid JSON", 6), (missing_field, 'missing field "eval_prompts"', 6),
                             (tmp_path / "absent.json", "persona file not found", 8)]:
        assert main(["simulate", "--persona", str(path)]) == code
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err and err.count("\n") == 1


def test_every_rule_type_has_a_default_complaint():
    values = {"max_words": 5, "min_words": 5, "forbid_phrases": ("x",), "must_include_any": ("x",),
              "must_start_with": "x", "must_end_with": "x", "max_sentences": 2, "ends_with_question": "x?"}
    for t in RULE_TYPES:
        assert default_complaint(Rule(t, values.get(t)))


def test_simulated_user_reacts_by_its_probabilities():
    persona = parse_persona(good(feedback={"correct": 1.0}))
    user = SimulatedUser(persona, seed=1)
    r = user.react("- a list\n- of many many words here")
    assert r.kind == "correct" and r.true_reward == -1
    assert r.text.startswith("Hi ") and all(rule.check(r.text) for rule in persona.rules)
    c = SimulatedUser(persona.with_feedback({"complain": 1.0}), seed=1).react("**bold**")
    assert c.kind == "complain" and c.text in {persona.complaint(x) for x in persona.rules}
    assert SimulatedUser(persona.with_feedback({"rate": 1.0}), seed=1).react("**bold**").kind == "rate"
    kinds = {SimulatedUser(persona, seed=s).react("Hi there").kind for s in range(20)}
    assert kinds == {"praise", "next"}
    # seeded: the same seed gives the same prompts and reactions
    assert SimulatedUser(persona, 3).prompts(40) == SimulatedUser(persona, 3).prompts(40)
    assert len(SimulatedUser(persona, 3).prompts(40)) == 40


def test_unrepairable_correction_becomes_a_complaint():
    persona = parse_persona(good(rules=[{"type": "min_words", "value": 50}], feedback={"correct": 1.0}))
    r = SimulatedUser(persona, seed=0).react("short")
    assert r.kind == "complain" and "at least 50 words" in r.text


# ----------------------------------------------------------------------------- phrasing pools
def test_shipped_personas_have_pools_of_phrasings():
    paths = shipped_personas()
    assert {p.stem for p in paths} >= {"student", "teacher", "commuter", "indirect"}
    for p in paths:
        persona = load_persona(p)
        for rule in persona.rules:  # every rule has its own pool, not the one default sentence
            pool = persona.complaint_pool(rule)
            assert len(pool) >= 8 and len(set(pool)) == len(pool), (p.stem, rule.key)
        assert len(set(persona.praise)) >= 8 and len(set(persona.neutral)) >= 8, p.stem


def test_old_single_string_format_is_a_pool_of_one():
    persona = parse_persona(good(complaints={"max_words": "too long!"}, praise=["thanks"]))
    max_words = persona.rules[1]
    assert persona.complaints == {"max_words": ["too long!"]} and persona.neutral == []
    assert persona.complaint_pool(max_words) == ["too long!"]
    # a rule without a complaint in the file falls back to the default sentence
    assert persona.complaint_pool(persona.rules[0]) == [default_complaint(persona.rules[0])]
    # a pool of one takes no draw from the RNG, so a seeded run replays as before pools existed
    rng = random.Random(5)
    state = rng.getstate()
    assert sample(["only"], rng) == "only" and rng.getstate() == state
    # without a neutral pool a good reply gets praise or the next prompt, never a neutral message
    kinds = {SimulatedUser(persona, seed=s).react("Hi there").kind for s in range(40)}
    assert kinds == {"praise", "next"}


def test_pooled_reactions_are_seeded_and_varied():
    persona = load_persona("commuter").with_feedback({"complain": 1.0})
    bad = "**Certainly!** " + "word " * 60  # breaks every commuter rule

    def complaints(seed, n=60):
        user = SimulatedUser(persona, seed)
        return [user.react(bad).text for _ in range(n)]

    first = complaints(7)
    assert first == complaints(7)  # same seed, same phrasings in the same order
    assert first != complaints(8)
    every = {c for rule in persona.rules for c in persona.complaint_pool(rule)}
    assert set(first) <= every and len(set(first)) >= 15  # many phrasings, all from the pools

    def good_reactions(seed, n=80):
        user = SimulatedUser(persona, seed)
        return [(r.kind, r.text) for r in (user.react("Quick answer: yes, twenty minutes.") for _ in range(n))]

    seq = good_reactions(3)
    assert seq == good_reactions(3)
    kinds = {k for k, _ in seq}
    assert kinds == {"praise", "neutral", "next"}
    assert {t for k, t in seq if k == "neutral"} <= set(persona.neutral)
    assert len({t for k, t in seq if k == "praise"}) >= 4


def test_indirect_persona_never_uses_the_old_rules_cue_words():
    """Its complaints are push-back the old cue rules (learn/judge.py) cannot hear: no pattern matches."""
    persona = load_persona("indirect")
    complaints = [c for rule in persona.rules for c in persona.complaint_pool(rule)]
    assert len(complaints) >= 32
    for text in complaints:
        hits = [rx.pattern for rx in NEG_RX if rx.search(text)]
        assert not hits, (text, hits)
        assert rule_score("Here is a reply.", text, "How do I bleed a radiator?")[0] != -1, text
