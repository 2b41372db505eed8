"""The chat pane: the conversation's messages, a selected reply, and the keys that
act on it (rate, correct, regenerate). It posts messages; the app does the work."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TMessage
from textual.widgets import Static

from openclaw_local.store.models import Message
from openclaw_local.ui.widgets.correction_editor import CorrectionEditor
from openclaw_local.ui.widgets.message_view import MessageView


class ChatView(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    ChatView {
        height: 1fr;
        padding: 0 1;
        border: round $panel;
        border-title-color: $text-muted;
        &:focus { border: round $accent; }
    }
    ChatView .notice { color: $warning; text-style: italic; margin: 0 0 1 0; }
    ChatView .empty { color: $text-muted; text-style: italic; padding: 1 2; }
    """

    BINDINGS = [
        Binding("up,k", "select(-1)", "Previous reply", show=False),
        Binding("down,j", "select(1)", "Next reply", show=False),
        Binding("plus", "rate(1)", "👍", show=False),
        Binding("minus", "rate(-1)", "👎", show=False),
        Binding("e", "correct", "Correct", show=False),
        Binding("r", "regenerate", "Regenerate", show=False),
        Binding("t", "toggle_thinking", "Thinking", show=False),
        Binding("o", "toggle_original", "Original", show=False),
    ]

    class RateRequested(TMessage):
        """Rate a reply: +1, -1, or 0 to clear (pressing the same key again)."""

        def __init__(self, message_id: int, value: int) -> None:
            super().__init__()
            self.message_id = message_id
            self.value = value

    class RegenerateRequested(TMessage):
        def __init__(self, message_id: int) -> None:
            super().__init__()
            self.message_id = message_id

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "chat — ↑↓/jk select · +/- rate · e correct · r regenerate · ? help"
        self.selected: MessageView | None = None
        self.streaming_id: int | None = None  # the reply being generated, locked against edits
        self.editor: CorrectionEditor | None = None

    # --------------------------------------------------------------- contents
    @property
    def views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))

    @property
    def replies(self) -> list[MessageView]:
        return [v for v in self.views if v.is_assistant]

    def view_for(self, message_id: int) -> MessageView | None:
        for v in self.views:
            if v.message.id == message_id:
                return v
        return None

    async def load(self, messages: list[Message]) -> None:
        """Show a whole conversation, selecting its last reply."""
        self.editor = None
        self.selected = None
        await self.remove_children()
        views = [MessageView(m) for m in messages if m.role in ("user", "assistant")]
        if views:
            await self.mount_all(views)
        else:
            await self.mount(Static("New chat. Type a message below and press Enter.", classes="empty"))
        self._select(self.replies[-1] if self.replies else None)
        self.scroll_end(animate=False, immediate=False)

    async def add_message(self, message: Message, *, streaming: bool = False) -> MessageView:
        for placeholder in self.query_children(".empty"):
            await placeholder.remove()
        view = MessageView(message, streaming=streaming)
        await self.mount(view)
        if view.is_assistant:
            self._select(view)
        self.scroll_end(animate=False)
        return view

    async def add_notice(self, text: str) -> None:
        await self.mount(Static(f"⚠ {text}", classes="notice", markup=False))
        self.scroll_end(animate=False)

    async def remove_from(self, message_id: int) -> None:
        """Drop a reply and everything after it (regenerate supersedes them)."""
        view = self.view_for(message_id)
        if view is None:
            return
        children = list(self.children)
        doomed = children[children.index(view):]
        if self.selected in doomed:
            self.selected = None
        if self.editor is not None and any(self.editor in d.children for d in doomed):
            self.editor = None
        await self.remove_children(doomed)

    def update_stream(self, message_id: int, reply: str, thinking: str) -> None:
        view = self.view_for(message_id)
        if view is None:
            return
        at_end = self.scroll_y >= self.max_scroll_y - 2
        view.update_stream(reply, thinking)
        if at_end:
            self.call_after_refresh(self.scroll_end, animate=False)

    def finish(self, message: Message) -> None:
        view = self.view_for(message.id)
        if view is not None:
            view.set_message(message)
            if self.selected is view:
                self.call_after_refresh(self.scroll_end, animate=False)

    # -------------------------------------------------------------- selection
    def _select(self, view: MessageView | None) -> None:
        if self.selected is not None and self.selected.is_attached:
            self.selected.set_selected(False)
        self.selected = view
        if view is not None:
            view.set_selected(True)

    def target(self) -> MessageView | None:
        """The reply actions apply to: the selected one, else the last."""
        if self.selected is not None and self.selected.is_attached:
            return self.selected
        replies = self.replies
        return replies[-1] if replies else None

    def action_select(self, step: int) -> None:
        replies = self.replies
        if not replies:
            return
        current = self.target()
        i = replies.index(current) if current in replies else len(replies) - 1
        i = max(0, min(len(replies) - 1, i + step))
        self._select(replies[i])
        self.scroll_to_widget(replies[i], animate=False, top=replies[i].outer_size.height > self.size.height)

    # ---------------------------------------------------------------- actions
    def _actionable(self, verb: str) -> MessageView | None:
        view = self.target()
        if view is None:
            self.app.notify("There is no reply to " + verb + " yet.", severity="warning")
            return None
        if view.message.id == self.streaming_id:
            self.app.notify(f"Wait for the reply to finish (or press esc) before you {verb} it.", severity="warning")
            return None
        return view

    def action_rate(self, value: int) -> None:
        view = self._actionable("rate")
        if view is None:
            return
        new = 0 if view.message.rating == value else value
        self.post_message(self.RateRequested(view.message.id, new))

    def action_regenerate(self) -> None:
        view = self._actionable("regenerate")
        if view is not None:
            self.post_message(self.RegenerateRequested(view.message.id))

    def action_toggle_thinking(self) -> None:
        if (view := self.target()) is not None:
            view.toggle_thinking()

    def action_toggle_original(self) -> None:
        if (view := self.target()) is not None:
            view.toggle_original()

    async def action_correct(self) -> None:
        view = self._actionable("correct")
        if view is None:
            return
        if self.editor is not None:
            self.editor.focus()
            return
        self.editor = CorrectionEditor(view.message.id, view.message.shown_text)
        await view.mount(self.editor)
        self.editor.focus()
        self.editor.scroll_visible(animate=False)

    async def close_editor(self) -> None:
        if self.editor is not None:
            editor, self.editor = self.editor, None
            await editor.remove()
        self.focus()
