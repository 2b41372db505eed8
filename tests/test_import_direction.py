"""Imports go one way: front-ends -> services -> {store, engine, learn} -> {config, paths, errors};
the typed records (``records.py``) are a leaf every layer may use."""

from __future__ import annotations

import ast
from pathlib import Path

import openclaw_local

ROOT = Path(openclaw_local.__file__).parent
FRONT_ENDS = {"cli", "ui", "endpoint", "sim", "bench", "__main__"}
# package -> what it may import (besides itself)
# leaf modules with no internal imports (shared vocabulary): every layer may use them
LEAVES = {"verdicts", "thinking", "records"}
ALLOWED = {
    **{name: None for name in FRONT_ENDS},  # anything
    "services": {"store", "engine", "learn", "config", "paths", "errors", *LEAVES},
    "store": {"config", "paths", "errors", *LEAVES},
    "engine": {"config", "paths", "errors", *LEAVES},
    "learn": {"config", "paths", "errors", *LEAVES},
    "config": {"paths", "errors"},
    "paths": {"errors"},
    "errors": set(),
    **{name: set() for name in LEAVES},
}


def _package(path: Path, root: Path) -> str:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def upward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        pkg = _package(path, root)
        allowed = ALLOWED.get(pkg, set())
        if allowed is None:
            continue
        tree = ast.parse(path.read_text())
        entry_points = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "main"]
        skip = {id(n) for f in entry_points for n in ast.walk(f)}  # a script's main() is a front-end
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("openclaw_local."):
                target = node.module.split(".")[1]
                if target != pkg and target not in allowed and id(node) not in skip:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {pkg} imports {target}")
    return found


def test_imports_go_one_way():
    found = upward_imports(ROOT)
    assert not found, "\n".join(found)


def test_the_check_sees_an_upward_import(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "x.py").write_text(
        "from openclaw_local.services.chat import ChatService\n"
        "def main():\n    from openclaw_local.services import container\n")  # main() is an entry point
    assert upward_imports(tmp_path) == ["store/x.py:1 store imports services"]


def test_records_are_a_leaf():
    tree = ast.parse((ROOT / "records.py").read_text())
    internal = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("openclaw_local")]
    internal += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name.startswith("openclaw_local")]
    assert internal == []
