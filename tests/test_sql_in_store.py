"""The store is the only place that speaks SQL: nothing outside openclaw_local/store reaches for it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import openclaw_local

ROOT = Path(openclaw_local.__file__).parent
STORE_PRIVATE = {"_query", "_tx", "conn", "db"}  # the store's connection and its private helpers
SQL = re.compile(r"\b(select\b.+\bfrom|insert\s+(or\s+\w+\s+)?into|update\s+\w+\s+set|delete\s+from|"
                 r"create\s+(table|index|trigger)|drop\s+table|alter\s+table|pragma\s+\w+)\b",
                 re.IGNORECASE | re.DOTALL)


def sql_outside_store(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and n.split(".")[0] in ("sqlite3", "sqlite_utils") for n in names):
                    found.append(f"{where} imports SQLite")
            elif isinstance(node, ast.Attribute) and node.attr in STORE_PRIVATE and _is_store(node.value):
                found.append(f"{where} uses the store's {node.attr}")
            elif isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany", "executescript"):
                found.append(f"{where} calls .{node.attr}()")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                found.append(f"{where} SQL text {node.value[:40]!r}")
    return found


def _is_store(node: ast.AST) -> bool:
    """``store.x``, ``self.store.x``, ``rt.store.x``, ``samples.store.x``: anything named like a store."""
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return "store" in name.lower()


def test_no_sql_outside_the_store():
    found = sql_outside_store(ROOT)
    assert not found, "move these into a named method in openclaw_local/store:\n" + "\n".join(found)


def test_the_check_sees_sql_outside_the_store(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "db.py").write_text("import sqlite3\nQ = 'select * from samples'\n")  # the store may
    (tmp_path / "service.py").write_text(
        "import sqlite3\n"
        "rows = self.store._query('select id from samples where status = ?', ['judged'])\n"
        "con.execute('DELETE FROM adapter_versions')\n"
        "HELP = 'select the previous reply'\n")  # words in UI text are not SQL
    found = sql_outside_store(tmp_path)
    assert [f.split(" ")[0] for f in found] == ["service.py:1", "service.py:2", "service.py:2", "service.py:3",
                                                 "service.py:3"], found
