"""The ``?`` screen: every key the app understands."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Anywhere",
        [
            ("ctrl+n", "new chat"),
            ("ctrl+f  or  /", "search chats (/ only when not typing)"),
            ("tab / shift+tab", "move focus: sidebar → chat → message box"),
            ("esc", "stop the reply being generated (the partial reply is kept, marked interrupted)"),
            ("ctrl+c", "stop the reply while generating; otherwise copy the selection"),
            ("?", "this help (when not typing)"),
            ("ctrl+q", "quit"),
        ],
    ),
    (
        "Message box",
        [
            ("enter", "send"),
            ("ctrl+j", "new line (works in every terminal)"),
            ("shift+enter", "new line, in terminals that report it (kitty, WezTerm, foot, Ghostty)"),
        ],
    ),
    (
        "Chat pane",
        [
            ("↑ / k,  ↓ / j", "select the previous / next reply"),
            ("+", "thumbs up the selected reply (again: clear)"),
            ("-", "thumbs down the selected reply (again: clear)"),
            ("e", "correct the selected reply in place"),
            ("r", "regenerate the selected reply (the old one is kept, superseded)"),
            ("t", "show / hide the reply's thinking"),
            ("o", "show / hide the original of a corrected reply"),
            ("pgup / pgdn", "scroll"),
        ],
    ),
    (
        "Correction editor",
        [
            ("ctrl+s", "save the correction"),
            ("esc", "cancel"),
        ],
    ),
    (
        "Sidebar",
        [
            ("↑ / ↓, enter", "pick a chat and open it"),
            ("enter in search", "open the first match"),
        ],
    ),
]


def help_markdown() -> str:
    lines = ["# Keys", ""]
    for section, keys in KEYS:
        lines += [f"## {section}", "", "| key | does |", "|---|---|"]
        lines += [f"| `{k}` | {d} |" for k, d in keys]
        lines.append("")
    lines.append("Status bar: model · adapter · last reply's tokens/s · learner (waiting samples, judging, step, loss, reward).")
    lines.append("")
    lines.append("Reply marks: 👍/👎 your rating · ✎ corrected · ⏸ interrupted · judge ✓/✗/· the learner's verdict.")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90;
        max-width: 95%;
        height: 90%;
        border: round $accent;
        border-title-color: $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "help — esc closes"
            yield Markdown(help_markdown(), id="help")

    def action_close(self) -> None:
        self.dismiss(None)
