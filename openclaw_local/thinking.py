"""Qwen3 ``<think>…</think>`` blocks: kept apart from the reply text fed back as context or trained on.

A leaf module (no internal imports): the engine splits streamed replies with it, the services
strip clients' messages, the trainer strips replies before tokenizing them.
"""

from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
_BLOCK = re.compile(f"{re.escape(OPEN)}.*?{re.escape(CLOSE)}\\s*", re.DOTALL)


def split_thinking(text: str) -> tuple[str, str]:
    """Return (thinking, reply). Works on partial text while a reply streams."""
    stripped = text.lstrip()
    if not stripped.startswith(OPEN):
        if OPEN.startswith(stripped) and stripped:  # "<thi" so far: undecided, show nothing yet
            return "", ""
        return "", text
    body = stripped[len(OPEN):]
    end = body.find(CLOSE)
    if end == -1:
        for n in range(len(CLOSE) - 1, 0, -1):  # "</thi" so far: the closing tag is still arriving
            if body.endswith(CLOSE[:n]):
                body = body[:-n]
                break
        return body.strip(), ""
    return body[:end].strip(), body[end + len(CLOSE):].lstrip()


def strip_thinking(reply: str) -> str:
    """The visible reply: drop every ``<think>…</think>`` block (and an unclosed trailing one), trimmed.

    Unlike :func:`split_thinking` (one leading block, the text as it streams) this takes whole
    texts with blocks anywhere, as stored replies and corrections may have them.
    """
    reply = _BLOCK.sub("", reply)
    if OPEN in reply:
        reply = reply.split(OPEN, 1)[0]
    return reply.strip()
