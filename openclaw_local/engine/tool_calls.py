"""Tool calls in a model's reply text, as Qwen3 (and other Hermes-style templates) write them.

The model writes ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` blocks; OpenAI
clients expect ``tool_calls`` with JSON-string arguments. Text that is not valid JSON
inside a block is left in the reply as it was (never a silent drop).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)


def split_tool_calls(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (text without the parsed blocks, OpenAI-shaped tool calls)."""
    calls: list[dict[str, Any]] = []
    kept: list[str] = []
    pos = 0
    for m in _BLOCK.finditer(text):
        try:
            data = json.loads(m.group(1))
            name = data["name"]
            args = data.get("arguments", data.get("parameters", {}))
        except (ValueError, KeyError, TypeError):
            continue
        kept.append(text[pos:m.start()])
        pos = m.end()
        calls.append({
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": str(name), "arguments": args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)},
        })
    kept.append(text[pos:])
    return ("".join(kept).strip() if calls else text), calls


def visible_prefix(text: str) -> str:
    """What may be streamed before tool calls are parsed: the text up to a (possibly partial) ``<tool_call>``."""
    cut = text.find(OPEN)
    if cut >= 0:
        return text[:cut]
    for n in range(len(OPEN) - 1, 0, -1):  # hold back a tag that is still arriving: "<tool_c"
        if text.endswith(OPEN[:n]):
            return text[:-n]
    return text
