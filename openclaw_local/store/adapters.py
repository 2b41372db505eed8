"""Adapter versions and the learner's live state, in SQLite.

A version row points at a directory under ``<data dir>/adapters/`` holding the
PEFT adapter, its optimizer state and its llama.cpp GGUF. Exactly one version is
``active`` at a time (or none: the base model is served).

Statuses: ``candidate`` (published, not yet gated), ``active`` (served),
``rejected`` (failed the promotion gate or was rolled back; ``reason`` says why),
``retired`` (was active, replaced by a newer or another version), ``broken``
(its files went missing or corrupt). A row is only ever written after its files
are complete on disk, and deleting removes the row before the files, so a row
never points at files that were not (yet) there.

Concurrency (several CLI commands, the learner, a chat on one data dir): a version
id is reserved in ``adapter_reservations`` inside one ``BEGIN IMMEDIATE``
transaction before its files are written, and the reservation is closed in the
same transaction that inserts the version row, so two writers never share an id
or a directory. Ids are never handed out twice. Every change that depends on what
it read (activate only an existing version, delete only a non-active one) checks
it again inside its write transaction and raises :class:`ConcurrentChange` when
another process changed it in between.

The learner's live state (one ``learner_state`` row) and its "learn now" requests live here
too; they leave as :class:`LearnerState` and :class:`LearnRequest` records.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from openclaw_local.errors import DatabaseError
from openclaw_local.records import AdapterVersion, LearnerPhase, LearnerState, LearnRequest
from openclaw_local.store.db import Store, now

_ANY = object()


class ConcurrentChange(DatabaseError):
    """Another process changed the adapter versions between a check and the change it allowed."""

MAX_GATE_RETRIES = 3  # refusals a sample survives; then it is skipped with the reason
# learner_state columns set_state may change besides the phase (kept in ``state`` with its note)
_STATE_FIELDS = {"detail", "step", "total", "loss", "mean_reward", "last_version", "pid", "error"}


def stored_path(home: Path, path: Path | str) -> str:
    """How a version's directory is kept in the database: relative to the data dir when it lies
    under it (so a copied or moved data dir resolves its own files), else absolute as given."""
    real, root = os.path.realpath(path), os.path.realpath(home)
    if real != root and os.path.commonpath([root, real]) == root:
        return Path(os.path.relpath(real, root)).as_posix()
    return str(Path(path).absolute())


def _mark_trained(db, version_id: int, sample_ids: list[int], ts: str) -> None:
    """The version's samples that are still judged become trained by it (never twice)."""
    if sample_ids:
        marks = ",".join("?" * len(sample_ids))
        db.execute(
            f"update samples set status = 'trained', trained_version = ?, updated_at = ? "
            f"where message_id in ({marks}) and status = 'judged'",
            [version_id, ts, *sample_ids],
        )


def _return_to_pool(db, sample_ids: list[int], reason: str | None, ts: str, max_retries: int) -> None:
    """A refused update's samples stay judged, one retry more, with the reason; too many: skipped."""
    if not sample_ids:
        return
    marks = ",".join("?" * len(sample_ids))
    db.execute(
        f"update samples set gate_retries = coalesce(gate_retries, 0) + 1, gate_refusal = ?, updated_at = ? "
        f"where message_id in ({marks}) and status = 'judged'",
        [reason, ts, *sample_ids],
    )
    db.execute(
        f"update samples set status = 'skipped', reason = ? "
        f"where message_id in ({marks}) and status = 'judged' and gate_retries >= ?",
        [f"refused by the promotion gate {max_retries} times (last: {reason})", *sample_ids, max_retries],
    )


class AdapterStore:
    def __init__(self, store: Store, *, home: Path | None = None):
        """``home``: the data dir the stored relative paths are resolved against (default: the
        store's own; a backup reads a snapshot copy against the data dir it was taken from)."""
        self.store = store
        self.home = Path(home).absolute() if home is not None else store.home

    def _version(self, row: dict[str, Any]) -> AdapterVersion:
        return AdapterVersion.from_row(row, home=self.home)

    # ----------------------------------------------------------------- versions
    def versions(self) -> list[AdapterVersion]:
        return [self._version(r) for r in self.store._query("select * from adapter_versions order by id")]

    def get(self, version_id: int) -> AdapterVersion:
        rows = self.store._query("select * from adapter_versions where id = ?", [version_id])
        if not rows:
            raise KeyError(version_id)
        return self._version(rows[0])

    def active(self) -> AdapterVersion | None:
        rows = self.store._query("select * from adapter_versions where status = 'active' order by id desc limit 1")
        return self._version(rows[0]) if rows else None

    def parents(self) -> dict[int, int | None]:
        """Each version's parent (None: trained from the base model): the version chain."""
        return {r["id"]: r["parent_id"] for r in self.store._query("select id, parent_id from adapter_versions")}

    def add_to_gate(self, version_id: int, key: str, value: Any) -> bool:
        """Add one entry to a version's recorded gate results (measured after it was served); False if gone."""
        with self.store._tx() as db:
            rows = list(db.query("select gate from adapter_versions where id = ?", [version_id]))
            if not rows:
                return False
            try:
                gate = json.loads(rows[0]["gate"] or "{}")
            except ValueError:
                gate = {}
            gate[key] = value
            db.execute("update adapter_versions set gate = ? where id = ?", [json.dumps(gate), version_id])
        return True

    def stored_paths(self) -> dict[int, str]:
        """Each version's path exactly as the database keeps it (relative to the data dir, or absolute)."""
        return {r["id"]: r["path"] for r in self.store._query("select id, path from adapter_versions order by id")}

    def relocate(self, version_id: int, path: Path | str) -> None:
        """Point a version at another directory (kept relative to the data dir when under it)."""
        p = Path(path)
        value = p.as_posix() if not p.is_absolute() else stored_path(self.home, p)
        with self.store._tx() as db:
            db.execute("update adapter_versions set path = ? where id = ?", [value, version_id])

    # ------------------------------------------------------------ reservations
    def reserve(self, pid: int, purpose: str, taken: Callable[[int], bool] = lambda vid: False) -> int:
        """Reserve the next version id for ``pid`` (status ``writing``), atomically.

        ``taken(id)`` says whether something already occupies that id outside the
        database (a leftover directory): such ids are skipped, never reused.
        """
        with self.store._tx() as db:
            n = next(iter(db.query(
                "select max(coalesce((select max(id) from adapter_versions), 0), "
                "coalesce((select max(id) from adapter_reservations), 0)) + 1 as n")))["n"]
            while taken(n):
                n += 1
            db["adapter_reservations"].insert(
                {"id": n, "pid": pid, "purpose": purpose, "status": "writing", "created_at": now()})
        return n

    def abandon(self, version_id: int, *, pid: int | None) -> bool:
        """Mark a reservation abandoned (its writer failed or died); True if it was still open.

        Only while ``pid`` (the writer the caller saw) still holds it open.
        """
        with self.store._tx() as db:
            sql = "update adapter_reservations set status = 'abandoned' where id = ? and status = 'writing'"
            params: list[Any] = [version_id]
            if pid is not None:
                sql += " and pid = ?"
                params.append(pid)
            else:
                sql += " and pid is null"
            return db.execute(sql, params).rowcount > 0

    def open_reservations(self) -> list[dict[str, Any]]:
        return self.store._query("select * from adapter_reservations where status = 'writing' order by id")

    def ownership(self) -> tuple[dict[int, str], set[int], int]:
        """(version id -> path, ids being written, highest id reserved), read in one transaction."""
        with self.store._tx() as db:
            rows = {r["id"]: r["path"] for r in db.query("select id, path from adapter_versions")}
            writing = {r["id"] for r in db.query("select id from adapter_reservations where status = 'writing'")}
            top = next(iter(db.query("select coalesce(max(id), 0) as n from adapter_reservations")))["n"]
        return rows, writing, max([top, *rows])

    def reservation(self, version_id: int) -> dict[str, Any] | None:
        rows = self.store._query("select * from adapter_reservations where id = ?", [version_id])
        return rows[0] if rows else None

    def publish(self, version_id: int, path: Path, *, parent_id: int | None, sample_ids: list[int], metrics: dict[str, Any],
                activate: bool = True, files: dict[str, str] | None = None, source: str = "trained",
                status: str | None = None, reason: str | None = None) -> AdapterVersion:
        """Register a fully written version, in one transaction.

        ``activate=True`` makes it active at once (retiring the old one) and marks its
        samples trained; otherwise it is a ``candidate`` (or ``status``) whose samples stay
        judged until :meth:`promote` decides (a refused update trains nothing).
        """
        ts = now()
        status = status or ("active" if activate else "candidate")
        with self.store._tx() as db:
            held = list(db.query("select status from adapter_reservations where id = ?", [version_id]))
            if not held or held[0]["status"] != "writing":
                raise ConcurrentChange(
                    f"adapter version {version_id} was not reserved by this process (or its reservation was "
                    "abandoned)", "retry")
            db.execute("update adapter_reservations set status = 'done' where id = ?", [version_id])
            if status == "active":
                db.execute("update adapter_versions set status = 'retired' where status = 'active'")
            db["adapter_versions"].insert({
                "id": version_id, "parent_id": parent_id, "created_at": ts, "path": stored_path(self.home, path),
                "status": status, "reason": reason, "sample_ids": json.dumps(sample_ids),
                "loss": metrics.get("loss"), "mean_reward": metrics.get("mean_reward"),
                "n_samples": metrics.get("n_samples"), "n_tokens": metrics.get("n_tokens"),
                "train_seconds": metrics.get("seconds"), "gate": json.dumps(metrics.get("gate") or {}),
                "files": json.dumps(files) if files else None, "source": source,
                "activated_at": ts if status == "active" else None,
            })
            if status == "active":
                _mark_trained(db, version_id, sample_ids, ts)
        return self.get(version_id)

    def promote(self, version_id: int, gate: dict[str, Any], *, passed: bool, reason: str | None = None,
                max_retries: int = MAX_GATE_RETRIES) -> AdapterVersion:
        """Record gate results, in one transaction under the write lock: a passing candidate becomes
        active and its samples trained; a failing one rejected, its samples back in the pool (see
        ``_return_to_pool``). A version deleted while it was gated raises :class:`ConcurrentChange`."""
        with self.store._tx() as db:
            rows = list(db.query("select * from adapter_versions where id = ?", [version_id]))
            if not rows:
                raise ConcurrentChange(f"adapter version {version_id} was deleted by another process while it was gated")
            sample_ids = AdapterVersion.from_row(rows[0]).sample_ids
            if passed:
                _mark_trained(db, version_id, sample_ids, now())
                db.execute("update adapter_versions set status = 'retired' where status = 'active' and id != ?", [version_id])
                db.execute(
                    "update adapter_versions set status = 'active', reason = null, gate = ?, activated_at = ? where id = ?",
                    [json.dumps(gate), now(), version_id],
                )
            else:
                db.execute(
                    "update adapter_versions set status = 'rejected', reason = ?, gate = ? where id = ?",
                    [reason, json.dumps(gate), version_id],
                )
                _return_to_pool(db, sample_ids, reason, now(), max_retries)
        return self.get(version_id)

    def activate(self, version_id: int | None, *, demote: tuple[str, str | None] | None = None,
                 expect_active: Any = _ANY, expect_files: Any = _ANY, refuse: tuple[str, ...] = ()) -> None:
        """Make one version active (None = serve the base model), in one transaction.

        The previously active version becomes ``retired``, or ``demote=(status, reason)``
        (a rollback marks what it undoes as rejected). Serving a version the gate refused
        (``activate --force``) marks its samples that are still in the pool trained by it. What the caller checked before
        is checked again under the write lock, raising :class:`ConcurrentChange`: the
        version still exists, still has ``expect_files`` (the checksums that were
        verified), its status is not in ``refuse``, and the active version is still
        ``expect_active`` (an id, or None for the base model).
        """
        with self.store._tx() as db:
            if expect_active is not _ANY:
                cur = list(db.query("select id from adapter_versions where status = 'active' order by id desc limit 1"))
                cur_id = cur[0]["id"] if cur else None
                if cur_id != expect_active:
                    now_serving = f"v{cur_id}" if cur_id else "the base model"
                    raise ConcurrentChange(f"another process changed the active adapter meanwhile (now {now_serving})",
                                           "look at `adapters list` and retry")
            if version_id is not None:
                rows = list(db.query("select * from adapter_versions where id = ?", [version_id]))
                if not rows:
                    raise ConcurrentChange(f"adapter version {version_id} was deleted by another process")
                if rows[0]["status"] in refuse:
                    raise ConcurrentChange(f"adapter version {version_id} became {rows[0]['status']} meanwhile")
                if expect_files is not _ANY and rows[0]["files"] != (json.dumps(expect_files) if expect_files else None):
                    raise ConcurrentChange(f"adapter version {version_id}'s files changed meanwhile")
                sample_ids = AdapterVersion.from_row(rows[0]).sample_ids
            else:
                sample_ids = []
            status, reason = demote or ("retired", None)
            db.execute("update adapter_versions set status = ?, reason = coalesce(?, reason) where status = 'active'",
                       [status, reason])
            if version_id is not None:
                db.execute("update adapter_versions set status = 'active', reason = null, activated_at = ? where id = ?",
                           [now(), version_id])
                _mark_trained(db, version_id, sample_ids, now())

    def mark(self, version_id: int, status: str, reason: str | None = None) -> None:
        with self.store._tx() as db:
            db.execute("update adapter_versions set status = ?, reason = ? where id = ?", [status, reason, version_id])

    def delete(self, version_id: int) -> AdapterVersion:
        """Remove the row of a version that is not active, and return it (the caller removes
        the files afterwards; an orphan dir is harmless). Checked under the write lock."""
        with self.store._tx() as db:
            rows = list(db.query("select * from adapter_versions where id = ?", [version_id]))
            if not rows:
                raise ConcurrentChange(f"adapter version {version_id} was deleted by another process")
            if rows[0]["status"] == "active":
                raise ConcurrentChange(f"adapter version {version_id} became active meanwhile and cannot be deleted",
                                       "roll back or activate another version first")
            db.execute("delete from probe_answers where version_id = ?", [version_id])
            db.execute("update adapter_versions set parent_id = ? where parent_id = ?",
                       [rows[0]["parent_id"], version_id])
            db.execute("delete from adapter_versions where id = ?", [version_id])
        return self._version(rows[0])

    def previous_good(self, version_id: int | None) -> AdapterVersion | None:
        """What a rollback from ``version_id`` goes to: the nearest good ancestor, else the
        newest good version older than it; None means the base model."""
        by_id = {v.id: v for v in self.versions()}
        seen: set[int] = set()
        cur = by_id.get(version_id) if version_id is not None else None
        while cur is not None and cur.parent_id is not None and cur.parent_id not in seen:
            seen.add(cur.parent_id)
            cur = by_id.get(cur.parent_id)
            if cur is not None and cur.good and cur.id != version_id:
                return cur
        for v in sorted(by_id.values(), key=lambda v: -v.id):
            if version_id is not None and v.id < version_id and v.good:
                return v
        return None

    # ------------------------------------------------------------------- probes
    def probes(self) -> list[dict[str, Any]]:
        return self.store._query("select * from probe_prompts order by id")

    def add_probe(self, text: str) -> int:
        with self.store._tx() as db:
            db["probe_prompts"].insert({"text": text, "created_at": now()})
            return db["probe_prompts"].last_pk

    def update_probe(self, probe_id: int, text: str) -> None:
        with self.store._tx() as db:
            db.execute("update probe_prompts set text = ? where id = ?", [text, probe_id])
            db.execute("delete from probe_answers where probe_id = ?", [probe_id])

    def delete_probe(self, probe_id: int) -> None:
        with self.store._tx() as db:
            db.execute("delete from probe_answers where probe_id = ?", [probe_id])
            db.execute("delete from probe_prompts where id = ?", [probe_id])

    def probe_answer(self, version_id: int | None, probe_id: int) -> str | None:
        rows = self.store._query("select text from probe_answers where version_id = ? and probe_id = ?",
                                 [version_id or 0, probe_id])
        return rows[0]["text"] if rows else None

    def set_probe_answer(self, version_id: int | None, probe_id: int, text: str) -> None:
        with self.store._tx() as db:
            db["probe_answers"].upsert({"version_id": version_id or 0, "probe_id": probe_id, "text": text,
                                        "created_at": now()}, pk=("version_id", "probe_id"))

    # ------------------------------------------------------------ learner state
    def set_state(self, phase: LearnerPhase, *, note: str | None = None, **fields: Any) -> None:
        """The learner enters ``phase`` (``note``: its free part, e.g. what "preparing model" does now).

        ``fields``: other :class:`LearnerState` fields to change (step, total, loss, detail, …);
        those not given keep their values. The phase and its note share the ``state`` column."""
        unknown = set(fields) - _STATE_FIELDS
        if unknown:
            raise TypeError(f"not a learner state field: {', '.join(sorted(unknown))}")
        row = {"id": 1, "state": LearnerPhase(phase).label(note), **fields, "updated_at": now()}
        with self.store._tx() as db:
            db["learner_state"].upsert(row, pk="id")

    def state(self) -> LearnerState:
        """The learner's state; idle when no learner has written one yet."""
        rows = self.store._query("select * from learner_state where id = 1")
        return LearnerState.from_row(rows[0]) if rows else LearnerState()

    def request_update(self) -> int:
        with self.store._tx() as db:
            table = db["learn_requests"]
            table.insert({"created_at": now()})
            return table.last_pk

    def take_request(self) -> int | None:
        # polled every second by the learner: only take the write lock when something waits
        if not self.store._query("select 1 from learn_requests where taken_at is null limit 1"):
            return None
        with self.store._tx() as db:
            rows = list(db.query("select id from learn_requests where taken_at is null order by id limit 1"))
            if not rows:
                return None
            db.execute("update learn_requests set taken_at = ? where id = ?", [now(), rows[0]["id"]])
            return rows[0]["id"]

    def finish_request(self, request_id: int, result: str) -> None:
        with self.store._tx() as db:
            db.execute("update learn_requests set done_at = ?, result = ? where id = ?", [now(), result, request_id])

    def request(self, request_id: int) -> LearnRequest | None:
        rows = self.store._query("select * from learn_requests where id = ?", [request_id])
        return LearnRequest.from_row(rows[0]) if rows else None

    def pending_requests(self) -> int:
        """Learn-now requests not finished yet (taken or not)."""
        return self.store._query("select count(*) as n from learn_requests where done_at is null")[0]["n"]

    def forget_versions(self) -> list[list[int]]:
        """Delete every version row and return its samples to the pool; returns each version's sample ids, oldest first.

        For replaying a finished run's batches on a copy of its data dir (``sim/replay.py``); files are left alone.
        """
        with self.store._tx() as db:
            batches = [json.loads(r["sample_ids"]) for r in db.query("select sample_ids from adapter_versions order by id")]
            db.execute("update samples set status = 'judged', trained_version = null where status = 'trained'")
            db.execute("delete from adapter_versions")
        return batches

    def cancel_request(self, request_id: int) -> bool:
        """Remove a request nobody took (True), or leave one a learner already took (False)."""
        with self.store._tx() as db:
            return db.execute("delete from learn_requests where id = ? and taken_at is null", [request_id]).rowcount > 0

    def drop_request(self, request_id: int) -> None:
        """Remove an unfinished request whose learner is gone (nobody will ever answer it)."""
        with self.store._tx() as db:
            db.execute("delete from learn_requests where id = ? and done_at is null", [request_id])

    def drop_untaken_requests(self) -> int:
        """Remove every request nobody took: called where no learner can be running (we hold the lock)."""
        with self.store._tx() as db:
            return db.execute("delete from learn_requests where taken_at is null").rowcount
