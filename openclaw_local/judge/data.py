"""The judge's labeled data: which file plays which role, and reading them. No internal imports.

``assets/judge/`` (docs/judge_data.md):

- ``train.jsonl`` and ``train_early1..4.jsonl`` — the head's training lines (the early files are the
  first hand-labeled sets, without categories);
- ``dev.jsonl`` — every choice (inputs, ``C``, threshold) is made on it; the shipped head is then
  refitted on train + dev;
- ``extra.jsonl`` — later hand-written lines, each a training or a dev line by its ``split`` field;
- ``test.jsonl`` — the frozen test set: measured on, never tuned on, never trained on.

Each line: ``{"reply", "next_state", "label": 1|0|-1}`` and optionally ``"prompt"`` (the user
message the reply answered), ``"category"`` and ``"hint_keywords"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LABELS = (1, 0, -1)  # also the row/column order of the confusion matrix
ASSETS = Path(__file__).resolve().parents[2] / "assets" / "judge"
TRAIN_FILES = ("train.jsonl", "train_early1.jsonl", "train_early2.jsonl", "train_early3.jsonl", "train_early4.jsonl")
DEV_FILE = "dev.jsonl"
SPLIT_FILES = ("extra.jsonl",)  # training and dev lines in one file, told apart by their "split" field
TEST_FILE = "test.jsonl"
TEST_PATH = ASSETS / TEST_FILE
ANCHOR_LINES = 240  # training lines that keep a user's calibration honest on other phrasings


def load_labeled(path: Path | str) -> list[dict[str, Any]]:
    """The labeled lines of a JSONL file; ``ValueError`` names the first malformed line."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{n}: must be a JSON object, not {_kind(row)}"
                             ' (e.g. {"reply": "...", "next_state": "...", "label": 1})')
        label = row.get("label")
        if isinstance(label, bool) or not isinstance(label, int) or label not in LABELS:
            raise ValueError(f"{path}:{n}: \"label\" must be 1, 0 or -1 (found {label!r})")
        for key in ("reply", "next_state"):
            if not isinstance(row.get(key), str):
                raise ValueError(f"{path}:{n}: \"{key}\" must be text (found {_kind(row.get(key))})")
        if row.get("prompt") is not None and not isinstance(row["prompt"], str):
            raise ValueError(f"{path}:{n}: \"prompt\" must be text or absent (found {_kind(row['prompt'])})")
        rows.append(row)
    return rows


_JSON_TYPES = {bool: "true/false", int: "number", float: "number", str: "text", list: "array", dict: "object"}


def _kind(value: Any) -> str:
    """How a JSON value reads in an error message, e.g. ``a number (5)``."""
    if value is None:
        return "nothing"
    return f"{_JSON_TYPES.get(type(value), type(value).__name__)} {json.dumps(value)[:40]}"


def load_splits(assets: Path = ASSETS) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(training rows, dev rows, file names read), in the order the head was trained on them."""
    train = [row for name in TRAIN_FILES for row in load_labeled(assets / name)]
    dev = load_labeled(assets / DEV_FILE)
    for name in SPLIT_FILES:
        rows = load_labeled(assets / name)
        bad = [r for r in rows if r.get("split") not in ("train", "dev")]
        if bad:
            raise ValueError(f"{assets / name}: every line needs \"split\": \"train\" or \"dev\" ({len(bad)} without)")
        train += [r for r in rows if r["split"] == "train"]
        dev += [r for r in rows if r["split"] == "dev"]
    return train, dev, [*TRAIN_FILES, DEV_FILE, *SPLIT_FILES]


def anchor_rows(n: int = ANCHOR_LINES, assets: Path = ASSETS) -> list[dict[str, Any]]:
    """Every k-th training line (deterministic), ~n lines: what a user calibration is anchored on."""
    train, _dev, _ = load_splits(assets)
    step = max(1, len(train) // n)
    return train[::step][:n]
