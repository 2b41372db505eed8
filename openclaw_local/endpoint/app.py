"""The Starlette application: OpenAI's routes on top of a :class:`~openclaw_local.services.runtime.Runtime`.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` (JSON or server-sent
events), ``POST /v1/feedback``, ``GET /v1/adapters``, ``POST /v1/adapters/{v}/activate``,
``POST /v1/adapters/rollback``, ``GET|POST /v1/preferences``, ``POST|DELETE /v1/preferences/{id}``,
``GET /healthz``.

Generation is blocking llama.cpp work: it runs in a worker thread that streams the
chat service's events onto the event loop. Requests take turns through the
:class:`RequestQueue`; a client that disconnects cancels its generation (or leaves
the line if it was still waiting).
"""

from __future__ import annotations

import asyncio
import hmac
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, AsyncIterator

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openclaw_local.endpoint.queue import QueueFull, RequestQueue
from openclaw_local.endpoint.schema import MAX_BODY_BYTES, ApiError, ChatRequest, bad, parse_chat, parse_json
from openclaw_local.endpoint.streaming import CompletionWriter
from openclaw_local.errors import DatabaseError, DataDirError, UserError
from openclaw_local.services.chat import GenerationOptions
from openclaw_local.services.events import ReplyStarted
from openclaw_local.services.sessions import ClientTurn

ADAPTER_HEADER = "X-OpenClaw-Adapter"
ID_PATTERN = re.compile(r"^chatcmpl-oc-(\d+)$")
BODY_TIMEOUT_S = 30.0  # the longest a client may take to send its request body
MAX_CHARS_PER_TOKEN = 64  # no token of a llama.cpp vocabulary is longer: more characters than this per
#                           token of context cannot fit, and are refused without tokenizing them
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer: a larger id names nothing
DONE = object()


@dataclass
class Failed:
    error: BaseException


def _row_id(digits: str) -> int | None:
    """A string of digits as a row id, or None when no row can have it (0, or beyond SQLite's integers)."""
    digits = digits.lstrip("0")
    if not digits or len(digits) > 19 or int(digits) > MAX_ROW_ID:
        return None
    return int(digits)


def adapter_label(version: int | None) -> str:
    return f"v{version}" if version else "base"


def client_name(request: Request) -> str:
    """Which client sent a request: an explicit header, Open WebUI's chat header, else the User-Agent's product."""
    h = request.headers
    if h.get("x-openclaw-client"):
        return h["x-openclaw-client"].strip()[:40]
    if h.get("x-openwebui-chat-id") or "open-webui" in h.get("user-agent", "").lower():
        return "open-webui"
    agent = h.get("user-agent", "").strip()
    if not agent:
        return "api"
    product = agent.split()[0].split("/")[0].lower()
    if product == "openai" and "python" in agent.lower():
        return "openai-python"
    return product[:40] or "api"


def session_key(request: Request) -> str | None:
    h = request.headers
    if h.get("x-session-id"):
        return f"session:{h['x-session-id'].strip()[:200]}"
    if h.get("x-openwebui-chat-id"):
        return f"openwebui:{h['x-openwebui-chat-id'].strip()[:200]}"
    return None


class Endpoint:
    def __init__(self, runtime: Any, *, api_key: str | None = None, queue_size: int = 16):
        self.runtime = runtime
        self.api_key = api_key
        self.queue = RequestQueue(queue_size)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="endpoint-generate")
        self.started = time.time()

    @property
    def model_name(self) -> str:
        return self.runtime.engine.model_name

    def served_version(self) -> int | None:
        return self.runtime.learner.served_version

    # --------------------------------------------------------------- plumbing
    def app(self) -> Starlette:
        routes = [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/feedback", self.feedback, methods=["POST"]),
            Route("/v1/adapters", self.list_adapters, methods=["GET"]),
            Route("/v1/adapters/rollback", self.rollback, methods=["POST"]),
            Route("/v1/adapters/{version}/activate", self.activate, methods=["POST"]),
            Route("/v1/preferences", self.list_preferences, methods=["GET"]),
            Route("/v1/preferences", self.add_preference, methods=["POST"]),
            Route("/v1/preferences/{pref_id}", self.change_preference, methods=["POST"]),
            Route("/v1/preferences/{pref_id}", self.delete_preference, methods=["DELETE"]),
        ]
        app = Starlette(routes=routes, exception_handlers={404: self._not_found, 405: self._not_allowed})
        app.add_middleware(_Guard, endpoint=self)
        return app

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return ApiError(404, f"no route {request.method} {request.url.path}", code="not_found").response()

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        return ApiError(405, f"{request.method} is not allowed on {request.url.path}", code="method_not_allowed").response()

    def _headers(self, version: int | None) -> dict[str, str]:
        return {ADAPTER_HEADER: adapter_label(version)}

    async def _body(self, request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body too large (at most {MAX_BODY_BYTES} bytes)", code="body_too_large")
        chunks, size = [], 0
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):  # a client that never finishes its body is let go
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise ApiError(413, f"request body too large (at most {MAX_BODY_BYTES} bytes)", code="body_too_large")
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(408, f"the request body did not arrive within {BODY_TIMEOUT_S:g} s", code="body_timeout",
                           headers={"Connection": "close"}) from None
        return parse_json(b"".join(chunks))

    # ----------------------------------------------------------------- routes
    async def healthz(self, request: Request) -> Response:
        version = self.served_version()
        return JSONResponse({"status": "ok", "model": self.model_name, "adapter": adapter_label(version),
                             "queue": {"waiting": self.queue.waiting, "busy": self.queue.busy, "size": self.queue.size,
                                       "served": self.queue.served, "dropped": self.queue.dropped}},
                            headers=self._headers(version))

    async def models(self, request: Request) -> Response:
        version = self.served_version()
        data = [{"id": self.model_name, "object": "model", "created": int(self.started), "owned_by": "openclaw-local",
                 "metadata": {"adapter_version": version, "adapter": adapter_label(version)}}]
        return JSONResponse({"object": "list", "data": data}, headers=self._headers(version))

    async def chat_completions(self, request: Request) -> Response:
        engine = self.runtime.engine
        req = parse_chat(await self._body(request), n_ctx=engine.n_ctx)
        await self._check_prompt_fits(req)
        side = request.headers.get("x-turn-type", "").strip().lower() == "side" or req.looks_like_housekeeping
        turn = ClientTurn(messages=req.messages, source=client_name(request), session_key=session_key(request), side=side)
        options = GenerationOptions.from_settings(
            self.runtime.settings, max_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p,
            seed=req.seed, stop=req.stop or None, tools=req.tools if engine.template_knows_tools else None,
            tool_choice=req.tool_choice, logprobs=(req.top_logprobs if req.logprobs else None))
        try:
            ticket = self.queue.admit()
        except QueueFull as full:
            raise ApiError(429, f"the model is busy ({self.queue.waiting} requests waiting); retry later",
                           kind="rate_limit_error", code="queue_full", headers={"Retry-After": str(full.retry_after)}) from None
        if not await self.queue.wait(ticket, request.is_disconnected):
            return Response(status_code=499)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def emit(event: object) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        def work() -> None:
            try:
                self.runtime.chat.reply_to_client(turn, options, emit, cancel)
            except BaseException as exc:  # reported to the client as a 500 / an error event
                emit(Failed(exc))
            finally:
                emit(DONE)

        future = loop.run_in_executor(self.pool, work)
        future.add_done_callback(lambda _f: self.queue.release(ticket))
        writer = CompletionWriter(self.model_name, req)
        try:
            first = await _next_event(events, request, cancel)
        except BaseException:
            cancel.set()
            raise
        if isinstance(first, Failed):
            await events.get()
            raise first.error
        if first is DONE:  # client left before the first token
            return Response(status_code=499)
        assert isinstance(first, ReplyStarted)
        writer.start(first.message)
        headers = self._headers(first.message.adapter_version)
        if req.stream:
            return EventSourceResponse(self._sse(writer, events, cancel), headers=headers, sep="\n", ping=15)
        return await self._whole(writer, events, request, cancel, headers)

    async def _check_prompt_fits(self, req: ChatRequest) -> None:
        """Refuse (400, ``context_length_exceeded``) a request whose newest message (with the system
        prompt) cannot fit the context with the reply, before it is queued or stored: the server
        drops older turns to fit a long history, but never the message being answered. A char
        bound first (no token is longer than MAX_CHARS_PER_TOKEN characters), then the engine's
        own tokenizer, off the event loop."""
        engine = self.runtime.engine
        system = req.messages[0] if req.messages[0]["role"] == "system" else \
            {"role": "system", "content": self.runtime.settings.system_prompt or ""}
        needed = [system] + ([req.messages[-1]] if req.messages[-1] is not system else [])
        room = engine.n_ctx - (req.max_tokens or 1)
        chars = sum(len(m.get("content") or "") for m in needed)
        if chars > engine.n_ctx * MAX_CHARS_PER_TOKEN:
            tokens = None
        else:
            count = getattr(engine, "count_tokens", None)
            if count is None:
                return
            tokens = await asyncio.to_thread(count, needed)
            if tokens <= room:
                return
        what = f"{tokens} tokens" if tokens is not None else f"{chars} characters, more than {engine.n_ctx} tokens"
        reply = f" plus {req.max_tokens} for the reply" if req.max_tokens else ""
        raise bad(f"the prompt is too long: the last message and the system prompt need {what}{reply}; "
                  f"the model's context window is {engine.n_ctx} tokens", param="messages", code="context_length_exceeded")

    async def _sse(self, writer: CompletionWriter, events: asyncio.Queue, cancel: threading.Event) -> AsyncIterator[dict]:
        try:
            for chunk in writer.opening_chunks():
                yield {"data": chunk}
            while True:
                event = await events.get()
                if event is DONE:
                    break
                if isinstance(event, Failed):
                    yield {"data": writer.error_chunk(event.error)}
                    continue
                for chunk in writer.chunks_for(event):
                    yield {"data": chunk}
            yield {"data": "[DONE]"}
        finally:
            cancel.set()  # the client left (or we are done): stop generating

    async def _whole(self, writer: CompletionWriter, events: asyncio.Queue, request: Request, cancel: threading.Event,
                     headers: dict[str, str]) -> Response:
        failure: BaseException | None = None
        while True:
            event = await _next_event(events, request, cancel)
            if event is DONE:
                break
            if isinstance(event, Failed):
                failure = event.error
            else:
                writer.absorb(event)
        if failure is not None:
            raise failure
        if cancel.is_set():
            return Response(status_code=499)
        return JSONResponse(writer.completion(), headers=headers)

    async def feedback(self, request: Request) -> Response:
        body = await self._body(request)
        ident = body.get("id")
        match = ID_PATTERN.match(ident) if isinstance(ident, str) else None
        if match is None:
            raise bad("'id' must be a completion id from this server (chatcmpl-oc-…)", param="id", code="invalid_value")
        message_id = _row_id(match.group(1))
        if message_id is None:
            raise ApiError(404, f"no stored completion {ident[:40]}", param="id", code="not_found")
        rating, correction = body.get("rating"), body.get("correction")
        if (rating is None) == (correction is None):
            raise bad("send exactly one of 'rating' (1 or -1) or 'correction' (the better reply)", code="invalid_value")
        if rating is not None and (isinstance(rating, bool) or rating not in (1, -1)):
            raise bad("'rating' must be 1 or -1", param="rating", code="invalid_value")
        if correction is not None and (not isinstance(correction, str) or not correction.strip()):
            raise bad("'correction' must be a non-empty string", param="correction", code="invalid_value")
        chat = self.runtime.chat
        try:
            message = chat.store.get_message(message_id)
        except KeyError:
            raise ApiError(404, f"no stored completion {ident}", param="id", code="not_found") from None
        if message.role != "assistant":
            raise ApiError(404, f"no stored completion {ident}", param="id", code="not_found")
        if rating is not None:
            await asyncio.to_thread(chat.rate, message_id, rating)
        else:
            await asyncio.to_thread(chat.correct, message_id, correction)
        return JSONResponse({"id": ident, "object": "feedback", "rating": rating, "correction": correction, "recorded": True})

    async def list_adapters(self, request: Request) -> Response:
        svc = self.runtime.adapters
        served = self.served_version()
        data = []
        for v in svc.versions():
            d = svc.describe(v)
            data.append({k: d[k] for k in ("id", "status", "reason", "parent", "created_at", "activated_at", "source",
                                           "n_samples", "loss", "mean_reward", "gate_summary")} | {"served": v.id == served})
        return JSONResponse({"object": "list", "data": data, "served": adapter_label(served)}, headers=self._headers(served))

    async def activate(self, request: Request) -> Response:
        raw = request.path_params["version"].lstrip("v")
        if not raw.isascii() or not raw.isdigit():
            raise bad("the adapter version must be a number (e.g. 3 or v3)", param="version", code="invalid_value")
        version = _row_id(raw)
        if version is None:  # no row has such an id (SQLite's integers are 64-bit)
            raise ApiError(404, f"there is no adapter version {raw[:40]}", param="version", code="not_found")
        svc = self.runtime.adapters
        try:
            svc.get(version)
        except UserError as exc:
            raise ApiError(404, exc.one_line(), param="version", code="not_found") from None
        try:
            await asyncio.to_thread(svc.activate, version)
        except UserError as exc:
            raise bad(exc.one_line(), param="version", code="refused") from None
        return await self._served_now()

    async def rollback(self, request: Request) -> Response:
        try:
            await asyncio.to_thread(self.runtime.adapters.rollback)
        except UserError as exc:
            raise bad(exc.one_line(), code="refused") from None
        return await self._served_now()

    # ------------------------------------------------------------ preferences
    def _preferences(self):
        return self.runtime.chat.preferences

    def _pref_id(self, request: Request) -> int:
        raw = request.path_params["pref_id"]
        if not raw.isdigit():
            raise bad("the preference id must be a number", param="id", code="invalid_value")
        pid = int(raw)
        if self._preferences().prefs.get(pid) is None:
            raise ApiError(404, f"no preference {pid}", param="id", code="not_found")
        return pid

    async def list_preferences(self, request: Request) -> Response:
        prefs = await asyncio.to_thread(self._preferences().list)
        return JSONResponse({"object": "list", "data": [{"object": "preference", **p.as_dict()} for p in prefs]})

    async def add_preference(self, request: Request) -> Response:
        body = await self._body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad("'text' must be a non-empty string", param="text", code="invalid_value")
        svc = self._preferences()
        try:
            pref = await asyncio.to_thread(svc.add, text, origin=f"endpoint:{client_name(request)}")
        except UserError as exc:
            raise bad(exc.one_line(), param="text", code="invalid_value") from None
        return JSONResponse({"object": "preference", **pref.as_dict()})

    async def change_preference(self, request: Request) -> Response:
        pid = self._pref_id(request)
        body = await self._body(request)
        text, status = body.get("text"), body.get("status")
        if text is None and status is None:
            raise bad("send 'text' (the new wording) and/or 'status' ('active' or 'paused')", code="invalid_value")
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise bad("'text' must be a non-empty string", param="text", code="invalid_value")
        if status is not None and status not in ("active", "paused"):
            raise bad("'status' must be 'active' or 'paused'", param="status", code="invalid_value")
        svc, origin = self._preferences(), f"endpoint:{client_name(request)}"
        try:
            if status is not None:  # first, so a new wording from a client still waits for the user's confirmation
                await asyncio.to_thread(svc.set_status, pid, status, origin=origin)
            if text is not None:
                await asyncio.to_thread(svc.edit, pid, text, origin=origin)
        except UserError as exc:
            raise bad(exc.one_line(), param="status" if status is not None and text is None else None,
                      code="refused" if "confirm" in exc.one_line() else "invalid_value") from None
        return JSONResponse({"object": "preference", **svc.get(pid).as_dict()})

    async def delete_preference(self, request: Request) -> Response:
        pid = self._pref_id(request)
        await asyncio.to_thread(self._preferences().remove, pid)
        return JSONResponse({"id": pid, "object": "preference", "deleted": True})

    async def _served_now(self) -> Response:
        """Swap the newly active version in before answering, so the next request is served by it."""
        await asyncio.to_thread(self.runtime.learner.serve_active)
        version = self.served_version()
        return JSONResponse({"served": adapter_label(version), "adapter_version": version}, headers=self._headers(version))


async def _next_event(events: asyncio.Queue, request: Request, cancel: threading.Event) -> object:
    """The next event from the generation thread; a client that left cancels the generation."""
    while True:
        try:
            return await asyncio.wait_for(events.get(), timeout=0.25)
        except asyncio.TimeoutError:
            if not cancel.is_set() and await request.is_disconnected():
                cancel.set()


class _Guard:
    """API key check (when one is set) and OpenAI-shaped errors for everything raised in a route."""

    def __init__(self, app, endpoint: Endpoint):
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        key = self.endpoint.api_key
        if key and scope["path"] != "/healthz":
            scheme, _, given = request.headers.get("authorization", "").strip().partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
                await ApiError(401, "missing or wrong API key (send Authorization: Bearer <key>)", kind="authentication_error",
                               code="invalid_api_key").response()(scope, receive, send)
                return
        try:
            await self.app(scope, receive, send)
        except ApiError as exc:
            await exc.response()(scope, receive, send)
        except (DatabaseError, DataDirError) as exc:  # our side cannot store it: not the client's fault
            await ApiError(503, f"the server cannot store this right now: {exc.one_line()}", kind="server_error",
                           code="storage_unavailable").response()(scope, receive, send)
        except UserError as exc:
            await ApiError(400, exc.one_line(), code="refused").response()(scope, receive, send)
        except Exception as exc:  # a bug: still an error object, never a traceback page
            await ApiError(500, f"internal error: {type(exc).__name__}: {exc}", kind="server_error",
                           code="internal_error").response()(scope, receive, send)
