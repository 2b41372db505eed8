"""Textual messages the app receives from outside the UI thread.

Services never import Textual; the app wraps their plain event dataclasses
(:mod:`openclaw_local.services.events`) in these messages: a reply's stream in the reply
worker, background events (the judge's verdicts, adapter swaps) in
:mod:`openclaw_local.ui.event_bridge`, its subscriber on the runtime's event bus. Any thread
may post them (``post_message`` is thread-safe)::

    app.post_message(LearningUpdate({"waiting": 3, "step": "2/8"}))
    app.post_message(JudgmentUpdate(message_id, "✓", "answered the question"))

or use the helpers ``app.post_learning_update(...)`` and ``app.post_judgment(...)``.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from openclaw_local.services.events import ReplyDelta, ReplyFinished, ReplyStarted


class ReplyStartedMessage(Message):
    """The assistant row exists in SQLite and tokens are about to stream."""

    def __init__(self, event: ReplyStarted) -> None:
        super().__init__()
        self.event = event


class ReplyDeltaMessage(Message):
    """The reply (and thinking) so far. Throttled by the worker, so at most ~10 a second."""

    def __init__(self, event: ReplyDelta) -> None:
        super().__init__()
        self.event = event


class ReplyFinishedMessage(Message):
    """The reply is complete (or was stopped); ``event.message`` is the stored row."""

    def __init__(self, event: ReplyFinished) -> None:
        super().__init__()
        self.event = event


class ReplyFailed(Message):
    """Generation raised; the error is shown and the app stays usable."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class LearningUpdate(Message):
    """New status-bar fields, e.g. ``{"waiting": 3, "judging": True, "step": "3/8",
    "loss": 0.41, "reward": 0.5, "adapter": "v3"}``. Merged into the current fields;
    a value of ``None`` removes a field."""

    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__()
        self.fields = dict(fields)


class JudgmentUpdate(Message):
    """The judge's verdict on one assistant reply: ``mark`` is ✓, ✗ or · (pending)."""

    def __init__(self, message_id: int, mark: str, hint: str | None = None) -> None:
        super().__init__()
        self.message_id = message_id
        self.mark = mark
        self.hint = hint


class NoticePosted(Message):
    """A toast from outside the UI thread (e.g. the adapter now served); shown with ``App.notify``."""

    def __init__(self, text: str, severity: str = "information", timeout: float | None = None) -> None:
        super().__init__()
        self.text = text
        self.severity = severity
        self.timeout = timeout


# --------------------------------------------------------------------- focus model
# Widgets talk to the app through these; the app moves focus and calls services.


class MessageSubmitted(Message):
    """The user pressed Enter on a non-empty message in the message box."""

    def __init__(self, chat_input: Any, text: str) -> None:
        super().__init__()
        self.chat_input = chat_input
        self.text = text

    @property
    def control(self) -> Any:
        return self.chat_input


class ReplyModeRequested(Message):
    """↑ on the first line (or esc) in the message box: go to reply mode."""


class TypingResumed(Message):
    """A key that is no command was typed outside the message box: go back there and type it.

    ``text`` is what to insert ("" for enter, which only moves focus)."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text


class ReplyDetailRequested(Message):
    """Show what the learner knows about one reply (judge, hint, training, adapter)."""

    def __init__(self, message_id: int) -> None:
        super().__init__()
        self.message_id = message_id


class DeleteChatRequested(Message):
    """Delete (and forget) a conversation, after the user confirms."""

    def __init__(self, conversation_id: int | None) -> None:
        super().__init__()
        self.conversation_id = conversation_id


class VersionStepRequested(Message):
    """Show the previous (-1) or next (+1) version of a regenerated reply in its place."""

    def __init__(self, message_id: int, step: int) -> None:
        super().__init__()
        self.message_id = message_id
        self.step = step


class OverruleRequested(Message):
    """"The judge got this wrong": let the user set the verdict on one reply."""

    def __init__(self, message_id: int) -> None:
        super().__init__()
        self.message_id = message_id


class ReplyModeChanged(Message):
    """The chat pane gained (``active``) or lost keyboard focus: the message box says so too."""

    def __init__(self, active: bool) -> None:
        super().__init__()
        self.active = active
