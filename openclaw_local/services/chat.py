"""A chat session: turns a user's message into a stored, streamed, resumable reply.

Every step is written to SQLite as it happens: the user's message before
generation starts, the assistant row as soon as generation starts (marked
interrupted until it finishes), and its text every fraction of a second while it
streams. Killing the process at any moment loses nothing already on screen.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from openclaw_local.config import Settings
from openclaw_local.engine import Engine
from openclaw_local.engine.tool_calls import split_tool_calls
from openclaw_local.errors import DatabaseError, DataDirError
from openclaw_local.services import sessions
from openclaw_local.services.events import ReplyDelta, ReplyFinished, ReplyStarted
from openclaw_local.services.preferences import PreferenceService, endpoint_origin
from openclaw_local.services.sessions import ClientTurn
from openclaw_local.store import Store
from openclaw_local.store.db import now
from openclaw_local.records import Conversation, Message, Preference, model_context
from openclaw_local.thinking import split_thinking

EventSink = Callable[[object], None]
FLUSH_EVERY_S = 0.25


@dataclass
class GenerationOptions:
    """How one reply is sampled. The terminal chat uses the settings; an API request may override them."""

    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None = None
    thinking: bool = False
    stop: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    logprobs: int | None = None  # when set: per-token logprobs of the reply, with this many alternatives

    @classmethod
    def from_settings(cls, s: Settings, **overrides: Any) -> "GenerationOptions":
        base = cls(max_tokens=s.max_tokens, temperature=s.temperature, top_p=s.top_p, seed=s.seed, thinking=s.thinking)
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base

    def recorded(self) -> dict[str, Any]:
        """What is stored with the reply (its ``settings`` column)."""
        out: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                               "thinking": self.thinking}
        if self.stop:
            out["stop"] = self.stop
        if self.tools:
            out["tools"] = [t.get("function", {}).get("name") for t in self.tools]
        return out


class ChatService:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        settings: Settings,
        *,
        adapter_version: Callable[[], int | None] = lambda: None,
        on_next_state: Callable[[int], None] | None = None,
        preferences: PreferenceService | None = None,
    ):
        self.store = store
        # standing preferences: captured from the user's messages, put into every reply's system context
        # (a learned one only while the served adapter absorbed it: PreferenceService.in_context)
        self.preferences = (preferences if preferences is not None
                            else PreferenceService(store, settings, served_version=adapter_version))
        self.engine = engine
        self.settings = settings
        self.adapter_version = adapter_version
        # Called with an assistant message id whenever that reply gets a next state
        # (a following user message, a rating, a correction): the learner's hook.
        self.on_next_state = on_next_state or (lambda message_id: None)

    # ------------------------------------------------------------------ reading
    def new_conversation(self) -> Conversation:
        return self.store.create_conversation(system_prompt=self.settings.system_prompt)

    def conversations(self, search: str | None = None) -> list[Conversation]:
        return self.store.list_conversations(search=search)

    def messages(self, conversation_id: int) -> list[Message]:
        return self.store.messages(conversation_id)

    def context_for(self, conversation_id: int, *, upto: int | None = None,
                    preferences: list[Preference] | None = None) -> list[dict[str, str]]:
        """Messages as the model sees them: system prompt (and the standing preferences, the
        active ones unless ``preferences`` names them), then the thread, corrections applied."""
        conv = self.store.get_conversation(conversation_id)
        prefs = self.preferences.in_context() if preferences is None else preferences
        system = (conv.system_prompt or self.settings.system_prompt) + self.preferences.block(prefs)
        return model_context(system, self.store.messages(conversation_id), before=upto)

    # ------------------------------------------------------------------ writing
    def send(self, conversation_id: int, text: str, emit: EventSink, cancel: threading.Event | None = None) -> Message | None:
        """Store the user's message and stream a reply. Blocking: call from a worker thread.

        An empty or whitespace-only message is ignored (returns None).
        """
        if not text.strip():
            return None
        previous = [m for m in self.store.messages(conversation_id) if m.role == "assistant"]
        user = self.store.add_message(conversation_id, "user", text)
        self.preferences.capture_message(user.id, text, origin="tui")  # "from now on …" applies to this reply
        if previous:
            self.on_next_state(previous[-1].id)
        return self._reply(conversation_id, emit, cancel)

    def regenerate(self, message_id: int, emit: EventSink, cancel: threading.Event | None = None) -> Message:
        """Replace an assistant reply with a fresh one. The old one is kept as an earlier
        version of the same answer (superseded; ←/→ shows it again), and what followed it
        leaves the thread. Asking for another reply is a push-back on the replaced one:
        its learning sample gets reward -1 unless the user rated or corrected it."""
        old = self.store.get_message(message_id)
        if old.role != "assistant":
            raise ValueError("only assistant replies can be regenerated")
        group = old.group_id
        if old.reply_group is None:
            self.store.update_message(old.id, reply_group=group)
        later = [m for m in self.store.messages(old.conversation_id) if m.id > old.id]
        for m in [old, *later]:
            self.store.update_message(m.id, superseded=True)
        reply = self._reply(old.conversation_id, emit, cancel, reply_group=group)
        self.on_next_state(old.id)
        return reply

    def versions(self, message_id: int) -> list[Message]:
        """Every version of a reply's answer, oldest first."""
        return self.store.reply_versions(message_id)

    def show_version(self, message_id: int, step: int) -> Message:
        """Show the previous (-1) or next (+1) version of a reply in its place; returns the one shown.

        Only the last reply of a thread can switch: what followed an earlier reply was an
        answer to the version shown then."""
        versions = self.versions(message_id)
        ids = [v.id for v in versions]
        i = ids.index(message_id)
        target = versions[max(0, min(len(ids) - 1, i + step))]
        if target.id == message_id:
            return versions[i]
        thread = self.store.messages(versions[i].conversation_id)
        if thread and thread[-1].id != message_id:
            raise ValueError("only the last reply's versions can be switched (what followed answers this version)")
        self.store.show_version(message_id, target.id)
        for mid in (message_id, target.id):
            self.on_next_state(mid)
        return self.store.get_message(target.id)

    def rate(self, message_id: int, value: int) -> None:
        self.store.rate(message_id, value)
        self.on_next_state(message_id)

    def correct(self, message_id: int, text: str) -> None:
        if not text.strip():
            raise ValueError("a correction cannot be empty")
        self.store.correct(message_id, text)
        self.on_next_state(message_id)

    # ------------------------------------------------------------ API clients
    def reply_to_client(self, turn: ClientTurn, options: GenerationOptions, emit: EventSink,
                        cancel: threading.Event | None = None) -> Message:
        """Answer a request from an API client (its whole message list), stored like a terminal turn.

        The request is placed in its conversation (:func:`sessions.locate`), its new
        messages are stored, the reply they follow gets its next state (the same hook as
        :meth:`send`), and the reply is generated from the client's own messages: the
        client decides the context. A side turn (``turn.side``) is answered but neither
        stored nor trained on; its message has id 0.
        """
        if turn.side:
            prefs = self.preferences.in_context()
            return self._reply(None, emit, cancel, context=self._client_context(turn.messages, prefs), options=options)
        match = sessions.locate(self.store, turn)
        added: set[int] = set()
        try:
            for mid in match.supersede:
                self.store.update_message(mid, superseded=True)
            for m in match.new_messages:
                info = {k: m[k] for k in ("tool_calls", "tool_call_id", "name") if m.get(k)}
                content = split_thinking(m.get("content") or "")[1] if m["role"] == "assistant" else (m.get("content") or "")
                stored = self.store.add_message(match.conversation_id, m["role"], content, tool_info=info or None)
                added.add(stored.id)
                if m["role"] == "user":  # only the user's own words: never assistant, tool or system text
                    self.preferences.capture_message(stored.id, content, origin=endpoint_origin(turn.source))
            if match.previous_reply is not None:
                self.on_next_state(match.previous_reply)
            prefs = self.preferences.in_context()
            return self._reply(match.conversation_id, emit, cancel, context=self._client_context(turn.messages, prefs),
                               options=options, preferences=prefs)
        except (DatabaseError, DataDirError):
            self._drop_if_only(match.conversation_id, added)
            raise

    def _drop_if_only(self, conversation_id: int, added: set[int]) -> None:
        """After a failed write: remove the conversation when it holds nothing but what this request
        added (its messages, an empty reply), so a refused request leaves no empty conversation."""
        try:
            left = [m for m in self.store.messages(conversation_id)
                    if m.id not in added and not (m.role == "assistant" and not m.content)]
            if not left:
                self.store.delete_conversation(conversation_id)
        except (DatabaseError, DataDirError):
            pass  # the database cannot be written at all: there is nothing more to do here

    def _client_context(self, messages: list[dict[str, Any]],
                        preferences: list[Preference] | None = None) -> list[dict[str, Any]]:
        """The client's messages as the model sees them: a system prompt (ours when it sends none) with
        the standing preferences after it, no thinking."""
        system, _ = sessions.thread_of(messages)
        prefs = self.preferences.in_context() if preferences is None else preferences
        out: list[dict[str, Any]] = [{"role": "system", "content": (self.settings.system_prompt if system is None else system)
                                      + self.preferences.block(prefs)}]
        rest = messages[1:] if system is not None else messages  # later system messages stay in the context
        for m in rest:
            m = {k: v for k, v in m.items() if k != "reasoning_content"}
            if m["role"] == "assistant":
                m["content"] = split_thinking(m.get("content") or "")[1]  # thinking is never fed back
            out.append(m)
        return out

    def _reply(self, conversation_id: int | None, emit: EventSink, cancel: threading.Event | None, *,
               context: list[dict[str, Any]] | None = None, options: GenerationOptions | None = None,
               reply_group: int | None = None, preferences: list[Preference] | None = None) -> Message:
        """Generate, stream and store a reply; ``conversation_id=None`` streams without storing anything.

        ``preferences``: the standing preferences in ``context`` (recorded with the reply)."""
        opts = options or GenerationOptions.from_settings(self.settings)
        if context is None:
            preferences = self.preferences.in_context()
            context = self.context_for(conversation_id, preferences=preferences)
        recorded = opts.recorded()
        if preferences:
            recorded["preferences"] = [p.id for p in preferences]  # the reply's "why" view names them
        gen = self.engine.generate(
            context,
            max_tokens=opts.max_tokens,
            temperature=opts.temperature,
            top_p=opts.top_p,
            seed=opts.seed,
            thinking=opts.thinking,
            cancel=cancel,
            stop=opts.stop,
            tools=opts.tools,
            tool_choice=opts.tool_choice,
        )
        store = conversation_id is not None
        # interrupted=True until the reply completes, so a crash mid-stream is recorded as such
        if store:
            msg = self.store.add_message(
                conversation_id,
                "assistant",
                "",
                model=self.engine.model_name,
                adapter_version=self.adapter_version(),
                settings=recorded,
                interrupted=True,
                reply_group=reply_group,
            )
        else:
            msg = Message(id=0, conversation_id=0, role="assistant", content="", created_at=now(),
                          model=self.engine.model_name, adapter_version=self.adapter_version(), interrupted=True)
        started = False
        last_flush = time.monotonic()
        for _ in gen:
            if not started:
                emit(ReplyStarted(msg, notice=_fit_notice(gen.stats.dropped_turns, gen.stats.cut_chars)))
                started = True
            emit(ReplyDelta(msg.id, gen.reply, gen.thinking))
            if store and time.monotonic() - last_flush >= FLUSH_EVERY_S:
                self.store.update_message(msg.id, content=gen.reply, thinking=gen.thinking)
                last_flush = time.monotonic()
        if not started:
            emit(ReplyStarted(msg, notice=_fit_notice(gen.stats.dropped_turns, gen.stats.cut_chars)))
        stats = gen.stats
        reply, tool_calls = gen.reply, []
        if opts.tools:
            reply, tool_calls = split_tool_calls(reply)
        finish = "tool_calls" if tool_calls and stats.finish_reason == "stop" else stats.finish_reason
        final_fields = dict(content=reply, thinking=gen.thinking, interrupted=stats.finish_reason == "cancelled",
                            n_tokens=stats.completion_tokens, tokens_per_s=round(stats.tokens_per_s, 2))
        if store:
            self.store.update_message(msg.id, **final_fields)
            if tool_calls:
                self.store.set_tool_info(msg.id, {"tool_calls": tool_calls})
            final = self.store.get_message(msg.id)
        else:
            for key, value in final_fields.items():
                setattr(msg, key, value)
            final = msg
        if tool_calls:
            final.tool_info = {"tool_calls": tool_calls}
        logprobs = None
        if opts.logprobs is not None and gen.reply and stats.finish_reason != "cancelled":
            logprobs = self.engine.reply_logprobs(context, gen.reply, top=opts.logprobs)
        emit(ReplyFinished(final, tokens_per_s=stats.tokens_per_s, finish_reason=finish,
                           prompt_tokens=stats.prompt_tokens, completion_tokens=stats.completion_tokens, logprobs=logprobs))
        return final


def _fit_notice(dropped: int, cut_chars: int) -> str | None:
    parts = []
    if dropped:
        parts.append(f"{dropped} oldest message{'s' if dropped != 1 else ''} left out to fit the context window")
    if cut_chars:
        parts.append(f"your message was cut by {cut_chars:,} characters to fit the context window")
    return "; ".join(parts) if parts else None
