"""The endpoint's speed: streaming through ``openclaw-local serve`` vs raw llama-cpp-python, and under 8 clients.

Endpoint arm: a real ``serve`` process (its own data dir, learning off) streamed over
HTTP with ``httpx``; every request is a stored main turn (conversation, messages,
SQLite flushes), the full path an app sees. Raw arm: ``Llama.create_chat_completion(
stream=True)`` in this process on the same GGUF with the same threads, context and
sampling. A third arm, "in-process", is the same service call the endpoint makes
(``ChatService.reply_to_client``) without HTTP, to show what HTTP and the queue add.
Rounds rotate the arms' order and each round uses a prompt of its own, the same for
all arms, so all reuse only the system prompt's cached prefix. Tokens are counted as
content deltas (one per generated token in every arm).

Concurrency: 8 clients × 5 requests each at once, against one client sending 5 in a
row, alternated twice (1, 8, 1, 8) so machine noise hits both; all must complete,
each in its own conversation with its own prompt.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from openclaw_local.bench.report import BenchResult, median, stream_timing
from openclaw_local.config import Settings

PROMPT = "Write a detailed story about a lighthouse keeper who befriends a whale. Use at least five paragraphs."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(home: Path, model: Path, s: Settings):
    import httpx

    home.mkdir(parents=True, exist_ok=True)
    config = {"learn": False, "temperature": 0.0, "seed": 1234, "n_ctx": s.n_ctx, "threads": s.threads,
              "n_gpu_layers": s.n_gpu_layers, "model_path": str(model), "serve_queue_size": 64}
    (home / "config.toml").write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items()))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")} | {"OPENCLAW_HOME": str(home)}
    log = open(home / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "openclaw_local", "serve", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {(home / 'serve.log').read_text()[-1000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("serve did not start")


def _endpoint_round(client, base: str, messages, max_tokens: int) -> tuple[float, float, int]:
    body = {"model": "any", "messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "seed": 1234, "stream": True}
    start = time.perf_counter()
    first, n = None, 0
    with client.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=300) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                n += 1
                if first is None:
                    first = time.perf_counter()
    return stream_timing(start, first, time.perf_counter(), n)


def _raw_round(llm, messages, max_tokens: int) -> tuple[float, float, int]:
    llm.set_seed(1234)
    start = time.perf_counter()
    first, n = None, 0
    for chunk in llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            n += 1
            if first is None:
                first = time.perf_counter()
    return stream_timing(start, first, time.perf_counter(), n)


def _inproc_round(chat, messages, max_tokens: int) -> tuple[float, float, int]:
    from openclaw_local.services.chat import GenerationOptions
    from openclaw_local.services.events import ReplyDelta
    from openclaw_local.services.sessions import ClientTurn

    start = time.perf_counter()
    first = None

    def emit(event):
        nonlocal first
        if first is None and isinstance(event, ReplyDelta) and event.reply:
            first = time.perf_counter()

    opts = GenerationOptions.from_settings(chat.settings, max_tokens=max_tokens, temperature=0.0, seed=1234)
    msg = chat.reply_to_client(ClientTurn(messages=messages, source="bench"), opts, emit)
    return stream_timing(start, first, time.perf_counter(), msg.n_tokens or 0)


def _load(base: str, clients: int, per_client: int, max_tokens: int, tag: str) -> tuple[float, list[float], int, list[dict]]:
    """``clients`` threads each sending ``per_client`` requests in a row. Returns (wall s, latencies, tokens, replies)."""
    import httpx

    latencies: list[float] = []
    replies: list[dict] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(timeout=600) as http:
            for i in range(per_client):
                prompt = f"[{tag} client {c} request {i}] Name three animals that live in the sea."
                body = {"model": "any", "max_tokens": max_tokens, "messages": [{"role": "user", "content": prompt}]}
                t0 = time.perf_counter()
                r = http.post(f"{base}/v1/chat/completions", json=body)
                took = time.perf_counter() - t0
                with lock:
                    latencies.append(took)
                    replies.append({"prompt": prompt, "status": r.status_code, "body": r.json()})

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    tokens = sum(r["body"]["usage"]["completion_tokens"] for r in replies if r["status"] == 200)
    return wall, latencies, tokens, replies


def _while_training(tmp: Path, s: Settings, stream_round, pairs: int) -> tuple[list[float], list[float]]:
    """Endpoint tokens/s with a real training load paused (SIGSTOP) and running, alternated.

    The load runs under the learner's CPU policy (SCHED_IDLE, else nice 19).
    """
    import signal

    env = dict(os.environ, OMP_NUM_THREADS=str(s.learner_threads))
    (tmp / "train").mkdir(exist_ok=True)
    load = subprocess.Popen([sys.executable, "-m", "openclaw_local.bench.train_load", "--home", str(tmp / "train"),
                             "--threads", str(s.learner_threads)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    idle: list[float] = []
    busy: list[float] = []
    try:
        time.sleep(15)  # let it load the model and start training
        for i in range(pairs * 2):
            training = i % 2 == 1
            os.kill(load.pid, signal.SIGCONT if training else signal.SIGSTOP)
            time.sleep(1.0)
            (busy if training else idle).append(stream_round(i)[1])
    finally:
        load.kill()
        load.wait()
    return idle, busy


def _check_replies(home: Path, replies: list[dict]) -> int:
    """Replies that are missing, failed, or stored under another request's conversation."""
    from openclaw_local.services import container

    store = container.open_store(home)
    bad = 0
    seen: set[str] = set()
    for r in replies:
        if r["status"] != 200:
            bad += 1
            continue
        meta = r["body"]["metadata"]
        msgs = store.messages(int(meta["conversation_id"]))
        if meta["conversation_id"] in seen or not msgs or msgs[0].content != r["prompt"] \
                or msgs[-1].content != r["body"]["choices"][0]["message"]["content"]:
            bad += 1
        seen.add(meta["conversation_id"])
    store.close()
    return bad


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def run(model: Path, settings: Settings, *, rounds: int = 7, max_tokens: int = 128,
        user_home: Path | None = None) -> BenchResult:
    import httpx

    from openclaw_local.services import container
    from openclaw_local.engine.load_plan import open_llama
    from openclaw_local.services.chat import ChatService

    s = settings.replace(temperature=0.0, seed=1234)
    wall_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        proc, base = _start_server(home, model, s)
        plan = container.load_plan(user_home, s, model)  # every arm loads as the app would on this machine
        raw = open_llama(model, plan, n_ctx=s.n_ctx, n_threads=s.threads, n_threads_batch=s.threads,
                         seed=1234, verbose=False)
        (Path(tmp) / "inproc").mkdir()
        store = container.open_store(Path(tmp) / "inproc")
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, seed=1234, plan=plan)
        chat = ChatService(store, engine, s)
        try:
            http = httpx.Client()

            def messages(i: int) -> list[dict]:
                return [{"role": "system", "content": s.system_prompt}, {"role": "user", "content": f"{PROMPT} (Draft {i}.)"}]

            arms = {"ep": lambda m: _endpoint_round(http, base, m, max_tokens), "raw": lambda m: _raw_round(raw, m, max_tokens),
                    "in": lambda m: _inproc_round(chat, m, max_tokens)}
            _endpoint_round(http, base, messages(-1), 8), _raw_round(raw, messages(-1), 8), _inproc_round(chat, messages(-1), 8)
            res: dict[str, list] = {k: [] for k in arms}
            names = list(arms)
            for i in range(rounds):
                for name in names[i % 3:] + names[: i % 3]:  # rotate the order
                    res[name].append(arms[name](messages(i)))
            ep, rw, inp = res["ep"], res["raw"], res["in"]
            overheads = [e[0] - r[0] for e, r in zip(ep, rw)]
            http_over = [e[0] - x[0] for e, x in zip(ep, inp)]
            conc_tokens = max(16, max_tokens // 4)
            runs = {1: [], 8: []}
            for rep in range(2):
                for clients in (1, 8):
                    runs[clients].append(_load(base, clients, 5, conc_tokens, f"c{clients}r{rep}"))
            replies = [r for k in runs for run in runs[k] for r in run[3]]
            bad = _check_replies(home, replies)
            idle, busy = _while_training(Path(tmp), s, lambda i: arms["ep"](messages(100 + i)), max(3, rounds // 2))
            http.close()
        finally:
            raw.close()
            engine.close()
            store.close()
            proc.terminate()
            proc.wait(30)
    one_wall, one_tokens = sum(r[0] for r in runs[1]), sum(r[2] for r in runs[1])
    many_wall, many_tokens = sum(r[0] for r in runs[8]), sum(r[2] for r in runs[8])
    one_lat = [x for r in runs[1] for x in r[1]]
    many_lat = [x for r in runs[8] for x in r[1]]
    e_tps, r_tps = median([x[1] for x in ep]), median([x[1] for x in rw])
    ratio = e_tps / r_tps if r_tps else float("nan")
    ttft_over = median(overheads) * 1000
    one_tput, many_tput = one_tokens / one_wall, many_tokens / many_wall
    tput_ratio = many_tput / one_tput if one_tput else float("nan")
    missed = []
    if ratio < 0.95:
        missed.append(f"tokens/s ratio {ratio:.3f} < 0.95")
    if ttft_over > 15:
        missed.append(f"TTFT overhead {ttft_over:.1f} ms > 15 ms")
    if tput_ratio < 0.9:
        missed.append(f"8-client throughput {tput_ratio:.2f}× < 0.9×")
    train_ratio = median(busy) / median(idle) if idle and median(idle) else float("nan")
    if train_ratio < 0.9:
        missed.append(f"endpoint while training {train_ratio:.2f}× idle < 0.9×")
    if bad:
        missed.append(f"{bad} of {len(replies)} concurrent requests lost or mixed up")
    return BenchResult(
        name="serve",
        title="Endpoint: streaming through `serve` vs raw llama-cpp-python; 8 concurrent clients",
        method=(f"{rounds} interleaved rounds per arm, {max_tokens} tokens max, temperature 0, {s.threads} threads, "
                f"n_ctx {s.n_ctx}; model {model.name}. Endpoint = a real `serve` process streamed over HTTP (httpx), "
                f"each request a stored turn; raw = `Llama.create_chat_completion(stream=True)` in the bench process; "
                f"in-process = `ChatService.reply_to_client` in the bench process (the endpoint's path without HTTP). "
                f"Concurrency: 8 clients × 5 requests ({conc_tokens} tokens max) at once vs 1 client × 5 in a row, "
                f"alternated twice, pooled. "
                f"Medians. The 2 CPU cores are shared with other work, so timings are noisy. "
                f"Whole run: {time.perf_counter() - wall_start:.0f} s."),
        rows=[
            ("endpoint streaming tokens/s", f"{e_tps:.1f}"),
            ("raw streaming tokens/s", f"{r_tps:.1f}"),
            ("ratio endpoint/raw tokens/s (target ≥ 0.95)", f"{ratio:.3f}"),
            ("endpoint time to first token", f"{median([x[0] for x in ep]) * 1000:.0f} ms"),
            ("raw time to first token", f"{median([x[0] for x in rw]) * 1000:.0f} ms"),
            ("in-process (no HTTP) time to first token", f"{median([x[0] for x in inp]) * 1000:.0f} ms"),
            ("in-process (no HTTP) tokens/s", f"{median([x[1] for x in inp]):.1f}"),
            ("TTFT overhead endpoint − raw, median of per-round differences (target ≤ 15 ms)", f"{ttft_over:.1f} ms"),
            ("TTFT overhead endpoint − in-process (HTTP + queue), median of per-round differences",
             f"{median(http_over) * 1000:.1f} ms"),
            ("tokens per round (endpoint / raw, median)", f"{median([x[2] for x in ep]):.0f} / {median([x[2] for x in rw]):.0f}"),
            ("1 client × 5: latency p50 / p95", f"{_pct(one_lat, 0.5):.2f} s / {_pct(one_lat, 0.95):.2f} s"),
            ("8 clients × 5: latency p50 / p95", f"{_pct(many_lat, 0.5):.2f} s / {_pct(many_lat, 0.95):.2f} s"),
            ("throughput 1 client / 8 clients", f"{one_tput:.1f} / {many_tput:.1f} tokens/s"),
            ("throughput ratio 8 clients / 1 (target ≥ 0.9)", f"{tput_ratio:.2f}"),
            ("concurrent requests completed, each in its own conversation", f"{len(replies) - bad} / {len(replies)}"),
            ("endpoint streaming tokens/s idle / while training (nice 19)", f"{median(idle):.1f} / {median(busy):.1f}"),
            ("ratio while training / idle (target ≥ 0.9)", f"{train_ratio:.3f}"),
        ],
        verdict=("all targets met" if not missed else "target missed: " + "; ".join(missed)),
    )
