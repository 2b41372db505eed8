"""The package's modules as syntax trees, for the tests that check where a kind of code may stand."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Collection, Iterator


def modules(root: Path, *, skip: Collection[str] = ()) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to ``root``, parsed module) for every ``.py`` below ``root``, except those in ``skip``."""
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel not in skip:
            yield rel, ast.parse(path.read_text())
