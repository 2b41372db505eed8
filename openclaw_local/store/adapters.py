"""Adapter versions and the learner's live state, in SQLite.

A version row points at a directory under ``<data dir>/adapters/`` holding the
PEFT adapter, its optimizer state and its llama.cpp GGUF. Exactly one version is
``active`` at a time (or none: the base model is served).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openclaw_local.store.db import Store, now

GGUF_NAME = "adapter.gguf"


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
        )


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
                activate: bool = True) -> AdapterVersion:
        """Register a fully written version and mark its samples trained, in one transaction."""
        ts = now()
        with self.store._tx() as db:
            if activate:
                db.execute("update adapter_versions set status = 'retired' where status = 'active'")
            db["adapter_versions"].insert({
                "id": version_id, "parent_id": parent_id, "created_at": ts, "path": str(path),
                "status": "active" if activate else "candidate", "sample_ids": json.dumps(sample_ids),
                "loss": metrics.get("loss"), "mean_reward": metrics.get("mean_reward"),
                "n_samples": metrics.get("n_samples"), "n_tokens": metrics.get("n_tokens"),
                "train_seconds": metrics.get("seconds"), "gate": json.dumps(metrics.get("gate") or {}),
            })
            if sample_ids:
                marks = ",".join("?" * len(sample_ids))
                db.execute(
                    f"update samples set status = 'trained', trained_version = ?, updated_at = ? where message_id in ({marks})",
                    [version_id, ts, *sample_ids],
                )
        return self.get(version_id)

    def activate(self, version_id: int | None) -> None:
        """Make one version active (None = serve the base model)."""
        with self.store._tx() as db:
            db.execute("update adapter_versions set status = 'retired' where status = 'active'")
            if version_id is not None:
                db.execute("update adapter_versions set status = 'active', reason = null where id = ?", [version_id])

    def mark(self, version_id: int, status: str, reason: str | None = None) -> None:
        with self.store._tx() as db:
            db.execute("update adapter_versions set status = ?, reason = ? where id = ?", [status, reason, version_id])

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
            db["learn_requests"].insert({"created_at": now()})
            return db["learn_requests"].last_pk

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
