"""The TUI's subscriber on the services' event bus: background events in, Textual messages out.

The judge and the learner publish on their own threads; this turns each event into a message
posted to the app (``post_message`` is thread-safe and never blocks), so every screen update
still happens on the UI thread. The app subscribes while it runs (:meth:`OpenClawApp.on_mount`)
and unsubscribes when it closes; events published while no app runs are not shown — start-up
notices reach the app as ``start_notices`` instead.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from openclaw_local.services.events import AdapterSwapped, EventBus, Judged
from openclaw_local.ui.messages import NoticePosted
from openclaw_local.verdicts import mark as verdict_mark


class EventTarget(Protocol):
    """What the bridge posts to (the app; this module does not import it)."""

    is_running: bool

    def post_judgment(self, message_id: int, mark: str, hint: str | None) -> Any: ...

    def post_message(self, message: Any) -> Any: ...


def swap_notice(event: AdapterSwapped) -> NoticePosted:
    """What the chat says when the served adapter changes: the reason if it was not asked for."""
    if event.notice:
        return NoticePosted(event.notice, severity="warning")
    text = f"now serving adapter v{event.version}" if event.version else "now serving the base model"
    return NoticePosted(text, severity="information")


def forward(app: EventTarget, event: object) -> None:
    """Post ``event`` to ``app`` as the message that shows it (any thread; unknown events are ignored)."""
    if not app.is_running:
        return
    if isinstance(event, Judged):
        app.post_judgment(event.message_id, verdict_mark(event.reward), event.hint)
    elif isinstance(event, AdapterSwapped):
        app.post_message(swap_notice(event))


def connect(app: EventTarget, events: EventBus) -> Callable[[], None]:
    """Subscribe ``app`` to ``events``; returns the unsubscribe function."""
    return events.subscribe(lambda event: forward(app, event))
