"""The message box: the home of keyboard focus. A multi-line TextArea where Enter sends.

Enter sends the text. ctrl+j inserts a newline in every terminal (it is the
line-feed control character); shift+enter also does in terminals that report it
(kitty keyboard protocol: kitty, WezTerm, foot, recent iTerm2/Ghostty) — most
others send shift+enter as a plain Enter, which sends.

↑ on the first line leaves the box for reply mode (the chat pane, where single
keys act on the selected reply); the app decides what that means.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import TextArea

from openclaw_local.ui.messages import MessageSubmitted, ReplyModeRequested

NEWLINE_KEYS = ("ctrl+j", "shift+enter")


class ChatInput(TextArea):
    DEFAULT_CSS = """
    ChatInput {
        height: auto;
        min-height: 3;
        max-height: 10;
        border: round $primary 50%;
        border-title-color: $text-muted;
        &:focus { border: round $primary; }
        &.-away { border: round $accent 60%; border-title-color: $accent; }
    }
    """

    # Documented here so the help screen, the footer and the README table are generated
    # from them; enter and ctrl+j are also caught in _on_key (before TextArea inserts a newline).
    BINDINGS = [
        Binding("enter", "submit", "Send", tooltip="send the message"),
        Binding("ctrl+j", "newline", "New line", show=False,
                tooltip="new line (works in every terminal; shift+enter too where the terminal reports it)"),
        Binding("up", "cursor_up", "Reply mode", tooltip="on the first line: select replies and act on them (reply mode)"),
    ]

    Submitted = MessageSubmitted  # kept for callers that know the old name

    HOME_TITLE = "message — enter: send · ctrl+j: new line · ↑/esc: reply mode · F1: help"
    AWAY_TITLE = "REPLY MODE — enter or esc: type here (keys act on the selected reply)"

    def show_reply_mode(self, active: bool) -> None:
        """Where the eyes are (the box) says when keys are commands, not text."""
        self.set_class(active, "-away")
        self.border_title = self.AWAY_TITLE if active else self.HOME_TITLE

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("soft_wrap", True)
        kwargs.setdefault("show_line_numbers", False)
        kwargs.setdefault("tab_behavior", "focus")
        kwargs.setdefault("placeholder", "Type a message · ↑ or esc: reply keys · F1: help")
        super().__init__(**kwargs)
        self.border_title = self.HOME_TITLE

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.submit()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        self.submit()

    def action_newline(self) -> None:
        start, end = self.selection
        self._replace_via_keyboard("\n", start, end)

    def action_cursor_up(self, select: bool = False) -> None:
        """↑ on the first line (without shift) hands focus to reply mode; elsewhere it moves the cursor."""
        if not select and self.navigator.is_first_wrapped_line(self.cursor_location):
            self.post_message(ReplyModeRequested())
            return
        super().action_cursor_up(select)

    def submit(self) -> None:
        """Post MessageSubmitted with the text; whitespace-only input is ignored (and kept)."""
        text = self.text
        if not text.strip():
            return
        self.post_message(MessageSubmitted(self, text))

    def type_text(self, text: str) -> None:
        """Insert text at the cursor (what a key typed elsewhere brings back here)."""
        start, end = self.selection
        self._replace_via_keyboard(text, start, end)
