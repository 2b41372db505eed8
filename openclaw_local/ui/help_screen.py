"""The help screen (F1, or ``?`` when not typing): every key, generated from the bindings of the
places the app hands it (``HelpScreen(places=key_places())``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from openclaw_local.ui.keys import Places, help_text


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 110;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: round $accent;
        border-title-color: $accent;
        background: $surface;
        padding: 1 2;
    }
    HelpScreen #help { width: 1fr; height: auto; }
    """

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close"),
    ]

    def __init__(self, places: Places, **kwargs) -> None:
        super().__init__(**kwargs)
        self.places = places

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "keys — esc closes"
            # the box is 110 columns or 95 % of the screen
            width = min(110, int(self.app.size.width * 0.95)) - 9  # border, padding, scrollbar
            yield Static(help_text(self.places, markup=True, width=width), id="help")

    def action_close(self) -> None:
        self.dismiss(None)
