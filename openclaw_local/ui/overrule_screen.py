"""The verdict picker (j in reply mode): "the judge got this wrong" — the user says what
their next message meant, and that verdict trains instead of the judge's."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

CHOICES = {1: "✓ accepted", -1: "✗ pushed back", 0: "· can't tell"}


class OverruleScreen(ModalScreen[int | None]):
    DEFAULT_CSS = """
    OverruleScreen { align: center middle; }
    OverruleScreen > Vertical {
        width: 80; max-width: 95%; height: auto;
        border: round $secondary; border-title-color: $secondary; background: $surface; padding: 1 2;
    }
    OverruleScreen #question { width: 1fr; height: auto; }
    OverruleScreen #choices { margin: 1 0 0 0; }
    """

    BINDINGS = [
        Binding("plus", "choose(1)", "✓ accepted", tooltip="you accepted the reply: it will be reinforced"),
        Binding("minus", "choose(-1)", "✗ pushed back", tooltip="you pushed back: it will be discouraged"),
        Binding("0", "choose(0)", "· can't tell", tooltip="can't tell: it is not trained on"),
        Binding("escape", "choose(None)", "Keep", tooltip="keep the verdict as it is"),
    ]

    def __init__(self, judge: int | None, current: int | None, note: str | None = None) -> None:
        super().__init__()
        self.judge = judge
        self.current = current
        self.note = note

    def compose(self) -> ComposeResult:
        judged = CHOICES.get(self.judge, "nothing") if self.judge is not None else "nothing yet"
        question = f"The judge read your next message as {judged}. What did you mean?"
        if self.current != self.judge and self.current is not None:
            question += f" (You said {CHOICES[self.current]}.)"
        if self.note:
            question += " " + self.note
        lines = [f"{key}  {CHOICES[v]}" + ("   ← now" if v == self.current else "")
                 for key, v in (("+", 1), ("-", -1), ("0", 0))]
        with Vertical() as box:
            box.border_title = "the judge got this wrong? — esc keeps it"
            yield Static(escape(question), id="question")
            yield Static(escape("\n".join(lines)), id="choices")

    def action_choose(self, value: int | None) -> None:
        self.dismiss(value)
