"""The personalization table rebuilt from committed ``report.json`` files, so no run has to be repeated.

``openclaw-local bench personas --from-reports DIR ...`` finds every ``report.json`` under the
given folders, groups the runs by (persona, feedback mode, scoring length) and prints one
markdown row per group: mean ± sample standard deviation and min–max over the seeds.
``--write FILE`` puts that table between the personas-table markers in FILE.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from openclaw_local.errors import UsageError

BEGIN, END = "<!-- personas-table:begin -->", "<!-- personas-table:end -->"
OLD_SCORE_TOKENS = 96  # reports written before score_max_tokens existed scored at settings.max_tokens (96)
EPS = 1e-9  # scores are means of fractions: 0.7 may come out as 0.6999999999
SIM_TRAIN_TOKENS = 96  # simulate's own reply cap for the user's interactions (sim.simulate.SIM_SETTINGS)
NUMBERS = ("baseline", "final", "seed", "updates", "updates_served", "wall_seconds")


def feedback_label(report: dict[str, Any]) -> str:
    fb = {k: float(v) for k, v in report["feedback"].items() if float(v) > 0}
    label = "words only" if set(fb) == {"complain"} else \
        "mixed: " + " / ".join(f"{k} {v:g}" for k, v in fb.items())
    if float((report.get("settings") or {}).get("w_opd", 1.0)) == 0:
        label += " · RL only (w_opd 0)"
    trained_on = int((report.get("settings") or {}).get("max_tokens") or SIM_TRAIN_TOKENS)
    if trained_on != SIM_TRAIN_TOKENS:  # the user's own replies ran to another length: a different experiment
        label += f" · trained on ≤ {trained_on}-token replies"
    if report.get("variant"):  # a run of an earlier code state, named in its report (not a seed of today's)
        label += f" · {report['variant']}"
    return label


def score_tokens(report: dict[str, Any]) -> str:
    """At which length the run's replies were scored; runs before the cut rule say so."""
    if report.get("score_max_tokens"):
        return f"{int(report['score_max_tokens'])} tokens"
    old = int((report.get("settings") or {}).get("max_tokens") or OLD_SCORE_TOKENS)
    return f"{old} tokens (cut replies passed)"


def _check(report: Any) -> str | None:
    """Why a parsed report cannot be tabled (None: it can)."""
    if not isinstance(report, dict):
        return "not a JSON object"
    missing = [k for k in ("persona", "feedback", *NUMBERS) if k not in report]
    if missing:
        return "lacks " + ", ".join(missing)
    if not isinstance(report.get("settings", {}), dict):
        return "settings is not a map"
    if not isinstance(report["feedback"], dict) or not all(isinstance(v, (int, float)) for v in report["feedback"].values()):
        return "feedback is not a map of numbers"
    if not all(isinstance(report[k], (int, float)) and not isinstance(report[k], bool) for k in NUMBERS):
        return "a score, seed, update count or wall time is not a number"
    return None


def load_reports(dirs: list[str | Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Every usable report.json under ``dirs`` (recursively); unusable ones are skipped with a warning."""
    found = []
    for d in dirs:
        if not Path(d).is_dir():
            raise UsageError(f"--from-reports: {d} is not a folder")
        for path in sorted(Path(d).rglob("report.json")):
            try:
                report = json.loads(path.read_text())
                why = _check(report)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                why = f"unreadable ({type(exc).__name__})"
            if why:
                print(f"warning: skipped {path}: {why}", file=sys.stderr)
            else:
                found.append((path, report))
    if not found:
        raise UsageError(f"no usable report.json under {', '.join(map(str, dirs))}")
    return found


def spread(xs: list[float], signed: bool = False) -> str:
    """'mean ± sd (min–max)' over seeds, or 'x (1 seed)'."""
    f = "{:+.3f}" if signed else "{:.3f}"
    if len(xs) == 1:
        return f.format(xs[0]) + " (1 seed)"
    return f"{f.format(statistics.mean(xs))} ± {statistics.stdev(xs):.3f} ({f.format(min(xs))}–{f.format(max(xs))})"


def target_verdict(words_only: bool, finals: list[float], gains: list[float], n_seeds: int) -> str:
    if words_only:  # the words-only target: final ≥ 0.7 and ≥ +0.3 over baseline, mean over 3 seeds
        final, gain = statistics.mean(finals), statistics.mean(gains)
        misses = ([f"final {final:.3f} < 0.7"] if final < 0.7 - EPS else []) + \
                 ([f"gain {gain:+.3f} < +0.3"] if gain < 0.3 - EPS else [])
        if n_seeds < 3:
            return f"n<3 seeds (so far {'missed: ' + ', '.join(misses) if misses else 'on track'})"
        return "met" if not misses else f"missed ({', '.join(misses)})"
    final = statistics.mean(finals)
    return "met" if final >= 0.9 - EPS else f"missed (final {final:.3f} < 0.9)"


def seeds_text(seeds: list[int], paths: list[Path]) -> str:
    """The seed list; a repeated seed is flagged, since those runs differ in something the report does not record."""
    text = ", ".join(map(str, seeds))
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        print(f"warning: seed {', '.join(map(str, repeated))} appears more than once in one group "
              f"({', '.join(str(p.parent) for p in paths)}): its spread is not a spread over seeds", file=sys.stderr)
        text += " (repeated seed!)"
    return text


def group_rows(found: list[tuple[Path, dict[str, Any]]]) -> list[dict[str, str]]:
    groups: dict[tuple[str, str, str], list[tuple[Path, dict[str, Any]]]] = {}
    for path, r in found:
        groups.setdefault((r["persona"], feedback_label(r), score_tokens(r)), []).append((path, r))
    rows = []
    for (persona, label, tokens), runs in sorted(groups.items()):
        runs.sort(key=lambda pr: (pr[1]["seed"], str(pr[0])))
        reports = [r for _, r in runs]
        finals = [float(r["final"]) for r in reports]
        gains = [float(r["final"]) - float(r["baseline"]) for r in reports]
        rows.append({
            "persona": persona,
            "feedback": label,
            "scored at": tokens,
            "seeds": seeds_text([r["seed"] for r in reports], [p for p, _ in runs]),
            "baseline": spread([float(r["baseline"]) for r in reports]),
            "final": spread(finals),
            "final − baseline": spread(gains, signed=True),
            "final, worst other system prompt": _other_system_prompts(reports),
            "updates served": ", ".join(f"{r['updates_served']}/{r['updates']}" for r in reports),
            "wall min (median)": f"{statistics.median(r['wall_seconds'] for r in reports) / 60:.1f}",
            "target": target_verdict(label.startswith("words only"), finals, gains, len(set(r["seed"] for r in reports))),
            "reports": ", ".join(os.path.relpath(p.parent) for p, _ in runs),
        })
    return rows


def _other_system_prompts(reports: list[dict[str, Any]]) -> str:
    """The final adapter's lowest score under the other system messages (``simulate --system-prompts``)."""
    worst = [min(r["by_system_prompt"]["final"].values()) for r in reports
             if isinstance(r.get("by_system_prompt"), dict) and r["by_system_prompt"].get("final")]
    return spread(worst) if len(worst) == len(reports) else "—"


def markdown_table(rows: list[dict[str, str]]) -> str:
    heads = list(rows[0])
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    return "\n".join(lines + ["| " + " | ".join(row[h] for h in heads) + " |" for row in rows])


def write_table(path: str | Path, table: str, command: str) -> None:
    """Replace the text between the personas-table markers in ``path``."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"--write: cannot read {path}: {exc.strerror or exc}") from None
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise UsageError(f"--write: {path} lacks the lines {BEGIN} and {END}")
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    block = f"{BEGIN}\n{table}\n\nProduced by `{command}` on {day}.\n{END}"
    try:
        path.write_text(pattern.sub(lambda _: block, text, count=1))
    except OSError as exc:
        raise UsageError(f"--write: cannot write {path}: {exc.strerror or exc}") from None


def from_reports(dirs: list[str], write: str | None = None) -> str:
    """The table for the reports under ``dirs``; written into ``write`` between the markers when given."""
    table = markdown_table(group_rows(load_reports(dirs)))
    if write:
        write_table(write, table, "openclaw-local bench personas --from-reports " + " ".join(dirs))
    return table
