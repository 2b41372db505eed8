"""Learning samples: one row per assistant reply that has a next state.

Life of a sample (all of it in the ``samples`` table, so nothing is lost across restarts)::

    (absent)  reply has no next state yet
    waiting   has a next user message the judge has not scored yet
    judged    has a final reward (rating, correction or judge) and maybe a hint
    trained   an adapter version that was served trained on it (never trained twice); an
              update the promotion gate refused leaves its samples judged, with
              ``gate_retries`` + 1 and the reason in ``gate_refusal``, so they are retried
              (with a smaller step) by the next update; after ``MAX_GATE_RETRIES``
              refusals they are skipped with that reason
    skipped   not trainable, with a reason (interrupted, superseded, empty reply, no next
              state, judge could not tell = reward 0 and no hint); a later rating or
              correction revives it

A reply the user regenerated (a later version of the same answer exists) is a
push-back: reward -1 from ``regenerate``, unless the user rated or corrected that
version (explicit wins). Its "next state" is the request for another reply, not the
message that followed, which answered the new version.

:meth:`SampleStore.record_next_state` recomputes a reply's next state from SQLite
(the following user message in the thread, the latest rating, the latest
correction) and upserts the row; calling it twice changes nothing. Explicit
signals win: a rating sets the reward directly (the judge still runs when there
is a following user message, so its votes can be compared with the rating and it
may add a hint); a correction gives -1, its text is the hint, and the corrected
reply is kept as a known-good answer for the same prompt.

Rows leave this module as records (openclaw_local/records.py): a row as :class:`Sample`, what the
judge reads as :class:`WaitingReply`, and every item for the trainer or the promotion gate as the
trainer's own :class:`TrainItem`.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from openclaw_local.config import DEFAULT_SYSTEM_PROMPT
from openclaw_local.records import (
    CORRECTION, REPLY, JudgeAgreement, Message, NextState, Sample, TrainItem, WaitingReply, model_context,
)
from openclaw_local.store.db import Store, now

STATUSES = ("waiting", "judged", "trained", "skipped")
EXPLICIT = ("rating", "correction")
CANNOT_TELL = "judge could not tell"
OVERRULE = "overrule"  # reward_source of a verdict the user overruled


class SampleStore:
    def __init__(self, store: Store, *, default_system_prompt: str = DEFAULT_SYSTEM_PROMPT):
        self.store = store
        self.default_system_prompt = default_system_prompt

    # ------------------------------------------------------------------ reading
    def get(self, message_id: int) -> Sample | None:
        rows = self.store._query("select * from samples where message_id = ?", [message_id])  # noqa: SLF001
        return Sample.from_row(rows[0]) if rows else None

    def all(self, status: str | None = None) -> list[Sample]:
        if status is None:
            rows = self.store._query("select * from samples order by message_id")  # noqa: SLF001
        else:
            rows = self.store._query("select * from samples where status = ? order by message_id", [status])  # noqa: SLF001
        return [Sample.from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Samples per status, every status present (for the status bar)."""
        out = {s: 0 for s in STATUSES}
        for r in self.store._query("select status, count(*) as n from samples group by status"):  # noqa: SLF001
            out[r["status"]] = r["n"]
        return out

    def to_judge(self, limit: int = 50) -> list[WaitingReply]:
        """Waiting samples, oldest first, with what the judge needs: prompt, reply, next_state."""
        rows = self.store._query(  # noqa: SLF001
            """
            select s.message_id, s.next_state, s.prompt, m.content as reply
            from samples s join messages m on m.id = s.message_id
            where s.status = 'waiting' order by s.message_id limit ?
            """,
            [limit],
        )
        return [WaitingReply(message_id=r["message_id"], reply=r["reply"] or "", next_state=r["next_state"],
                             prompt=r["prompt"]) for r in rows]

    def trainable_ids(self, limit: int = 1000) -> list[int]:
        """Judged samples with something to learn from (reward ±1 or a hint), oldest first."""
        rows = self.store._query(  # noqa: SLF001
            """
            select message_id from samples where status = 'judged'
            and ((reward is not null and reward != 0) or (hint is not null and hint != '') or correction is not null)
            order by message_id limit ?
            """,
            [limit],
        )
        return [r["message_id"] for r in rows]

    def recent_trained_feedback_ids(self, limit: int, exclude: Iterable[int] = ()) -> list[int]:
        """The ``limit`` newest trained samples with a rating or a correction (the gate's reference feedback)."""
        skip = set(exclude)
        rows = self.store._query(  # noqa: SLF001
            """
            select message_id from samples
            where status = 'trained' and (reward in (1, -1) or (correction is not null and trim(correction) != ''))
            order by message_id desc limit ?
            """,
            [limit + len(skip)],
        )
        return [r["message_id"] for r in rows if r["message_id"] not in skip][:limit]

    def feedback_items(self, message_ids: Iterable[int]) -> list[TrainItem]:
        """Accepted/rejected items of samples whatever their status (the gate only reads them):
        the reply with its ±1 reward, and a correction as an accepted reply."""
        out: list[TrainItem] = []
        for mid in message_ids:
            row = self.get(mid)
            reply = self.store._query("select content from messages where id = ?", [mid]) if row else []  # noqa: SLF001
            if not reply:
                continue
            prompt = self.prompt_messages(mid)
            if row.reward in (-1, 1):
                out.append(TrainItem(prompt_messages=prompt, reply=reply[0]["content"], reward=row.reward, message_id=mid))
            if row.correction and row.correction.strip():
                out.append(_correction_item(mid, [dict(m) for m in prompt], row.correction))
        return out

    def gate_retries(self, message_ids: Iterable[int]) -> int:
        """How many times the most-refused of these samples was in an update the gate refused."""
        ids = list(message_ids)
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        rows = self.store._query(  # noqa: SLF001
            f"select max(coalesce(gate_retries, 0)) as n from samples where message_id in ({marks})", ids)
        return int(rows[0]["n"] or 0) if rows else 0

    def judge_agreement(self) -> JudgeAgreement:
        """How often the judge's own score matched the user's explicit thumbs (where both exist)."""
        rows = self.store._query(  # noqa: SLF001
            "select reward, judge_reward from samples where reward_source = 'rating' and judge_reward is not null"
        )
        n = len(rows)
        agree = sum(1 for r in rows if r["reward"] == r["judge_reward"])
        return JudgeAgreement(n=n, agree=agree, accuracy=agree / n if n else None)

    # ---------------------------------------------------------------- next state
    def next_state(self, message_id: int) -> NextState | None:
        """What happened after an assistant reply, read from SQLite; None if not an assistant reply."""
        q = self.store._query  # noqa: SLF001
        rows = q("select * from messages where id = ?", [message_id])
        if not rows or rows[0]["role"] != "assistant":
            return None
        msg = rows[0]
        nxt = q(
            """
            select * from messages where conversation_id = ? and id > ? and superseded = 0
            order by id limit 1
            """,
            [msg["conversation_id"], message_id],
        )
        next_user = nxt[0]["content"] if nxt and nxt[0]["role"] == "user" and (nxt[0]["content"] or "").strip() else None
        fb = q("select * from feedback where message_id = ? order by id", [message_id])
        rating = next((f for f in reversed(fb) if f["kind"] == "rating"), None)
        correction = next((f for f in reversed(fb) if f["kind"] == "correction" and (f["text"] or "").strip()), None)
        prev = q(
            """
            select content from messages where conversation_id = ? and id < ? and role = 'user' and superseded = 0
            order by id desc limit 1
            """,
            [msg["conversation_id"], message_id],
        )
        rated = rating is not None and rating["value"] in (-1, 1)
        return NextState(
            message=Message.from_row(msg),
            prompt=prev[0]["content"] if prev else None,
            next_user=next_user,
            rating=rating["value"] if rated else None,
            rating_id=rating["id"] if rated else None,
            correction=correction["text"] if correction else None,
            correction_id=correction["id"] if correction else None,
        )

    def record_next_state(self, message_id: int) -> Sample | None:
        """Recompute the next state of an assistant reply and upsert its sample. Idempotent.

        Returns the sample row, or None when the reply has no next state (no row is made).
        A trained sample is never changed.
        """
        with self.store._tx() as db:  # noqa: SLF001 — one transaction: read, decide, write
            row = self.get(message_id)
            if row is not None and row.status == "trained":
                return row
            ns = self.next_state(message_id)
            if ns is None:
                return row
            msg = ns.message
            ts = now()
            base = {"message_id": message_id, "updated_at": ts, "prompt": ns.prompt}
            skip = None
            regenerated = msg.superseded and _regenerated(self.store, msg)
            # a regenerated reply's "next state" is the request for another one: what followed answered the new version
            next_user = None if regenerated else ns.next_user
            if msg.superseded and not regenerated:
                skip = "superseded (regenerated)"
            elif msg.interrupted:
                skip = "interrupted"
            elif not msg.content.strip():
                skip = "empty reply"
            has_signal = regenerated or next_user is not None or ns.rating is not None or ns.correction is not None
            if skip is None and not has_signal:
                if row is None:
                    return None
                skip = "no next state"
            if skip is not None:
                if row is not None and row.status == "skipped" and row.reason == skip:
                    return row
                fields = {**base, "status": "skipped", "reason": skip, "next_state": next_user}
                if row is None:
                    fields["created_at"] = ts
                db["samples"].upsert(fields, pk="message_id", alter=False)
                return self.get(message_id)

            # explicit reward: the newest of rating / correction wins
            explicit: tuple[int, str] | None = None
            if ns.rating is not None and (ns.correction_id is None or ns.rating_id > ns.correction_id):
                explicit = (ns.rating, "rating")
            elif ns.correction is not None:
                explicit = (-1, "correction")
            elif regenerated:
                explicit = (-1, "regenerate")

            same_next = row is not None and row.next_state == next_user
            judged_before = same_next and row.judge_reward is not None
            needs_judge = next_user is not None and ns.correction is None and not judged_before

            fields = {**base, "next_state": next_user, "correction": ns.correction}
            if not same_next:  # a new next state invalidates earlier judge output
                fields.update(votes=None, hint_votes=None, judge_reward=None, judge_mode=None, judged_at=None)
            if explicit is not None:
                fields["reward"], fields["reward_source"] = explicit
            elif same_next and row.reward_source == OVERRULE:  # the user overruled the judge: keep it
                fields["reward"], fields["reward_source"] = row.reward, OVERRULE
            elif judged_before:
                fields["reward"], fields["reward_source"] = row.judge_reward, "judge"
            else:
                fields["reward"], fields["reward_source"] = None, None
            # a correction's text is the directive signal; otherwise keep the judge's hint for this next state
            fields["hint"] = ns.correction if ns.correction is not None else (row.hint if judged_before else None)
            if needs_judge:
                fields["status"] = "waiting"
            else:
                fields["status"] = "judged"
                if not (row is not None and row.judged_at and same_next):
                    fields["judged_at"] = ts
            fields["reason"] = None
            if fields["status"] == "judged" and _cannot_tell(fields["reward"], fields["hint"]):
                fields["status"], fields["reason"] = "skipped", CANNOT_TELL
            if row is None:
                fields["created_at"] = ts
            elif all(getattr(row, k) == v for k, v in fields.items() if k != "updated_at"):
                return row
            db["samples"].upsert(fields, pk="message_id", alter=False)
        return self.get(message_id)

    def record_all(self) -> int:
        """Record every assistant reply that has a next state (e.g. after an import). Returns rows touched."""
        ids = [r["id"] for r in self.store._query("select id from messages where role = 'assistant' order by id")]  # noqa: SLF001
        return sum(1 for mid in ids if self.record_next_state(mid) is not None)

    # ------------------------------------------------------------------ writing
    def record_judgement(
        self,
        message_id: int,
        *,
        next_state: str | None,
        judge_reward: int,
        votes: list[Any],
        hint: str | None,
        hint_votes: list[Any],
        mode: str,
    ) -> bool:
        """Store the judge's votes, score and hint; waiting → judged.

        Refused (returns False) if the sample is no longer waiting for this very next
        state — e.g. the user rated or corrected it, or it was regenerated, while the
        judge was working. An explicit reward is kept; the judge's score goes to
        ``judge_reward`` either way.
        """
        if judge_reward not in (-1, 0, 1):
            raise ValueError("judge reward must be -1, 0 or +1")
        with self.store._tx() as db:  # noqa: SLF001
            row = self.get(message_id)
            if row is None or row.status != "waiting" or row.next_state != next_state:
                return False
            ts = now()
            fields: dict[str, Any] = {
                "status": "judged",
                "judge_reward": judge_reward,
                "judge_mode": mode,
                "votes": json.dumps(votes),
                "hint_votes": json.dumps(hint_votes),
                "judged_at": ts,
                "updated_at": ts,
            }
            if row.reward_source not in EXPLICIT:
                fields["reward"], fields["reward_source"] = judge_reward, "judge"
            if row.reward_source != "correction":
                fields["hint"] = hint
            final_reward = fields.get("reward", row.reward)
            if _cannot_tell(final_reward, fields.get("hint", row.hint)):
                fields["status"], fields["reason"] = "skipped", CANNOT_TELL
            db["samples"].update(message_id, fields)
        return True

    def overrule(self, message_id: int, reward: int) -> bool:
        """The user overrules the judge's verdict before it trains: the reward becomes theirs.

        Refused (False) for a trained sample, one without a judged next message, or one whose
        reward came from a rating or correction (those already are the user's own verdict).
        """
        if reward not in (-1, 0, 1):
            raise ValueError("reward must be -1, 0 or +1")
        with self.store._tx() as db:  # noqa: SLF001
            row = self.get(message_id)
            if row is None or row.status not in ("judged", "skipped") or row.reward_source in EXPLICIT:
                return False
            if row.judge_reward is None and row.reward_source != OVERRULE:
                return False
            fields: dict[str, Any] = {"reward": reward, "reward_source": OVERRULE, "updated_at": now(),
                                      "status": "judged", "reason": None}
            if _cannot_tell(reward, row.hint):
                fields["status"], fields["reason"] = "skipped", "overruled: can't tell"
            db["samples"].update(message_id, fields)
        return True

    def mark_skipped(self, message_id: int, reason: str) -> None:
        with self.store._tx() as db:  # noqa: SLF001
            row = self.get(message_id)
            if row is None or row.status == "trained":
                return
            db["samples"].update(message_id, {"status": "skipped", "reason": reason, "updated_at": now()})

    # ------------------------------------------------------------------ training
    def prompt_messages(self, message_id: int) -> list[dict[str, str]]:
        """System prompt + the thread before a reply, as the model saw it (corrections applied)."""
        q = self.store._query  # noqa: SLF001
        msg = q("select conversation_id from messages where id = ?", [message_id])
        if not msg:
            raise KeyError(message_id)
        cid = msg[0]["conversation_id"]
        conv = q("select system_prompt from conversations where id = ?", [cid])
        system = (conv[0]["system_prompt"] if conv else None) or self.default_system_prompt
        return model_context(system, self.store.messages(cid), before=message_id)

    def training_items(self, message_ids: Iterable[int]) -> list[TrainItem]:
        """Items for the trainer, one per usable judged sample, plus one per correction.

        Kind ``reply``: the model's own reply, reward/hint from the sample; kind ``correction``:
        the user's corrected text as a known-good reply (reward +1, no hint). Samples with
        reward 0/None and no hint are left out ("judge could not tell"), as are samples that
        are not judged (waiting, skipped, trained).

        A reply item also carries ``preference_ids``: the standing preferences that were in
        the reply's system context (recorded with it by the chat; empty when none).
        ``prompt_messages`` never holds them — it is the context without them, what the
        model will be asked once they leave the prompt; the learner builds the teacher
        context with them (services/training.py).
        """
        items: list[TrainItem] = []
        for mid in message_ids:
            row = self.get(mid)
            if row is None or row.status != "judged":
                continue
            reward = row.reward if row.reward in (-1, 1) else None
            hint = row.hint if row.hint and row.hint.strip() else None
            if reward is None and hint is None and not row.correction:
                continue
            reply = self.store.reply_text(mid)
            if reply is None:
                continue
            prompt = self.prompt_messages(mid)
            if reward is not None or hint is not None:
                items.append(TrainItem(prompt_messages=prompt, reply=reply, reward=reward, hint=hint, kind=REPLY,
                                       message_id=mid, preference_ids=tuple(self.preference_ids(mid))))
            if row.correction and row.correction.strip():
                items.append(_correction_item(mid, [dict(m) for m in prompt], row.correction))
        return items

    def preference_ids(self, message_id: int) -> list[int]:
        """The standing preferences recorded in a reply's context (its ``settings``), [] when none."""
        rows = self.store._query("select settings from messages where id = ?", [message_id])  # noqa: SLF001
        try:
            ids = json.loads(rows[0]["settings"] or "{}").get("preferences") if rows else None
        except (ValueError, AttributeError):
            return []
        return [int(i) for i in ids if isinstance(i, int) and not isinstance(i, bool)] if isinstance(ids, list) else []

    def recent_user_prompts(self, limit: int, max_chars: int = 1000) -> list[str]:
        """The ``limit`` newest distinct user messages (shown, not empty, at most ``max_chars``), newest first."""
        if limit <= 0:
            return []
        rows = self.store._query(  # noqa: SLF001
            """
            select content from messages where role = 'user' and superseded = 0 and trim(coalesce(content, '')) != ''
            and length(content) <= ? order by id desc limit ?
            """,
            [max_chars, 4 * limit],
        )
        out: list[str] = []
        for r in rows:
            text = r["content"].strip()
            if text not in out:
                out.append(text)
        return out[:limit]

    def recent_labeled_ids(self, limit: int) -> list[int]:
        """The newest ``limit`` judged or trained samples with reward ±1 (the promotion gate's held-out set)."""
        rows = self.store._query(  # noqa: SLF001
            "select message_id from samples where status in ('judged', 'trained') and reward in (1, -1) "
            "order by message_id desc limit ?", [limit])
        return [r["message_id"] for r in rows]

    def heldout_items(self, message_ids: Iterable[int]) -> list[TrainItem]:
        """Items to measure a version on, whatever the samples' status (the gate only reads them).

        Unlike :meth:`training_items`: trained samples count too, and a reply counts only by its
        reward (±1), never by a hint alone; a correction adds a +1 item as there.
        """
        out: list[TrainItem] = []
        for mid in message_ids:
            row = self.get(mid)
            if row is None:
                continue
            reward = row.reward if row.reward in (-1, 1) else None
            reply = self.store.reply_text(mid)
            if reply is None:
                continue
            prompt = self.prompt_messages(mid)
            if reward is not None:
                out.append(TrainItem(prompt_messages=prompt, reply=reply, reward=reward, message_id=mid))
            if row.correction:
                out.append(TrainItem(prompt_messages=prompt, reply=row.correction, reward=1, kind=CORRECTION,
                                     message_id=mid))
        return out

    def replay_correction_items(self, limit: int, exclude: Iterable[int] = ()) -> list[TrainItem]:
        """The ``limit`` most recent corrections already trained on, as correction items.

        Replaying them keeps what earlier updates learned from being washed out by
        later ones, the way the offline SFT arm revisits every correction each epoch.
        """
        if limit <= 0:
            return []
        skip = set(exclude)
        rows = self.store._query(  # noqa: SLF001
            """
            select message_id, correction from samples
            where status = 'trained' and correction is not null and trim(correction) != ''
            order by message_id desc limit ?
            """,
            [limit + len(skip)],
        )
        items = []
        for row in rows:
            if row["message_id"] in skip or len(items) >= limit:
                continue
            items.append(_correction_item(row["message_id"], self.prompt_messages(row["message_id"]), row["correction"]))
        return items


def _correction_item(message_id: int, prompt: list[dict[str, str]], corrected: str) -> TrainItem:
    """The user's corrected text as a known-good reply to the same prompt (reward +1, no hint)."""
    return TrainItem(prompt_messages=prompt, reply=corrected, reward=1, kind=CORRECTION, message_id=message_id)


def _regenerated(store: Store, msg: Message) -> bool:
    """True when a later version of this reply's answer exists (the user asked for another)."""
    if msg.reply_group is None:
        return False
    rows = store._query("select 1 from messages where reply_group = ? and id > ? limit 1", [msg.reply_group, msg.id])  # noqa: SLF001
    return bool(rows)


def _cannot_tell(reward: int | None, hint: str | None) -> bool:
    """Reward 0 (or none) and no hint: nothing to learn from this reply."""
    return reward not in (-1, 1) and not (hint and hint.strip())

