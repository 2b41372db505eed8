"""The llama.cpp start-up self-test: decides how every model is loaded on this machine.

Some llama.cpp builds crash natively on some machines, which no ``try`` can catch: seen
on an Intel Xeon with AMX, the weights repacked into AMX buffers made every batched
prompt (``n_batch`` >= 8, so every chat message) die with SIGSEGV inside
``llama_decode``. GPU offload can fail too (out of GPU memory, driver mismatch). So
before a model is first served, its load is tried in a child process: load it, decode a
short batched prompt and a few tokens, and check the batched result against decoding one
token at a time. If the child dies by a signal, times out, fails or disagrees, the next
more careful plan is tried: extra CPU buffer types off, then fewer GPU layers, then the
CPU. The fix does not depend on recognising one bug: whatever breaks the probe is avoided.

The decision is cached in the data dir (``llama-selftest.json``, owner-only) under a
fingerprint (llama.cpp version and build, the model file and its quantization, the CPU
flags, the GPU offload asked for, the ``cpu_extra_buffers`` setting); a change in any of
them probes again. :func:`plan_for` is the one place every caller gets its plan from.

What it knows: child processes, the cache file, load plans. Not: chat, SQLite, the UI.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from openclaw_local.engine.gguf_check import GgufInfo, inspect_gguf
from openclaw_local.engine.load_plan import LoadPlan, open_llama
from openclaw_local.errors import ModelError, UsageError

CACHE_FILE = "llama-selftest.json"
CACHE_VERSION = 1
MODES = ("auto", "on", "off")
# Test hook, read by the probe child: "segv" crashes the probe when extra buffer types are
# on (what the AMX bug looks like), "segv-always" crashes every probe, "hang" sleeps, "error" raises.
FAULT_ENV = "OCL_SELFTEST_FAULT"
PROBE_TEXT = ("The lighthouse keeper counted the ships that passed at night, "
              "and wrote each name in a small blue notebook.")
PROBE_NEW_TOKENS = 4
PROBE_N_CTX = 512  # llama-cpp-python's default n_batch is 512, capped at n_ctx: the prompt goes in one batch
MIN_COSINE = 0.98  # batched vs one-at-a-time last-token logits; measured 0.9998 on a healthy CPU build
RESULT_PREFIX = "SELFTEST-RESULT "
_lock = threading.Lock()  # one decision at a time in a process (the runtime opens two engines)


@dataclass
class ProbeResult:
    ok: bool
    reason: str = ""  # e.g. "crashed with SIGSEGV", "timed out after 60 s", "failed: …"
    seconds: float = 0.0
    crashed: bool = False  # died by a signal or timed out (not a plain load error)


Probe = Callable[..., ProbeResult]


def probe_timeout_s(size_bytes: int) -> float:
    """Loading is most of the probe: allow a minute plus 30 s per GB of model."""
    return 60.0 + 30.0 * size_bytes / 1e9


def run_probe(model_path: Path | str, *, extra_buffers: bool, n_gpu_layers: int, threads: int = 1,
              timeout_s: float | None = None, fault: str | None = None) -> ProbeResult:
    """Load ``model_path`` in a child process with these options and decode a batched prompt."""
    import openclaw_local

    model_path = Path(model_path)
    timeout_s = timeout_s or probe_timeout_s(model_path.stat().st_size)
    args = {"model": str(model_path), "extra_buffers": extra_buffers, "n_gpu_layers": n_gpu_layers,
            "threads": threads, "fault": fault if fault is not None else os.environ.get(FAULT_ENV)}
    env = dict(os.environ)
    # The child imports this very copy of the package, whatever put it on our sys.path.
    root = str(Path(openclaw_local.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "openclaw_local.engine.selftest", json.dumps(args)],
                              capture_output=True, text=True, env=env, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, f"timed out after {timeout_s:.0f} s", time.monotonic() - start, crashed=True)
    seconds = time.monotonic() - start
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        return ProbeResult(False, f"crashed with {name}", seconds, crashed=True)
    result = next((json.loads(line[len(RESULT_PREFIX):]) for line in reversed(proc.stdout.splitlines())
                   if line.startswith(RESULT_PREFIX)), None)
    if proc.returncode != 0 or result is None:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return ProbeResult(False, f"failed: {last[:200]}", seconds)
    if not result.get("ok"):
        return ProbeResult(False, f"failed: {result.get('reason')}", seconds)
    return ProbeResult(True, "", seconds)


def plan_for(home: Path | None, settings: Any, model_path: Path | str, *, n_gpu_layers: int | None = None,
             probe: Probe | None = None) -> LoadPlan:
    """The load plan for ``model_path``: the one decision every llama.cpp load in the product follows.

    ``n_gpu_layers`` defaults to the ``n_gpu_layers`` setting; pass 0 for a CPU-only context.
    ``home`` None keeps nothing (each call decides afresh).
    """
    return decide(home, model_path, mode=getattr(settings, "cpu_extra_buffers", "auto"),
                  n_gpu_layers=settings.n_gpu_layers if n_gpu_layers is None else n_gpu_layers,
                  threads=settings.threads, probe=probe)


def decide(home: Path | None, model_path: Path | str, *, mode: str = "auto", n_gpu_layers: int = 0,
           threads: int = 1, probe: Probe | None = None) -> LoadPlan:
    import llama_cpp

    if mode not in MODES:
        raise UsageError(f"cpu_extra_buffers must be one of {', '.join(MODES)} (got {mode!r})")
    probe = probe or run_probe
    info = inspect_gguf(Path(model_path))
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    requested = n_gpu_layers if gpu else 0  # a CPU build ignores the setting: nothing to test
    candidates = _candidates(mode, requested, gpu, info.block_count)
    if len(candidates) == 1:  # the setting leaves nothing to decide
        gpu_layers, extra = candidates[0]
        return LoadPlan(extra, gpu_layers, requested, source="setting")
    key = f"{info.path.resolve()}|gpu={requested}"
    fingerprint = _fingerprint(info, mode, requested, gpu)
    with _lock:
        cached = _read_cache(home).get(key) if home is not None else None
        if cached and cached.get("fingerprint") == fingerprint:
            return LoadPlan(cached["extra_buffers"], cached["n_gpu_layers"], requested, source="cached",
                            reason=cached.get("reason", ""))
        failures: list[tuple[str, ProbeResult]] = []
        for gpu_layers, extra in candidates:
            result = probe(info.path, extra_buffers=extra, n_gpu_layers=gpu_layers, threads=threads)
            if result.ok:
                plan = LoadPlan(extra, gpu_layers, requested, source="probed", reason=_reason(failures))
                if home is not None:
                    _write_entry(home, key, {"fingerprint": fingerprint, "extra_buffers": extra,
                                             "n_gpu_layers": gpu_layers, "reason": plan.reason,
                                             "probe_seconds": round(result.seconds, 2),
                                             "decided_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
                return plan
            failures.append((_label(gpu_layers, extra, requested), result))
    if any(r.crashed for _, r in failures):
        raise ModelError(f"llama.cpp crashed on {info.path.name} in every way tried ({_reason(failures)})",
                         'try another build of llama-cpp-python; `openclaw-local doctor` shows the build')
    # Plain load errors everywhere (an unsupported architecture, say): the engine's own load
    # reports them better. Nothing is cached, so the next start tries again.
    gpu_layers, extra = candidates[0]
    return LoadPlan(extra, gpu_layers, requested, source="default")


def _candidates(mode: str, requested: int, gpu: bool, block_count: int | None) -> list[tuple[int, bool]]:
    """(gpu layers, extra buffers) to try, most capable first."""
    extras = {"auto": [True, False], "on": [True], "off": [False]}[mode]
    ladder = [requested]
    if gpu and requested != 0:
        layers = block_count if requested == -1 and block_count else requested
        for fewer in (layers // 2 if layers > 1 else 0, 0):
            if fewer not in ladder:
                ladder.append(fewer)
    return [(g, e) for g in ladder for e in extras]


def _label(gpu_layers: int, extra: bool, requested: int) -> str:
    label = f"buffers {'on' if extra else 'off'}"
    if requested != 0:
        label = f"GPU layers {'all' if gpu_layers == -1 else gpu_layers}, {label}"
    return label


def _reason(failures: list[tuple[str, ProbeResult]]) -> str:
    if not failures:
        return ""
    label, first = failures[0]
    more = f"; {len(failures) - 1} more failed" if len(failures) > 1 else ""
    return f"the probe with {label} {first.reason}{more}"


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def _fingerprint(info: GgufInfo, mode: str, requested: int, gpu: bool) -> dict[str, Any]:
    import llama_cpp

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    build = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    stat = info.path.stat()
    return {"llama_cpp": llama_cpp.__version__, "build": digest(build), "model_size": stat.st_size,
            "model_mtime_ns": stat.st_mtime_ns, "file_type": info.file_type, "architecture": info.architecture,
            "cpu_flags": digest(_cpu_flags()), "gpu_offload": gpu, "n_gpu_layers": requested, "cpu_extra_buffers": mode}


def _read_cache(home: Path) -> dict[str, Any]:
    try:
        data = json.loads((home / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}  # missing or damaged: probe again
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("models"), dict):
        return {}
    return data["models"]


def _write_entry(home: Path, key: str, entry: dict[str, Any]) -> None:
    from openclaw_local.paths import atomic_write_bytes

    models = _read_cache(home)
    models[key] = entry
    try:
        atomic_write_bytes(home / CACHE_FILE, json.dumps({"version": CACHE_VERSION, "models": models}, indent=1).encode(),
                           mode=0o600)
    except OSError:
        pass  # not remembered: the next start probes again, which is only slower


# ------------------------------------------------------------------ the child
def _probe_child(args: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    fault = args.get("fault") or ""
    if fault == "hang":
        time.sleep(3600)
    plan = LoadPlan(extra_buffers=args["extra_buffers"], n_gpu_layers=args["n_gpu_layers"])
    threads = max(1, int(args.get("threads") or 1))
    llm = open_llama(args["model"], plan, n_ctx=PROBE_N_CTX, n_threads=threads, n_threads_batch=threads, verbose=False)
    n_vocab = llm.n_vocab()

    def last_logits() -> np.ndarray:
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)).astype(np.float64).copy()  # noqa: SLF001

    tokens = llm.tokenize(PROBE_TEXT.encode(), add_bos=True)
    if fault == "segv-always" or (fault == "segv" and plan.extra_buffers):
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "error":
        raise RuntimeError("injected probe failure")
    llm.eval(tokens)  # the whole prompt in one batch, as every chat message is
    batched = last_logits()
    for _ in range(PROBE_NEW_TOKENS):  # and a few generated tokens, one at a time
        llm.eval([int(last_logits().argmax())])
    llm.reset()
    llm._ctx.kv_cache_clear()  # noqa: SLF001
    for tok in tokens:
        llm.eval([tok])
    single = last_logits()
    llm.close()
    if not (np.isfinite(batched).all() and np.isfinite(single).all()):
        return {"ok": False, "reason": "the logits are not finite"}
    cosine = float(batched @ single / (np.linalg.norm(batched) * np.linalg.norm(single) or 1.0))
    if cosine < MIN_COSINE:
        return {"ok": False, "reason": f"batched and one-token decoding disagree (cosine {cosine:.3f})"}
    return {"ok": True, "cosine": round(cosine, 5), "prompt_tokens": len(tokens)}


def main(argv: list[str]) -> int:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an expected crash leaves no core file
    except (ImportError, ValueError, OSError):
        pass
    result = _probe_child(json.loads(argv[0]))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
