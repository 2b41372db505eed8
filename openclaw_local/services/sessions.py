"""Which stored conversation an API client's request continues, and what in it is new.

API clients resend the whole thread with every request. A request is placed in the
history by, in order:

1. a session id the client names (``X-Session-Id``, Open WebUI's chat id): its
   conversation, created on first use;
2. otherwise its latest assistant message: a reply this server produced is (almost
   always) unique, so the stored reply it matches, with the whole thread before it
   matching too, identifies the conversation. A request with no assistant message
   (a first "hi") always starts a new conversation: nothing identifies whose it is.
   When two stored conversations match equally (identical greedy replies to identical
   openers), the one still waiting for its next message wins; if that is not exactly
   one, a new conversation is started rather than joining someone else's.

Clients trim, reflow and strip the replies they resend, so a resent reply is "the
same" when it is equal after collapsing whitespace, or a prefix (16+ characters) of
what was served. A resent reply that differs otherwise is *not* a correction: it
just does not match (corrections come through ``/v1/feedback``).

When the thread continues from a stored reply that already has later messages (the
client regenerated a reply or edited its message), those later messages are marked
superseded, as the terminal chat's regenerate does, and the request's new messages
take their place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from openclaw_local.store import Store
from openclaw_local.records import Message
from openclaw_local.thinking import split_thinking

MIN_PREFIX = 16  # shortest resent prefix of a reply that still counts as that reply


@dataclass
class ClientTurn:
    """One request from an API client: its messages (OpenAI shape, content as text) and where it came from."""

    messages: list[dict[str, Any]]
    source: str = "api"
    session_key: str | None = None
    side: bool = False  # housekeeping (titles, tags, follow-ups): served, never stored or trained


@dataclass
class SessionMatch:
    conversation_id: int
    new_messages: list[dict[str, Any]]  # to store, in order, before replying
    supersede: list[int] = field(default_factory=list)  # stored messages the client's thread replaced
    previous_reply: int | None = None  # our reply that the first new (user) message is the next state of


def normalize(text: str | None) -> str:
    return " ".join((text or "").split())


def same_reply(stored: str, resent: str) -> bool:
    a, b = normalize(split_thinking(stored)[1]), normalize(split_thinking(resent)[1])
    return a == b or (len(b) >= MIN_PREFIX and a.startswith(b))


def _calls_key(info: dict[str, Any] | None) -> str:
    """Tool calls compared by name and arguments (a JSON string or an object: the same key)."""
    out = []
    for c in (info or {}).get("tool_calls") or []:
        fn = c.get("function") or {}
        args = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                pass
        out.append([fn.get("name"), args])
    return json.dumps(out, sort_keys=True)


def _same_message(stored: Message, sent: dict[str, Any]) -> bool:
    if stored.role != sent["role"]:
        return False
    if stored.role == "assistant":
        text = sent.get("content") or ""
        shown = same_reply(stored.content, text) or (stored.correction is not None and same_reply(stored.correction, text))
        return shown and _calls_key(stored.tool_info) == _calls_key(sent)
    return normalize(stored.content) == normalize(sent.get("content"))


def thread_of(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system prompt or None, the rest)."""
    system = None
    if messages and messages[0]["role"] == "system":
        system = messages[0].get("content") or ""
        messages = messages[1:]
    return system, [m for m in messages if m["role"] != "system"]


def locate(store: Store, turn: ClientTurn) -> SessionMatch:
    """Find (or create) the conversation this request continues; nothing but conversations is written."""
    system, thread = thread_of(turn.messages)
    anchor_at = max((i for i, m in enumerate(thread) if m["role"] == "assistant"), default=-1)
    if turn.session_key:
        conv = store.conversation_by_session_key(turn.session_key)
        if conv is None:
            conv = store.create_conversation(system, source=turn.source, session_key=turn.session_key)
            return SessionMatch(conv.id, thread)
        stored = store.messages(conv.id)
        if not stored:
            return SessionMatch(conv.id, thread)
        if anchor_at < 0:  # an agent that sends only its newest message each time
            return _continue(stored, None, thread[-1:], conv.id)
        anchor = next((m for m in reversed(stored) if _same_message(m, thread[anchor_at])), None)
        if anchor is None:  # our reply as the client shows it is not stored: append what follows it
            return _continue(stored, None, thread[anchor_at + 1:], conv.id)
        return _continue(stored, anchor, thread[anchor_at + 1:], conv.id)
    if anchor_at >= 0:
        found = _match_history(store, thread[: anchor_at + 1])
        if found is not None:
            anchor, stored = found
            return _continue(stored, anchor, thread[anchor_at + 1:], anchor.conversation_id)
    conv = store.create_conversation(system, source=turn.source)
    return SessionMatch(conv.id, thread)


def _continue(stored: list[Message], anchor: Message | None, new: list[dict[str, Any]], conversation_id: int) -> SessionMatch:
    if anchor is None:
        last = stored[-1] if stored else None
        previous = last.id if last is not None and last.role == "assistant" and last.model else None
        return SessionMatch(conversation_id, new, previous_reply=previous if _starts_with_user(new) else None)
    later = [m.id for m in stored if m.id > anchor.id]
    previous = anchor.id if anchor.model and _starts_with_user(new) else None
    return SessionMatch(conversation_id, new, supersede=later, previous_reply=previous)


def _starts_with_user(new: list[dict[str, Any]]) -> bool:
    return bool(new) and new[0]["role"] == "user"


def _match_history(store: Store, history: list[dict[str, Any]]) -> tuple[Message, list[Message]] | None:
    """The stored reply (and its conversation's messages) that ``history`` (ending at a reply) continues."""
    last = history[-1]
    matches: list[tuple[Message, list[Message]]] = []
    for cand in store.served_replies_like(split_thinking(last.get("content") or "")[1]):
        if not _same_message(cand, last):
            continue
        stored = store.messages(cand.conversation_id)
        before = [m for m in stored if m.id < cand.id and m.role != "system"]
        if len(before) != len(history) - 1 or not all(_same_message(s, h) for s, h in zip(before, history[:-1])):
            continue
        matches.append((cand, stored))
    if len(matches) == 1:
        return matches[0]
    waiting = [(m, stored) for m, stored in matches if stored[-1].id == m.id]
    return waiting[0] if len(waiting) == 1 else None
