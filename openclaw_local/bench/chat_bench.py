"""Chat speed through the app's own path vs raw llama-cpp-python, interleaved.

App path: ``ChatService.send`` — message assembly, context fitting, the engine's
streaming, and the SQLite writes (user row, assistant row, periodic flushes).
Raw path: ``Llama.create_chat_completion(stream=True)`` on a second ``Llama``
loaded from the same file with the same settings and thread count. Rounds
alternate (app, raw, raw, app, …) so machine noise hits both arms alike; both
KV caches are reset before each round so every round evaluates the full prompt.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from openclaw_local.bench.report import BenchResult, median
from openclaw_local.config import Settings

PROMPT = "Write a detailed story about a lighthouse keeper who befriends a whale. Use at least five paragraphs."


def _raw_round(llm, messages, max_tokens: int, seed: int) -> tuple[float, float, int]:
    llm.reset()
    llm.set_seed(seed)
    start = time.perf_counter()
    first = None
    n = 0
    for chunk in llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True):
        delta = chunk["choices"][0]["delta"].get("content")
        if delta:
            n += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    first = first or end
    return first - start, (n - 1) / (end - first) if n > 1 and end > first else 0.0, n


def _app_round(chat, max_tokens: int) -> tuple[float, float, int]:
    chat.engine.llm.reset()
    conv = chat.new_conversation()
    start = time.perf_counter()
    first = None
    from openclaw_local.services.events import ReplyDelta

    def emit(event):
        nonlocal first
        if first is None and isinstance(event, ReplyDelta):
            first = time.perf_counter()

    msg = chat.send(conv.id, PROMPT, emit)
    end = time.perf_counter()
    first = first or end
    n = msg.n_tokens or 0
    return first - start, (n - 1) / (end - first) if n > 1 and end > first else 0.0, n


def run(model: Path, settings: Settings, *, rounds: int = 7, max_tokens: int = 128) -> BenchResult:
    import llama_cpp

    from openclaw_local.engine import Engine
    from openclaw_local.services.chat import ChatService
    from openclaw_local.store import Store

    s = settings.replace(temperature=0.0, max_tokens=max_tokens, seed=1234)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        engine = Engine(model, n_ctx=s.n_ctx, threads=s.threads, n_gpu_layers=s.n_gpu_layers, seed=1234)
        chat = ChatService(store, engine, s)
        raw = llama_cpp.Llama(model_path=str(model), n_ctx=s.n_ctx, n_threads=s.threads, n_threads_batch=s.threads,
                              n_gpu_layers=s.n_gpu_layers, seed=1234, verbose=False)
        messages = [{"role": "system", "content": s.system_prompt}, {"role": "user", "content": PROMPT}]
        _app_round(chat, 8), _raw_round(raw, messages, 8, 1234)  # warm-up
        app, rawr = [], []
        for i in range(rounds):
            order = [("app", chat), ("raw", raw)] if i % 2 == 0 else [("raw", raw), ("app", chat)]
            for name, obj in order:
                if name == "app":
                    app.append(_app_round(obj, max_tokens))
                else:
                    rawr.append(_raw_round(obj, messages, max_tokens, 1234))
        engine.close()
        raw.close()
        store.close()
    a_ttft, a_tps = median([r[0] for r in app]), median([r[1] for r in app])
    r_ttft, r_tps = median([r[0] for r in rawr]), median([r[1] for r in rawr])
    ratio = a_tps / r_tps if r_tps else float("nan")
    return BenchResult(
        name="chat",
        title="Chat: app path vs raw llama-cpp-python",
        method=(f"{rounds} interleaved rounds per arm, {max_tokens} tokens max, temperature 0, "
                f"{s.threads} threads, n_ctx {s.n_ctx}, KV cache reset before each round; model {model.name}. Medians."),
        rows=[
            ("app generation tokens/s", f"{a_tps:.1f}"),
            ("raw generation tokens/s", f"{r_tps:.1f}"),
            ("ratio app/raw tokens/s (target ≥ 0.95)", f"{ratio:.3f}"),
            ("app time to first token", f"{a_ttft * 1000:.0f} ms"),
            ("raw time to first token", f"{r_ttft * 1000:.0f} ms"),
            ("ratio app/raw TTFT", f"{a_ttft / r_ttft:.3f}" if r_ttft else "n/a"),
            ("tokens per round (app / raw, median)", f"{median([r[2] for r in app]):.0f} / {median([r[2] for r in rawr]):.0f}"),
        ],
        verdict=("target met" if ratio >= 0.95 else "target missed") + f": app/raw = {ratio:.3f}",
    )
