"""The frozen test personas stay frozen, and apart from the development personas they are compared with.

Defaults are tuned on the development personas (``assets/personas/*.json``); the test personas
(``assets/personas/test/``) are only measured. A changed file, a line shared with a development
persona (after folding case and whitespace) or a shared rule kind would let tuning see the test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from openclaw_local.sim.persona import PERSONAS_DIR, load_persona, shipped_personas

TEST_DIR = PERSONAS_DIR / "test"


def _lines(persona) -> set[str]:
    """Every line the persona says or is asked, case and whitespace folded; fillers ("ok", "hm",
    "i see": under three words) are left out, people of every kind say them."""
    pools = [persona.train_prompts, persona.eval_prompts, persona.praise, persona.neutral,
             *persona.complaints.values()]
    folded = (" ".join(line.lower().split()) for pool in pools for line in pool)
    return {line for line in folded if len(line.split()) >= 3}


def test_the_test_personas_are_the_frozen_files():
    sums = dict(reversed(line.split()) for line in (TEST_DIR / "SHA256SUMS").read_text().splitlines())
    files = sorted(p.name for p in TEST_DIR.glob("*.json"))
    assert files == sorted(sums) and len(files) >= 4
    for name in files:
        assert hashlib.sha256((TEST_DIR / name).read_bytes()).hexdigest() == sums[name], f"{name} changed"


def test_the_test_personas_share_no_line_and_no_rule_kind_with_the_development_ones():
    dev = [load_persona(p) for p in shipped_personas()]
    test = [load_persona(p) for p in sorted(TEST_DIR.glob("*.json"))]
    assert dev and all(Path(p.path).parent == PERSONAS_DIR for p in dev)  # the test set is not "shipped"
    dev_lines = set().union(*(_lines(p) for p in dev))
    dev_kinds = {r.type for p in dev for r in p.rules}
    for persona in test:
        assert not _lines(persona) & dev_lines, persona.name
        assert not {r.type for r in persona.rules} & dev_kinds, persona.name
    # what the set must hold: one persona that only talks, one in another language
    assert any(p.feedback["complain"] == 1.0 for p in test)
    assert any("¿" in " ".join(p.train_prompts) for p in test)
