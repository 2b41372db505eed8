"""Running the endpoint: checks before binding (API key off loopback, port free), then uvicorn.

``serve`` runs it in the foreground; ``chat --serve`` runs it on a background thread
beside the terminal chat (one model, one learner), stopped when the chat closes.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from typing import Any

from openclaw_local.errors import UsageError

LOOPBACK_NAMES = ("localhost",)
MAX_CONNECTIONS = 64  # open connections at once (each waiting request holds one; the queue holds 16 by default)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_api_key(host: str, given: str | None) -> str | None:
    """The API key to require; refuses (exit 2) to bind a non-loopback address without one."""
    key = given if given is not None else os.environ.get("OPENCLAW_API_KEY")
    if key is not None:
        key = key.strip()  # a key pasted with a newline or spaces is the same key
        if not key:
            where = "--api-key" if given is not None else "OPENCLAW_API_KEY"
            raise UsageError(f"{where} is blank", "give a real key, or leave it unset (then only loopback is served)")
    if key is None and not is_loopback(host):
        raise UsageError(f"serving on {host} (not loopback) needs an API key",
                         "pass --api-key KEY or set OPENCLAW_API_KEY; clients send it as Authorization: Bearer KEY")
    return key


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})", "choose another --port") from None


def make_server(runtime: Any, host: str, port: int, api_key: str | None, *, quiet: bool = False):
    import uvicorn

    from openclaw_local.endpoint.app import Endpoint

    endpoint = Endpoint(runtime, api_key=api_key, queue_size=runtime.settings.serve_queue_size)
    # limit_concurrency: connections (slow clients included) beyond it are answered 503 at once, so
    # clients that open connections and never finish a request cannot use up the server
    config = uvicorn.Config(endpoint.app(), host=host, port=port, log_level="critical" if quiet else "info",
                            access_log=not quiet, timeout_graceful_shutdown=2, lifespan="off",
                            limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5)
    return uvicorn.Server(config)


class BackgroundServer:
    """The endpoint on its own thread and event loop (``chat --serve``)."""

    def __init__(self, server):
        self.server = server
        self.thread = threading.Thread(target=server.run, name="endpoint-server", daemon=True)

    def start(self) -> "BackgroundServer":
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
