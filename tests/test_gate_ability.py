"""The promotion gate on real adapters (embedded model, real training): style passes, damage is refused.

The same arms as ``openclaw-local bench gate`` (bench/gate_bench.py), fewer of them, each gated
once as shipped (the bench also gates with the whole ability set): one style-only adapter (the
lowercase persona's corrections of the base model's own replies), and four damaging ones (word
salad, wrong facts, replies that ramble without end, and the persona's corrections with their
roles flipped, gated on its true held-out feedback). The bench adds a learning rate 30× the
default and more seeds.
"""

from __future__ import annotations

import random

import pytest

from openclaw_local.bench import gate_bench as gb
from openclaw_local.config import Settings
from openclaw_local.paths import embedded_model_path
from openclaw_local.services.training import holdout_split
from openclaw_local.sim.persona import load_persona


@pytest.mark.slow
def test_gate_passes_style_and_refuses_damage(home, shared_trainable_cache):
    shared_trainable_cache(home)
    settings = Settings(replay_corrections=0, threads=2)
    sp = settings.system_prompt
    persona = load_persona("assets/personas/lowercase.json")
    prompts = random.Random(0).sample(persona.train_prompts, 12)
    replies = gb.generate_replies(embedded_model_path(), settings, prompts)
    fact_replies = gb.generate_replies(embedded_model_path(), settings, [q for q, _ in gb.WRONG_FACTS])
    style = gb.persona_samples(persona, prompts, replies, sp)
    assert len(style) >= 8  # the base model's replies do break this persona's rules

    k = len(holdout_split(list(range(len(style))))[1])  # the flipped arm trains on all but the held-out slice
    lab = gb.GateLab(home, settings)
    assert lab.base["ability"]["n"] >= 110 and 0.35 < lab.base["ability"]["accuracy"] < 0.9
    arms = {
        "style": gb.Arm("lowercase", "style", style),
        "shuffled": gb.Arm("shuffled", "damage", gb.shuffled_samples(prompts, replies, sp), expect="refuse"),
        "facts": gb.Arm("wrong facts", "damage", gb.wrong_fact_samples(fact_replies, sp), expect="refuse"),
        "rambling": gb.Arm("rambling", "damage", gb.rambling_samples(prompts[:6], replies[:6], sp), expect="refuse"),
        "flipped": gb.Arm("flipped", "damage", gb.flipped_samples(style[:-k]) + style[-k:], heldout=style[-k:],
                          expect="refuse"),
    }
    results = {name: lab.run(arm, both=False) for name, arm in arms.items()}
    for name, r in results.items():
        print(f"\n{name}: {gb.describe(r)[1]}")
    style_r = results["style"]
    assert style_r.passed, style_r.reason
    assert abs(style_r.gate["ability"]["accuracy_delta"]) <= lab.config.max_accuracy_drop
    assert style_r.gate["general"]["ratio"] < 1.05  # case-folded general text: a style adapter leaves it be
    assert not results["shuffled"].passed and "word order" in results["shuffled"].reason
    assert not results["rambling"].passed and "repeat themselves" in results["rambling"].reason
    assert style_r.gate["replies"]["ok"]  # a style's replies still end and do not loop
    assert not results["facts"].passed and "fewer general questions" in results["facts"].reason
    # style moves accepted and rejected replies alike: the joint feedback margin stays positive
    assert style_r.gate["feedback"]["margin"] > 0
    # an update that learned the opposite: ability and fluency cannot see it, the joint margin turns negative.
    # Whether it crosses the −0.25 limit depends on the dose: the bench's commuter flip did (−0.50), this
    # lowercase flip did not (−0.11, 2026-11-26) — a known limit (docs/METHOD.md), so only the sign is asserted
    flipped = results["flipped"]
    assert flipped.gate["feedback"]["margin"] < 0 < style_r.gate["feedback"]["margin"]
    assert flipped.gate["ability"]["ok"] and flipped.gate["fluency"]["ok"]
