"""Events the services emit while they work. Plain dataclasses: the UI turns them into Textual messages."""

from __future__ import annotations

from dataclasses import dataclass

from openclaw_local.store.models import Message


@dataclass
class ReplyStarted:
    message: Message  # the assistant row, already in SQLite (empty, marked interrupted until finished)
    notice: str | None = None  # e.g. "2 oldest turns dropped to fit the context"


@dataclass
class ReplyDelta:
    message_id: int
    reply: str  # visible reply so far
    thinking: str  # Qwen3 thinking so far


@dataclass
class ReplyFinished:
    message: Message
    tokens_per_s: float
    finish_reason: str  # stop | length | cancelled | tool_calls
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: list | None = None  # OpenAI-shaped per-token logprobs, when asked for


@dataclass
class Judged:
    """A reply's sample got its final reward (+1/-1/0, None = not judgeable) and maybe a hint."""

    message_id: int
    reward: int | None
    hint: str | None
