"""Endpoint safety against a real ``serve`` process: API key, loopback rule, the bounded FIFO
queue (429 + Retry-After, dropped waiters), and one process per data dir.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import httpx
import pytest

from openclaw_local.endpoint.queue import QueueFull, RequestQueue
from openclaw_local.store import Store
from tests.endpoint_helpers import REPO, cli_env, free_port, start_server, write_config

KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-safety")
    write_config(home, serve_queue_size=1, learn=False)
    srv = start_server(home, "--api-key", KEY)
    yield srv
    srv.stop()


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def chat(server, content: str, **extra) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def run_cli(home, *args, env_extra=None, timeout=60):
    env = {**cli_env(home), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "openclaw_local", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=str(REPO))


def test_non_loopback_needs_an_api_key(tmp_path):
    r = run_cli(tmp_path, "serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "API key" in lines[0]


def test_api_key_checked_as_bearer(server):
    body = chat(server, "hi", max_tokens=4)
    r = httpx.post(f"{server.v1}/chat/completions", json=body)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert httpx.post(f"{server.v1}/chat/completions", json=body, headers=auth("wrong")).status_code == 401
    assert httpx.get(f"{server.v1}/models").status_code == 401
    assert httpx.get(f"{server.base}/healthz").status_code == 200  # liveness needs no key
    assert httpx.post(f"{server.v1}/chat/completions", json=body, headers=auth()).status_code == 200


def test_second_serve_on_the_same_data_dir_refuses_naming_chat_serve(server):
    r = run_cli(server.home, "serve", "--port", str(free_port()))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "chat --serve" in lines[0], r.stderr


def test_full_queue_answers_429_with_retry_after(server):
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        r = httpx.post(f"{server.v1}/chat/completions", json=chat(server, f"Story number {i}, please.", max_tokens=48,
                                                                     temperature=1.0, seed=i), headers=auth(), timeout=120)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    codes = sorted(r.status_code for r in results)
    assert len(results) == 5 and set(codes) <= {200, 429} and 429 in codes and 200 in codes
    refused = next(r for r in results if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1 and refused.json()["error"]["code"] == "queue_full"


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_queued_request_whose_client_left_is_dropped(server):
    long = threading.Thread(target=lambda: httpx.post(
        f"{server.v1}/chat/completions", json=chat(server, "Count from 1 to 500, separated by commas.", max_tokens=150),  # greedy: ~190 tokens
        headers=auth(), timeout=120))
    long.start()
    time.sleep(0.3)
    with pytest.raises(httpx.TimeoutException):
        httpx.post(f"{server.v1}/chat/completions", json=chat(server, "I will not wait for this one", max_tokens=8),
                   headers=auth(), timeout=0.5)
    long.join(120)
    time.sleep(0.5)
    store = Store.open(server.home)
    assert not [c for c in store.list_conversations() if c.title == "I will not wait for this one"]
    assert httpx.get(f"{server.base}/healthz").json()["queue"]["dropped"] >= 1


# --------------------------------------------------------------- the queue itself


async def test_request_queue_is_first_come_first_served_and_bounded():
    q = RequestQueue(size=2)
    order: list[int] = []

    async def never_left() -> bool:
        return False

    async def job(i: int) -> None:
        ticket = q.admit()
        assert await q.wait(ticket, never_left)
        order.append(i)
        await asyncio.sleep(0.01)
        q.release(ticket)

    tasks = [asyncio.create_task(job(i)) for i in range(3)]  # one runs at once, two wait
    await asyncio.sleep(0)
    with pytest.raises(QueueFull) as full:
        q.admit()
    assert full.value.retry_after >= 1
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2] and q.served == 3 and not q.busy


async def test_request_queue_drops_a_waiter_whose_client_left():
    q = RequestQueue(size=4)
    running = q.admit()
    waiting = q.admit()
    left = asyncio.Event()

    async def client_left() -> bool:
        return left.is_set()

    waiter = asyncio.create_task(q.wait(waiting, client_left))
    await asyncio.sleep(0.05)
    left.set()
    assert await waiter is False and q.dropped == 1 and q.waiting == 0
    third = q.admit()
    q.release(running)
    assert third.turn.done()  # the next in line, not the one that left


def test_chat_serve_off_loopback_needs_an_api_key_too(tmp_path):
    r = run_cli(tmp_path, "chat", "--serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "API key" in r.stderr
