"""One widget per module. Widgets never call services: they post Textual messages
and the app (``openclaw_local.ui.app``) turns those into ChatService calls."""

from openclaw_local.ui.widgets.chat_input import ChatInput
from openclaw_local.ui.widgets.chat_view import ChatView
from openclaw_local.ui.widgets.correction_editor import CorrectionEditor
from openclaw_local.ui.widgets.message_view import MessageView
from openclaw_local.ui.widgets.sidebar import ConversationSidebar
from openclaw_local.ui.widgets.status_bar import StatusBar

__all__ = ["ChatInput", "ChatView", "CorrectionEditor", "MessageView", "ConversationSidebar", "StatusBar"]
