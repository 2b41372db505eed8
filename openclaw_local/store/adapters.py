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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openclaw_local.store.db import Store, now

GGUF_NAME = "adapter.gguf"
MAX_GATE_RETRIES = 3  # refusals a sample survives; then it is skipped with the reason


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


@dataclass
class AdapterVersion:
    id: int
    parent_id: int | None
    created_at: str
    path: str
    status: str
    reason: str | None
    sample_ids: list[int]
    loss: float | None
    mean_reward: float | None
    n_samples: int | None
    n_tokens: int | None
    train_seconds: float | None
    gate: dict[str, Any]
    files: dict[str, str] | None = None  # file name -> sha256, recorded at publish
    source: str | None = None  # trained | imported
    activated_at: str | None = None

    @property
    def gguf_path(self) -> Path:
        return Path(self.path) / GGUF_NAME

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "AdapterVersion":
        return cls(
            id=r["id"], parent_id=r["parent_id"], created_at=r["created_at"], path=r["path"], status=r["status"],
            reason=r["reason"], sample_ids=json.loads(r["sample_ids"] or "[]"), loss=r["loss"],
            mean_reward=r["mean_reward"], n_samples=r["n_samples"], n_tokens=r["n_tokens"],
            train_seconds=r["train_seconds"], gate=json.loads(r["gate"] or "{}"),
            files=json.loads(r["files"]) if r.get("files") else None, source=r.get("source"),
            activated_at=r.get("activated_at"),
        )

    @property
    def good(self) -> bool:
        """Was served and never found bad: a rollback or fallback target."""
        return self.status in ("active", "retired")


class AdapterStore:
    def __init__(self, store: Store):
        self.store = store

    # ----------------------------------------------------------------- versions
    def versions(self) -> list[AdapterVersion]:
        return [AdapterVersion.from_row(r) for r in self.store._query("select * from adapter_versions order by id")]

    def get(self, version_id: int) -> AdapterVersion:
        rows = self.store._query("select * from adapter_versions where id = ?", [version_id])
        if not rows:
            raise KeyError(version_id)
        return AdapterVersion.from_row(rows[0])

    def active(self) -> AdapterVersion | None:
        rows = self.store._query("select * from adapter_versions where status = 'active' order by id desc limit 1")
        return AdapterVersion.from_row(rows[0]) if rows else None

    def next_id(self) -> int:
        rows = self.store._query("select coalesce(max(id), 0) + 1 as n from adapter_versions")
        return rows[0]["n"]

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
            if status == "active":
                db.execute("update adapter_versions set status = 'retired' where status = 'active'")
            db["adapter_versions"].insert({
                "id": version_id, "parent_id": parent_id, "created_at": ts, "path": str(path),
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
        """Record gate results, in one transaction: a passing candidate becomes active and its
        samples trained; a failing one rejected, its samples back in the pool (see ``_return_to_pool``)."""
        sample_ids = self.get(version_id).sample_ids
        with self.store._tx() as db:
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

    def activate(self, version_id: int | None, *, demote: tuple[str, str | None] | None = None) -> None:
        """Make one version active (None = serve the base model), in one transaction.

        The previously active version becomes ``retired``, or ``demote=(status, reason)``
        (a rollback marks what it undoes as rejected). Serving a version the gate refused
        (``activate --force``) marks its samples that are still in the pool trained by it.
        """
        sample_ids = self.get(version_id).sample_ids if version_id is not None else []
        with self.store._tx() as db:
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

    def set_files(self, version_id: int, files: dict[str, str]) -> None:
        with self.store._tx() as db:
            db.execute("update adapter_versions set files = ? where id = ?", [json.dumps(files), version_id])

    def delete(self, version_id: int) -> None:
        """Remove the row (the caller removes the files afterwards; an orphan dir is harmless)."""
        with self.store._tx() as db:
            db.execute("delete from probe_answers where version_id = ?", [version_id])
            db.execute("update adapter_versions set parent_id = ? where parent_id = ?",
                       [self.get(version_id).parent_id, version_id])
            db.execute("delete from adapter_versions where id = ?", [version_id])

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
    def set_state(self, **fields: Any) -> None:
        fields["updated_at"] = now()
        with self.store._tx() as db:
            db["learner_state"].upsert({"id": 1, **fields}, pk="id")

    def state(self) -> dict[str, Any]:
        rows = self.store._query("select * from learner_state where id = 1")
        return rows[0] if rows else {"state": "idle"}

    def request_update(self) -> int:
        with self.store._tx() as db:
            table = db["learn_requests"]
            table.insert({"created_at": now()})
            return table.last_pk

    def take_request(self) -> int | None:
        with self.store._tx() as db:
            rows = list(db.query("select id from learn_requests where taken_at is null order by id limit 1"))
            if not rows:
                return None
            db.execute("update learn_requests set taken_at = ? where id = ?", [now(), rows[0]["id"]])
            return rows[0]["id"]

    def finish_request(self, request_id: int, result: str) -> None:
        with self.store._tx() as db:
            db.execute("update learn_requests set done_at = ?, result = ? where id = ?", [now(), result, request_id])

    def request(self, request_id: int) -> dict[str, Any]:
        return self.store._query("select * from learn_requests where id = ?", [request_id])[0]
