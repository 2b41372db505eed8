"""Measure a judge against labeled next states: accuracy, the confusion matrix, ±1 precision, the
share decided, wrong-sign verdicts, per category, and whether its hints carry the request.

Library functions; the entry point is ``openclaw-local eval-prm [FILE.jsonl]`` (cli/eval_prm.py),
which measures on the frozen test set (``assets/judge/test.jsonl``) by default.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from openclaw_local.judge.data import LABELS, load_labeled


def summarize(labels: list[int], preds: list[int]) -> dict[str, Any]:
    """Accuracy, precision of the ±1 verdicts, share decided and wrong-sign share of some lines."""
    n = len(labels)
    decided = [(t, p) for t, p in zip(labels, preds) if p != 0]
    return {
        "n": n,
        "accuracy": sum(1 for t, p in zip(labels, preds) if t == p) / n if n else 0.0,
        "decided_precision": (sum(1 for t, p in decided if t == p) / len(decided)) if decided else None,
        "decided_fraction": len(decided) / n if n else 0.0,
        "wrong_sign": sum(1 for t, p in decided if t == -p) / n if n else 0.0,
    }


def per_category(rows: list[dict[str, Any]], preds: list[int]) -> dict[str, dict[str, Any]]:
    """:func:`summarize` per ``category`` field (lines without one: "(none)"), sorted by name."""
    groups: dict[str, tuple[list[int], list[int]]] = {}
    for row, pred in zip(rows, preds):
        labels, ps = groups.setdefault(str(row.get("category") or "(none)"), ([], []))
        labels.append(row["label"])
        ps.append(pred)
    return {cat: summarize(*groups[cat]) for cat in sorted(groups)}


def carries(hint: str | None, keywords: list[str]) -> bool:
    """Every keyword occurs in the hint (case-insensitive substring): the hint carries the request."""
    return bool(hint) and all(k.lower() in hint.lower() for k in keywords)


def hint_check(judge: Any, rows: list[dict[str, Any]], preds: list[int]) -> dict[str, Any] | None:
    """On the lines that ask for a change (``hint_keywords``): how many hints carry the request.

    ``given_label``: the judge's hint for every such line (as if it had read it as -1);
    ``end_to_end``: only a line the judge scored -1 gets a hint, as in the product.
    """
    if not hasattr(judge, "hint"):
        return None
    picked = [(r, p) for r, p in zip(rows, preds) if r.get("hint_keywords")]
    if not picked:
        return None
    given = end = 0
    examples = []
    for row, pred in picked:
        hint, _ = judge.hint(row["reply"], row["next_state"], row.get("prompt"))
        ok = carries(hint, row["hint_keywords"])
        given += ok
        end += ok and pred == -1
        examples.append({"next_state": row["next_state"], "hint": hint, "keywords": row["hint_keywords"], "ok": ok})
    n = len(picked)
    return {"n": n, "given_label": given / n, "end_to_end": end / n, "examples": examples}


def evaluate(judge: Any, path: Path | str, *, limit: int | None = None) -> dict[str, Any]:
    """Score every labeled line with ``judge.score(reply, next_state, prompt)``.

    Returns accuracy, the 3×3 confusion matrix ``confusion[true][pred]`` in
    ``LABELS`` order (+1, 0, -1), the majority-class baseline, per-class recall,
    accuracy on the lines labeled ±1 only, and the predictions.
    """
    rows = load_labeled(path)[:limit]
    idx = {lab: i for i, lab in enumerate(LABELS)}
    confusion = [[0] * 3 for _ in LABELS]
    preds = []
    start = time.perf_counter()
    for row in rows:
        pred, _votes = judge.score(row["reply"], row["next_state"], row.get("prompt"))
        preds.append(pred)
        confusion[idx[row["label"]]][idx[pred]] += 1
    seconds = time.perf_counter() - start
    hints = hint_check(judge, rows, preds)
    n = len(rows)
    correct = sum(confusion[i][i] for i in range(3))
    counts = Counter(r["label"] for r in rows)
    polar = [(r["label"], p) for r, p in zip(rows, preds) if r["label"] != 0]
    decided = [(r["label"], p) for r, p in zip(rows, preds) if p != 0]  # what training would use
    return {
        "mode": getattr(judge, "mode", "?"),
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "majority_baseline": (max(counts.values()) / n) if n else 0.0,
        "confusion": confusion,
        "labels": list(LABELS),
        "recall": {lab: (confusion[idx[lab]][idx[lab]] / counts[lab] if counts[lab] else None) for lab in LABELS},
        "polar_accuracy": (sum(1 for t, p in polar if t == p) / len(polar)) if polar else None,
        # of the lines the judge scored ±1 (the ones that get trained on), how many had that label
        "decided_precision": (sum(1 for t, p in decided if t == p) / len(decided)) if decided else None,
        "decided_fraction": len(decided) / n if n else 0.0,
        "wrong_sign": sum(1 for t, p in decided if t == -p) / n if n else 0.0,
        "categories": per_category(rows, preds) if any("category" in r for r in rows) else {},
        "predictions": preds,
        "seconds": seconds,
        "hints": hints,
    }


def format_report(result: dict[str, Any]) -> str:
    """A plain-text report: accuracy vs baseline and the confusion matrix (rows = truth)."""
    names = {1: "+1", 0: " 0", -1: "-1"}
    lines = [
        f"mode {result['mode']}: accuracy {result['accuracy']:.3f} on {result['n']} lines "
        f"(majority baseline {result['majority_baseline']:.3f}; ±1 lines only {result['polar_accuracy'] or 0:.3f}; "
        f"precision of ±1 verdicts {result['decided_precision'] or 0:.3f} on {result['decided_fraction']:.0%} of lines; "
        f"{result['seconds']:.1f}s)",
        "            pred +1   pred 0  pred -1",
    ]
    for lab, row in zip(result["labels"], result["confusion"]):
        lines.append(f"  true {names[lab]}  " + "".join(f"{v:8d}" for v in row))
    lines.append(f"wrong-sign verdicts (-1 read as +1 or +1 as -1): {result.get('wrong_sign', 0.0):.1%} of lines")
    if result.get("hints"):
        h = result["hints"]
        lines.append(f"hints carrying the request, on the {h['n']} lines that ask for a change: "
                     f"{h['given_label']:.0%} of hints; {h['end_to_end']:.0%} judged -1 with such a hint")
    if result.get("categories"):
        lines.append(format_categories(result["categories"]))
    return "\n".join(lines)


def format_categories(categories: dict[str, dict[str, Any]]) -> str:
    """One row per category: lines, accuracy, precision of ±1 verdicts, share decided."""
    width = max(8, *(len(c) for c in categories))
    lines = [f"  {'category':{width}s}  lines  accuracy  ±1 precision  decided"]
    for cat, m in categories.items():
        prec = "—" if m["decided_precision"] is None else f"{m['decided_precision']:.3f}"
        lines.append(f"  {cat:{width}s}  {m['n']:5d}  {m['accuracy']:8.3f}  {prec:>12s}  {m['decided_fraction']:6.0%}")
    return "\n".join(lines)
