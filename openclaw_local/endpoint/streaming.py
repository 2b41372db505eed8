"""Turning the chat service's events into OpenAI completion objects and stream chunks.

The service reports the reply so far (cumulative); clients want only what is new, as
``content`` deltas, and Qwen3 thinking as ``reasoning_content`` deltas (never part of
``content``). When tools were offered, text from a ``<tool_call>`` tag on is held back
and sent as OpenAI ``tool_calls`` once the reply is complete.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Iterator

from openclaw_local.endpoint.schema import ChatRequest
from openclaw_local.engine.tool_calls import visible_prefix
from openclaw_local.services.events import ReplyDelta, ReplyFinished
from openclaw_local.records import Message

FINISH = {"cancelled": "stop", "": "stop"}


def completion_id(message: Message) -> str:
    """Stable for a stored reply (feedback names it); side turns are not stored and get a random one."""
    return f"chatcmpl-oc-{message.id}" if message.id else f"chatcmpl-side-{uuid.uuid4().hex[:20]}"


class CompletionWriter:
    def __init__(self, model: str, req: ChatRequest):
        self.model = model
        self.req = req
        self.created = int(time.time())
        self.id = ""
        self.message: Message | None = None
        self.sent_reply = ""
        self.sent_thinking = ""
        self.finished: ReplyFinished | None = None

    def start(self, message: Message) -> None:
        self.message = message
        self.id = completion_id(message)

    @property
    def metadata(self) -> dict[str, str]:
        """OpenAI's ``metadata`` (string values only): the adapter that answered, and where the reply is stored."""
        m = self.message
        version = m.adapter_version if m else None
        out = {"adapter": f"v{version}" if version else "base"}
        if version:
            out["adapter_version"] = str(version)
        if m is not None and m.id:
            out["conversation_id"], out["message_id"] = str(m.conversation_id), str(m.id)
        return out

    def _base(self, obj: str) -> dict[str, Any]:
        version = self.message.adapter_version if self.message else None
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": f"openclaw-{f'v{version}' if version else 'base'}"}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None, **extra: Any) -> str:
        body = self._base("chat.completion.chunk")
        body["choices"] = [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]
        body.update(extra)
        return json.dumps(body, ensure_ascii=False)

    # ---------------------------------------------------------------- streaming
    def opening_chunks(self) -> Iterator[str]:
        yield self._chunk({"role": "assistant", "content": ""}, metadata=self.metadata)

    def chunks_for(self, event: object) -> Iterator[str]:
        if isinstance(event, ReplyDelta):
            yield from self._deltas(event.reply, event.thinking)
        elif isinstance(event, ReplyFinished):
            self.finished = event
            msg = event.message
            yield from self._deltas(msg.content, msg.thinking, final=True)
            calls = (msg.tool_info or {}).get("tool_calls") or []
            if calls:
                yield self._chunk({"tool_calls": [dict(c, index=i) for i, c in enumerate(calls)]})
            logprobs = {"content": event.logprobs} if event.logprobs is not None else None
            yield self._chunk({}, finish=self.finish_reason, logprobs=logprobs, metadata=self.metadata)
            if self.req.include_usage:
                body = self._base("chat.completion.chunk")
                body["choices"] = []
                body["usage"] = self.usage
                yield json.dumps(body)

    def _deltas(self, reply: str, thinking: str, final: bool = False) -> Iterator[str]:
        if thinking.startswith(self.sent_thinking) and len(thinking) > len(self.sent_thinking):
            yield self._chunk({"reasoning_content": thinking[len(self.sent_thinking):]})
            self.sent_thinking = thinking
        visible = reply if (final or not self.req.tools) else visible_prefix(reply)
        if visible.startswith(self.sent_reply) and len(visible) > len(self.sent_reply):
            yield self._chunk({"content": visible[len(self.sent_reply):]})
            self.sent_reply = visible

    def error_chunk(self, error: BaseException) -> str:
        return json.dumps({"error": {"message": f"generation failed: {error}", "type": "server_error", "param": None,
                                     "code": "internal_error"}})

    # ------------------------------------------------------------ whole replies
    def absorb(self, event: object) -> None:
        if isinstance(event, ReplyFinished):
            self.finished = event

    @property
    def finish_reason(self) -> str:
        reason = self.finished.finish_reason if self.finished else "stop"
        return FINISH.get(reason, reason)

    @property
    def usage(self) -> dict[str, int]:
        f = self.finished
        prompt, completion = (f.prompt_tokens, f.completion_tokens) if f else (0, 0)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def completion(self) -> dict[str, Any]:
        msg = self.finished.message if self.finished else self.message
        message: dict[str, Any] = {"role": "assistant", "content": msg.content if msg else ""}
        if msg is not None and msg.thinking:
            message["reasoning_content"] = msg.thinking
        calls = (msg.tool_info or {}).get("tool_calls") if msg else None
        if calls:
            message["tool_calls"] = calls
            message["content"] = message["content"] or None
        logprobs = {"content": self.finished.logprobs} if self.finished and self.finished.logprobs is not None else None
        body = self._base("chat.completion")
        body["choices"] = [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": self.finish_reason}]
        body["usage"] = self.usage
        body["metadata"] = self.metadata
        return body
