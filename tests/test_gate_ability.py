"""The promotion gate on real adapters (embedded model, real training): style passes, rambling is refused.

Two of ``openclaw-local bench gate``'s arms (bench/gate_bench.py), each gated once as shipped:
a style-only adapter (the lowercase persona's corrections of the base model's own replies) must
pass, and an adapter that learned to ramble (corrections repeating one sentence) must be refused
by the check on generated replies — the one damage no fixed-text check sees. The bench runs the
other damage arms (word salad, wrong facts, a learning rate 30× the default, flipped feedback)
with more seeds and writes the results into docs/BENCHMARKS.md; they take minutes each on two
cores, so they live there rather than in the test suite.
"""

from __future__ import annotations

import random

import pytest

from openclaw_local.bench import gate_bench as gb
from openclaw_local.config import Settings
from openclaw_local.paths import embedded_model_path
from openclaw_local.sim.persona import load_persona
from tests.threads import THREADS


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a hang, not a busy machine: minutes of training share 2 cores with the other worker
def test_gate_passes_style_and_refuses_rambling(home, shared_trainable_cache):
    shared_trainable_cache(home)
    settings = Settings(replay_corrections=0, threads=THREADS)
    sp = settings.system_prompt
    persona = load_persona("assets/personas/lowercase.json")
    prompts = random.Random(0).sample(persona.train_prompts, 8)
    replies = gb.generate_replies(embedded_model_path(), settings, prompts)
    style = gb.persona_samples(persona, prompts, replies, sp)
    assert len(style) >= 6  # the base model's replies do break this persona's rules

    lab = gb.GateLab(home, settings)
    assert lab.base["ability"]["n"] >= 110 and 0.35 < lab.base["ability"]["accuracy"] < 0.9
    style_r = lab.run(gb.Arm("lowercase", "style", style), both=False)
    rambling = lab.run(gb.Arm("rambling", "damage", gb.rambling_samples(prompts[:6], replies[:6], sp),
                              expect="refuse"), both=False)
    for r in (style_r, rambling):
        print(f"\n{r.arm.name}: {gb.describe(r)[1]}")
    assert style_r.passed, style_r.reason
    assert abs(style_r.gate["ability"]["accuracy_delta"]) <= lab.config.max_accuracy_drop
    assert style_r.gate["general"]["ratio"] < 1.05  # case-folded general text: a style adapter leaves it be
    assert style_r.gate["replies"]["ok"]  # a style's replies still end and do not loop
    # rambling: ability and word order still pass; only the generated replies show the damage
    assert not rambling.passed and "repeat themselves" in rambling.reason
    assert rambling.gate["fluency"]["ok"] and not rambling.gate["replies"]["ok"]
