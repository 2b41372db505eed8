"""Personalization of each shipped persona, measured by ``simulate`` through the product loop.

Short by default (12 interactions, 5 eval prompts, no comparison arms) so that
``bench all`` stays bounded; ``full=True`` runs the issue's protocol (36
interactions, every eval prompt, both arms). Every run keeps its report, curve and
data dir under ``out_root/<persona>/``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from openclaw_local.bench.report import BenchResult


def run(*, full: bool = False, out_root: Path | None = None, seed: int = 0, overrides: dict[str, Any] | None = None,
        personas: list[Path] | None = None) -> BenchResult:
    from openclaw_local.sim.persona import load_persona, shipped_personas
    from openclaw_local.sim.simulate import run_simulation

    out_root = Path(out_root or tempfile.mkdtemp(prefix="openclaw-bench-personas-"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    interactions, n_eval = (36, None) if full else (12, 5)
    rows: list[tuple[str, str]] = []
    missed = []
    for path in personas or shipped_personas():
        persona = load_persona(path)
        report = run_simulation(persona, out_root / f"{path.stem}-{stamp}", interactions=interactions, seed=seed,
                                eval_prompts=n_eval, arms=full, overrides=overrides,
                                final_wait_s=600 if full else 300, pace="learner")
        arms = report.get("arms") or {}
        arm_text = "; ".join(f"{k.replace('_', ' ')} {v['score']:.2f}" for k, v in arms.items())
        ratio = report.get("final_general_ppl_ratio")
        ppl_text = f", general ppl {(ratio - 1) * 100:+.1f}%" if ratio else ""
        rows.append((f"{persona.name}: baseline → final",
                     f"{report['baseline']:.2f} → {report['final']:.2f} (≤16 interactions: {report['score_at_16']:.2f}; "
                     f"{report['updates_served']}/{report['updates']} updates served{ppl_text}, "
                     f"{report['wall_seconds'] / 60:.1f} min" + (f"; {arm_text}" if arm_text else "") + ")"))
        if full and not (report["final"] >= 0.9 and report["score_at_16"] >= 0.8 and report.get("beats_arms")
                         and (ratio or 1.0) <= 1.05):
            missed.append(persona.name)
        elif not full and report["final"] <= report["baseline"]:
            missed.append(persona.name)
    mode = "full (36 interactions, all eval prompts, both arms)" if full else \
        "short (12 interactions, 5 eval prompts, no arms; `--full` for the issue's protocol)"
    verdict = (f"targets missed for {', '.join(missed)}" if missed else "targets met") + \
        (" (full: final ≥ 0.9, ≥ 0.8 within 16, ≥ both arms, general ppl ≤ +5%)" if full else " (short: final above baseline)")
    return BenchResult(
        name="personas",
        title="Personalization: simulated users through the product loop",
        method=(f"`openclaw-local simulate` per shipped persona, {mode}, seed {seed}; greedy persona score on the "
                f"eval prompts before learning and with the served adapter at the end. Runs kept under {out_root}. "
                "See docs/PERSONALIZATION.md."),
        rows=rows,
        verdict=verdict,
    )
