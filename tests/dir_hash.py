"""A data dir's content as one value, to show a refused command changed nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path


def _db_digest(path: Path) -> str:
    """The database's logical content (every table's rows), WAL included: checkpoints move bytes, not data."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        for line in conn.iterdump():
            h.update(line.encode("utf-8", "surrogatepass"))
        return "db:" + h.hexdigest()
    finally:
        conn.close()


def tree_digest(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root`` (directories included as entries).

    SQLite databases are compared by content; their ``-wal``/``-shm`` companions are
    left out (what they hold is read through the database).
    """
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.name.endswith(("-shm", "-wal")):
            continue
        if p.is_symlink():
            out[rel] = "link"
        elif p.is_dir():
            out[rel] = "dir"
        elif p.suffix == ".db":
            out[rel] = _db_digest(p)
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
