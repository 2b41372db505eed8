"""Standing preferences: the only place that reads and writes the ``preferences`` table.

A preference is an instruction the user wants in the system context of every reply
(``status = 'active'``). One-off requests start as ``candidate`` and become active when
seen again; endpoint-created ones may start ``paused`` with ``needs_confirmation``.
Which text counts as "the same request" is decided by the caller (a ``same`` function
passed to :meth:`PreferenceStore.observe`), so this module knows nothing about wording.
"""

from __future__ import annotations

from typing import Any, Callable

from openclaw_local.records import PREFERENCE_STATUSES, Preference
from openclaw_local.store.db import Store, now

MAX_TEXT = 200
MAX_SOURCE = 200


def _bounded(text: str | None, n: int) -> str | None:
    if text is None:
        return None
    line = " ".join(text.split())
    return line if len(line) <= n else line[: n - 1] + "…"


class PreferenceStore:
    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------------ reading
    def get(self, pref_id: int) -> Preference | None:
        rows = self.store._query("select * from preferences where id = ?", [pref_id])  # noqa: SLF001
        return Preference.from_row(rows[0]) if rows else None

    def all(self, status: str | None = None) -> list[Preference]:
        """Every preference (or those with ``status``), oldest first."""
        if status is None:
            rows = self.store._query("select * from preferences order by created_at, id")  # noqa: SLF001
        else:
            rows = self.store._query("select * from preferences where status = ? order by created_at, id",  # noqa: SLF001
                                     [status])
        return [Preference.from_row(r) for r in rows]

    def by_ids(self, ids: list[int]) -> dict[int, Preference]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self.store._query(f"select * from preferences where id in ({marks})", list(ids))  # noqa: SLF001
        return {r["id"]: Preference.from_row(r) for r in rows}

    def user_message_after(self, reply_id: int) -> dict[str, Any] | None:
        """The user message that follows assistant reply ``reply_id`` in its thread, with the
        conversation's ``source`` (the API client; None = the terminal chat). None if there is none."""
        rows = self.store._query(  # noqa: SLF001
            """
            select m.id, m.role, m.content, c.source from messages r
            join messages m on m.conversation_id = r.conversation_id and m.id > r.id and m.superseded = 0
            join conversations c on c.id = r.conversation_id
            where r.id = ? order by m.id limit 1
            """,
            [reply_id],
        )
        if not rows or rows[0]["role"] != "user":
            return None
        return dict(rows[0])

    # ------------------------------------------------------------------ writing
    def add(self, text: str, *, status: str = "active", origin: str = "cli", source_message_id: int | None = None,
            source_text: str | None = None, needs_confirmation: bool = False, times_seen: int = 1) -> Preference:
        _check_status(status)
        ts = now()
        with self.store._tx() as db:  # noqa: SLF001
            table = db["preferences"]
            table.insert({"text": _bounded(text, MAX_TEXT), "status": status, "origin": origin[:60],
                          "source_message_id": source_message_id, "source_text": _bounded(source_text, MAX_SOURCE),
                          "created_at": ts, "updated_at": ts, "times_seen": times_seen,
                          "needs_confirmation": int(needs_confirmation), "last_message_id": source_message_id})
            pid = table.last_pk
        return self.get(pid)  # type: ignore[return-value]

    def update(self, pref_id: int, **fields: Any) -> Preference | None:
        """Change ``text`` / ``status`` / ``needs_confirmation`` / ``absorbed_version``; None if no such id."""
        allowed = {"text", "status", "needs_confirmation", "absorbed_version"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if "status" in fields:
            _check_status(fields["status"])
        if "text" in fields:
            fields["text"] = _bounded(fields["text"], MAX_TEXT)
        if "needs_confirmation" in fields:
            fields["needs_confirmation"] = int(bool(fields["needs_confirmation"]))
        with self.store._tx() as db:  # noqa: SLF001
            if not list(db.query("select id from preferences where id = ?", [pref_id])):
                return None
            db["preferences"].update(pref_id, {**fields, "updated_at": now()})
        return self.get(pref_id)

    def delete(self, pref_id: int) -> bool:
        with self.store._tx() as db:  # noqa: SLF001
            return db.execute("delete from preferences where id = ?", [pref_id]).rowcount > 0

    def observe(self, text: str, same: Callable[[str], bool], *, new_status: str, promoted_status: str,
                promoted_needs_confirmation: bool = False, new_needs_confirmation: bool = False,
                origin: str, message_id: int | None, source_text: str | None) -> tuple[Preference, str]:
        """Record that the user asked for ``text`` (in message ``message_id``), in one write transaction.

        If a stored preference says the same (``same(stored_text)``), it is seen once more
        (a message counts once however often it is observed) and a candidate is promoted to
        ``promoted_status``; otherwise a new one is added with ``new_status``.
        Returns the preference and what happened: ``created`` | ``promoted`` | ``seen`` | ``unchanged``.
        """
        _check_status(new_status)
        _check_status(promoted_status)
        ts = now()
        with self.store._tx() as db:  # noqa: SLF001
            rows = [Preference.from_row(r) for r in db.query("select * from preferences order by created_at, id")]
            match = next((p for p in rows if same(p.text)), None)
            if match is not None:
                counted = message_id is not None and message_id in (match.last_message_id, match.source_message_id)
                if counted:
                    return match, "unchanged"
                fields: dict[str, Any] = {"times_seen": match.times_seen + 1, "updated_at": ts,
                                          "last_message_id": message_id}
                outcome = "seen"
                if match.status == "candidate":
                    fields.update(status=promoted_status, needs_confirmation=int(promoted_needs_confirmation))
                    outcome = "promoted"
                db["preferences"].update(match.id, fields)
                pid = match.id
            else:
                table = db["preferences"]
                table.insert({"text": _bounded(text, MAX_TEXT), "status": new_status, "origin": origin[:60],
                              "source_message_id": message_id, "source_text": _bounded(source_text, MAX_SOURCE),
                              "created_at": ts, "updated_at": ts, "times_seen": 1,
                              "needs_confirmation": int(new_needs_confirmation), "last_message_id": message_id})
                pid = table.last_pk
                outcome = "created"
        return self.get(pid), outcome  # type: ignore[return-value]


def _check_status(status: str) -> None:
    if status not in PREFERENCE_STATUSES:
        raise ValueError(f"a preference's status is one of {', '.join(PREFERENCE_STATUSES)}")
