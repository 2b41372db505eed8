"""Persona rules: deterministic checks and repairs on hand-written replies."""

from __future__ import annotations

import pytest

from openclaw_local.sim.rules import Rule, broken, check_all, repair, score

NM = Rule("no_markdown")


@pytest.mark.parametrize("text", [
    "A well-known trick - and a good one - is to sleep early.",
    "There are 3 steps. Step 2. is the hardest, and 3. is easy.",
    "Mix the flour - slowly - into the eggs.",
    "I scored 10/10 and ranked #1 in class.",
    "Use a*b for the product and 2+2 for a sum.",
    "",
])
def test_no_markdown_passes_plain_text(text):
    assert NM.check(text)


@pytest.mark.parametrize("text", [
    "Here you go:\n- sleep\n- eat",
    "* first thing",
    "+ a plus item",
    "1. first\n2. second",
    "Steps:\n  3) do this",
    "This is **important**.",
    "This is __important__.",
    "# Title\nbody",
    "  ## Section",
    "```python\nprint(1)\n```",
])
def test_no_markdown_breaks_on_markup(text):
    assert not NM.check(text)


def test_no_markdown_repair_joins_list_into_sentences():
    text = "Here are tips:\n- **Sleep** well\n- eat breakfast\n\n## Why\nIt helps."
    fixed = NM.repair(text)
    assert NM.check(fixed)
    assert fixed == "Here are tips. Sleep well. eat breakfast.\n\nWhy\nIt helps."


def test_no_markdown_repair_numbered_and_fence():
    fixed = NM.repair("1. Boil water\n2) Add pasta\n```\ncode\n```")
    assert NM.check(fixed)
    assert "Boil water. Add pasta." in fixed and "code" in fixed and "```" not in fixed


def test_max_words_check_and_repair_cuts_at_sentence_end():
    r = Rule("max_words", 6)
    assert r.check("one two three four five six")
    assert not r.check("one two three four five six seven")
    assert r.repair("It is short. Then it goes on and on forever.") == "It is short."
    assert r.repair("no sentence end here at all in this long text") == "no sentence end here at all"


def test_min_words_is_not_repairable():
    r = Rule("min_words", 5)
    assert not r.check("too short")
    assert r.check("this one has five words")
    assert r.repair("too short") == "too short" and not r.repairable


def test_lowercase():
    r = Rule("lowercase")
    assert r.check("all lower, 123!") and not r.check("Not lower")
    assert r.repair("Hello World") == "hello world"


def test_forbid_phrases_case_insensitive_whole_words_and_sentence_drop():
    r = Rule("forbid_phrases", ("as an AI", "certainly"))
    assert not r.check("Certainly! Here it is.")
    assert not r.check("Well, AS AN AI I cannot.")
    assert r.check("uncertainly phrased but fine")  # not a whole-word match
    assert r.repair("Certainly! The answer is 4. As an AI, I know.") == "The answer is 4."


def test_start_end_include():
    s, e, i = Rule("must_start_with", "Hi there!"), Rule("must_end_with", "Keep it up!"), Rule("must_include_any", ("well done", "great"))
    assert s.check("  hi there! nice") and not s.check("Hello")
    assert s.repair("Good work.") == "Hi there! Good work."
    assert e.check("Good work. keep it up!  ") and not e.check("Keep it up! Good work.")
    assert e.repair("Good work.") == "Good work.\nKeep it up!"
    assert i.check("Well done, Sam.") and i.check("That was GREAT.") and not i.check("greatly improved")
    assert i.repair("Good work.") == "well done, Good work."


def test_sentences_exclamations_digits_case_and_a_question_back():
    ms, ex, dg = Rule("max_sentences", 2), Rule("no_exclamation"), Rule("no_digits")
    up, q = Rule("uppercase"), Rule("ends_with_question", "¿Y tú?")
    assert ms.check("One. Two?") and not ms.check("One.\nTwo! Three.")
    assert ms.repair("One. Two!\n\nThree. Four.") == "One. Two!"
    assert ex.check("Calm. Quiet?") and not ex.check("Wow!") and not ex.check("¡Hola")
    assert ex.repair("¡Hola! Wow!") == "Hola. Wow."
    assert dg.check("forty-two apples") and not dg.check("42 apples") and not dg.check("room ٣")
    assert dg.repair("Mix 2 eggs with 250 g, 1,905 steps, 12345678 ms.") == \
        "Mix two eggs with two hundred fifty g, one thousand nine hundred five steps, " \
        "one two three four five six seven eight ms."
    assert up.check("LOUD, 42 TIMES!") and not up.check("Loud")
    assert up.repair("Loud ß") == "LOUD SS"
    assert q.check("Done. Ready?") and q.check("¿Listo?»") and not q.check("Is it? Yes.")
    assert q.repair("Done.") == "Done.\n¿Y tú?"


def test_a_question_back_fits_within_the_sentence_limit():
    rules = [Rule("max_sentences", 3), Rule("ends_with_question", "Which one do you pick?"), Rule("no_exclamation")]
    fixed = repair("Great! First. Second. Third. Fourth!", rules)
    assert all(check_all(fixed, rules)), fixed
    assert fixed == "Great. First.\nWhich one do you pick?"


def test_score_and_repair_by_every_broken_rule():
    rules = [NM, Rule("max_words", 12), Rule("must_start_with", "Hi"), Rule("must_end_with", "Good luck!"), Rule("min_words", 3)]
    text = "Tips:\n- **Sleep** well\n- eat breakfast\n1. Study early. It is a well-known trick and 3. very good for everyone."
    assert score(text, rules) == pytest.approx(1 / 5)
    fixed = repair(text, rules)
    assert all(check_all(fixed, rules)), fixed
    assert fixed.startswith("Hi ") and fixed.endswith("\nGood luck!")
    assert broken("fine", [Rule("min_words", 3)])[0].type == "min_words"


def test_rule_keys_are_readable():
    assert Rule("max_words", 50).key == "max_words=50"
    assert Rule("must_start_with", "Hi").key == "must_start_with='Hi'"
    assert Rule("forbid_phrases", ("a", "b")).key == "forbid_phrases=a|b"


def test_a_cut_reply_fails_the_length_and_ending_rules_whatever_it_shows():
    rules = [Rule("max_words", 80), Rule("must_end_with", "~"), Rule("lowercase")]
    text = "a reply that stopped mid way ~"  # short and ends right, but only because it was cut
    assert check_all(text, rules) == [True, True, True]
    assert check_all(text, rules, cut=True) == [False, False, True]


def test_persona_score_uses_the_product_reply_length_and_counts_cut_replies():
    from types import SimpleNamespace

    from openclaw_local.config import Settings
    from openclaw_local.sim.persona import parse_persona
    from openclaw_local.sim.simulate import SCORE_MAX_TOKENS, persona_score

    asked = []

    class Engine:
        def generate(self, msgs, *, max_tokens, **kw):
            asked.append(max_tokens)
            cut = "long" in msgs[-1]["content"]
            gen = SimpleNamespace(reply="fine ~", stats=SimpleNamespace(finish_reason="length" if cut else "stop"))
            return SimpleNamespace(run=lambda: gen)

    persona = parse_persona({"name": "p", "rules": [{"type": "max_words", "value": 50},
                                                   {"type": "must_end_with", "value": "~"}],
                             "feedback": {"correct": 1.0}, "train_prompts": [f"q {i}" for i in range(36)],
                             "eval_prompts": [f"e {i}" for i in range(10)]})
    res = persona_score(Engine(), persona, ["short one", "long one"], system_prompt="s")
    assert SCORE_MAX_TOKENS == Settings().max_tokens and asked == [SCORE_MAX_TOKENS] * 2
    assert res["cut_replies"] == 1 and res["score"] == 0.5
    assert res["per_rule"] == {"max_words=50": 0.5, "must_end_with='~'": 0.5}
