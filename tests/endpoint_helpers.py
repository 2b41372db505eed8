"""A real ``openclaw-local serve`` process on a free port, for the endpoint tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.threads import THREADS

REPO = Path(__file__).resolve().parents[1]
BASE_CONFIG = {
    "max_tokens": 16,
    "temperature": 0.0,
    "seed": 7,
    "n_ctx": 1024,
    "threads": THREADS,
    "judge_mode": "rules",
    "learn_min_samples": 100000,  # judge, but never train during these tests
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(home: Path, **extra) -> None:
    home.mkdir(parents=True, exist_ok=True)
    lines = []
    for key, value in {**BASE_CONFIG, **extra}.items():
        text = json.dumps(value)  # TOML's strings, numbers and true/false are written the same way
        lines.append(f"{key} = {text}")
    (home / "config.toml").write_text("\n".join(lines) + "\n")


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env["OPENCLAW_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    home: Path
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        return f"{self.base}/v1"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(home: Path, *args: str, timeout: float = 120.0) -> Server:
    port = free_port()
    log = home / "serve.log"
    fh = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "openclaw_local", "serve", "--port", str(port), *args],
                            env=cli_env(home), stdout=fh, stderr=subprocess.STDOUT, cwd=str(REPO))
    fh.close()
    server = Server(proc, port, home, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"serve did not come up: {log.read_text()[-2000:]}")
