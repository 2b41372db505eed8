"""``models pull`` against a real local HTTP server that serves a small GGUF the way the hub
does (HEAD with X-Repo-Commit / ETag = sha256 / sizes, GET with Range): a clean pull, an
interrupted download resumed by a second run, a corrupted file refused, an unreachable hub;
then ``models list``, ``use`` and ``rm``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
REPO, FILE = "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf"


def small_gguf(path: Path) -> bytes:
    import gguf

    w = gguf.GGUFWriter(str(path), "qwen3")
    w.add_name("tiny test model")
    w.add_tensor("token_embd.weight", np.arange(64 * 1024, dtype=np.float32).reshape(64, 1024))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


class Hub:
    """Serves one file at /{REPO}/resolve/main/{FILE}; can cut the first GET short or corrupt the bytes."""

    def __init__(self, data: bytes):
        self.data = data
        self.sha = hashlib.sha256(data).hexdigest()
        self.cut_after: int | None = None
        self.corrupt = False
        self.ranges: list[str | None] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _headers(self, status: int, length: int, extra: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("X-Repo-Commit", "0" * 40)
                self.send_header("ETag", f'"{hub.sha}"')
                self.send_header("X-Linked-Etag", f'"{hub.sha}"')
                self.send_header("X-Linked-Size", str(len(hub.data)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(length))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()

            def _ok(self) -> bool:
                if self.path != f"/{REPO}/resolve/main/{FILE}":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return False
                return True

            def do_HEAD(self):
                if self._ok():
                    self._headers(200, len(hub.data), {})

            def do_GET(self):
                if not self._ok():
                    return
                rng = self.headers.get("Range")
                hub.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                body = hub.data[start:]
                if hub.corrupt:
                    body = bytes(b ^ 0xFF for b in body[:16]) + body[16:]
                if rng:
                    self._headers(206, len(body), {"Content-Range": f"bytes {start}-{len(hub.data) - 1}/{len(hub.data)}"})
                else:
                    self._headers(200, len(body), {})
                if hub.cut_after is not None:
                    self.wfile.write(body[: hub.cut_after])
                    self.wfile.flush()
                    hub.cut_after = None
                    self.connection.shutdown(2)  # the network drops mid-download
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub(tmp_path):
    h = Hub(small_gguf(tmp_path / "src.gguf"))
    yield h
    h.close()


def cli(home: Path, endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENCLAW_HOME": str(home), "HF_ENDPOINT": endpoint, "PYTHONPATH": str(ROOT),
           "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1"}
    return subprocess.run([sys.executable, "-m", "openclaw_local", "models", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_pull_resume_verify_list_use_rm(tmp_path, hub):
    home = tmp_path / "home"
    target = home / "models" / FILE
    # 1. the network drops after 100 kB: the part is kept, one clear line, nonzero exit
    hub.cut_after = 100_000
    out = cli(home, hub.url, "pull", "qwen3-0.6b")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "error:" in out.stderr and "run the same command again to resume" in out.stderr
    part = home / "models" / ".partial" / (FILE + ".part")
    assert part.stat().st_size == 100_000 and not target.exists()
    # 2. the next run resumes from there (a Range request) and verifies the sha256
    out = cli(home, hub.url, "pull", "qwen3-0.6b")
    assert out.returncode == 0, out.stderr
    assert hub.ranges[-1] == "bytes=100000-"
    assert target.read_bytes() == hub.data and not part.exists()
    assert out.stdout.strip() == str(target)
    # 3. list shows it and what this machine can do; use makes it the default; rm refuses it then
    out = cli(home, hub.url, "list")
    assert out.returncode == 0 and FILE in out.stdout and "recommended:" in out.stdout and "this machine:" in out.stdout
    assert cli(home, hub.url, "use", "qwen3-0.6b").returncode == 0
    assert f'model_path = "{target}"' in (home / "config.toml").read_text()
    assert "* " + FILE in cli(home, hub.url, "list").stdout
    refused = cli(home, hub.url, "rm", "qwen3-0.6b")
    assert refused.returncode == 2 and "in use" in refused.stderr and target.exists()
    (home / "config.toml").write_text("")
    assert cli(home, hub.url, "rm", FILE).returncode == 0 and not target.exists()
    missing = cli(home, hub.url, "rm", FILE)
    assert missing.returncode == 8 and missing.stderr.startswith("error: no downloaded model")


def test_corrupted_download_is_refused(tmp_path, hub):
    home = tmp_path / "home"
    hub.corrupt = True
    out = cli(home, hub.url, "pull", REPO, FILE)
    assert out.returncode != 0 and "does not match the sha256" in out.stderr and "Traceback" not in out.stderr
    assert not (home / "models" / FILE).exists()
    assert not (home / "models" / ".partial" / (FILE + ".part")).exists()


def test_unreachable_hub_and_unknown_names(tmp_path, hub):
    home = tmp_path / "home"
    out = cli(home, "http://127.0.0.1:9", "pull", "qwen3-4b")  # nothing listens on port 9
    assert out.returncode == 1 and out.stderr.startswith("error: cannot reach the model hub") and out.stderr.count("\n") == 1
    out = cli(home, hub.url, "pull", "Qwen/Other-GGUF", "x.gguf")
    assert out.returncode == 8 and "is not on" in out.stderr
    out = cli(home, hub.url, "pull", "llama-9000")
    assert out.returncode == 2 and "unknown model" in out.stderr
