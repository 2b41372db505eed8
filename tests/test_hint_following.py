"""The hint-following benchmark: its counting on a fake engine, and one short real run."""

from __future__ import annotations

import pytest

import json

from openclaw_local.bench import hint_following as hf
from openclaw_local.learn.trainer import HINT_LABEL
from openclaw_local.sim.persona import Persona
from openclaw_local.sim.rules import Rule


def _persona(rules, complaints=None) -> Persona:
    return Persona(name="t", description="", system_prompt=None, rules=rules, complaints=complaints or {},
                   praise=["ok"], feedback={"correct": 0.0, "complain": 1.0, "rate": 0.0},
                   train_prompts=[f"train {i}" for i in range(36)], eval_prompts=["first q", "second q"])


def test_tally_counts_flips_and_the_share_of_failures_the_hint_repairs():
    t = hf.tally([(False, True), (True, False), (False, False), (True, True)])
    assert (t["n"], t["passed_without"], t["passed_with"]) == (4, 2, 2)
    assert (t["fail_to_pass"], t["pass_to_fail"], t["failed_without"]) == (1, 1, 2)
    assert t["pass_without"] == t["pass_with"] == 0.5 and t["diff"] == 0.0
    assert t["hint_following"] == 0.5


def test_a_rule_never_broken_without_the_hint_has_no_following_rate():
    t = hf.tally([(True, True), (True, False)])
    assert t["failed_without"] == 0 and t["hint_following"] is None
    assert t["diff"] == -0.5


def test_merge_pools_counts_rather_than_averaging_rates():
    one_failure_fixed = hf.tally([(False, True)])
    three_failures_kept = hf.tally([(False, False)] * 3)
    m = hf.merge([one_failure_fixed, three_failures_kept])
    assert m["n"] == 4 and m["failed_without"] == 4 and m["fail_to_pass"] == 1
    assert m["hint_following"] == 0.25  # a mean of the two rates would say 0.5
    assert m["pass_with"] == 0.25 and m["diff"] == 0.25


def test_measure_persona_sends_the_teachers_context_and_counts_per_rule(fake_engine):
    rules = [Rule("lowercase"), Rule("max_words", 3)]
    persona = _persona(rules, {"lowercase": ["please write everything in lowercase"]})
    fake_engine.queue(
        "Hello there", "ok fine",  # without a hint: fails lowercase / passes both
        "hello there", "Ok Fine",  # lowercase hint: fail→pass, pass→fail
        "one two three four", "ok",  # max_words hint: pass→fail, pass→pass
    )
    res = hf.measure_persona(fake_engine, persona, ["first q", "second q"], system_prompt="SYS", max_tokens=50)
    low, short = res["rules"]
    assert (low["fail_to_pass"], low["pass_to_fail"], low["failed_without"], low["hint_following"]) == (1, 1, 1, 1.0)
    assert low["hint_source"] == "complaint" and low["hint"] == "Write everything in lowercase."
    assert (short["pass_without"], short["pass_with"], short["pass_to_fail"]) == (1.0, 0.5, 1)
    assert short["hint_following"] is None
    assert res["overall"]["n"] == 4 and res["overall"]["fail_to_pass"] == 1
    assert low["echoes_hint"] == 0

    sent = fake_engine.prompts
    assert len(sent) == 6 and fake_engine.pending == 0  # one shared no-hint reply per prompt, one per rule
    assert sent[0] == [{"role": "system", "content": "SYS"}, {"role": "user", "content": "first q"}]
    assert sent[2][-1]["content"] == f"first q\n\n{HINT_LABEL}\nWrite everything in lowercase."
    assert sent[2][0] == {"role": "system", "content": "SYS"}
    kw = fake_engine.calls[2].kwargs
    assert (kw["temperature"], kw["top_p"], kw["seed"], kw["max_tokens"]) == (0.0, 1.0, 0, 50)


def test_a_reply_cut_by_the_token_limit_fails_the_length_rule(fake_engine):
    persona = _persona([Rule("max_words", 50)])
    fake_engine.queue("a b c d e", "a b")  # max_tokens 3: the first is cut (finish_reason "length")
    res = hf.measure_persona(fake_engine, persona, ["q"], system_prompt="S", max_tokens=3)
    (r,) = res["rules"]
    assert r["samples"][0]["without_cut"] and not r["samples"][0]["without_pass"]
    assert r["samples"][0]["with_pass"] and r["fail_to_pass"] == 1


def test_a_complaint_that_gives_no_hint_falls_back_to_the_rules_instruction():
    rule = Rule("must_end_with", "~")
    hint, source, complaint = hf.hint_for(_persona([rule], {"must_end_with": ["no"]}), rule)
    assert (source, complaint) == ("rule_instruction", "no")
    assert hint == 'End the reply with "~".'


def test_the_instruction_source_ignores_a_complaint_that_would_give_a_hint():
    rule = Rule("max_words", 30)
    persona = _persona([rule], {"max_words": ["too long, under 30 words please"]})
    assert hf.hint_for(persona, rule)[1] == "complaint"
    assert hf.hint_for(persona, rule, "instruction")[:2] == ("Keep the reply under 30 words.", "rule_instruction")


def test_echoes_finds_four_hint_words_in_a_row_in_the_reply():
    hint = 'Always end with "Keep it up!", you forgot it.'
    assert hf.echoes("Sure! You forgot it. Always END with \"keep it up!\", ok", hint)
    assert not hf.echoes("Photosynthesis turns light into sugar. Keep it up!", hint)


def test_table_has_a_row_per_rule_and_an_overall_row(fake_engine):
    persona = _persona([Rule("lowercase"), Rule("no_markdown")])
    fake_engine.queue("A", "a", "b")
    res = hf.run(fake_engine, [("t", persona)], prompts=1, max_tokens=20, system_prompt="S")
    table = hf.markdown_table(res)
    assert table.count("\n| t | ") == 2
    assert "| **all** | 2 rules |" in table and "100 % (1/1) | 0/1 |" in table


@pytest.mark.slow
def test_real_run_on_the_embedded_model(tmp_path, capsys):
    out = tmp_path / "hf.json"
    assert hf.main(["--personas", "lowercase", "--prompts", "2", "--max-tokens", "16", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    (p,) = res["personas"]
    assert p["file"] == "lowercase" and len(p["rules"]) == 3
    for r in p["rules"]:
        assert r["n"] == 2 and len(r["samples"]) == 2
        assert all(s["without"].strip() and s["with"].strip() for s in r["samples"])
        assert r["passed_with"] - r["passed_without"] == r["fail_to_pass"] - r["pass_to_fail"]
        # greedy and the no-hint context shared: every rule saw the same no-hint replies
        assert [s["without"] for s in r["samples"]] == [s["without"] for s in p["rules"][0]["samples"]]
    assert "| **all** |" in capsys.readouterr().out
