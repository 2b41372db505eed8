"""The typed records that travel from the store up through services, learn and the UI.

A leaf module: it imports nothing from openclaw_local (tests/test_import_direction.py checks),
so any layer may use these types without depending on the store, SQLite or Textual.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable


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
