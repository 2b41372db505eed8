"""eval-prm reports accuracy, ±1 precision and share decided per `category`, and the hint keyword check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from openclaw_local.judge import make_judge
from openclaw_local.judge.evaluate import evaluate, format_report

LINES = [
    {"reply": "Paris.", "next_state": "thanks!", "label": 1, "category": "praise"},
    {"reply": "Paris.", "next_state": "perfect, thank you", "label": 1, "category": "praise"},
    {"reply": "Monday.", "next_state": "No, that's wrong.", "label": -1, "category": "complaint"},
    {"reply": "A long essay ...", "next_state": "too long, one line please", "label": -1, "category": "complaint",
     "hint_keywords": ["one line"]},
    {"reply": "Here you go.", "next_state": "hmm", "label": 0, "category": "short"},
    {"reply": "Here you go.", "next_state": "thanks!", "label": 0, "category": "short"},  # a wrong verdict
]


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "labeled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in LINES), encoding="utf-8")
    return path


def test_per_category_numbers(tmp_path):
    result = evaluate(make_judge("rules"), _write(tmp_path))
    cats = result["categories"]
    assert set(cats) == {"praise", "complaint", "short"}
    assert cats["praise"] == {"n": 2, "accuracy": 1.0, "decided_precision": 1.0, "decided_fraction": 1.0, "wrong_sign": 0.0}
    assert cats["complaint"]["accuracy"] == 1.0 and cats["complaint"]["decided_fraction"] == 1.0
    assert cats["short"]["accuracy"] == 0.5 and cats["short"]["decided_precision"] == 0.0
    assert cats["short"]["decided_fraction"] == 0.5
    assert result["hints"]["n"] == 1 and result["hints"]["given_label"] == 1.0  # "Keep the reply short…" + the words
    report = format_report(result)
    assert "complaint" in report and "±1 precision" in report and "wrong-sign" in report


def test_cli_prints_categories(tmp_path):
    root = Path(__file__).resolve().parents[1]
    env = {"OPENCLAW_HOME": str(tmp_path / "home"), "PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "openclaw_local", "eval-prm", str(_write(tmp_path)), "--mode", "rules"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines() if line.startswith("  ") and len(line.split()) == 5}
    assert rows["short"][1:3] == ["2", "0.500"] and rows["praise"][1:3] == ["2", "1.000"]
