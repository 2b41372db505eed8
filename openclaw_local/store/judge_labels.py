"""This user's labels for the judge, and the judge calibration fitted on them.

A label says what the user's message *after* a reply meant: a 👍 on the reply → +1,
a 👎 or a correction → -1 (the message that follows a reply the user rejected is
push-back in this user's own words), an overruled verdict → whatever the user chose.
One label per reply (``message_id``); an overrule is never replaced by a gesture.
The calibration is one row (id 1) of opaque parameters written by the learner process
and read by the judge worker in the chat process.
"""

from __future__ import annotations

from typing import Any

from openclaw_local.store.db import Store, now

GESTURE_SOURCES = ("rating", "correction")
SOURCES = GESTURE_SOURCES + ("overrule",)


class JudgeLabelStore:
    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------------ labels
    def _exchange(self, message_id: int) -> dict[str, Any] | None:
        """Prompt, reply and next message of a sample (None when the reply has no next message)."""
        rows = self.store._query(  # noqa: SLF001
            """
            select s.message_id, s.prompt, s.next_state, s.reward, s.reward_source, m.content as reply
            from samples s join messages m on m.id = s.message_id where s.message_id = ?
            """,
            [message_id],
        )
        if not rows or not (rows[0]["next_state"] or "").strip():
            return None
        return dict(rows[0])

    def record(self, message_id: int, label: int, source: str) -> dict[str, Any] | None:
        """Label the next message of reply ``message_id``. Returns the label row, or None if there is
        no next message to label. A gesture never replaces an overrule."""
        if label not in (-1, 0, 1):
            raise ValueError("a judge label must be -1, 0 or +1")
        if source not in SOURCES:
            raise ValueError(f"label source must be one of {SOURCES}")
        with self.store._tx() as db:  # noqa: SLF001
            ex = self._exchange(message_id)
            if ex is None:
                return None
            old = self.get(message_id)
            if old is not None and old["source"] == "overrule" and source != "overrule":
                return old
            row = {"message_id": message_id, "prompt": ex["prompt"], "reply": ex["reply"],
                   "next_state": ex["next_state"], "label": label, "source": source,
                   "created_at": old["created_at"] if old and old["label"] == label and old["next_state"] == ex["next_state"] else now()}
            if old is not None and all(old.get(k) == v for k, v in row.items()):
                return old
            db["judge_labels"].upsert(row, pk="message_id")
        return self.get(message_id)

    def record_gesture(self, message_id: int) -> dict[str, Any] | None:
        """If the sample's reward came from a rating or a correction and the reply has a following
        user message, that message gets the gesture's label. Returns the label row or None."""
        ex = self._exchange(message_id)
        if ex is None or ex["reward_source"] not in GESTURE_SOURCES or ex["reward"] not in (-1, 1):
            return None
        return self.record(message_id, int(ex["reward"]), ex["reward_source"])

    def get(self, message_id: int) -> dict[str, Any] | None:
        rows = self.store._query("select * from judge_labels where message_id = ?", [message_id])  # noqa: SLF001
        return dict(rows[0]) if rows else None

    def all(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.store._query("select * from judge_labels order by created_at, message_id")]  # noqa: SLF001

    def stamp(self) -> tuple[int, str | None]:
        """(how many labels, newest label time): changes whenever the labels do."""
        r = self.store._query("select count(*) as n, max(created_at) as t from judge_labels")[0]  # noqa: SLF001
        return int(r["n"]), r["t"]

    def clear(self) -> int:
        """Forget every label and the calibration fitted on them. Returns how many labels went."""
        with self.store._tx() as db:  # noqa: SLF001
            n = db.execute("delete from judge_labels").rowcount
            db.execute("delete from judge_calibration")
        return n

    # ------------------------------------------------------------- calibration
    def calibration(self) -> dict[str, Any] | None:
        rows = self.store._query("select * from judge_calibration where id = 1")  # noqa: SLF001
        return dict(rows[0]) if rows else None

    def save_calibration(self, params: bytes | None, n_labels: int, last_label_at: str | None) -> None:
        """Store the fitted parameters (None: no calibration, e.g. after the labels were cleared)."""
        with self.store._tx() as db:  # noqa: SLF001
            db["judge_calibration"].upsert(
                {"id": 1, "params": params, "n_labels": n_labels, "last_label_at": last_label_at, "fitted_at": now()},
                pk="id",
            )
