"""Events the services emit while they work, and the bus that carries the background ones.

Every event is a frozen dataclass defined here; services never import Textual or HTTP code.
Two ways they travel:

- a reply's stream (``ReplyStarted`` → ``ReplyDelta``… → ``ReplyFinished``) goes to the
  ``emit`` callable of the one caller that asked for it (the TUI's reply worker, an HTTP request);
- background events (``Judged``, ``AdapterSwapped``) are published on the runtime's
  :class:`EventBus`, where any number of front-ends subscribe (the TUI through
  ``ui/event_bridge.py``; the endpoint or a CLI could subscribe the same way).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from openclaw_local.records import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyStarted:
    message: Message  # the assistant row, already in SQLite (empty, marked interrupted until finished)
    notice: str | None = None  # e.g. "2 oldest turns dropped to fit the context"


@dataclass(frozen=True)
class ReplyDelta:
    message_id: int
    reply: str  # visible reply so far
    thinking: str  # Qwen3 thinking so far


@dataclass(frozen=True)
class ReplyFinished:
    message: Message
    tokens_per_s: float
    finish_reason: str  # stop | length | cancelled | tool_calls
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: list | None = None  # OpenAI-shaped per-token logprobs, when asked for


@dataclass(frozen=True)
class Judged:
    """A reply's sample got its final reward (+1/-1/0, None = not judgeable) and maybe a hint."""

    message_id: int
    reward: int | None
    hint: str | None


@dataclass(frozen=True)
class AdapterSwapped:
    """The engine now serves ``version`` (None = the base model) after ``seconds`` of swapping;
    ``notice`` says why when it is not the version that was asked for (broken, other base model)."""

    version: int | None
    seconds: float
    notice: str | None = None


Subscriber = Callable[[object], None]


class EventBus:
    """Publish an event to every subscriber, in the publisher's thread.

    Thread-safe: subscribe, unsubscribe and publish may happen on any thread, also from inside a
    subscriber. A subscriber must not block (a UI posts a message and returns). One that raises
    is logged and skipped: neither the other subscribers nor the publisher (the judge, the
    learner's follower thread) see the error.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: tuple[tuple[object, Subscriber], ...] = ()  # (token, fn): one fn may subscribe twice

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(event)`` for every event published from now on; returns the unsubscribe function."""
        token = object()
        with self._lock:
            self._subscriptions = (*self._subscriptions, (token, fn))

        def unsubscribe() -> None:  # ends this subscription only; a second call is harmless
            with self._lock:
                self._subscriptions = tuple(sub for sub in self._subscriptions if sub[0] is not token)

        return unsubscribe

    def publish(self, event: object) -> None:
        """Give ``event`` to every subscriber, in the order they subscribed; never raises."""
        subscriptions = self._subscriptions  # a snapshot: (un)subscribing meanwhile never skips or repeats one
        for _, fn in subscriptions:
            try:
                fn(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", fn, type(event).__name__)

    def __len__(self) -> int:
        return len(self._subscriptions)
