"""The persona score: a persona's rules checked on greedy replies to its eval prompts.

Knows the engine's ``generate`` and the persona's rules; nothing of the learner or the store.
"""

from __future__ import annotations

import time
from typing import Any

from openclaw_local.config import Settings
from openclaw_local.sim.persona import Persona
from openclaw_local.sim.rules import check_all
from openclaw_local.sim.system_prompts import MEASURE_SYSTEM_PROMPTS

# Scored replies are what a user would see: the product's default reply length, not the
# simulation's shorter training cap, and a reply stopped by that limit fails max_words and
# must_end_with (see ``rules.check_all``).
SCORE_MAX_TOKENS = Settings().max_tokens


def persona_score(engine: Any, persona: Persona, prompts: list[str], *, system_prompt: str | None,
                  max_tokens: int = SCORE_MAX_TOKENS) -> dict[str, Any]:
    """Mean rule score over ``prompts``: greedy, fresh ``[system, user]`` context each (``[user]``
    with ``system_prompt`` None), replies of up to ``max_tokens`` (the product's default); a reply
    cut by that limit fails the length and ending rules."""
    per_rule = [0] * len(persona.rules)
    scores, replies, cut_count = [], [], 0
    for p in prompts:
        msgs = ([{"role": "system", "content": system_prompt}] if system_prompt is not None else []) + \
            [{"role": "user", "content": p}]
        gen = engine.generate(msgs, max_tokens=max_tokens, temperature=0.0, top_p=1.0, seed=0).run()
        cut = gen.stats.finish_reason == "length"
        cut_count += int(cut)
        ok = check_all(gen.reply, persona.rules, cut=cut)
        per_rule = [a + int(b) for a, b in zip(per_rule, ok)]
        scores.append(sum(ok) / len(ok))
        replies.append(gen.reply)
    n = max(1, len(prompts))
    return {
        "score": sum(scores) / n,
        "per_rule": {r.key: c / n for r, c in zip(persona.rules, per_rule)},
        "replies": replies,
        "cut_replies": cut_count,
        "max_tokens": max_tokens,
    }


def eval_point(rt, persona, prompts, system_prompt, max_tokens, interactions: int, started: float) -> dict[str, Any]:
    v_before = rt.learner.served_version
    res = persona_score(rt.engine, persona, prompts, system_prompt=system_prompt, max_tokens=max_tokens)
    v_after = rt.learner.served_version
    return {"interactions": interactions, "version": v_after, "mixed_versions": v_before != v_after,
            "score": res["score"], "per_rule": res["per_rule"], "replies": res["replies"],
            "cut_replies": res["cut_replies"],
            "at_s": round(time.monotonic() - started, 1)}


def scores_by_system_prompt(engine: Any, persona: Persona, prompts: list[str], max_tokens: int) -> dict[str, float]:
    """The persona score under each of ``MEASURE_SYSTEM_PROMPTS`` (sim/system_prompts.py)."""
    return {name: persona_score(engine, persona, prompts, system_prompt=sp, max_tokens=max_tokens)["score"]
            for name, sp in MEASURE_SYSTEM_PROMPTS.items()}
