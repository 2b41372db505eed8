"""The conversation list (newest first) with a search box above it.

While searching, each match shows a snippet of the message that matched, the
matched words highlighted. esc in the search box clears the filter (the app
does that, and moves focus back to the message box).
"""

from __future__ import annotations

import asyncio

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.message import Message as TMessage
from textual.widgets import Input, Label, ListItem, ListView

from openclaw_local.records import Conversation
from openclaw_local.ui.messages import DeleteChatRequested, TypingResumed

MATCH_START, MATCH_END = "\x01", "\x02"  # how the store marks matched words in a snippet


def snippet_markup(snippet: str) -> str:
    """A store snippet (matches between \\x01 and \\x02) as Textual markup, matches highlighted."""
    out, rest = [], snippet
    while MATCH_START in rest:
        before, _, rest = rest.partition(MATCH_START)
        match, _, rest = rest.partition(MATCH_END)
        out.append(escape(before))
        out.append(f"[b $accent]{escape(match)}[/]")
    out.append(escape(rest))
    return " ".join("".join(out).split())


def snippet_plain(snippet: str) -> str:
    return " ".join(snippet.replace(MATCH_START, "").replace(MATCH_END, "").split())


class ConversationItem(ListItem):
    def __init__(self, conversation: Conversation, snippet: str | None = None) -> None:
        title = conversation.title or "New chat"
        if conversation.source:  # came in through the endpoint: say from which client
            title = f"{title} · {conversation.source}"
        children = [Label(title, markup=False, classes="title")]
        if snippet:
            children.append(Label(snippet_markup(snippet), classes="snippet"))
        super().__init__(*children)
        self.conversation = conversation
        self.snippet = snippet
        self.tooltip = f"{conversation.title}\nupdated {conversation.updated_at[:16].replace('T', ' ')}"


class ConversationSidebar(Vertical):
    DEFAULT_CSS = """
    ConversationSidebar {
        width: 32;
        height: 1fr;
        border: round $panel;
        border-title-color: $text-muted;
        &:focus-within { border: round $accent; }
    }
    ConversationSidebar Input { border: tall $panel; margin: 0 0 1 0; }
    ConversationSidebar ListView { height: 1fr; background: transparent; }
    ConversationSidebar ListItem { padding: 0 1; height: auto; }
    ConversationSidebar ListItem Label { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    ConversationSidebar ListItem .snippet { color: $text-muted; padding: 0 0 0 1; }
    ConversationSidebar ListItem.-current .title { text-style: bold; color: $accent; }
    ConversationSidebar .count { color: $text-muted; height: 1; padding: 0 1; }
    """

    BINDINGS = [
        Binding("enter", "open", "Open", tooltip="open the selected chat (in the search box: the first match)"),
        Binding("delete", "delete_chat", "Delete chat", tooltip="delete the selected chat and forget it (asks first)"),
    ]

    class SearchChanged(TMessage):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class ConversationSelected(TMessage):
        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "chats — ctrl+n new"
        self.current_id: int | None = None
        self.conversations: list[Conversation] = []
        self.snippets: dict[int, str] = {}
        self._lock = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search (ctrl+f)", id="search")
        yield ListView(id="conversations")
        yield Label("", classes="count")

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    @property
    def list_view(self) -> ListView:
        return self.query_one("#conversations", ListView)

    @property
    def titles(self) -> list[str]:
        return [c.title for c in self.conversations]

    def focus_search(self) -> None:
        self.search.focus()
        self.search.select_all()

    async def set_conversations(self, conversations: list[Conversation], current_id: int | None = None,
                                snippets: dict[int, str] | None = None) -> None:
        """Replace the list (newest first) and mark the open conversation; snippets show under matches."""
        if current_id is not None:
            self.current_id = current_id
        async with self._lock:
            self.conversations = list(conversations)
            self.snippets = dict(snippets or {})
            lv = self.list_view
            await lv.clear()
            items = [ConversationItem(c, self.snippets.get(c.id)) for c in conversations]
            for item in items:
                item.set_class(item.conversation.id == self.current_id, "-current")
            if items:
                await lv.extend(items)
            index = next((i for i, c in enumerate(conversations) if c.id == self.current_id), None)
            lv.index = index if index is not None else (0 if items else None)
            query = self.search.value.strip()
            label = f"{len(items)} match{'es' if len(items) != 1 else ''}" if query else f"{len(items)} chat{'s' if len(items) != 1 else ''}"
            self.query_one(".count", Label).update(label)

    def mark_current(self, conversation_id: int) -> None:
        self.current_id = conversation_id
        for item in self.list_view.query(ConversationItem):
            item.set_class(item.conversation.id == conversation_id, "-current")

    def selected_id(self) -> int | None:
        item = self.list_view.highlighted_child
        return item.conversation.id if isinstance(item, ConversationItem) else None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.SearchChanged(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the search box opens the first match."""
        event.stop()
        if self.conversations:
            self.post_message(self.ConversationSelected(self.conversations[0].id))

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, ConversationItem):
            self.post_message(self.ConversationSelected(event.item.conversation.id))

    def action_open(self) -> None:
        if (cid := self.selected_id()) is not None:
            self.post_message(self.ConversationSelected(cid))

    def action_delete_chat(self) -> None:
        if self.app.focused is self.search:
            return  # del edits the search text
        self.post_message(DeleteChatRequested(self.selected_id()))

    def on_key(self, event: events.Key) -> None:
        """In the list, a printable key that is no command is typing: back to the message box."""
        if self.app.focused is not self.list_view or not event.is_printable or event.character is None:
            return
        if event.key in self.app.active_bindings:
            return
        event.stop()
        event.prevent_default()
        self.post_message(TypingResumed(event.character))
