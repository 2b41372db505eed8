"""A real HTTP stand-in for the Hugging Face Hub, for the ``models pull`` tests.

Two servers on 127.0.0.1, like the hub and its CDN on different hosts:

- the *hub* answers ``HEAD|GET /<repo>/resolve/<rev>/<file>`` with a 302 carrying the
  headers ``huggingface_hub.get_hf_file_metadata`` reads (``x-repo-commit``,
  ``x-linked-etag`` = the LFS sha256, ``x-linked-size``, ``etag``) and a ``Location``
  on the CDN; a missing repo or file is a 404 with the hub's ``X-Error-Code``;
- the *CDN* serves ``GET /blobs/<sha256>`` with ``Range`` support (206 +
  ``Content-Range``), and can be told to drop the connection after some bytes or
  to send corrupted bytes. Every request's headers are recorded.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Hub:
    files: dict[tuple[str, str], bytes]  # (repo, filename) -> content
    drop_after: int | None = None  # CDN: close the connection after this many body bytes ...
    drops_left: int = 0  # ... for this many GETs
    corrupt: bool = False  # CDN: flip a byte in the middle of what it sends
    requests: list[dict] = field(default_factory=list)  # {"server", "method", "path", "headers"}
    hub_url: str = ""
    cdn_url: str = ""

    def sha(self, data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def blob(self, sha: str) -> bytes | None:
        return next((d for d in self.files.values() if self.sha(d) == sha), None)

    def gets(self) -> list[dict]:
        return [r for r in self.requests if r["server"] == "cdn" and r["method"] == "GET"]


def _handler(hub: Hub, server_name: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _record(self):
            hub.requests.append({"server": server_name, "method": self.command, "path": self.path,
                                 "headers": {k.lower(): v for k, v in self.headers.items()}})

        def _not_found(self, code: str):
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self):
            self._record()
            self._serve(body=False)

        def do_GET(self):
            self._record()
            self._serve(body=True)

        def _serve(self, body: bool):
            if server_name == "hub":
                return self._resolve()
            sha = self.path.rsplit("/", 1)[-1]
            data = hub.blob(sha)
            if data is None:
                return self._not_found("EntryNotFound")
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
            chunk = data[start:]
            if hub.corrupt:
                mid = len(data) // 2 - start
                if 0 <= mid < len(chunk):
                    chunk = chunk[:mid] + bytes([chunk[mid] ^ 0xFF]) + chunk[mid + 1:]
            self.send_response(206 if rng else 200)
            if rng:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(chunk)))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", f'"{sha}"')
            self.end_headers()
            if not body:
                return
            if hub.drops_left > 0 and hub.drop_after is not None:
                hub.drops_left -= 1
                self.wfile.write(chunk[: hub.drop_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the peer sees the body end early
                return
            self.wfile.write(chunk)

        def _resolve(self):
            parts = self.path.lstrip("/").split("/")
            if len(parts) < 5 or parts[2] != "resolve":
                return self._not_found("RepoNotFound")
            repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
            if not any(r == repo for r, _ in hub.files):
                return self._not_found("RepoNotFound")
            data = hub.files.get((repo, filename))
            if data is None:
                return self._not_found("EntryNotFound")
            sha = hub.sha(data)
            self.send_response(302)
            self.send_header("x-repo-commit", COMMIT)
            self.send_header("x-linked-etag", f'"{sha}"')
            self.send_header("x-linked-size", str(len(data)))
            self.send_header("etag", '"1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"')  # the LFS pointer's git sha1
            self.send_header("Location", f"{hub.cdn_url}/blobs/{sha}")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class HubServers:
    """Start the hub and the CDN threads; ``close()`` stops them."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self._servers = []
        for name in ("hub", "cdn"):
            srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub, name))
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self._servers.append(srv)
            setattr(hub, f"{name}_url", f"http://127.0.0.1:{srv.server_address[1]}")

    def close(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()


def model_bytes(path: Path) -> bytes:
    return Path(path).read_bytes()
