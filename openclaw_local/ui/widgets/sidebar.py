"""The conversation list (newest first) with a search box above it."""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message as TMessage
from textual.widgets import Input, Label, ListItem, ListView

from openclaw_local.store.models import Conversation


class ConversationItem(ListItem):
    def __init__(self, conversation: Conversation) -> None:
        title = conversation.title or "New chat"
        if conversation.source:  # came in through the endpoint: say from which client
            title = f"{title} · {conversation.source}"
        super().__init__(Label(title, markup=False))
        self.conversation = conversation
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
    ConversationSidebar ListItem { padding: 0 1; height: 1; }
    ConversationSidebar ListItem Label { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    ConversationSidebar ListItem.-current { text-style: bold; color: $accent; }
    ConversationSidebar .count { color: $text-muted; height: 1; padding: 0 1; }
    """

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
        self._lock = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search (ctrl+f or /)", id="search")
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

    async def set_conversations(self, conversations: list[Conversation], current_id: int | None = None) -> None:
        """Replace the list (newest first) and mark the open conversation."""
        if current_id is not None:
            self.current_id = current_id
        async with self._lock:
            self.conversations = list(conversations)
            lv = self.list_view
            await lv.clear()
            items = [ConversationItem(c) for c in conversations]
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
