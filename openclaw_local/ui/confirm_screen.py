"""A yes/no question before something that cannot be undone (deleting a chat)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 80; max-width: 95%; height: auto;
        border: round $error; border-title-color: $error; background: $surface; padding: 1 2;
    }
    ConfirmScreen #question { width: 1fr; height: auto; }
    ConfirmScreen #keys { color: $text-muted; margin: 1 0 0 0; }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes, delete"),
        Binding("n,escape", "answer(False)", "No, keep it"),
    ]

    def __init__(self, question: str, title: str = "delete for good?") -> None:
        super().__init__()
        self.question = question
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(escape(self.question), id="question")
            yield Static("y: yes, delete   ·   n or esc: no, keep it", id="keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
