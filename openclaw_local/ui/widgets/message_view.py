"""One message in the chat: a header line, dimmed collapsible thinking, the Markdown
body, and for a corrected reply the original behind a collapsible.

The header carries the reply's marks: rating (👍/👎), "corrected", "interrupted",
tokens/s, and a judgment slot (✓ / ✗ / ·) that the learner's judge fills in via
:meth:`MessageView.set_judgment`.
"""

from __future__ import annotations

from textual.markup import escape
from markdown_it import MarkdownIt
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Markdown, Static
from textual.widgets._collapsible import CollapsibleTitle

from openclaw_local.records import Message
from openclaw_local.verdicts import WORDS as JUDGE_WORDS

RATING_MARKS = {1: "👍", -1: "👎"}


def chat_markdown_parser() -> MarkdownIt:
    """GitHub-flavoured Markdown where a single newline is a line break, as chat text expects."""
    parser = MarkdownIt("gfm-like")
    parser.core.ruler.push("openclaw_hard_breaks", _soft_to_hard_breaks)
    return parser


def _soft_to_hard_breaks(state) -> None:
    for token in state.tokens:
        if token.type == "inline" and token.children:
            for child in token.children:
                if child.type == "softbreak":
                    child.type = "hardbreak"


ROLE_LABELS = {"user": "you", "assistant": "assistant", "system": "system"}


class MessageView(Vertical):
    DEFAULT_CSS = """
    MessageView {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        border-left: outer $background;
    }
    MessageView.-user { background: $boost; }
    MessageView.-assistant { border-left: outer $primary 30%; }
    MessageView.-selected { border-left: outer $accent; background: $accent 10%; }
    MessageView .header { height: 1; color: $text-muted; }
    MessageView .hint { color: $text-muted; text-style: italic; display: none; }
    MessageView .placeholder { color: $text-muted; text-style: italic; display: none; }
    MessageView .placeholder.-shown { display: block; }
    MessageView .hint.-shown { display: block; }
    MessageView Markdown { margin: 0; padding: 0; background: transparent; }
    MessageView Markdown > MarkdownParagraph:last-child { margin-bottom: 0; }
    MessageView Collapsible {
        background: transparent;
        border-top: none;
        padding: 0;
        margin: 0;
        display: none;
    }
    MessageView Collapsible.-shown { display: block; }
    MessageView Collapsible Contents { padding: 0 0 0 2; }
    MessageView .thinking { color: $text-muted; text-style: italic; }
    MessageView .original { color: $text-muted; }
    """

    def __init__(self, message: Message, *, streaming: bool = False) -> None:
        super().__init__(classes=f"-{message.role}")
        self.message = message
        self.streaming = streaming
        self.judgment: str = ""
        self.judgment_hint: str | None = None
        self.judgment_overruled = False
        self._header = Static("", classes="header", markup=True)
        self._thinking = Static("", classes="thinking", markup=False)
        self._thinking_box = Collapsible(self._thinking, title="thinking", collapsed=True, classes="thinking-box")
        self._body = Markdown("", parser_factory=chat_markdown_parser)
        self._original = Static("", classes="original", markup=False)
        self._original_box = Collapsible(self._original, title="original reply", collapsed=True, classes="original-box")
        self._hint = Static("", classes="hint", markup=False)
        self._placeholder = Static("", classes="placeholder", markup=False)

    # ------------------------------------------------------------ composition
    @property
    def message_id(self) -> int:
        return self.message.id

    @property
    def is_assistant(self) -> bool:
        return self.message.role == "assistant"

    def compose(self) -> ComposeResult:
        yield self._header
        yield self._thinking_box
        yield self._placeholder
        yield self._body
        yield self._original_box
        yield self._hint

    def on_mount(self) -> None:
        # The chat pane owns keyboard focus; the collapsibles toggle with t / o or the mouse.
        for title in self.query(CollapsibleTitle):
            title.can_focus = False
        self.set_message(self.message, streaming=self.streaming)

    # ---------------------------------------------------------------- updates
    def set_message(self, message: Message, *, streaming: bool = False) -> None:
        """Show a stored message (after loading, finishing, rating or correcting)."""
        self.message = message
        self.streaming = streaming
        self._show_thinking(message.thinking)
        self._set_body(message.shown_text)
        if message.correction is not None:
            self._original.update(message.content or "(empty)")
            self._original_box.add_class("-shown")
        else:
            self._original_box.remove_class("-shown")
        if message.judgment:
            self.set_judgment(message.judgment, message.judgment_hint, overruled=message.judgment_overruled)
        self._refresh_header()

    def update_stream(self, reply: str, thinking: str) -> None:
        """Live update while the reply streams (called at most ~10 times a second)."""
        self.streaming = True
        self.message.content = reply
        self.message.thinking = thinking
        self._show_thinking(thinking)
        self._set_body(reply)
        self._refresh_header()

    def set_rating(self, value: int) -> None:
        self.message.rating = value or None
        self._refresh_header()

    def set_judgment(self, mark: str, hint: str | None = None, *, overruled: bool = False) -> None:
        """The judge's mark on this reply: ✓ good, ✗ bad, · pending; hint shows under it.
        ``overruled``: the mark is the user's own verdict (j in reply mode), not the judge's."""
        self.judgment = mark or ""
        self.judgment_hint = hint
        self.judgment_overruled = overruled
        # A correction is its own hint: repeating it under the reply says nothing new.
        show = bool(hint) and hint != self.message.correction
        self._hint.update(f"judge's hint for training: {hint}" if show else "")
        self._hint.set_class(show, "-shown")
        self._refresh_header()

    def set_selected(self, selected: bool) -> None:
        self.set_class(selected, "-selected")

    def toggle_thinking(self) -> None:
        if self._thinking_box.has_class("-shown"):
            self._thinking_box.collapsed = not self._thinking_box.collapsed

    def toggle_original(self) -> None:
        if self._original_box.has_class("-shown"):
            self._original_box.collapsed = not self._original_box.collapsed

    # -------------------------------------------------------------- rendering
    @property
    def body_text(self) -> str:
        """The Markdown source currently shown as the body."""
        return self._body.source

    @property
    def original_text(self) -> str | None:
        return self.message.content if self._original_box.has_class("-shown") else None

    @property
    def thinking_shown(self) -> str:
        return self.message.thinking if self._thinking_box.has_class("-shown") else ""

    def header_text(self) -> str:
        """The header as plain text (what the header line shows)."""
        return " ".join(self._header_parts(markup=False))

    def _set_body(self, text: str) -> None:
        if text != self._body.source:
            self._body.update(text)
        empty = self.is_assistant and not text.strip()
        self._placeholder.set_class(empty, "-shown")
        self._body.display = not empty
        if empty:
            self._placeholder.update("…" if self.streaming else "(no reply text)")

    def _show_thinking(self, thinking: str) -> None:
        thinking = thinking.strip()
        self._thinking_box.set_class(bool(thinking), "-shown")
        if thinking:
            words = len(thinking.split())
            label = "thinking…" if self.streaming and not self.message.content else "thinking"
            self._thinking_box.title = f"{label} ({words} words)"
            self._thinking.update(thinking)

    def _header_parts(self, *, markup: bool) -> list[str]:
        m = self.message

        def style(text: str, tag: str) -> str:
            return f"[{tag}]{escape(text)}[/]" if markup else text

        parts = [style(ROLE_LABELS.get(m.role, m.role), "bold")]
        if m.role != "assistant":
            return parts
        if self.streaming:
            parts.append(style("● streaming", "$accent"))
        if m.versions > 1:
            parts.append(style(f"⟳ {m.version}/{m.versions}", "$accent"))
        if m.rating in RATING_MARKS:
            parts.append(RATING_MARKS[m.rating])
        if m.correction is not None:
            parts.append(style("✎ corrected", "$warning"))
        if m.interrupted and not self.streaming:
            parts.append(style("⏸ interrupted", "$error"))
        if self.judgment:
            words = JUDGE_WORDS.get(self.judgment, "")
            who = "judge overruled:" if self.judgment_overruled else "judge"
            parts.append(style(f"{who} {self.judgment} {words}".rstrip(), "$secondary"))
        if m.tokens_per_s and not self.streaming:
            parts.append(style(f"{m.tokens_per_s:.0f} tok/s", "dim"))
        if m.adapter_version is not None:
            parts.append(style(f"adapter v{m.adapter_version}", "dim"))
        return parts

    def _refresh_header(self) -> None:
        self._header.update(" ".join(self._header_parts(markup=True)))
