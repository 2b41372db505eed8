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
        return body.strip(), ""
    return body[:end].strip(), body[end + len(CLOSE):].lstrip()
