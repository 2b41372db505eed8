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
import urllib.parse
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlite_utils import Database

from openclaw_local.errors import DatabaseError, DataDirError
from openclaw_local.store.migrations import migrations
from openclaw_local.records import Conversation, Feedback, Message
from openclaw_local.verdicts import mark as verdict_mark

DB_FILE = "openclaw.db"
LOCK_FILE = "openclaw.lock"
SCHEMA_VERSION = len(migrations._migrations)
TITLE_CHARS = 60
# How long a write waits for another process's write lock before "locked by another process". The
# learner writes in the idle scheduling class: on a machine whose cores are all busy it can be
# descheduled for seconds while it holds the lock, and the chat must wait that out, not fail.
BUSY_TIMEOUT_S = 15.0


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
    """An advisory lock on the data dir, so two chat apps never write one history.

    The lock file holds the holder's pid and which front-end it is (``chat``, ``serve``),
    so a refused second process can say what is running (:func:`lock_holder`)."""

    def __init__(self, home: Path, front_end: str = "chat"):
        self.path = home / LOCK_FILE
        self.front_end = front_end
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
            pid, front_end = _parse_holder(fh.read())
            fh.close()
            raise DatabaseError(
                f"another openclaw-local {front_end} (pid {pid}) is using {self.path.parent}",
                "close it first, or set OPENCLAW_HOME to another directory",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()} {self.front_end}")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def _parse_holder(text: str) -> tuple[str, str]:
    pid, _, front_end = text.strip().partition(" ")
    return pid or "unknown", front_end.strip() or "chat"  # an older lock file holds the pid alone


def lock_holder(home: Path) -> tuple[str, str]:
    """(pid, front-end) of the process holding the data dir's lock, as it wrote them."""
    try:
        return _parse_holder((home / LOCK_FILE).read_text())
    except OSError:
        return "unknown", "chat"


class Store:
    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        # the data dir: paths kept in the database (adapter versions) are relative to it, so a
        # copied or moved data dir resolves its own files
        self.home = Path(path).parent.absolute()
        self.conn = conn
        self.db = Database(conn)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, home: Path, *, migrate: bool = True, read_only: bool = False) -> "Store":
        if read_only:
            return cls._open_read_only(home / DB_FILE)
        path = home / DB_FILE
        try:
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
        except OSError as exc:
            raise DataDirError(f"cannot create {path} ({exc.strerror})", "set OPENCLAW_HOME to a writable directory") from None
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Freed pages are zeroed, so deleted (or rewritten, e.g. streamed) text never lingers in the file.
            conn.execute("PRAGMA secure_delete=ON")
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

    @classmethod
    def _open_read_only(cls, path: Path) -> "Store":
        """Open an existing database without writing anything beside it (a backup of a data dir
        on a full disk or a read-only mount): no file is created, chmodded or migrated.

        Normally (a read-only connection) the WAL index (``-shm``) that a running chat keeps is
        shared. When there is none and none can be made (a full disk), the connection keeps its
        WAL index in memory, which SQLite allows only in exclusive locking mode on a read-write
        connection (it writes nothing but what SQLite's own recovery of a crashed WAL would);
        another process that opens the database meanwhile waits (busy timeout) until it closes.
        """
        if not path.is_file():
            raise DataDirError(f"there is no database {path}")
        uri = f"file:{urllib.parse.quote(str(path.absolute()))}"
        conn = None
        try:
            for exclusive in (False, True):
                conn = sqlite3.connect(uri if exclusive else f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                                       check_same_thread=False, isolation_level=None)
                try:
                    if exclusive:
                        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
                    conn.execute("select count(*) from sqlite_master").fetchone()
                    break
                except sqlite3.OperationalError as exc:
                    conn.close()
                    conn = None
                    text = str(exc)
                    if exclusive or not ("disk I/O" in text or "full" in text or "readonly" in text
                                         or "unable to open" in text):
                        raise
            store = cls(path, conn)
            store._check_not_newer()
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise _translate(exc, path) from None
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

    def applied_migrations(self) -> list[str]:
        """The names of the migrations applied to this database, in the order they were applied."""
        return [m.name for m in migrations.applied(self.db)]

    @staticmethod
    def known_migrations() -> list[str]:
        """The names of the migrations this build knows (a database with others is from a newer one)."""
        return [m.name for m in migrations._migrations]

    def backup_to(self, target: Path) -> None:
        """Write a consistent snapshot of the whole database to the new file ``target``.

        SQLite's online backup API: it reads one snapshot (a read transaction, WAL content
        included) while chats, ``serve`` or the learner go on writing; nothing is written to the
        data dir. ``target`` must not exist (it is created owner-only).
        """
        target = Path(target)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            dest = sqlite3.connect(target, isolation_level=None)
            try:
                with self._lock:
                    self.conn.backup(dest)
                # a single self-contained file: no -wal beside it is needed to read it
                dest.execute("PRAGMA journal_mode=DELETE")
            finally:
                dest.close()
        except sqlite3.Error as exc:
            text = str(exc)
            if "full" in text or "disk I/O" in text or "readonly" in text or "unable to open" in text:
                raise DataDirError(f"cannot write {target} ({text})", "free some disk space or choose another place") from None
            raise _translate(exc, self.path) from None

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[Database]:
        """A write transaction that takes SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``).

        Every transaction here writes, and most read first (``Table.update`` itself reads the row).
        A plain deferred one that reads and then writes fails at once with "database is locked",
        busy timeout or not, whenever another process committed in between (in WAL mode its
        snapshot is stale and cannot be upgraded): the chat storing a message while the learner
        stores a verdict. Taking the lock first makes it wait its turn (the busy timeout) and
        see the latest state. Nested inside another one, it is a savepoint of the outer.
        """
        with self._lock:
            if self.conn.in_transaction:
                try:
                    with self.db.atomic():  # a savepoint: the outer transaction holds the lock
                        yield self.db
                except sqlite3.Error as exc:
                    raise _translate(exc, self.path) from None
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from None
            try:
                yield self.db
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc, self.path) from None
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
    def create_conversation(
        self, system_prompt: str | None = None, title: str = "New chat", *, source: str | None = None, session_key: str | None = None
    ) -> Conversation:
        ts = now()
        row: dict[str, Any] = {"title": title, "system_prompt": system_prompt, "created_at": ts, "updated_at": ts}
        if source is not None or session_key is not None:
            row.update(source=source, session_key=session_key)
        with self._tx() as db:
            table = db["conversations"]
            table.insert(row)
            cid = table.last_pk
        return self.get_conversation(cid)

    def conversation_by_session_key(self, session_key: str) -> Conversation | None:
        """The newest conversation an API client named with this session id."""
        rows = self._query("select * from conversations where session_key = ? order by id desc limit 1", [session_key])
        return Conversation(**rows[0]) if rows else None

    def served_replies_like(self, text: str, limit: int = 200) -> list[Message]:
        """Assistant replies in API-client conversations that start with ``text``'s first word.

        A coarse SQL filter (newest first; clients reflow whitespace, so only the first
        word is compared here); the caller decides what counts as the same reply.
        """
        head = text.split()[0][:40] if text.split() else ""
        rows = self._query(
            """
            select m.* from messages m join conversations c on c.id = m.conversation_id
            where m.role = 'assistant' and c.source is not null and m.superseded = 0
              and ltrim(m.content, ' ' || char(9) || char(10) || char(13)) like ? escape '\\'
            order by m.id desc limit ?
            """,
            [_like_prefix(head), limit],
        )
        return self._with_feedback([Message.from_row(r) for r in rows])

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

    def search_snippets(self, search: str, limit: int = 2000) -> dict[int, str]:
        """For each conversation with a matching message: a short excerpt of its newest match,
        the matched words between \\x01 and \\x02 (the UI highlights them)."""
        rows = self._query(
            """
            select m.conversation_id as cid, snippet(messages_fts, 0, char(1), char(2), '…', 10) as snip
            from messages_fts join messages m on m.id = messages_fts.rowid
            where messages_fts match ? order by m.id desc limit ?
            """,
            [_fts_query(search), limit],
        )
        out: dict[int, str] = {}
        for r in rows:
            out.setdefault(r["cid"], r["snip"])
        return out

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete one conversation and everything about it (see :meth:`forget_conversations`)."""
        self.forget_conversations([conversation_id])

    def learned_from(self, conversation_ids: list[int]) -> list[int]:
        """Adapter versions that trained on any reply of these conversations, ascending."""
        if not conversation_ids:
            return []
        marks = ",".join("?" * len(conversation_ids))
        ids = {r["id"] for r in self._query(f"select id from messages where conversation_id in ({marks})", conversation_ids)}
        versions: set[int] = set()
        if ids and self.db["samples"].exists():
            mid_marks = ",".join("?" * len(ids))
            versions |= {r["v"] for r in self._query(
                f"select distinct trained_version as v from samples where trained_version is not null and message_id in ({mid_marks})",
                list(ids))}
        if ids and self.db["adapter_versions"].exists():
            for r in self._query("select id, sample_ids from adapter_versions"):
                if ids & set(json.loads(r["sample_ids"] or "[]")):
                    versions.add(r["id"])
        return sorted(versions)

    def forget_conversations(self, conversation_ids: list[int]) -> bool:
        """Erase conversations: their messages and every row about those messages (feedback,
        learning samples, judge labels: any table with a ``message_id``), then rebuild the
        full-text index and checkpoint the WAL so the text is gone from the files on disk
        (secure_delete zeroes freed pages). Returns False when another process kept the WAL
        from being fully checkpointed (the text then leaves the WAL when that process closes)."""
        with self._tx() as db:
            tables = [t.name for t in db.tables if "message_id" in t.columns_dict and t.name != "messages"]
            for cid in conversation_ids:
                ids = [r["id"] for r in db.query("select id from messages where conversation_id = ?", [cid])]
                for table in tables:
                    for mid in ids:
                        db.execute(f"delete from [{table}] where message_id = ?", [mid])
                for mid in ids:  # a standing preference stays (the user keeps or deletes it), its excerpt goes
                    db.execute("update preferences set source_text = null, source_message_id = null where source_message_id = ?",
                               [mid])
                    db.execute("update preferences set last_message_id = null where last_message_id = ?", [mid])
                db.execute("delete from messages where conversation_id = ?", [cid])
                db.execute("delete from conversations where id = ?", [cid])
            # FTS5 keeps deleted terms in its segments until they merge: rebuild from what is left.
            db.execute("insert into messages_fts(messages_fts) values('rebuild')")
        with self._lock:
            try:
                busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from None
        return not busy

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
        tool_info: dict[str, Any] | None = None,
        reply_group: int | None = None,
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
                    **({"tool_info": json.dumps(tool_info)} if tool_info else {}),
                    **({"reply_group": reply_group} if reply_group is not None else {}),
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
        allowed = {"content", "thinking", "interrupted", "n_tokens", "tokens_per_s", "superseded", "settings", "reply_group"}
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

    def set_tool_info(self, message_id: int, info: dict[str, Any]) -> None:
        """Record a reply's tool calls (API clients' tool use)."""
        with self._tx() as db:
            db["messages"].update(message_id, {"tool_info": json.dumps(info)})

    def get_message(self, message_id: int) -> Message:
        rows = self._query("select * from messages where id = ?", [message_id])
        if not rows:
            raise KeyError(message_id)
        return self._with_versions(self._with_feedback([Message.from_row(rows[0])]))[0]

    def find_message(self, message_id: int) -> Message | None:
        """The stored message as it is, or None (no feedback or version numbers added: see get_message)."""
        rows = self._query("select * from messages where id = ?", [message_id])
        return Message.from_row(rows[0]) if rows else None

    def reply_text(self, message_id: int) -> str | None:
        """The stored text of one message (the model's own reply, not a correction), or None if it is gone."""
        rows = self._query("select content from messages where id = ?", [message_id])
        return rows[0]["content"] if rows else None

    def messages(self, conversation_id: int, *, include_superseded: bool = False) -> list[Message]:
        where = "" if include_superseded else "and superseded = 0"
        rows = self._query(f"select * from messages where conversation_id = ? {where} order by id", [conversation_id])
        return self._with_versions(self._with_feedback([Message.from_row(r) for r in rows]))

    def _with_versions(self, messages: list[Message]) -> list[Message]:
        """Fill in ``version`` / ``versions`` of regenerated replies (1/1 for the rest)."""
        groups = sorted({m.reply_group for m in messages if m.reply_group is not None})
        if not groups:
            return messages
        marks = ",".join("?" * len(groups))
        rows = self._query(f"select id, reply_group from messages where reply_group in ({marks}) order by id", groups)
        members: dict[int, list[int]] = {}
        for r in rows:
            members.setdefault(r["reply_group"], []).append(r["id"])
        for m in messages:
            ids = members.get(m.reply_group, [m.id]) if m.reply_group is not None else [m.id]
            m.versions = len(ids)
            m.version = ids.index(m.id) + 1 if m.id in ids else 1
        return messages

    def reply_versions(self, message_id: int) -> list[Message]:
        """Every version of the answer ``message_id`` belongs to, oldest first (superseded ones too)."""
        msg = self.get_message(message_id)
        if msg.reply_group is None:
            return [msg]
        rows = self._query("select * from messages where reply_group = ? order by id", [msg.reply_group])
        return self._with_versions(self._with_feedback([Message.from_row(r) for r in rows]))

    def show_version(self, current_id: int, target_id: int) -> None:
        """Make ``target_id`` the shown version of an answer instead of ``current_id`` (same answer only)."""
        current, target = self.get_message(current_id), self.get_message(target_id)
        if current.group_id != target.group_id or current.conversation_id != target.conversation_id:
            raise ValueError("not two versions of the same reply")
        with self._tx() as db:
            db["messages"].update(current_id, {"superseded": 1})
            db["messages"].update(target_id, {"superseded": 0})

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
                # an overrule to "can't tell" leaves the sample skipped; the user's · still shows
                f"select message_id, reward, hint, reward_source from samples where (status in ('judged', 'trained') "
                f"or reward_source = 'overrule') and message_id in ({marks})",
                ids,
            )
            for r in judged:
                by_id[r["message_id"]].judgment = verdict_mark(r["reward"])
                by_id[r["message_id"]].judgment_hint = r["hint"]
                by_id[r["message_id"]].judgment_overruled = r["reward_source"] == "overrule"
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

    def reply_outcomes(self) -> list[dict[str, Any]]:
        """How the user's replies went, per adapter version that served them (None = base model):
        ``replies``, accepted / pushed back split into explicit (rating, correction, regenerate)
        and judged, ``corrected`` (replies with a correction), first/last reply time."""
        has_samples = self.db["samples"].exists()
        verdicts = """
                   sum(s.reward = 1 and s.reward_source != 'judge') as accepted_explicit,
                   sum(s.reward = 1 and s.reward_source = 'judge') as accepted_judged,
                   sum(s.reward = -1 and s.reward_source != 'judge') as pushed_explicit,
                   sum(s.reward = -1 and s.reward_source = 'judge') as pushed_judged,""" if has_samples else """
                   0 as accepted_explicit, 0 as accepted_judged, 0 as pushed_explicit, 0 as pushed_judged,"""
        join = "left join samples s on s.message_id = m.id" if has_samples else ""
        rows = self._query(
            f"""
            select m.adapter_version as version, count(*) as replies, {verdicts}
                   sum(exists(select 1 from feedback f where f.message_id = m.id and f.kind = 'correction')) as corrected,
                   min(m.created_at) as first_at, max(m.created_at) as last_at
            from messages m {join}
            where m.role = 'assistant' and trim(m.content) != ''
            group by m.adapter_version order by min(m.id)
            """
        )
        for r in rows:
            for k in ("accepted_explicit", "accepted_judged", "pushed_explicit", "pushed_judged", "corrected"):
                r[k] = int(r[k] or 0)
        return rows

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


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching strings that start with ``text`` (wildcards in it escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts_query(text: str) -> str:
    """Quote every word so user text cannot be FTS syntax; words are ANDed, last one is a prefix."""
    words = [w.replace('"', '""') for w in text.split() if w.strip()]
    if not words:
        return '""'
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)
