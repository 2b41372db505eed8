"""Repair a refused update instead of throwing it away: step back towards the parent.

When the promotion gate refuses a candidate for anything but non-finite weights, the
learner tries smaller versions of the same update before giving the feedback back to the
pool: the LoRA weights are set to

    θ(α) = θ_parent + α · (θ_candidate − θ_parent),   α ∈ fractions (e.g. 0.5, 0.25)

and the gate judges each in turn; the first that passes is the update. The direction is the
one the user's feedback asked for, only shorter: most refusals (ability walked down a few
points, a feedback margin just under its limit, replies that started to ramble) are a step
too long, not a step in the wrong direction. Bounded: at most ``len(fractions)`` extra gate
runs, each recorded in the gate's results (``repair``) so the user sees what was tried.

What it knows: the LoRA tensors of a peft model and how to mix two copies of them. What it
does not know: what the gate checks (the caller passes ``judge``), or where versions go.
"""

from __future__ import annotations

import time
from typing import Any, Callable

Verdict = tuple[bool, "str | None", dict[str, Any]]


def fractions(steps: int) -> list[float]:
    """``steps`` fractions of the update to try, halving each time: 1 → [0.5], 2 → [0.5, 0.25]."""
    return [0.5 ** (i + 1) for i in range(max(0, steps))]


def snapshot(model: Any) -> dict[str, Any]:
    """A copy of the model's LoRA weights (small: the adapter only)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if "lora_" in name}


def _mix(model: Any, parent: dict[str, Any], candidate: dict[str, Any], alpha: float) -> None:
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in parent:
                p.copy_(parent[name] + alpha * (candidate[name] - parent[name]))


def interpolate_until_passed(model: Any, parent: dict[str, Any], judge: Callable[[], Verdict], *, first: Verdict,
                             fractions: list[float]) -> Verdict:
    """Try ``θ(α)`` for each α until ``judge()`` passes; the model is left at the passing mix, or at
    the full candidate when none passes (so a forced activation serves what was trained).

    Returns the verdict of the mix kept, with ``results["repair"]`` recording every try."""
    candidate = snapshot(model)
    tries: list[dict[str, Any]] = []
    started = time.monotonic()
    passed, reason, results = first
    kept = (passed, reason, results)
    for alpha in fractions:
        _mix(model, parent, candidate, alpha)
        passed, reason, results = judge()
        tries.append({"fraction": alpha, "passed": passed, "reason": reason})
        if passed:
            kept = (passed, reason, results)
            break
    else:
        _mix(model, parent, candidate, 1.0)
    passed, reason, results = kept
    results = dict(results)
    results["repair"] = {"refused_first": first[1], "tries": tries, "kept_fraction": tries[-1]["fraction"] if passed
                         else 1.0, "seconds": round(time.monotonic() - started, 2)}
    return passed, reason, results
