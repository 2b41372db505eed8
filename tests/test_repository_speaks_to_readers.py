"""The code, docs and scripts speak to a reader of the product: no references to tracker issues
("issue 10") that a reader cannot follow, and no absolute paths of a development machine
(``/work/…``, ``/tmp/…``, ``/root/…``, ``/home/<user>/…``; the placeholder ``/home/me/`` is fine)."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("openclaw_local", "docs", "scripts", "README.md")
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIPPED_SUFFIXES = {".svg"}  # rendered snapshots

ISSUE = re.compile(r"\bissues? ?#?\d+", re.I)
_START = r"(?<![\w.~/-])"  # an absolute path starts the token: "OUT/home/x" or "~/models" are not one
MACHINE_PATH = re.compile(_START + r"(?:/work/|/tmp/[A-Za-z]|/root/|/home/(?!me/)[A-Za-z_][\w.-]*/)")


def text_files() -> list[Path]:
    files = []
    for name in SCANNED:
        top = ROOT / name
        if top.is_file():
            files.append(top)
            continue
        for folder, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
            files += [Path(folder) / n for n in sorted(names) if Path(n).suffix.lower() not in SKIPPED_SUFFIXES]
    return files


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary file (a NUL byte, or not UTF-8)."""
    try:
        data = path.read_bytes()
    except OSError:  # removed by someone else while we walk
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def offences(pattern: re.Pattern[str]) -> list[str]:
    found = []
    for path in text_files():
        text = read_text(path)
        if text is None:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            for m in pattern.finditer(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)!r} in {line.strip()[:160]}")
    return found


def test_the_scan_sees_the_docs_and_the_code():
    names = {p.relative_to(ROOT).as_posix() for p in text_files()}
    assert {"README.md", "docs/PERSONALIZATION.md", "openclaw_local/__init__.py"} <= names


def test_no_issue_numbers():
    found = offences(ISSUE)
    assert not found, "say what the change was instead of naming an issue:\n" + "\n".join(found)


def test_no_absolute_paths_of_a_development_machine():
    found = offences(MACHINE_PATH)
    assert not found, "use a relative path or a placeholder (~/…, /home/me/…, OUT/…):\n" + "\n".join(found)


def test_the_patterns_catch_what_they_are_for():
    assert ISSUE.search("see issue 10") and ISSUE.search("Issues #3") and ISSUE.search("issue14")
    assert not ISSUE.search("no issue here") and not ISSUE.search("tissue 5")
    for bad in ("--out /work/runs/x", "under /tmp/bench/personas2", '"/root/.cache"', "`/home/alice/models/m.gguf`"):
        assert MACHINE_PATH.search(bad), bad
    for fine in ("OUT/home/config.toml", "/home/me/models/m.gguf", "~/models/m.gguf", "runs/NAME/home", "DIR/tmp/x"):
        assert not MACHINE_PATH.search(fine), fine
