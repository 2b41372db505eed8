"""The message box: a multi-line TextArea where Enter sends.

Enter sends the text. ctrl+j inserts a newline in every terminal (it is the
line-feed control character); shift+enter also does in terminals that report it
(kitty keyboard protocol: kitty, WezTerm, foot, recent iTerm2/Ghostty) — most
others send shift+enter as a plain Enter, which sends.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

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
    }
    """

    class Submitted(Message):
        """The user pressed Enter on a non-empty message."""

        def __init__(self, chat_input: "ChatInput", text: str) -> None:
            super().__init__()
            self.chat_input = chat_input
            self.text = text

        @property
        def control(self) -> "ChatInput":
            return self.chat_input

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("soft_wrap", True)
        kwargs.setdefault("show_line_numbers", False)
        kwargs.setdefault("tab_behavior", "focus")
        super().__init__(**kwargs)
        self.border_title = "message — enter: send · ctrl+j: new line · esc: stop"

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.submit()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        await super()._on_key(event)

    def submit(self) -> None:
        """Post Submitted with the text; whitespace-only input is ignored (and kept)."""
        text = self.text
        if not text.strip():
            return
        self.post_message(self.Submitted(self, text))
