"""The database: opening (WAL, 0600, migrations), and every read and write the app makes.

One :class:`Store` per process. Its connection is shared by the UI thread and the
generation thread, so every access goes through one lock; SQLite itself handles
other processes (the learner, a second CLI call) through WAL and a busy timeout.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlite_utils import Database

from openclaw_local.errors import DatabaseError, DataDirError
from openclaw_local.store.migrations import migrations
from openclaw_local.store.models import Conversation, Feedback, Message

DB_FILE = "openclaw.db"
LOCK_FILE = "openclaw.lock"
SCHEMA_VERSION = len(migrations._migrations)
TITLE_CHARS = 60
JUDGMENT_MARKS = {1: "✓", -1: "✗"}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _translate(exc: sqlite3.Error, path: Path) -> DatabaseError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return DatabaseError(f"database {path} is locked by another process", "close the other openclaw-local and retry")
    if "not a database" in text or "malformed" in text:
        return DatabaseError(f"database {path} is corrupt ({text})", "move it aside to start fresh")
    if "readonly" in text or "unable to open" in text:
        return DatabaseError(f"database {path} cannot be written ({text})", "check the permissions of the data directory")
    return DatabaseError(f"database error in {path}: {text}")


class InstanceLock:
    """An advisory lock on the data dir, so two chat apps never write one history."""

    def __init__(self, home: Path):
        self.path = home / LOCK_FILE
        self._fh = None

    def acquire(self) -> "InstanceLock":
        try:
            # owner-only like the database; an older 0644 lock file is tightened
            fh = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+")
            os.chmod(self.path, 0o600)
        except OSError as exc:
            raise DataDirError(f"cannot create {self.path} ({exc.strerror})", "check the data directory permissions") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise DatabaseError(
                f"another openclaw-local (pid {holder}) is using {self.path.parent}",
                "close it first, or set OPENCLAW_HOME to another directory",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class Store:
    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self.conn = conn
        self.db = Database(conn)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, home: Path, *, migrate: bool = True) -> "Store":
        path = home / DB_FILE
        try:
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
        except OSError as exc:
            raise DataDirError(f"cannot create {path} ({exc.strerror})", "set OPENCLAW_HOME to a writable directory") from None
        try:
            conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            store = cls(path, conn)
            store._check_not_newer()
            if migrate:
                store._migrate()
        except sqlite3.Error as exc:
            raise _translate(exc, path) from None
        for suffix in ("-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.chmod(side, 0o600)
        return store

    def _check_not_newer(self) -> None:
        known = {m.name for m in migrations._migrations}
        applied = {m.name for m in migrations.applied(self.db)}
        unknown = sorted(applied - known)
        if unknown:
            raise DatabaseError(
                f"database {self.path} was written by a newer openclaw-local (schema {len(applied)}, "
                f"this version knows {len(known)})",
                "upgrade openclaw-local; the database was left untouched",
            )

    def _migrate(self) -> None:
        """Apply pending migrations under SQLite's write lock, so processes opening a new
        data dir at the same moment do not race to create the same tables."""
        if not migrations.pending(self.db):
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            migrations.apply(self.db)  # each migration becomes a savepoint inside this transaction
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        return len(migrations.applied(self.db))

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[Database]:
        with self._lock:
            try:
                with self.db.atomic():
                    yield self.db
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from None

    @contextmanager
    def _write_tx(self) -> Iterator[Database]:
        """A transaction that takes SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``).

        Use it where a transaction reads and then writes on what it read (reserve the
        next id, activate a version only if it still exists): a plain deferred one can
        fail outright with "database is locked" when two processes upgrade at once,
        while this one waits its turn (the busy timeout) and sees the latest state.
        """
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from None
            try:
                yield self.db
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise _translate(exc, self.path) from None

    def _query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                return list(self.db.query(sql, params))
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from None

    # ------------------------------------------------------------ conversations
    def create_conversation(self, system_prompt: str | None = None, title: str = "New chat") -> Conversation:
        ts = now()
        with self._tx() as db:
            table = db["conversations"]
            table.insert({"title": title, "system_prompt": system_prompt, "created_at": ts, "updated_at": ts})
            cid = table.last_pk
        return self.get_conversation(cid)

    def get_conversation(self, conversation_id: int) -> Conversation:
        rows = self._query("select * from conversations where id = ?", [conversation_id])
        if not rows:
            raise KeyError(conversation_id)
        return Conversation(**rows[0])

    def list_conversations(self, search: str | None = None, limit: int = 500) -> list[Conversation]:
        if search:
            rows = self._query(
                """
                select distinct c.* from conversations c
                join messages m on m.conversation_id = c.id
                where m.id in (select rowid from messages_fts where messages_fts match ?)
                   or c.title like ?
                order by c.updated_at desc, c.id desc limit ?
                """,
                [_fts_query(search), f"%{search}%", limit],
            )
        else:
            rows = self._query("select * from conversations order by updated_at desc, id desc limit ?", [limit])
        return [Conversation(**r) for r in rows]

    def delete_conversation(self, conversation_id: int) -> None:
        with self._tx() as db:
            ids = [r["id"] for r in db.query("select id from messages where conversation_id = ?", [conversation_id])]
            for mid in ids:
                db.execute("delete from feedback where message_id = ?", [mid])
                if db["samples"].exists():
                    db.execute("delete from samples where message_id = ?", [mid])
            db.execute("delete from messages where conversation_id = ?", [conversation_id])
            db.execute("delete from conversations where id = ?", [conversation_id])

    # ----------------------------------------------------------------- messages
    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        thinking: str = "",
        model: str | None = None,
        adapter_version: int | None = None,
        settings: dict[str, Any] | None = None,
        interrupted: bool = False,
    ) -> Message:
        ts = now()
        with self._tx() as db:
            table = db["messages"]
            table.insert(
                {
                    "conversation_id": conversation_id,
                    "role": role,
                    "content": content,
                    "thinking": thinking,
                    "created_at": ts,
                    "model": model,
                    "adapter_version": adapter_version,
                    "settings": json.dumps(settings) if settings else None,
                    "interrupted": int(interrupted),
                }
            )
            mid = table.last_pk
            updates: dict[str, Any] = {"updated_at": ts}
            if role == "user":
                conv = db["conversations"].get(conversation_id)
                if conv["title"] in (None, "", "New chat"):
                    updates["title"] = make_title(content)
            db["conversations"].update(conversation_id, updates)
        return self.get_message(mid)

    def update_message(self, message_id: int, **fields: Any) -> None:
        """Update a streaming or finished reply (content, thinking, interrupted, stats)."""
        allowed = {"content", "thinking", "interrupted", "n_tokens", "tokens_per_s", "superseded", "settings"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update {bad}")
        if "interrupted" in fields:
            fields["interrupted"] = int(bool(fields["interrupted"]))
        if "superseded" in fields:
            fields["superseded"] = int(bool(fields["superseded"]))
        if isinstance(fields.get("settings"), dict):
            fields["settings"] = json.dumps(fields["settings"])
        with self._tx() as db:
            db["messages"].update(message_id, fields)

    def get_message(self, message_id: int) -> Message:
        rows = self._query("select * from messages where id = ?", [message_id])
        if not rows:
            raise KeyError(message_id)
        return self._with_feedback([Message.from_row(rows[0])])[0]

    def messages(self, conversation_id: int, *, include_superseded: bool = False) -> list[Message]:
        where = "" if include_superseded else "and superseded = 0"
        rows = self._query(f"select * from messages where conversation_id = ? {where} order by id", [conversation_id])
        return self._with_feedback([Message.from_row(r) for r in rows])

    def _with_feedback(self, messages: list[Message]) -> list[Message]:
        if not messages:
            return messages
        ids = [m.id for m in messages]
        marks = ",".join("?" * len(ids))
        rows = self._query(f"select * from feedback where message_id in ({marks}) order by id", ids)
        by_id = {m.id: m for m in messages}
        for r in rows:
            msg = by_id[r["message_id"]]
            if r["kind"] == "rating":
                msg.rating = r["value"] or None
            elif r["kind"] == "correction":
                msg.correction = r["text"]
        if self.db["samples"].exists():
            judged = self._query(
                f"select message_id, reward, hint from samples where status in ('judged', 'trained') and message_id in ({marks})",
                ids,
            )
            for r in judged:
                by_id[r["message_id"]].judgment = JUDGMENT_MARKS.get(r["reward"], "·")
                by_id[r["message_id"]].judgment_hint = r["hint"]
        return messages

    def search_messages(self, query: str, limit: int = 100) -> list[Message]:
        rows = self._query(
            """
            select m.* from messages m join messages_fts f on f.rowid = m.id
            where messages_fts match ? order by m.id desc limit ?
            """,
            [_fts_query(query), limit],
        )
        return self._with_feedback([Message.from_row(r) for r in rows])

    # ----------------------------------------------------------------- feedback
    def rate(self, message_id: int, value: int) -> Feedback:
        """Record a thumbs up (+1), down (-1), or clear a rating (0)."""
        if value not in (-1, 0, 1):
            raise ValueError("rating must be -1, 0 or +1")
        return self._add_feedback(message_id, "rating", value=value)

    def correct(self, message_id: int, text: str) -> Feedback:
        msg = self.get_message(message_id)
        if msg.role != "assistant":
            raise ValueError("only assistant replies can be corrected")
        return self._add_feedback(message_id, "correction", text=text, original=msg.content)

    def _add_feedback(self, message_id: int, kind: str, **values: Any) -> Feedback:
        ts = now()
        with self._tx() as db:
            table = db["feedback"]
            table.insert({"message_id": message_id, "kind": kind, "created_at": ts, **values})
            fid = table.last_pk
            conv = db["messages"].get(message_id)["conversation_id"]
            db["conversations"].update(conv, {"updated_at": ts})
        return Feedback(**self._query("select * from feedback where id = ?", [fid])[0])

    def feedback(self, message_id: int | None = None) -> list[Feedback]:
        if message_id is None:
            rows = self._query("select * from feedback order by id")
        else:
            rows = self._query("select * from feedback where message_id = ? order by id", [message_id])
        return [Feedback(**r) for r in rows]


def make_title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def _fts_query(text: str) -> str:
    """Quote every word so user text cannot be FTS syntax; words are ANDed, last one is a prefix."""
    words = [w.replace('"', '""') for w in text.split() if w.strip()]
    if not words:
        return '""'
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)
