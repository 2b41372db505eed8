"""The "why ✓/✗" screen (i in reply mode): what the learner knows about one reply."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static


class ReplyDetailScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ReplyDetailScreen { align: center middle; }
    ReplyDetailScreen > VerticalScroll {
        width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; border-title-color: $accent; background: $surface; padding: 1 2;
    }
    ReplyDetailScreen #detail { width: 1fr; height: auto; }
    ReplyDetailScreen #legend { color: $text-muted; margin: 1 0 0 0; }
    """

    BINDINGS = [Binding("escape,q,i,enter", "close", "Close")]

    def __init__(self, lines: list[str], legend: str) -> None:
        super().__init__()
        self.lines = lines
        self.legend = legend

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "why this mark — esc closes"
            yield Static("\n".join(f"• {escape(line)}" for line in self.lines), id="detail")
            yield Static(escape(self.legend), id="legend")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def action_close(self) -> None:
        self.dismiss(None)
