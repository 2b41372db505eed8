"""Persona files: shipped ones load; bad ones give one clear line and exit code 6; the simulated user."""

from __future__ import annotations

import json

import pytest

from openclaw_local.cli import main
from openclaw_local.sim.persona import (
    PersonaError, SimulatedUser, default_complaint, load_persona, parse_persona, shipped_personas,
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
              "must_start_with": "x", "must_end_with": "x"}
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
