"""Qwen3 ``<think>…</think>`` blocks: kept apart from the reply text fed back as context."""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


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
