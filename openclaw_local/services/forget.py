"""Delete and forget conversations: the user's way to take something back.

The store erases the text (messages, feedback, samples, judge labels, the
full-text index; secure_delete and a WAL checkpoint so it does not linger on
disk). What the store cannot take back is what an adapter already learned: this
module names those versions so the user can roll them back.
"""

from __future__ import annotations

from dataclasses import dataclass

from openclaw_local.errors import NotFoundError
from openclaw_local.store import Store


@dataclass
class ForgetReport:
    conversation_ids: list[int]
    learned_by: list[int]  # adapter versions that trained on these chats
    checkpointed: bool  # False: another process still holds the WAL (the text leaves it when that closes)

    def sentence(self) -> str:
        n = len(self.conversation_ids)
        what = "1 chat" if n == 1 else f"{n} chats"
        out = f"Deleted {what}; its text is erased from the database." if n == 1 else f"Deleted {what}; their text is erased from the database."
        if self.learned_by:
            out += " " + learned_sentence(self.learned_by, n)
        if not self.checkpointed:
            out += " Another openclaw-local still has the database open: the text leaves its write-ahead log when that one closes."
        return out


def learned_sentence(versions: list[int], n_chats: int = 1) -> str:
    """'v3 and v5 learned from this chat (roll them back with ctrl+a or `adapters rollback`).'"""
    names = [f"v{v}" for v in versions]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    chat = "this chat" if n_chats == 1 else "these chats"
    return f"{listed} learned from {chat}: roll {'it' if len(names) == 1 else 'them'} back (ctrl+a, or `adapters rollback`) to forget that too."


def learned_from(store: Store, conversation_ids: list[int]) -> list[int]:
    return store.learned_from(conversation_ids)


def forget(store: Store, conversation_ids: list[int]) -> ForgetReport:
    """Delete these conversations (all must exist: a missing one raises NotFoundError, nothing deleted)."""
    for cid in conversation_ids:
        try:
            store.get_conversation(cid)
        except KeyError:
            raise NotFoundError(f"there is no conversation #{cid}", "see `openclaw-local history` for the ids") from None
    learned = store.learned_from(conversation_ids)
    ok = store.forget_conversations(conversation_ids)
    return ForgetReport(list(conversation_ids), learned, ok)


def forget_all(store: Store) -> ForgetReport:
    return forget(store, [c.id for c in store.list_conversations(limit=10**9)])
