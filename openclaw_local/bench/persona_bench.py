"""Personalization of each shipped persona, measured by ``simulate`` through the product loop.

Short by default (12 interactions, 5 eval prompts, no comparison arms) so that
``bench all`` stays bounded; ``full=True`` runs the full protocol (36
interactions, every eval prompt, both arms). Every run keeps its report, curve and
data dir under ``out_root/<persona>/``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from openclaw_local.bench.report import BenchResult

EPS = 1e-9  # scores are means of fractions: 0.9 may come out as 0.8999999999


def full_misses(report: dict[str, Any]) -> list[str]:
    """Which of the per-persona targets (docs/PERSONALIZATION.md) a full run missed (empty: all met)."""
    misses = []
    if report["baseline"] > 0.4 + EPS:
        misses.append(f"baseline {report['baseline']:.3f} > 0.4")
    if report["final"] < 0.9 - EPS:
        misses.append(f"final {report['final']:.3f} < 0.9")
    if report["score_at_16"] < 0.8 - EPS:
        misses.append(f"{report['score_at_16']:.3f} < 0.8 within 16")
    for name, arm in (report.get("arms") or {}).items():
        if report["final"] < arm["score"] - EPS:
            misses.append(f"below the {name.replace('_', ' ')} arm")
    ratio = report.get("final_general_ppl_ratio")
    if ratio is not None and ratio > 1.05:
        misses.append(f"general ppl {(ratio - 1) * 100:+.1f}%")
    if report["wall_seconds"] > 20 * 60:
        misses.append(f"{report['wall_seconds'] / 60:.1f} min > 20")
    return misses


def row(report: dict[str, Any]) -> tuple[str, str]:
    arms = report.get("arms") or {}
    arm_text = "; ".join(f"{k.replace('_', ' ')} {v['score']:.3f}" for k, v in arms.items())
    ratio = report.get("final_general_ppl_ratio")
    ppl_text = f", general ppl {(ratio - 1) * 100:+.1f}%" if ratio else ""
    return (f"{report['persona']}: baseline → final",
            f"{report['baseline']:.3f} → {report['final']:.3f} (≤16 interactions: {report['score_at_16']:.3f}; "
            f"{report['updates_served']}/{report['updates']} updates served{ppl_text}, "
            f"{report['wall_seconds'] / 60:.1f} min" + (f"; {arm_text}" if arm_text else "") + ")")


def summarize(reports: list[dict[str, Any]], *, full: bool, seed: int, out_root: Path) -> BenchResult:
    rows = [row(r) for r in reports]
    if full:
        missed = {r["persona"]: full_misses(r) for r in reports}
        missed = {k: v for k, v in missed.items() if v}
        verdict = ("targets missed: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in missed.items())
                   if missed else "targets met") + \
            " (full: baseline ≤ 0.4, final ≥ 0.9, ≥ 0.8 within 16, ≥ both arms, general ppl ≤ +5%, ≤ 20 min)"
        mode = "full (36 interactions, all eval prompts, both arms)"
    else:
        flat = [r["persona"] for r in reports if r["final"] <= r["baseline"]]
        verdict = (f"no gain for {', '.join(flat)}" if flat else "every persona above its baseline") + \
            " (short: final above baseline)"
        mode = "short (12 interactions, 5 eval prompts, no arms; `--full` for the full protocol)"
    return BenchResult(
        name="personas",
        title="Personalization: simulated users through the product loop",
        method=(f"`openclaw-local simulate` per persona, {mode}, seed(s) "
                f"{', '.join(str(s) for s in sorted({r.get('seed', seed) for r in reports}) or [seed])}; greedy persona score on the "
                f"eval prompts before learning and with the served adapter at the end. Runs kept in `{out_root.name}/` (the bench's `--out` folder; a temporary one by default). "
                "See docs/PERSONALIZATION.md."),
        rows=rows,
        verdict=verdict,
    )


SCORE_EVERY = 12  # bench runs score the curve at interactions 12, 24 (and 0, 36): docs/PERSONALIZATION.md, run cost


def persona_files(which: str = "dev") -> list[Path]:
    """The development personas (``dev``: defaults are tuned on these) or the frozen test personas (``test``)."""
    from openclaw_local.sim.persona import PERSONAS_DIR, shipped_personas

    if which == "test":
        return sorted((PERSONAS_DIR / "test").glob("*.json"))
    return shipped_personas()


def run(*, full: bool = False, out_root: Path | None = None, seed: int = 0, overrides: dict[str, Any] | None = None,
        personas: list[Path] | None = None, seeds: int = 1, words_only: bool = False,
        system_prompts: bool = False, score_every: int = SCORE_EVERY) -> BenchResult:
    """Simulate each persona with seeds ``seed … seed + seeds − 1``; ``words_only``: a user who only complains;
    ``system_prompts``: also score under other system messages (``simulate --system-prompts``); ``score_every``:
    ``simulate --score-every`` (the tables read the baseline and the final score only; the curve in between
    costs a full scoring per point, 2–3 minutes each on 2 cores)."""
    from openclaw_local.sim.persona import load_persona
    from openclaw_local.sim.simulate import run_simulation

    out_root = Path(out_root or tempfile.mkdtemp(prefix="openclaw-bench-personas-"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    interactions, n_eval = (36, None) if full else (12, 5)
    reports = []
    for path in personas or persona_files("dev"):
        persona = load_persona(path)
        if words_only:
            persona = persona.with_feedback({"complain": 1.0})
        for s in range(seed, seed + seeds):
            run_dir = out_root / f"{path.stem}-{'words-' if words_only else ''}s{s}-{stamp}"
            reports.append(run_simulation(persona, run_dir, interactions=interactions, seed=s,
                                          eval_prompts=n_eval, arms=full, overrides=overrides,
                                          final_wait_s=600 if full else 300, pace="learner",
                                          system_prompts=system_prompts,
                                          score_every=score_every))
    return summarize(reports, full=full, seed=seed, out_root=out_root)
