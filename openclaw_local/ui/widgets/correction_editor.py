"""The inline editor for correcting an assistant reply: ctrl+s saves, esc cancels."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class CorrectionEditor(TextArea):
    DEFAULT_CSS = """
    CorrectionEditor {
        height: auto;
        min-height: 4;
        max-height: 20;
        border-title-color: $warning;
        &, &:focus { border: round $warning; }
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save correction", priority=True, tooltip="save the correction (the original is kept)"),
        Binding("escape", "cancel", "Cancel", priority=True, tooltip="cancel, nothing is saved"),
    ]

    class Saved(Message):
        def __init__(self, message_id: int, text: str) -> None:
            super().__init__()
            self.message_id = message_id
            self.text = text

    class Cancelled(Message):
        def __init__(self, message_id: int) -> None:
            super().__init__()
            self.message_id = message_id

    def __init__(self, message_id: int, text: str, **kwargs) -> None:
        kwargs.setdefault("soft_wrap", True)
        kwargs.setdefault("tab_behavior", "focus")
        super().__init__(text, **kwargs)
        self.message_id = message_id
        self.border_title = "correct the reply — ctrl+s: save · esc: cancel"

    def on_mount(self) -> None:
        self.move_cursor(self.document.end)

    def action_save(self) -> None:
        self.post_message(self.Saved(self.message_id, self.text))

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled(self.message_id))
