"""The ``?`` screen: every key the app understands."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.markup import escape
from textual.widgets import Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Anywhere",
        [
            ("ctrl+n", "new chat"),
            ("ctrl+f  or  /", "search chats (/ only when not typing)"),
            ("tab / shift+tab", "move focus: sidebar → chat → message box"),
            ("esc", "stop the reply being generated (kept, marked interrupted)"),
            ("ctrl+c", "stop the reply while generating; otherwise copy the selection"),
            ("ctrl+l", "learn now: ask the background learner for an update"),
            ("ctrl+a", "adapters: what was learned, roll back, export, what changed"),
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


NOTES = [
    "Status bar: model · adapter · last reply's tokens/s · learner (waiting samples, judging, step, loss, reward).",
    "Reply marks: 👍/👎 your rating · ✎ corrected · ⏸ interrupted · judge ✓/✗/· the learner's verdict.",
]


def help_text(*, markup: bool = False) -> str:
    """Every key, one per line, grouped by where it works."""
    width = max(len(k) for _, keys in KEYS for k, _ in keys) + 2
    lines: list[str] = []
    for section, keys in KEYS:
        lines.append(f"[b $accent]{escape(section)}[/]" if markup else section)
        for key, does in keys:
            key_text = f"[b]{escape(key.ljust(width))}[/]" if markup else key.ljust(width)
            lines.append(f"  {key_text}{escape(does) if markup else does}")
        lines.append("")
    lines += [f"[dim]{escape(n)}[/]" if markup else n for n in NOTES]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100;
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
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "keys — esc closes"
            yield Static(help_text(markup=True), id="help")

    def action_close(self) -> None:
        self.dismiss(None)
