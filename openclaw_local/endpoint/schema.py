"""OpenAI's request and error shapes: parsing a chat completion request, checking the
fields this server knows (unknown ones are ignored: clients send many), and the error
object every refusal is answered with.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_MESSAGES = 2048
MAX_NESTING = 64  # levels of [ and { in a request body (tool schemas nest a few; 100,000 is an attack)
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
SIDE_MARKERS = ("### Task:",)  # Open WebUI's title / tag / follow-up prompts


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def bad(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


@dataclass
class ChatRequest:
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None

    @property
    def looks_like_housekeeping(self) -> bool:
        last = next((m for m in reversed(self.messages) if m["role"] == "user"), None)
        return last is not None and (last.get("content") or "").lstrip().startswith(SIDE_MARKERS)


def parse_json(raw: bytes) -> dict[str, Any]:
    if _too_deep(raw):
        raise bad(f"the request body is nested too deeply (at most {MAX_NESTING} levels)", code="invalid_json")
    try:
        body = json.loads(raw)
    except RecursionError:  # a backstop: the depth check above keeps the parser far from the limit
        raise bad(f"the request body is nested too deeply (at most {MAX_NESTING} levels)", code="invalid_json") from None
    except (ValueError, UnicodeDecodeError):
        raise bad("the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object", code="invalid_json")
    return body


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_DEEP_RUN = re.compile(rb"[\[{]{%d}" % (MAX_NESTING + 1))  # more opening brackets in a row than allowed
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def _too_deep(raw: bytes) -> bool:
    """Whether ``[`` / ``{`` nest more than MAX_NESTING levels in a JSON text (strings skipped),
    cheaply and without parsing it: Python's json parser recurses once per level and dies of
    RecursionError on a deep enough document. Innermost pairs are removed level by level
    (bytes.replace, C speed); brackets left after MAX_NESTING rounds are deeper (or unbalanced,
    which is not JSON either)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
        return False
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_NESTING):
        if not brackets:
            return False
        if _DEEP_RUN.search(brackets):
            return True
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if inner == brackets:  # nothing closes: not JSON
            return True
        brackets = inner
    return bool(brackets)


def _typed(body: dict[str, Any], name: str, types: tuple[type, ...], what: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in types:  # JSON true is not a number here
        raise bad(f"'{name}' must be {what}", param=name, code="invalid_type")
    if not isinstance(value, types):
        raise bad(f"'{name}' must be {what}", param=name, code="invalid_type")
    return value


def parse_chat(body: dict[str, Any], *, n_ctx: int) -> ChatRequest:
    _typed(body, "model", (str,), "a string")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise bad("'messages' must be a list of messages", param="messages",
                  code="missing" if messages is None else "invalid_type")
    if not messages:
        raise bad("'messages' must not be empty", param="messages", code="empty")
    if len(messages) > MAX_MESSAGES:
        raise bad(f"too many messages ({len(messages)}; at most {MAX_MESSAGES})", param="messages", code="too_many")
    req = ChatRequest(messages=[_message(m, i) for i, m in enumerate(messages)])
    req.stream = bool(_typed(body, "stream", (bool,), "a boolean"))
    opts = _typed(body, "stream_options", (dict,), "an object") or {}
    req.include_usage = bool(opts.get("include_usage")) if isinstance(opts.get("include_usage"), bool) else False
    for name in ("max_completion_tokens", "max_tokens"):
        value = _typed(body, name, (int,), "an integer")
        if value is not None:
            if value < 1:
                raise bad(f"'{name}' must be at least 1", param=name, code="invalid_value")
            if value >= n_ctx:
                raise bad(f"'{name}' ({value}) is beyond the model's context window ({n_ctx} tokens)",
                          param=name, code="context_length_exceeded")
            req.max_tokens = req.max_tokens or value
    req.temperature = _range(body, "temperature", 0.0, 2.0)
    req.top_p = _range(body, "top_p", 0.0, 1.0)
    stop = body.get("stop")
    if isinstance(stop, str):
        req.stop = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        req.stop = list(stop)
    elif stop is not None:
        raise bad("'stop' must be a string or a list of strings", param="stop", code="invalid_type")
    req.seed = _typed(body, "seed", (int,), "an integer")
    n = _typed(body, "n", (int,), "an integer")
    if n is not None and n != 1:
        raise bad("only n = 1 is supported (one model, one reply)", param="n", code="unsupported_value")
    req.logprobs = bool(_typed(body, "logprobs", (bool,), "a boolean"))
    top = _typed(body, "top_logprobs", (int,), "an integer")
    if top is not None:
        if not 0 <= top <= 20:
            raise bad("'top_logprobs' must be between 0 and 20", param="top_logprobs", code="invalid_value")
        req.top_logprobs = top
    tools = _typed(body, "tools", (list,), "a list of tools")
    if tools:
        for i, t in enumerate(tools):
            if not isinstance(t, dict) or not isinstance(t.get("function"), dict) or not isinstance(t["function"].get("name"), str):
                raise bad(f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}", param=f"tools[{i}]",
                          code="invalid_type")
        req.tools = tools
    choice = body.get("tool_choice")
    if choice is not None and not isinstance(choice, (str, dict)):
        raise bad("'tool_choice' must be a string or an object", param="tool_choice", code="invalid_type")
    req.tool_choice = choice
    if choice == "none":
        req.tools = None
    return req


def _range(body: dict[str, Any], name: str, lo: float, hi: float) -> float | None:
    value = _typed(body, name, (int, float), "a number")
    if value is not None and not lo <= value <= hi:
        raise bad(f"'{name}' must be between {lo:g} and {hi:g}", param=name, code="invalid_value")
    return None if value is None else float(value)


def _message(m: Any, i: int) -> dict[str, Any]:
    """One message, content flattened to text (non-text parts are dropped), tool fields kept."""
    param = f"messages[{i}]"
    if not isinstance(m, dict):
        raise bad(f"{param} must be an object", param=param, code="invalid_type")
    role = m.get("role")
    if role not in ROLES:
        raise bad(f"{param}.role must be one of {', '.join(ROLES)}", param=f"{param}.role", code="invalid_value")
    content = m.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    elif content is not None and not isinstance(content, str):
        raise bad(f"{param}.content must be a string or a list of parts", param=f"{param}.content", code="invalid_type")
    out: dict[str, Any] = {"role": {"developer": "system", "function": "tool"}.get(role, role), "content": content or ""}
    calls = m.get("tool_calls")
    if isinstance(calls, list) and calls:
        out["tool_calls"] = [_tool_call(c) for c in calls if isinstance(c, dict)]
    for key in ("tool_call_id", "name"):
        if isinstance(m.get(key), str):
            out[key] = m[key]
    return out


def _tool_call(c: dict[str, Any]) -> dict[str, Any]:
    fn = c.get("function") if isinstance(c.get("function"), dict) else {}
    args = fn.get("arguments", "{}")
    if isinstance(args, str):  # templates expect a mapping; clients send a JSON string
        try:
            args = args if _too_deep(args.encode()) else json.loads(args)
        except ValueError:
            pass
    return {"id": str(c.get("id", "")), "type": "function", "function": {"name": str(fn.get("name", "")), "arguments": args}}
