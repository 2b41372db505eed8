"""Chat speed through the app's own path vs raw llama-cpp-python, interleaved.

App path: ``ChatService.send`` — message assembly, context fitting, the engine's
streaming, and the SQLite writes (user row, assistant row, periodic flushes).
Raw path: ``Llama.create_chat_completion(stream=True)`` on a second ``Llama``
loaded from the same file with the same settings and thread count. Rounds
alternate (app, raw, raw, app, …) so machine noise hits both arms alike; both
KV caches are reset before each round so every round evaluates the full prompt.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from openclaw_local.bench.report import BenchResult, median, stream_timing
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
    return stream_timing(start, first, time.perf_counter(), n)


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
    return stream_timing(start, first, time.perf_counter(), msg.n_tokens or 0)


def run(model: Path, settings: Settings, *, rounds: int = 7, max_tokens: int = 128, home: Path | None = None) -> BenchResult:
    from openclaw_local.services import container
    from openclaw_local.engine.load_plan import open_llama
    from openclaw_local.services.chat import ChatService

    s = settings.replace(temperature=0.0, max_tokens=max_tokens, seed=1234)
    plan = container.load_plan(home, s, model)  # both arms load as the app would on this machine
    with tempfile.TemporaryDirectory() as tmp:
        store = container.open_store(Path(tmp))
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, seed=1234, plan=plan)
        chat = ChatService(store, engine, s)
        raw = open_llama(model, plan, n_ctx=s.n_ctx, n_threads=s.threads, n_threads_batch=s.threads,
                         seed=1234, verbose=False)
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


def _cpu_line() -> str:
    """The CPU's name and whether it reports AMX (what makes llama.cpp repack into AMX buffers)."""
    name, amx = platform.processor() or platform.machine(), False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name") and name in ("", platform.processor() or platform.machine()):
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    amx = "amx_int8" in line.split()
                    break
    except OSError:
        pass
    return f"{name}, {'reports' if amx else 'no'} AMX"


def _prompt_eval_tps(engine, n_tokens: int = 384) -> float:
    """Prompt tokens/s of one batched evaluation (where weight repacking matters most)."""
    text = (PROMPT + " ") * 40
    tokens = engine.tokenize(text)[:n_tokens]
    engine.llm.reset()
    engine.llm._ctx.kv_cache_clear()  # noqa: SLF001
    start = time.perf_counter()
    engine.llm.eval(tokens)
    seconds = time.perf_counter() - start
    engine.llm.reset()
    return len(tokens) / seconds if seconds > 0 else 0.0


def run_extra_buffers(model: Path, settings: Settings, *, rounds: int = 7, max_tokens: int = 128) -> BenchResult:
    """The app's chat with llama.cpp's extra CPU buffer types on vs off, rounds alternated.

    "On" is only measured when its self-test probe passes here (where it crashes, that is
    the point of the fallback, and there is nothing to compare).
    """
    from openclaw_local.services import container
    from openclaw_local.engine.load_plan import LoadPlan
    from openclaw_local.engine.selftest import run_probe
    from openclaw_local.services.chat import ChatService

    s = settings.replace(temperature=0.0, max_tokens=max_tokens, seed=1234)
    load_before = os.getloadavg()[0]
    arms = {"off": LoadPlan(extra_buffers=False)}
    probe = run_probe(model, extra_buffers=True, n_gpu_layers=0, threads=s.threads)
    if probe.ok:
        arms["on"] = LoadPlan(extra_buffers=True)
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in arms}
    prompt_tps: dict[str, list[float]] = {name: [] for name in arms}
    with tempfile.TemporaryDirectory() as tmp:
        store = container.open_store(Path(tmp))
        chats = {name: ChatService(store, container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, seed=1234, plan=plan), s)
                 for name, plan in arms.items()}
        for chat in chats.values():
            _app_round(chat, 8)  # warm-up
        names = list(chats)
        for i in range(rounds):
            for name in names if i % 2 == 0 else names[::-1]:
                results[name].append(_app_round(chats[name], max_tokens))
                prompt_tps[name].append(_prompt_eval_tps(chats[name].engine))
        for chat in chats.values():
            chat.engine.close()
        store.close()
    med = {name: (median([r[0] for r in rs]), median([r[1] for r in rs]), median(prompt_tps[name]))
           for name, rs in results.items()}
    rows = []
    for name in ("on", "off"):
        if name in med:
            ttft, tps, ptps = med[name]
            rows += [(f"extra buffers {name}: generation tokens/s", f"{tps:.1f}"),
                     (f"extra buffers {name}: prompt eval tokens/s (384-token prompt)", f"{ptps:.0f}"),
                     (f"extra buffers {name}: time to first token", f"{ttft * 1000:.0f} ms")]
        else:
            rows.append((f"extra buffers {name}", f"not measured: the probe {probe.reason}"))
    verdict = "only the fallback (off) works here"
    if "on" in med:
        gen, pp = med["off"][1] / med["on"][1], med["off"][2] / med["on"][2]
        rows += [("ratio off/on generation tokens/s", f"{gen:.3f}"), ("ratio off/on prompt eval tokens/s", f"{pp:.3f}")]
        verdict = f"off/on: generation {gen:.2f}×, prompt eval {pp:.2f}×"
    return BenchResult(
        name=f"chat-extra-buffers-{model.stem}",  # one section per model: repacking depends on the quantization
        title=f"Chat: llama.cpp extra CPU buffer types on vs off (the self-test's fallback), {model.name}",
        method=(f"{rounds} alternated rounds per arm through ChatService.send, {max_tokens} tokens max, temperature 0, "
                f"{s.threads} threads, n_ctx {s.n_ctx}, KV cache reset before each round, plus one 384-token prompt "
                f"evaluation per round; model {model.name}. Both arms loaded side by side. Medians. "
                f"CPU: {_cpu_line()}. Load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
                f"(other processes share the cores, so only the ratio measured together means anything)."),
        rows=rows,
        verdict=verdict,
    )


def run_adapter_serving(model: Path, settings: Settings, *, rounds: int = 7, max_tokens: int = 128) -> BenchResult:
    """Chat speed with a learned version served three ways, rounds alternated on one engine: the base
    model alone, base + the adapter at runtime (llama.cpp's LoRA), and the adapter merged into the
    base weights (q8_0, what ``serve_merged`` serves)."""
    from openclaw_local.learn.adapter_io import base_info, merge_into_gguf, random_lora, write_lora_gguf
    from openclaw_local.services import container
    from openclaw_local.services.chat import ChatService

    s = settings.replace(temperature=0.0, max_tokens=max_tokens, seed=1234)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        lora = random_lora(model, s.lora_rank, std=0.01)  # the learner's shape; its values do not change the speed
        adapter = write_lora_gguf(lora, Path(tmp) / "adapter.gguf", base_info(model))
        start = time.perf_counter()
        merged = merge_into_gguf(model, lora, Path(tmp) / "merged.gguf", out_type="q8_0")
        merge_s = time.perf_counter() - start
        store = container.open_store(Path(tmp))
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, seed=1234)
        chat = ChatService(store, engine, s)
        arms = {"base": (None, None), "runtime LoRA": (adapter, None), "merged q8_0": (adapter, merged)}
        results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in arms}
        swaps: dict[str, list[float]] = {name: [] for name in arms}
        names = list(arms)
        for name in names:  # warm-up (loads each once)
            engine.set_adapter(arms[name][0], merged=arms[name][1])
            _app_round(chat, 8)
        for i in range(rounds):
            for name in names if i % 2 == 0 else names[::-1]:
                swaps[name].append(engine.set_adapter(arms[name][0], merged=arms[name][1]))
                results[name].append(_app_round(chat, max_tokens))
        engine.set_adapter(None)
        engine.close()
        store.close()
        merged_mb = merged.stat().st_size / 1e6
    med = {name: (median([r[0] for r in rs]), median([r[1] for r in rs])) for name, rs in results.items()}
    rows = []
    for name in names:
        ttft, tps = med[name]
        rows += [(f"{name}: generation tokens/s", f"{tps:.1f}"), (f"{name}: time to first token", f"{ttft * 1000:.0f} ms"),
                 (f"{name}: swap to it", f"{median(swaps[name]) * 1000:.0f} ms")]
    lora_ratio, merged_ratio = med["runtime LoRA"][1] / med["base"][1], med["merged q8_0"][1] / med["base"][1]
    rows += [("ratio runtime LoRA / base tokens/s", f"{lora_ratio:.3f}"),
             ("ratio merged / base tokens/s", f"{merged_ratio:.3f}"),
             ("merging one version (learner side, once per version)", f"{merge_s:.1f} s, {merged_mb:.0f} MB")]
    return BenchResult(
        name=f"chat-adapter-serving-{model.stem}-{s.threads}t",  # one section per thread count: the overhead depends on it
        title=f"Chat with a served adapter: runtime LoRA vs merged, {model.name}, {s.threads} thread(s)",
        method=(f"{rounds} alternated rounds per arm through ChatService.send on one engine, the arm set by "
                f"`set_adapter` before each round, {max_tokens} tokens max, temperature 0, {s.threads} threads, "
                f"n_ctx {s.n_ctx}; a random LoRA of the learner's shape (rank {s.lora_rank}, every projection of "
                f"every layer); model {model.name}. Medians. CPU: {_cpu_line()}. Load average {load_before:.1f} "
                f"before, {os.getloadavg()[0]:.1f} after."),
        rows=rows,
        verdict=f"runtime LoRA {lora_ratio:.2f}× the base's tokens/s, merged {merged_ratio:.2f}×",
    )
