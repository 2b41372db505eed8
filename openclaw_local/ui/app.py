"""The terminal UI: a sidebar of chats, the chat pane, a message box and a status bar.

Build it with :func:`build_app` (or ``OpenClawApp(chat, model_name=...)``) and call
``app.run()``. The app talks to the domain only through :class:`ChatService`.

Replies stream on a thread worker: ``ChatService.send``/``regenerate`` run there
and their events come back to the UI thread through ``call_from_thread``, with
reply updates throttled to at most ``DELTA_INTERVAL_S``.

Focus model (chat-TUI convention): the message box is the home of focus and
typing always lands there. ↑ on its first line, or esc, enters *reply mode* (the
chat pane focused; its border and the message box's say so) where ↑↓ pick a reply
and one key acts on it; after that command, enter, or any key that is no command,
typing is back in the box (so a sentence typed after a rating is text, never
commands). A mouse click on a reply selects it without leaving the box. Tab cycles message box → chat → sidebar (shift+tab back). The footer shows
the keys that apply to what has focus; the help screen and the README table are
generated from the same BINDINGS (:func:`key_places` hands them to :mod:`openclaw_local.ui.keys`).

Background events (the judge's verdicts, adapter swaps) arrive on the services' event bus:
given ``events``, the app subscribes while it runs and :mod:`openclaw_local.ui.event_bridge`
turns each event into a message posted to it (thread-safe). Other threads may also use
:meth:`OpenClawApp.post_learning_update` and :meth:`OpenClawApp.post_judgment`, or
``app.post_message(msg)`` for the messages in :mod:`openclaw_local.ui.messages`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, TextArea
from textual.worker import Worker, WorkerState

from openclaw_local.services.chat import ChatService
from openclaw_local.services.events import EventBus, ReplyDelta, ReplyFinished, ReplyStarted
from openclaw_local.records import Message
from openclaw_local.ui.help_screen import HelpScreen
from openclaw_local.ui.messages import (
    DeleteChatRequested,
    JudgmentUpdate,
    MessageSubmitted,
    OverruleRequested,
    ReplyDetailRequested,
    ReplyModeChanged,
    ReplyModeRequested,
    TypingResumed,
    VersionStepRequested,
    LearningUpdate,
    NoticePosted,
    ReplyDeltaMessage,
    ReplyFailed,
    ReplyFinishedMessage,
    ReplyStartedMessage,
)
from openclaw_local.ui.widgets import ChatInput, ChatView, ConversationSidebar, CorrectionEditor, StatusBar

if TYPE_CHECKING:
    from openclaw_local.services.adapters import AdapterService
    from openclaw_local.services.preferences import PreferenceService

StatusProvider = Callable[[], dict[str, Any]]
DELTA_INTERVAL_S = 0.1  # at most 10 Markdown re-renders a second while streaming
STATUS_POLL_S = 0.5
REPLY_GROUP = "reply"


class OpenClawApp(App):
    TITLE = "openclaw-local"
    ENABLE_COMMAND_PALETTE = False  # ctrl+p is the Preferences screen
    CSS = """
    Screen { layout: vertical; }
    #main { height: 1fr; }
    #chat-column { width: 1fr; height: 1fr; }
    """

    BINDINGS = [
        Binding("f1", "help", "Help", priority=True, tooltip="this help (also ? when not typing)"),
        Binding("question_mark", "help", "Help", show=False, tooltip="this help (also ? when not typing)"),
        Binding("escape", "escape", "Stop / back", show=False,
                tooltip="stop the reply being generated; otherwise message box ⇄ reply mode; in search: clear it"),
        Binding("tab", "focus_next", "Next pane", show=False, tooltip="move focus: message box → chat → sidebar"),
        Binding("shift+tab", "focus_previous", "Previous pane", show=False, tooltip="move focus back: sidebar → chat → message box"),
        Binding("ctrl+n", "new_chat", "New chat", priority=True, tooltip="new chat"),
        Binding("ctrl+f", "focus_search", "Search", priority=True, tooltip="search chats (also / when not typing); esc clears"),
        Binding("slash", "focus_search", "Search", show=False, tooltip="search chats (also / when not typing); esc clears"),
        Binding("ctrl+l", "learn_now", "Learn now", priority=True, tooltip="learn now: ask the background learner for an update"),
        Binding("ctrl+a", "adapters", "Adapters", priority=True,
                tooltip="adapters: is it helping, what was learned, roll back, export, what changed"),
        Binding("ctrl+p", "preferences", "Preferences", show=False, priority=True,
                tooltip="standing preferences: what every reply is told (pause, edit, delete, add)"),
        Binding("ctrl+c", "ctrl_c", "Stop / copy", show=False, priority=True,
                tooltip="stop the reply while generating; otherwise copy the selection (never quits)"),
        Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="quit"),
    ]

    def __init__(
        self,
        chat: ChatService,
        *,
        model_name: str,
        status_provider: StatusProvider | None = None,
        open_conversation: int | None = None,
        on_learn_now: Callable[[], object] | None = None,
        adapter_service: "AdapterService | None" = None,
        events: EventBus | None = None,
        start_notices: Iterable[str] = (),
        preference_service: "PreferenceService | None" = None,
    ) -> None:
        super().__init__()
        self.preference_service = preference_service  # ctrl+p: the Preferences screen
        self.on_learn_now = on_learn_now
        self.adapter_service = adapter_service  # ctrl+a: the Adapters screen (None: not available here)
        self.events = events
        self._start_notices = start_notices  # read once the app runs: notices added until then are shown too
        self._unsubscribe: Callable[[], None] | None = None
        self.chat = chat
        self.model_name = model_name
        self.status_provider = status_provider
        self.conversation_id: int | None = None
        self._start_conversation = open_conversation
        self._cancel: threading.Event | None = None  # set while a reply is being generated
        self._streaming_id: int | None = None
        self._provider_keys: set[str] = set()
        self._judgments: dict[int, tuple[str, str | None]] = {}
        self._pending_user_id = 0

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ConversationSidebar(id="sidebar")
            with Vertical(id="chat-column"):
                yield ChatView(id="chat")
                yield ChatInput(id="input")
        yield StatusBar(self.model_name, id="status")
        yield Footer(show_command_palette=False)

    @property
    def sidebar(self) -> ConversationSidebar:
        return self.query_one(ConversationSidebar)

    @property
    def chat_view(self) -> ChatView:
        return self.query_one(ChatView)

    @property
    def chat_input(self) -> ChatInput:
        return self.query_one(ChatInput)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def streaming(self) -> bool:
        """True while a reply is being generated."""
        return self._cancel is not None

    async def on_mount(self) -> None:
        conversations = self.chat.conversations()
        if self._start_conversation is not None:
            cid = self._start_conversation
        elif conversations:
            cid = conversations[0].id
        else:
            cid = self.chat.new_conversation().id
            conversations = self.chat.conversations()
        await self.open_conversation(cid, conversations=conversations)
        self.chat_input.focus()
        if self.status_provider is not None:
            self._poll_status()
            self.set_interval(STATUS_POLL_S, self._poll_status)
        for text in list(self._start_notices):
            self.notify(text, severity="warning", timeout=15)
        if self.events is not None:
            from openclaw_local.ui.event_bridge import connect

            self._unsubscribe = connect(self, self.events)

    def on_resize(self, event) -> None:
        # 80 columns: a narrower chat list leaves the chat readable.
        for sidebar in self.query(ConversationSidebar):
            sidebar.styles.width = 24 if event.size.width < 110 else 32

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        # Quitting mid-reply: stop generating so the worker thread (and the process) can end.
        if self._cancel is not None:
            self._cancel.set()

    # ------------------------------------------------------------ conversations
    async def open_conversation(self, conversation_id: int, *, conversations=None) -> None:
        self.conversation_id = conversation_id
        await self.chat_view.load(self.chat.messages(conversation_id))
        for view in self.chat_view.replies:
            if view.message.id in self._judgments:
                view.set_judgment(*self._judgments[view.message.id])
            if view.message.id == self._streaming_id:
                view.streaming = True
        self.chat_view.show_legend()
        self.chat_view.streaming_id = self._streaming_id
        if conversations is not None:
            await self.sidebar.set_conversations(conversations, current_id=conversation_id)
        else:
            self.sidebar.mark_current(conversation_id)

    async def refresh_sidebar(self) -> None:
        """Re-read the chat list for what the search box holds now (with snippets while searching)."""
        query = self.sidebar.search.value.strip()
        snippets = self.chat.store.search_snippets(query) if query else None
        await self.sidebar.set_conversations(self.chat.conversations(search=query or None), current_id=self.conversation_id,
                                             snippets=snippets)

    @on(ConversationSidebar.SearchChanged)
    async def _search_changed(self, event: ConversationSidebar.SearchChanged) -> None:
        # Always filter by the box's current text, not the event's: a stale event never wins.
        await self.refresh_sidebar()

    @on(ConversationSidebar.ConversationSelected)
    async def _conversation_selected(self, event: ConversationSidebar.ConversationSelected) -> None:
        if event.conversation_id != self.conversation_id:
            await self.open_conversation(event.conversation_id)
        self.chat_input.focus()

    async def action_new_chat(self) -> None:
        if self.conversation_id is not None and not self.chat.messages(self.conversation_id):
            self.notify("This chat is already empty.", timeout=2)
            self.chat_input.focus()
            return
        conv = self.chat.new_conversation()
        if self.sidebar.search.value:
            with self.sidebar.search.prevent(Input.Changed):
                self.sidebar.search.value = ""
        await self.open_conversation(conv.id, conversations=self.chat.conversations())
        self.chat_input.focus()

    def action_focus_search(self) -> None:
        self.sidebar.focus_search()

    # -------------------------------------------------------------- focus model
    @property
    def on_main_screen(self) -> bool:
        return self.screen is self.screen_stack[0]

    def _panes(self) -> list:
        return [self.chat_input, self.chat_view, self.sidebar.list_view]

    def _pane_index(self) -> int:
        focused = self.focused
        if focused is None:
            return -1
        if focused is self.chat_input:
            return 0
        if focused is self.chat_view or self.chat_view in focused.ancestors:
            return 1
        if self.sidebar in focused.ancestors:
            return 2
        return -1

    def action_focus_next(self) -> None:
        """tab: message box → chat → sidebar (other screens keep Textual's order)."""
        if not self.on_main_screen:
            super().action_focus_next()
            return
        panes = self._panes()
        panes[(self._pane_index() + 1) % len(panes)].focus()

    def action_focus_previous(self) -> None:
        if not self.on_main_screen:
            super().action_focus_previous()
            return
        panes = self._panes()
        i = self._pane_index()
        panes[(i - 1) % len(panes) if i >= 0 else 0].focus()

    def enter_reply_mode(self) -> None:
        """Focus the chat pane (reply mode) with a reply selected."""
        view = self.chat_view.target()
        if view is not None:
            self.chat_view.select(view)
        self.chat_view.focus()

    @on(ReplyModeRequested)
    def _reply_mode_requested(self, event: ReplyModeRequested) -> None:
        self.enter_reply_mode()

    @on(ReplyModeChanged)
    def _reply_mode_changed(self, event: ReplyModeChanged) -> None:
        self.chat_input.show_reply_mode(event.active)

    def _back_to_typing(self, *_: object) -> None:
        """After a modal opened from reply mode closes: typing goes to the message box again."""
        if self.on_main_screen:
            self.chat_input.focus()

    @on(TypingResumed)
    def _typing_resumed(self, event: TypingResumed) -> None:
        self.chat_input.focus()
        if event.text:
            self.chat_input.type_text(event.text)

    async def clear_search(self) -> None:
        """Empty the search box and show every chat again."""
        search = self.sidebar.search
        if search.value:
            with search.prevent(Input.Changed):
                search.value = ""
        await self.sidebar.set_conversations(self.chat.conversations(), current_id=self.conversation_id)

    def action_learn_now(self) -> None:
        """Ask the background learner for an update now, without waiting for enough samples."""
        if self.on_learn_now is None:
            self.notify("Learning is off (started with --no-learn).", timeout=3)
            return
        self.on_learn_now()
        self.notify("Asked the learner to update now: watch the status bar.", timeout=3)

    def action_help(self) -> None:
        """F1 (or ? when not typing): open the help; F1 again closes it."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen(key_places()))

    def action_preferences(self) -> None:
        """ctrl+p: the Preferences screen (``build_app(preference_service=...)``, the chat's by default)."""
        from openclaw_local.ui.preferences_screen import PreferencesScreen

        service = self.preference_service
        if service is None:
            self.notify("preferences are not available here", timeout=3)
        elif not isinstance(self.screen, PreferencesScreen):
            self.push_screen(PreferencesScreen(service))

    def action_adapters(self) -> None:
        """ctrl+a: the Adapters screen (``build_app(adapter_service=...)`` enables it)."""
        from openclaw_local.ui.adapters_screen import AdaptersScreen

        service = self.adapter_service
        if service is None:
            self.notify("adapter history is not available here", timeout=3)
        elif not isinstance(self.screen, AdaptersScreen):
            self.push_screen(AdaptersScreen(service))

    # ------------------------------------------------------------------ sending
    @on(MessageSubmitted)
    async def _submitted(self, event: MessageSubmitted) -> None:
        if self.streaming:
            self.notify("A reply is still being generated — press esc to stop it.", severity="warning")
            return
        text = event.text
        if not text.strip() or self.conversation_id is None:
            return
        cid = self.conversation_id
        self.chat_input.clear()
        self._pending_user_id -= 1  # the real id is assigned in the worker; user rows take no actions
        await self.chat_view.add_message(
            Message(id=self._pending_user_id, conversation_id=cid, role="user", content=text, created_at="")
        )
        self._start_reply(lambda emit, cancel: self.chat.send(cid, text, emit, cancel))

    @on(ChatView.RegenerateRequested)
    async def _regenerate(self, event: ChatView.RegenerateRequested) -> None:
        if self.streaming:
            self.notify("A reply is still being generated — press esc to stop it.", severity="warning")
            return
        await self.chat_view.remove_from(event.message_id)
        mid = event.message_id
        self._start_reply(lambda emit, cancel: self.chat.regenerate(mid, emit, cancel))

    @on(VersionStepRequested)
    async def _version_step(self, event: VersionStepRequested) -> None:
        if self.streaming:
            self.notify("A reply is still being generated — press esc to stop it.", severity="warning")
            return
        try:
            shown = self.chat.show_version(event.message_id, event.step)
        except ValueError as exc:
            self.notify(str(exc), severity="warning", timeout=4)
            return
        if shown.id == event.message_id:
            return  # already the first / last version
        await self.open_conversation(shown.conversation_id)
        view = self.chat_view.view_for(shown.id)
        if view is not None:
            self.chat_view.select(view)
        self.chat_view.focus()

    def _start_reply(self, job: Callable[[Callable[[object], None], threading.Event], object]) -> None:
        self._cancel = threading.Event()
        self.status_bar.update_fields(streaming=True)
        self._generate(job, self._cancel)

    @work(thread=True, exclusive=False, group=REPLY_GROUP, exit_on_error=False)
    def _generate(self, job, cancel: threading.Event) -> None:
        last_post = 0.0

        def post(message) -> None:
            try:
                self.call_from_thread(self.post_message, message)
            except RuntimeError:  # the app is closing: stop generating
                cancel.set()

        def emit(event: object) -> None:
            nonlocal last_post
            if isinstance(event, ReplyDelta):
                now = time.monotonic()
                if now - last_post < DELTA_INTERVAL_S:
                    return  # the next delta (or ReplyFinished) carries the full text anyway
                last_post = now
                post(ReplyDeltaMessage(event))
            elif isinstance(event, ReplyStarted):
                post(ReplyStartedMessage(event))
            elif isinstance(event, ReplyFinished):
                post(ReplyFinishedMessage(event))

        try:
            job(emit, cancel)
        except Exception as exc:  # noqa: BLE001 — shown to the user; the app keeps running
            post(ReplyFailed(f"{type(exc).__name__}: {exc}"))

    async def on_reply_started_message(self, message: ReplyStartedMessage) -> None:
        event = message.event
        self._streaming_id = event.message.id
        self.chat_view.streaming_id = event.message.id
        if event.notice:
            self.notify(event.notice, title="context", severity="warning", timeout=8)
        if event.message.conversation_id == self.conversation_id:
            if event.notice:
                await self.chat_view.add_notice(event.notice)
            await self.chat_view.add_message(event.message, streaming=True)
        await self.refresh_sidebar()  # the first message titles the chat

    def on_reply_delta_message(self, message: ReplyDeltaMessage) -> None:
        e = message.event
        self.chat_view.update_stream(e.message_id, e.reply, e.thinking)

    async def on_reply_finished_message(self, message: ReplyFinishedMessage) -> None:
        e = message.event
        self._streaming_id = None
        self.chat_view.streaming_id = None
        self.chat_view.finish(e.message)
        self.status_bar.update_fields(tokens_per_s=e.tokens_per_s or None)
        if e.finish_reason == "cancelled":
            self.notify("Reply stopped; the partial reply is kept, marked interrupted.", timeout=3)
        await self.refresh_sidebar()

    async def on_reply_failed(self, message: ReplyFailed) -> None:
        self.notify(message.error, title="reply failed", severity="error", timeout=10)
        self._streaming_id = None
        self.chat_view.streaming_id = None
        if self.conversation_id is not None:
            await self.open_conversation(self.conversation_id)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == REPLY_GROUP and event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._cancel = None
            self._streaming_id = None
            self.chat_view.streaming_id = None
            self.status_bar.update_fields(streaming=None)

    def action_stop(self) -> None:
        """Stop the reply being generated (kept, marked interrupted)."""
        if self._cancel is not None:
            self._cancel.set()

    async def action_escape(self) -> None:
        """esc: stop a reply; in search, clear it; otherwise message box ⇄ reply mode."""
        if self._cancel is not None:
            self._cancel.set()
        elif self.focused is self.sidebar.search:
            await self.clear_search()
            self.chat_input.focus()
        elif self.focused is self.chat_input:
            self.enter_reply_mode()
        else:
            self.chat_input.focus()

    def action_ctrl_c(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            return
        focused = self.focused
        if isinstance(focused, (TextArea, Input)) and focused.selected_text:
            focused.action_copy()
        else:
            self.notify("Nothing is being generated. ctrl+q quits.", timeout=2)

    # ----------------------------------------------------------------- feedback
    @on(ChatView.RateRequested)
    def _rate(self, event: ChatView.RateRequested) -> None:
        try:
            self.chat.rate(event.message_id, event.value)
        except Exception as exc:  # noqa: BLE001
            self.notify(str(exc), title="rating failed", severity="error")
            return
        view = self.chat_view.view_for(event.message_id)
        if view is not None:
            view.set_rating(event.value)

    @on(CorrectionEditor.Saved)
    async def _correction_saved(self, event: CorrectionEditor.Saved) -> None:
        if not event.text.strip():
            self.notify("A correction cannot be empty (esc cancels).", severity="warning")
            return
        try:
            self.chat.correct(event.message_id, event.text)
        except Exception as exc:  # noqa: BLE001
            self.notify(str(exc), title="correction failed", severity="error")
            return
        await self.chat_view.close_editor()
        self.chat_input.focus()
        self._refresh_reply(event.message_id)
        self.notify("Correction saved (o in reply mode shows the original).", timeout=2)

    def _refresh_reply(self, message_id: int) -> None:
        """Re-read one shown reply from the store (its feedback and verdict marks)."""
        view = self.chat_view.view_for(message_id)
        if view is not None:
            fresh = next((m for m in self.chat.messages(view.message.conversation_id) if m.id == message_id), None)
            if fresh is not None:
                view.set_message(fresh)

    @on(CorrectionEditor.Cancelled)
    async def _correction_cancelled(self, event: CorrectionEditor.Cancelled) -> None:
        await self.chat_view.close_editor()
        self.chat_input.focus()

    @on(ReplyDetailRequested)
    def _reply_detail(self, event: ReplyDetailRequested) -> None:
        from openclaw_local.services.reply_detail import LEGEND, explain_reply
        from openclaw_local.ui.reply_detail_screen import ReplyDetailScreen

        if event.message_id < 0:
            return
        try:
            lines = explain_reply(self.chat.store, event.message_id)
        except KeyError:
            self.notify("That reply is no longer stored.", severity="warning")
            return
        self.push_screen(ReplyDetailScreen(lines, LEGEND), self._back_to_typing)

    @on(OverruleRequested)
    def _overrule_requested(self, event: OverruleRequested) -> None:
        """j in reply mode: the user says what their next message meant; it trains instead of the judge's verdict."""
        from openclaw_local.services.judge_calibration import overrule_verdict, verdict_state
        from openclaw_local.ui.overrule_screen import OverruleScreen

        mid = event.message_id
        state = verdict_state(self.chat.store, mid)
        if state.refusal is not None:
            self.notify(state.refusal, severity="warning", timeout=5)
            self._back_to_typing()
            return
        note = "An update already learned from this reply: your verdict now teaches the judge only." if state.trained else None

        def chosen(value: int | None) -> None:
            self._back_to_typing()
            if value is None:
                return
            changed = overrule_verdict(self.chat.store, mid, value)
            self._judgments.pop(mid, None)  # the store now holds the user's verdict
            self._refresh_reply(mid)
            if changed:
                self.notify("Your verdict replaces the judge's for training; the judge learns from it too.", timeout=4)
            else:
                self.notify("Noted for the judge; this reply's training signal can no longer change.", timeout=4)

        self.push_screen(OverruleScreen(state.judge, state.current, note), chosen)

    # ------------------------------------------------------------------- forget
    @on(DeleteChatRequested)
    def _delete_requested(self, event: DeleteChatRequested) -> None:
        from openclaw_local.services.forget import learned_from, learned_sentence
        from openclaw_local.ui.confirm_screen import ConfirmScreen

        cid = event.conversation_id if event.conversation_id is not None else self.conversation_id
        if cid is None:
            return
        if self.streaming and cid == self.conversation_id:
            self.notify("A reply is still being generated — press esc to stop it first.", severity="warning")
            return
        try:
            conv = self.chat.store.get_conversation(cid)
        except KeyError:
            return
        question = (f"Delete “{conv.title}”? Its messages, ratings, corrections and learning samples are erased "
                    "from the database for good.")
        learned = learned_from(self.chat.store, [cid])
        if learned:
            question += " " + learned_sentence(learned)

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.delete_conversation(cid)
            else:
                self._back_to_typing()

        self.push_screen(ConfirmScreen(question), answered)

    async def delete_conversation(self, conversation_id: int) -> None:
        """Forget a conversation now (no question asked), then show another one."""
        from openclaw_local.services.forget import forget

        report = forget(self.chat.store, [conversation_id])
        self._judgments = {k: v for k, v in self._judgments.items() if self.chat_view.view_for(k) is None}
        self.notify(report.sentence(), title="deleted", timeout=10)
        if conversation_id == self.conversation_id:
            remaining = self.chat.conversations()
            target = remaining[0].id if remaining else self.chat.new_conversation().id
            await self.open_conversation(target, conversations=self.chat.conversations())
        else:
            await self.refresh_sidebar()
        self.chat_input.focus()

    # ------------------------------------------------------------------- status
    def _poll_status(self) -> None:
        try:
            fields = dict(self.status_provider() or {}) if self.status_provider else {}
        except Exception:  # noqa: BLE001 — a failing provider must not take the UI down
            fields = {"learner": "status unavailable"}
        gone = {k: None for k in self._provider_keys - set(fields)}
        self._provider_keys = set(fields)
        self.status_bar.update_fields(**gone, **fields)

    def on_learning_update(self, message: LearningUpdate) -> None:
        self.status_bar.update_fields(**message.fields)

    def on_judgment_update(self, message: JudgmentUpdate) -> None:
        self._judgments[message.message_id] = (message.mark, message.hint)
        view = self.chat_view.view_for(message.message_id)
        if view is not None:
            view.set_judgment(message.mark, message.hint)
            self.chat_view.show_legend()

    def post_learning_update(self, fields: dict[str, Any] | None = None, **values: Any) -> None:
        """Thread-safe: merge status-bar fields (e.g. ``waiting=3, step="2/8", adapter="v3"``)."""
        self.post_message(LearningUpdate({**(fields or {}), **values}))

    def on_notice_posted(self, message: NoticePosted) -> None:
        self.notify(message.text, severity=message.severity, timeout=message.timeout)

    def post_judgment(self, message_id: int, mark: str, hint: str | None = None) -> None:
        """Thread-safe: show the judge's ✓ / ✗ / · on a reply."""
        self.post_message(JudgmentUpdate(message_id, mark, hint))


def key_places() -> list[tuple[str, list[Binding]]]:
    """Every place with keys of its own and its bindings, in the order the help and the README list them."""
    from openclaw_local.ui.adapters_screen import AdaptersScreen
    from openclaw_local.ui.overrule_screen import OverruleScreen
    from openclaw_local.ui.preferences_screen import PreferencesScreen

    return [
        ("Anywhere", OpenClawApp.BINDINGS),
        ("Message box (where typing goes)", ChatInput.BINDINGS),
        ("Reply mode (chat pane: ↑↓ pick a reply, then one key acts on it; any other letter goes back to the message box)",
         ChatView.BINDINGS),
        ("Judge verdict picker (j in reply mode)", OverruleScreen.BINDINGS),
        ("Correction editor", CorrectionEditor.BINDINGS),
        ("Sidebar", ConversationSidebar.BINDINGS),
        ("Adapters screen", AdaptersScreen.BINDINGS),
        ("Preferences screen (ctrl+p)", PreferencesScreen.BINDINGS),
    ]


def build_app(
    chat: ChatService,
    model_name: str,
    *,
    status_provider: StatusProvider | None = None,
    open_conversation: int | None = None,
    on_learn_now: Callable[[], object] | None = None,
    adapter_service: "AdapterService | None" = None,
    events: EventBus | None = None,
    start_notices: Iterable[str] = (),
    preference_service: "PreferenceService | None" = None,
) -> OpenClawApp:
    """The app for a chat service and what else it shows, each optional:

    - ``status_provider`` is polled every 0.5 s on the UI thread (keep it cheap) for extra
      status-bar fields: ``waiting``, ``judging``, ``step``, ``loss``, ``reward``, ``adapter``;
    - ``on_learn_now`` answers ctrl+l (None: learning is off);
    - ``adapter_service`` backs the Adapters screen (ctrl+a);
    - ``preference_service`` backs the Preferences screen (ctrl+p; the chat service's own by default);
    - ``events``: the bus whose background events (verdicts, adapter swaps) the app shows while it runs;
    - ``start_notices``: warnings shown once the app runs (read then, so a list may still grow until run).
    """
    return OpenClawApp(chat, model_name=model_name, status_provider=status_provider, open_conversation=open_conversation,
                       on_learn_now=on_learn_now, adapter_service=adapter_service, events=events,
                       start_notices=start_notices,
                       preference_service=preference_service if preference_service is not None
                       else getattr(chat, "preferences", None))
