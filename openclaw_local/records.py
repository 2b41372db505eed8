"""The typed records that travel from the store up through services, learn and the UI.

Chat: :class:`Conversation`, :class:`Message`, :class:`Feedback`, :class:`Preference`.
Learning: :class:`Sample` (one row of the ``samples`` table), what the judge reads of a waiting
one (:class:`WaitingReply`) and what followed a reply (:class:`NextState`); :class:`TrainItem`,
the one item type the store hands the trainer and the promotion gate; :class:`AdapterVersion`;
the learner process's live state (:class:`LearnerState`, its phase a :class:`LearnerPhase`) and
the "learn now" requests it answers (:class:`LearnRequest`).

A leaf module: it imports nothing from openclaw_local (tests/test_import_direction.py checks),
so any layer may use these types without depending on the store, SQLite, torch or Textual.
The store turns its rows into these records (each ``from_row``); nothing above it reads a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Mapping


@dataclass
class Conversation:
    id: int
    title: str
    created_at: str
    updated_at: str
    system_prompt: str | None = None
    source: str | None = None  # the API client it came from; None = the terminal chat
    session_key: str | None = None  # the session id an API client named, if any


@dataclass
class Feedback:
    id: int
    message_id: int
    kind: str  # rating | correction
    value: int | None
    text: str | None
    original: str | None
    created_at: str


@dataclass
class Message:
    id: int
    conversation_id: int
    role: str
    content: str
    created_at: str
    thinking: str = ""
    model: str | None = None
    adapter_version: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    superseded: bool = False
    n_tokens: int | None = None
    tokens_per_s: float | None = None
    rating: int | None = None  # latest rating, if any
    correction: str | None = None  # latest corrected text, if any
    judgment: str | None = None  # the learner's verdict on a reply: ✓ (+1), ✗ (-1), · (can't tell)
    judgment_hint: str | None = None  # the directive signal (judge hint or correction)
    judgment_overruled: bool = False  # the verdict is the user's: they overruled the judge
    tool_info: dict[str, Any] = field(default_factory=dict)  # API tool use: {"tool_calls": [...]} or {"tool_call_id": ...}
    reply_group: int | None = None  # the first version's id, on every version of a regenerated reply
    version: int = 1  # which version of this answer it is (1-based, oldest first)
    versions: int = 1  # how many versions the answer has (regenerations + 1)

    @property
    def group_id(self) -> int:
        return self.reply_group if self.reply_group is not None else self.id

    @property
    def shown_text(self) -> str:
        """What the user sees (and what is fed back as context): the correction wins."""
        return self.correction if self.correction is not None else self.content

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Message":
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            role=row["role"],
            content=row["content"] or "",
            created_at=row["created_at"],
            thinking=row.get("thinking") or "",
            model=row.get("model"),
            adapter_version=row.get("adapter_version"),
            settings=json.loads(row["settings"]) if row.get("settings") else {},
            interrupted=bool(row.get("interrupted")),
            superseded=bool(row.get("superseded")),
            n_tokens=row.get("n_tokens"),
            tokens_per_s=row.get("tokens_per_s"),
            tool_info=json.loads(row["tool_info"]) if row.get("tool_info") else {},
            reply_group=row.get("reply_group"),
        )


GGUF_NAME = "adapter.gguf"
# the version's adapter merged into the base weights, served instead of base + adapter where present
MERGED_NAME = "merged.gguf"


@dataclass
class AdapterVersion:
    id: int
    parent_id: int | None
    created_at: str
    path: Path  # absolute: the store resolves the data-dir-relative path it keeps against its own data dir
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

    @property
    def merged_path(self) -> Path:
        return Path(self.path) / MERGED_NAME

    @classmethod
    def from_row(cls, r: dict[str, Any], home: Path | None = None) -> "AdapterVersion":
        """A row as stored; a relative ``path`` (the data dir's own files) is resolved against ``home``."""
        path = Path(r["path"] or "")
        if home is not None and not path.is_absolute():
            path = Path(home) / path
        return cls(
            id=r["id"], parent_id=r["parent_id"], created_at=r["created_at"], path=path, status=r["status"],
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


def model_context(system_prompt: str, messages: Iterable[Message], *, before: int | None = None) -> list[dict[str, str]]:
    """The prompt as the model sees it: the system prompt, then the thread's user and assistant
    messages (corrections applied, empty replies left out), up to the message with id ``before``.

    The one definition for both the chat's next reply and a training sample's prompt, so a
    sample is trained on exactly the context its reply was generated from.
    """
    out = [{"role": "system", "content": system_prompt}]
    for m in messages:
        if before is not None and m.id >= before:
            break
        if m.role in ("user", "assistant") and (m.shown_text or m.role == "user"):
            out.append({"role": m.role, "content": m.shown_text})
    return out


PREFERENCE_STATUSES = ("active", "paused", "learned", "candidate")


@dataclass
class Preference:
    """A standing preference: an instruction the user wants followed in every reply.

    ``candidate``: a one-off request seen once, not kept yet (a second sighting makes it
    ``active``); ``paused``: kept but not applied (``needs_confirmation`` when it came
    through the endpoint and waits for the user); ``learned``: absorbed by an adapter version.
    """

    id: int
    text: str
    status: str
    created_at: str
    updated_at: str
    origin: str  # tui | cli | endpoint:<client> | judge
    times_seen: int = 1
    source_message_id: int | None = None
    source_text: str | None = None
    needs_confirmation: bool = False
    absorbed_version: int | None = None
    last_message_id: int | None = None  # the last user message counted in times_seen (counted once)

    @property
    def applied(self) -> bool:
        return self.status == "active"

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "Preference":
        return cls(
            id=r["id"], text=r["text"], status=r["status"], created_at=r["created_at"], updated_at=r["updated_at"],
            origin=r["origin"], times_seen=int(r.get("times_seen") or 1), source_message_id=r.get("source_message_id"),
            source_text=r.get("source_text"), needs_confirmation=bool(r.get("needs_confirmation")),
            absorbed_version=r.get("absorbed_version"), last_message_id=r.get("last_message_id"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "status": self.status, "origin": self.origin,
                "times_seen": self.times_seen, "source_message_id": self.source_message_id,
                "source_text": self.source_text, "needs_confirmation": self.needs_confirmation,
                "absorbed_version": self.absorbed_version, "created_at": self.created_at, "updated_at": self.updated_at}


# --------------------------------------------------------------------------- learning samples


def _json_value(text: str | None) -> Any:
    """A JSON column's value; an unreadable one is kept as its text (exported, never lost)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Sample:
    """One row of the ``samples`` table, decoded (store/samples.py tells a sample's life).

    ``status``: waiting | judged | trained | skipped; ``reward_source``: rating | correction |
    regenerate | judge | overrule. ``votes`` and ``hint_votes`` are the judge's stored JSON, read
    back as Python values.
    """

    message_id: int  # the assistant reply this sample trains
    status: str
    reason: str | None = None  # why skipped
    prompt: str | None = None  # the user message the reply answered
    next_state: str | None = None  # the user's following message, if any
    reward: int | None = None  # the final evaluative score: +1, -1, 0
    reward_source: str | None = None
    judge_reward: int | None = None  # the judge's own score, kept apart from an explicit reward
    judge_mode: str | None = None
    votes: list[Any] | None = None
    hint: str | None = None  # the directive signal: the judge's hint or the correction's text
    hint_votes: list[Any] | None = None
    correction: str | None = None  # the user's corrected text: a known-good reply to the prompt
    trained_version: int | None = None
    gate_retries: int = 0  # updates with this sample the promotion gate refused
    gate_refusal: str | None = None  # the last refusal's reason
    created_at: str | None = None
    judged_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> "Sample":
        return cls(
            message_id=r["message_id"], status=r["status"], reason=r.get("reason"), prompt=r.get("prompt"),
            next_state=r.get("next_state"), reward=r.get("reward"), reward_source=r.get("reward_source"),
            judge_reward=r.get("judge_reward"), judge_mode=r.get("judge_mode"), votes=_json_value(r.get("votes")),
            hint=r.get("hint"), hint_votes=_json_value(r.get("hint_votes")), correction=r.get("correction"),
            trained_version=r.get("trained_version"), gate_retries=int(r.get("gate_retries") or 0),
            gate_refusal=r.get("gate_refusal"), created_at=r.get("created_at"), judged_at=r.get("judged_at"),
            updated_at=r.get("updated_at"),
        )


@dataclass(frozen=True)
class WaitingReply:
    """A sample waiting for the judge, with what the judge reads."""

    message_id: int
    reply: str  # the model's own reply (not a correction)
    next_state: str | None  # the user's following message
    prompt: str | None = None  # the user message the reply answered


@dataclass(frozen=True)
class NextState:
    """What happened after an assistant reply, read from SQLite (``SampleStore.next_state``)."""

    message: Message  # the reply as stored
    prompt: str | None  # the user message it answered
    next_user: str | None  # the following user message in the thread (None: none yet, or empty)
    rating: int | None  # the latest rating, ±1
    rating_id: int | None
    correction: str | None  # the latest non-empty correction's text
    correction_id: int | None


@dataclass(frozen=True)
class JudgeAgreement:
    """How often the judge's own score matched the user's explicit thumbs, where both exist."""

    n: int
    agree: int
    accuracy: float | None  # None when there is nothing to compare


# Kinds of training item. A preference item (learn/absorption.py) is a third: no reward, a teacher context.
REPLY = "reply"  # the model's own reply, with its reward and hint
CORRECTION = "correction"  # a known-good reply (the user's corrected text, a rehearsal answer): reward +1


@dataclass(frozen=True)
class TrainItem:
    """One item of a learning update (learn/trainer.py) or of the promotion gate's held-out set.

    ``reward`` is +1/-1 (None or 0: none); ``hint`` is the directive text. A user correction is
    its own item: the corrected text as ``reply``, ``reward=+1``, kind ``correction`` (also
    imitated directly, the trainer's ``w_sft``).

    ``teacher_messages``: a teacher context other than the student's (``prompt_messages``),
    e.g. the same prompt with the standing preferences in its system message. An item with
    one gets the OPD term even without a hint (the hint, if any, is added to it); the student
    is always scored on ``prompt_messages`` alone.

    ``message_id``: the reply it came from (None: made by the learner, e.g. rehearsal);
    ``preference_ids``: the standing preferences that were in that reply's system context —
    never in ``prompt_messages``, which is the context without them (services/training.py
    builds the teacher context with them).
    """

    prompt_messages: list[dict[str, str]]
    reply: str
    reward: int | None = None
    hint: str | None = None
    kind: str = REPLY
    teacher_messages: list[dict[str, str]] | None = None
    message_id: int | None = None
    preference_ids: tuple[int, ...] = ()
    # False: a token limit cut the reply, so it is trained with no end-of-turn marker after it
    # (else the update would teach stopping where the text was merely cut off)
    ended: bool = True

    @property
    def is_correction(self) -> bool:
        return self.kind == CORRECTION

    @property
    def has_reward(self) -> bool:
        return self.reward is not None and self.reward != 0

    @property
    def has_hint(self) -> bool:
        return bool(self.hint and self.hint.strip())

    @property
    def has_teacher(self) -> bool:
        """Trained towards a teacher context (OPD): a hint, or a teacher context of its own."""
        return self.has_hint or self.teacher_messages is not None


# ------------------------------------------------------------------------- the learner process


class LearnerPhase(str, Enum):
    """What the learner process is doing: the ``state`` it writes to ``learner_state``.

    The members' values are the words the status bar shows."""

    IDLE = "idle"  # waiting for enough samples or a "learn now"
    LOADING = "loading"  # loading the trainable model (and the active version)
    PREPARING_MODEL = "preparing model"  # first-time conversion of the served GGUF (the note says which step)
    GATING = "gating"  # measuring the parent, then the candidate, for the promotion gate
    DISTILLING_PREFERENCES = "distilling preferences"  # the standing preferences' own replies, to teach them
    TRAINING = "training"  # LoRA steps: step/total
    REPAIRING = "repairing"  # a refused candidate moved back towards its parent until it passes
    PUBLISHING = "publishing"  # writing the version's files and registering it
    MEASURING_PREFERENCES = "measuring preferences"  # which preferences the served version absorbed
    PREPARING_REHEARSAL = "preparing rehearsal answers"  # the base model's answers, once, after a first update
    PAUSED = "paused"  # not enough memory for an update: tried again later (the error says why)
    ERROR = "error"  # the last update failed (the error says how); tried again
    STOPPED = "stopped"  # the process ended

    def __str__(self) -> str:  # the word, in f-strings too, on every Python version
        return self.value

    @property
    def busy(self) -> bool:
        """Working on an update (or waiting to start one again): anything but idle, stopped or failed."""
        return self not in (LearnerPhase.IDLE, LearnerPhase.STOPPED, LearnerPhase.ERROR)

    def label(self, note: str | None = None) -> str:
        """The phase as shown, with its note: ``preparing model: writing tokenizer``."""
        return f"{self.value}: {note}" if note else self.value

    @classmethod
    def parse(cls, text: str | None) -> tuple["LearnerPhase", str | None]:
        """(phase, note) from :meth:`label`'s text (None or empty: idle). Raises ValueError on a text no phase begins."""
        if not text:
            return cls.IDLE, None
        word, sep, note = text.partition(": ")
        return cls(word), (note if sep else None)


@dataclass(frozen=True)
class LearnerState:
    """The learner process's live state (the one ``learner_state`` row), read by the status bar,
    ``learn --once`` and the simulator. Without a row: idle."""

    phase: LearnerPhase = LearnerPhase.IDLE
    note: str | None = None  # the phase's free part: which step of the first-time conversion
    detail: str | None = None  # how the process runs: its CPU priority, whether it pauses for chat
    step: int = 0
    total: int = 0
    loss: float | None = None  # of the last finished update
    mean_reward: float | None = None
    last_version: int | None = None
    pid: int | None = None
    error: str | None = None
    updated_at: str | None = None

    @property
    def busy(self) -> bool:
        return self.phase.busy

    @property
    def label(self) -> str:
        return self.phase.label(self.note)

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> "LearnerState":
        phase, note = LearnerPhase.parse(r.get("state"))
        return cls(phase=phase, note=note, detail=r.get("detail"), step=int(r.get("step") or 0),
                   total=int(r.get("total") or 0), loss=r.get("loss"), mean_reward=r.get("mean_reward"),
                   last_version=r.get("last_version"), pid=r.get("pid"), error=r.get("error"),
                   updated_at=r.get("updated_at"))


@dataclass(frozen=True)
class LearnRequest:
    """A "learn now" request: the chat or the CLI makes it, the learner takes and answers it."""

    id: int
    created_at: str
    taken_at: str | None = None
    done_at: str | None = None
    result: str | None = None  # "published v3 (active)", "nothing to learn", "error: …"

    @property
    def taken(self) -> bool:
        return bool(self.taken_at)

    @property
    def done(self) -> bool:
        return bool(self.done_at)

    @property
    def failed(self) -> bool:
        return (self.result or "").startswith("error")

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> "LearnRequest":
        return cls(id=r["id"], created_at=r["created_at"], taken_at=r.get("taken_at"), done_at=r.get("done_at"),
                   result=r.get("result"))
