"""The chat pane: the conversation's messages, a selected reply, and the keys that
act on it (rate, correct, regenerate). It posts messages; the app does the work.

Focused, it is *reply mode*, entered only from the keyboard (↑ / esc / tab): ↑↓
pick a reply, ←→ its versions, then ONE key acts on it and typing goes back to the
message box (TypingResumed) — so a sentence typed after a rating is never read as
commands. Any printable key that is no command, and enter, go back there too. A
mouse click selects the clicked reply but leaves typing in the message box.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TMessage
from textual.widgets import Static

from openclaw_local.records import Message
from openclaw_local.ui.messages import (
    DeleteChatRequested,
    OverruleRequested,
    ReplyDetailRequested,
    ReplyModeChanged,
    TypingResumed,
    VersionStepRequested,
)
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
    ChatView.-reply-mode { border-title-color: $accent; border-title-style: bold; }
    ChatView .empty { color: $text-muted; text-style: italic; padding: 1 2; }
    """

    BINDINGS = [
        Binding("up", "select(-1)", "Previous", tooltip="select the previous reply"),
        Binding("down", "select(1)", "Next", tooltip="select the next reply"),
        Binding("plus", "rate(1)", "👍", tooltip="thumbs up the selected reply (again: clear)"),
        Binding("minus", "rate(-1)", "👎", tooltip="thumbs down the selected reply (again: clear)"),
        Binding("e", "correct", "Correct", tooltip="correct the selected reply in place"),
        Binding("r", "regenerate", "Regenerate",
                tooltip="regenerate the selected reply: the old one stays as an earlier version (←/→) "
                        "and counts as a push-back unless you rated it"),
        Binding("left", "version(-1)", "Versions", tooltip="show the previous version of a regenerated reply"),
        Binding("right", "version(1)", "Next version", show=False, tooltip="show the next version of a regenerated reply"),
        Binding("i", "detail", "Why ✓/✗", tooltip="what the learner knows about the selected reply: judge, hint, training, adapter"),
        Binding("j", "overrule", "Judge wrong", tooltip="the judge got this reply wrong: say what you meant (✓ / ✗ / ·); "
                                                        "your verdict trains instead of the judge's"),
        Binding("t", "toggle_thinking", "Thinking", show=False, tooltip="show / hide the reply's thinking"),
        Binding("o", "toggle_original", "Original", show=False, tooltip="show / hide the original of a corrected reply"),
        Binding("delete", "delete_chat", "Delete chat", show=False, tooltip="delete this chat and forget it (asks first)"),
        Binding("enter", "resume_typing", "Type",
                tooltip="back to the message box (after one command, or any other letter, you are back there too)"),
    ]

    MODE_TITLE = ("REPLY MODE — ↑↓ select · then one key: +/- rate · e correct · r regenerate · i why · j judge wrong"
                  " · enter: back to typing")
    IDLE_TITLE = "chat — ↑ or esc in the message box: reply mode"
    LEGEND = "judge: ✓ accepted · ✗ pushed back · · unclear — i in reply mode: why"

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
        self.border_title = self.IDLE_TITLE
        self.selected: MessageView | None = None
        self.streaming_id: int | None = None  # the reply being generated, locked against edits
        self.editor: CorrectionEditor | None = None

    # ------------------------------------------------------------- reply mode
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the correction editor has focus, reply-mode keys are off (and leave the footer)."""
        if self.editor is not None and self.editor.has_focus and action in self._own_actions():
            return False
        return True

    @classmethod
    def _own_actions(cls) -> set[str]:
        return {b.action.split("(")[0] for b in cls.BINDINGS}

    def on_focus(self) -> None:
        self.border_title = self.MODE_TITLE
        self.add_class("-reply-mode")
        self.post_message(ReplyModeChanged(True))

    def on_blur(self) -> None:
        self.border_title = self.IDLE_TITLE
        self.remove_class("-reply-mode")
        self.post_message(ReplyModeChanged(False))

    def on_click(self, event: events.Click) -> None:
        """Clicking a reply selects it; typing stays in (or goes back to) the message box."""
        node = event.widget
        while node is not None and node is not self and not isinstance(node, MessageView):
            if node is self.editor:
                return  # a click inside the correction editor places its cursor; it keeps the keyboard
            node = node.parent
        if isinstance(node, MessageView) and node.is_assistant:
            self._select(node)
        self.post_message(TypingResumed(""))

    def _done(self) -> None:
        """A reply command ran: reply mode ends, the next key typed is text again."""
        if self.has_focus:
            self.post_message(TypingResumed(""))

    def on_key(self, event: events.Key) -> None:
        """A printable key that is no command (here or app-wide) is typing: send it to the message box."""
        if not event.is_printable or event.character is None:
            return
        if event.key in self.app.active_bindings:
            return
        event.stop()
        event.prevent_default()
        self.post_message(TypingResumed(event.character))

    def action_resume_typing(self) -> None:
        self.post_message(TypingResumed(""))

    def action_version(self, step: int) -> None:
        view = self._actionable("switch versions of")
        if view is None:
            return
        if view.message.versions < 2:
            self.app.notify("This reply has one version: r regenerates another.", timeout=3)
            return
        self.post_message(VersionStepRequested(view.message.id, step))

    def action_detail(self) -> None:
        if (view := self.target()) is not None:
            self.post_message(ReplyDetailRequested(view.message.id))  # the app returns to typing when it closes

    def action_overrule(self) -> None:
        if (view := self._actionable("overrule the judge on")) is not None:
            self.post_message(OverruleRequested(view.message.id))  # the app returns to typing when it closes

    def action_delete_chat(self) -> None:
        conversation_id = self.target().message.conversation_id if self.target() is not None else None
        self.post_message(DeleteChatRequested(conversation_id))

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
        self.call_after_refresh(self.show_legend)
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
    def select(self, view: MessageView | None) -> None:
        """Make ``view`` the selected reply (what reply-mode keys act on)."""
        self._select(view)

    def show_legend(self) -> None:
        """Explain the judge's marks in the pane's border while any reply carries one."""
        self.border_subtitle = self.LEGEND if any(v.judgment for v in self.replies) else ""

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
        self._done()

    def action_regenerate(self) -> None:
        view = self._actionable("regenerate")
        if view is not None:
            self.post_message(self.RegenerateRequested(view.message.id))
            self._done()

    def action_toggle_thinking(self) -> None:
        if (view := self.target()) is not None:
            view.toggle_thinking()
            self._done()

    def action_toggle_original(self) -> None:
        if (view := self.target()) is not None:
            view.toggle_original()
            self._done()

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
        """Remove the correction editor; the app sends focus back to the message box."""
        if self.editor is not None:
            editor, self.editor = self.editor, None
            await editor.remove()
