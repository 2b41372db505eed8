"""``bench learn --only compliance``: next-reply compliance after a complaint, standing preferences on vs off.

The real thing small: one development persona, one rule, one seed, short replies; the real
ChatService, store, engine and learned judge. With preferences on, the repeated complaint must
become an active preference whose text is in the system message of the next reply; with them
off, nothing is added to the context. Run with every reply generated (no replay), it also checks
the premise of the bench's replay: while no preference is in the context, both arms get the same
replies. The replay itself is checked on a fake engine.
"""

from __future__ import annotations

import dataclasses

import pytest

from openclaw_local.bench import compliance_bench as cb
from openclaw_local.config import Settings
from openclaw_local.errors import UsageError
from openclaw_local.learn.preference_text import HEADER as PREFS_HEADER
from openclaw_local.sim.persona import PERSONAS_DIR, load_persona
from openclaw_local.sim.rules import Rule
from tests.fake_engine import FakeEngine
from tests.threads import THREADS

# the lowercase persona's own first complaint about length: the judge reads it as push-back with a
# hint, and the product turns it into "Make it shorter." and "Keep it under 50 words."
COMPLAINT = "that's too long, keep it under 50 words"


def _one_rule_persona():
    persona = load_persona("lowercase")
    rule = Rule("max_words", 50)
    assert rule in persona.rules and COMPLAINT in persona.complaint_pool(rule)
    return dataclasses.replace(persona, rules=[rule], complaints={"max_words": [COMPLAINT]}), rule


def test_complaints_are_drawn_with_the_seed_and_differ_while_the_pool_lasts():
    persona = load_persona("student")
    rule = next(r for r in persona.rules if r.type == "max_words")
    first, second = cb.draw_complaints(persona, rule, 0)
    assert first != second and {first, second} <= set(persona.complaint_pool(rule))
    assert cb.draw_complaints(persona, rule, 0) == [first, second]
    assert cb.prompt_order(persona, 1) == cb.prompt_order(persona, 1) != cb.prompt_order(persona, 2)


def test_the_frozen_test_personas_are_refused():
    with pytest.raises(UsageError, match="frozen test persona"):
        cb.dev_personas([sorted((PERSONAS_DIR / "test").glob("*.json"))[0]])
    assert [p.name for p in cb.dev_personas(None)] == [load_persona(p).name for p in sorted(PERSONAS_DIR.glob("*.json"))]


@pytest.mark.slow
def test_compliance_runs_both_arms_and_the_preference_reaches_the_next_reply(embedded_model, home):
    persona, rule = _one_rule_persona()
    seen: dict[bool, tuple[str, list[str], list[str]]] = {}

    def inspect(chat, conversation_id, rec):
        system = chat.context_for(conversation_id)[0]["content"]
        seen[rec.prefs] = (system, [p.text for p in chat.preferences.list() if p.status == "active"],
                           [p.text for p in chat.preferences.in_context()])

    records: list[cb.ConversationRecord] = []
    result = cb.run(embedded_model, Settings(threads=THREADS, n_ctx=1024), seeds=1, user_home=home, personas=[persona],
                    rules_per_persona=1, max_tokens=32, probe_prompts=2, replay=False, inspect=inspect,
                    records=records, progress=lambda line: None)

    # the structure: one row for the persona and one for all, both arms measured after each complaint
    assert result.name == "learn-compliance" and result.table[0] == cb.HEADER
    assert [r[0] for r in result.table[1:]] == [persona.name, "**all**"]
    assert result.table[1][1].startswith("max_words=50 (") and result.table[1][2] == "1"
    assert result.verdict.startswith(("preferences raised", "preferences did not raise"))
    assert "wall time of the run" in dict(result.rows)
    off, on = records
    assert (off.prefs, on.prefs) == (False, True)
    assert off.first_prompt == on.first_prompt and off.complaints == on.complaints == [COMPLAINT, COMPLAINT]
    assert on.first_broke and off.first_reply == on.first_reply
    assert [len(k) for k in on.kept] == [len(k) for k in off.kept] == [cb.FOLLOW_UPS, cb.FOLLOW_UPS]
    assert 0.0 <= on.compliance(0) <= 1.0 and 0.0 <= off.compliance(1) <= 1.0
    # one complaint makes candidates only: nothing in the context, so the same requests got the same replies
    assert on.active_after[0] == [] and on.candidates_after[0] >= 1
    assert on.replies[0] == off.replies[0] and on.kept[0] == off.kept[0]
    assert on.replayed == off.replayed == 0  # every reply generated

    # with preferences: the judge read the complaint as push-back with a hint, the repeated request is
    # active, and its text is in the system message the next reply gets
    assert on.verdicts[0][0] == -1 and on.verdicts[0][1]
    system, active, in_context = seen[True]
    assert "Make it shorter." in active and set(on.active_after[-1]) == set(active)
    assert in_context and PREFS_HEADER in system and all(f"- {text}" in system for text in in_context)
    assert on.in_system_message and on.context_tokens > 0
    assert float(result.table[1][7]) >= 1.0 and int(result.table[1][8]) == on.context_tokens

    # without: the same complaint, nothing recorded and nothing added to the system message
    system_off, active_off, in_context_off = seen[False]
    assert active_off == [] and in_context_off == [] and PREFS_HEADER not in system_off
    assert off.active_after == [[], []] and off.context_tokens == 0


def test_the_section_is_a_table_per_persona_above_the_metric_rows():
    recs = [cb.ConversationRecord("p", "max_words=50", seed, prefs, "q", kept=[[prefs, False, True], [prefs] * 3],
                                  active_after=[[], ["Make it shorter."] if prefs else []],
                                  context_tokens=12 if prefs else 0)
            for seed in (0, 1) for prefs in (False, True)]
    persona = dataclasses.replace(load_persona("lowercase"), name="p")
    res = cb.summarize(recs, [persona], {"p": [(Rule("max_words", 50), 0.5)]}, {}, seeds=2, settings=Settings(),
                       wall_s=60.0)
    row = res.table[1]
    assert row[:3] == ["p", "max_words=50 (50%)", "2"]
    assert row[3:7] == ["0.33 (0.33–0.33)", "0.67 (0.67–0.67)", "0.00 (0.00–0.00)", "1.00 (1.00–1.00)"]
    assert row[7:] == ["1.0", "12"]
    assert res.verdict.startswith("preferences raised next-reply compliance: +0.33 after the 1st complaint, +1.00")
    md = res.markdown()
    assert "| persona | rules measured" in md and "| **all** |" in md and "| wall time of the run | 1.0 min" in md


def test_a_request_made_again_after_the_same_calls_is_replayed_and_a_new_one_is_generated(home):
    from types import SimpleNamespace

    from openclaw_local.services import container
    from openclaw_local.services.chat import ChatService

    fake = FakeEngine(default="reply {n}")
    fake.llm = SimpleNamespace(reset=lambda: None)
    engine = cb.ReplayingEngine(fake)
    store = container.open_store(home)
    try:
        def conversation(settings, *, prefs=()):
            chat = ChatService(store, engine, settings)
            for text in prefs:
                chat.preferences.add(text)
            engine.reset()
            conv = chat.new_conversation().id
            out = [chat.send(conv, text, lambda e: None) for text in ("hi", "and then?")]
            for pref in chat.preferences.list():
                chat.preferences.remove(pref.id)
            return [(m.content, m.n_tokens) for m in out]

        s = Settings(max_tokens=24, seed=3, prefs_enabled=True)
        first = conversation(s)
        assert [c for c, _ in first] == ["reply 1", "reply 2"] and engine.generated == 2
        assert conversation(s.replace(prefs_enabled=False)) == first  # the same requests: replayed, stored alike
        assert (engine.replayed, len(fake.calls)) == (2, 2)
        # a preference in the context: a new request, and every later one in that conversation too
        assert [c for c, _ in conversation(s, prefs=["Keep replies short."])] == ["reply 3", "reply 4"]
        assert [c for c, _ in conversation(s.replace(seed=4))] == ["reply 5", "reply 6"]  # another seed
        assert (engine.replayed, engine.generated) == (2, 6)
    finally:
        store.close()
