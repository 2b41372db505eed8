"""What every judge is: ``score`` (evaluative: +1 / -1 / 0 from the user's next message) and
``hint`` (directive: how the reply should have been different, or None), and ``judge`` for both.

One class per mode derives from :class:`Judge` (rules.py, prompted.py, learned.py); the table
of them is ``openclaw_local.judge.JUDGES``. Judges that call a model (``needs_engine``) do so
with ``background=True`` and let ``Preempted`` propagate: the caller retries later, so the
judge never delays the user. Nothing is stored by a judge.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

Votes = list[dict[str, Any]]


class JudgeEngine(Protocol):
    """The part of :class:`~openclaw_local.engine.Engine` the model-calling judges use."""

    def complete(self, messages: list[dict[str, str]], **kwargs: Any) -> str: ...

    def token_logprobs(self, messages: list[dict[str, str]], reply: str, *, background: bool = False) -> list[float]: ...


@dataclass
class Verdict:
    reward: int  # +1 / -1 / 0
    votes: Votes = field(default_factory=list)  # one entry per vote: raw output and parsed value
    hint: str | None = None
    hint_votes: Votes = field(default_factory=list)
    mode: str = ""


class Judge:
    """The evaluative + directive judge. Subclasses set ``mode`` and implement ``score`` and ``hint``.

    Every judge takes the same options (the composition root builds any mode the same way);
    a judge uses the ones that concern it: ``votes``, ``temperature``, ``seed`` and
    ``hint_votes`` / ``max_tokens`` / ``hint_max_tokens`` are for the model-voting judges,
    ``calibrate`` for the log-prob one.
    """

    mode: ClassVar[str] = ""
    needs_engine: ClassVar[bool] = False  # False: a model-free judge, no llama.cpp context is loaded for it

    def __init__(
        self,
        engine: JudgeEngine | None = None,
        *,
        votes: int = 3,
        temperature: float = 0.6,
        seed: int | None = None,
        calibrate: bool = True,
        hint_votes: int | None = None,
        max_tokens: int = 6,
        hint_max_tokens: int = 60,
    ):
        if self.needs_engine and engine is None:
            raise ValueError(f"judge mode {self.mode!r} needs an engine")
        self.engine = engine
        self.votes = max(1, votes)
        self.temperature = temperature
        self.seed = seed
        self.calibrate = calibrate
        self.hint_votes = self.votes if hint_votes is None else hint_votes
        self.max_tokens = max_tokens
        self.hint_max_tokens = hint_max_tokens
        self.cancel = threading.Event()  # set by the worker's stop(): ends a judge generation at its next token

    def score(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[int, Votes]:
        """(reward, votes) for a reply given its next state."""
        raise NotImplementedError

    def hint(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[str | None, Votes]:
        """(hint or None, hint votes)."""
        raise NotImplementedError

    def wants_hint(self, reward: int) -> bool:
        """Whether a reply with this reward gets a hint: not when it was clearly fine (+1: nothing to direct)."""
        return reward != 1

    def judge(self, reply: str, next_state: str, prompt: str | None = None) -> Verdict:
        """Score, then a hint when :meth:`wants_hint`."""
        reward, votes = self.score(reply, next_state, prompt)
        hint, hint_votes = self.hint(reply, next_state, prompt) if self.wants_hint(reward) else (None, [])
        return Verdict(reward=reward, votes=votes, hint=hint, hint_votes=hint_votes, mode=self.mode)
