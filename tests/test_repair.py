"""Repairing a refused update (learn/repair.py): step back towards the parent until the gate passes."""

from __future__ import annotations

import torch
from torch import nn

from openclaw_local.learn import repair


class TinyLora(nn.Module):
    def __init__(self):
        super().__init__()
        self.lora_A = nn.Parameter(torch.zeros(2, 2))
        self.base = nn.Parameter(torch.ones(2))  # not an adapter weight: never touched


def _gate_passing_below(model, limit):
    def judge():
        size = float(model.lora_A.detach().abs().max())
        ok = size <= limit
        return ok, None if ok else f"too far ({size:.2f})", {"size": size}
    return judge


def test_fractions_halve():
    assert repair.fractions(0) == [] and repair.fractions(3) == [0.5, 0.25, 0.125]


def test_the_first_fraction_that_passes_is_kept_and_recorded():
    model = TinyLora()
    parent = repair.snapshot(model)  # zeros
    with torch.no_grad():
        model.lora_A.fill_(4.0)  # the "trained" candidate
    judge = _gate_passing_below(model, 1.5)
    passed, reason, results = repair.interpolate_until_passed(model, parent, judge, first=judge(),
                                                             fractions=repair.fractions(3))
    assert passed and reason is None
    assert torch.allclose(model.lora_A, torch.full((2, 2), 1.0))  # 4 × 0.25
    assert torch.equal(model.base, torch.ones(2))
    tries = results["repair"]["tries"]
    assert [t["fraction"] for t in tries] == [0.5, 0.25] and [t["passed"] for t in tries] == [False, True]
    assert results["repair"]["kept_fraction"] == 0.25 and "too far" in results["repair"]["refused_first"]


def test_when_nothing_passes_the_candidate_is_restored_and_the_first_refusal_stands():
    model = TinyLora()
    parent = repair.snapshot(model)
    with torch.no_grad():
        model.lora_A.fill_(4.0)
    judge = _gate_passing_below(model, 0.1)
    first = judge()
    passed, reason, results = repair.interpolate_until_passed(model, parent, judge, first=first, fractions=[0.5, 0.25])
    assert not passed and reason == first[1]
    assert torch.allclose(model.lora_A, torch.full((2, 2), 4.0))
    assert results["repair"]["kept_fraction"] == 1.0 and len(results["repair"]["tries"]) == 2


def test_adapters_show_says_what_repair_kept():
    from pathlib import Path

    from openclaw_local.records import AdapterVersion
    from openclaw_local.services.adapters import gate_summary

    def version(gate):
        return AdapterVersion(id=2, parent_id=1, created_at="", path=Path("v2"), status="active", reason=None,
                              sample_ids=[], loss=None, mean_reward=None, n_samples=None, n_tokens=None,
                              train_seconds=None, gate=gate)

    kept = {"finite": True, "repair": {"tries": [{"fraction": 0.5, "passed": True}], "kept_fraction": 0.5},
            "replies": {"new": {"repetition": 0.1, "ended": 0.5, "tokens": 60}}}
    line = gate_summary(version(kept))
    assert "kept 50% of the update" in line and "replies 10% repeated, 50% ended" in line
    vain = {"finite": True, "repair": {"tries": [{"fraction": 0.5, "passed": False}], "kept_fraction": 1.0}}
    assert "repair tried 1× in vain" in gate_summary(version(vain))
