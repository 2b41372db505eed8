"""``doctor``: what is installed and where things are, for bug reports.

It lists every problem it finds (each bad setting on its own row, then the model and
the database, checked with the settings that are valid) and exits 1 when there is any.
Long values (the llama.cpp backend's feature flags) are wrapped, never cut. With a CUDA GPU (torch sees
it, or `nvidia-smi` is there) it shows the GPU's name and memory and whether serving the model plus one
QLoRA update fit in it by learn/memory.py's rule; without one the CUDA row says "no CUDA GPU".
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from importlib import metadata

from openclaw_local import __version__
from openclaw_local.cli.common import SETTING_FLAGS, flag_name, home_dir, model_path
from openclaw_local.config import check_settings, misspelled_env
from openclaw_local.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("doctor", help="show versions, backend, model, data dir and schema")
    p.set_defaults(func=run)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def llama_backend() -> str:
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        return f"{'GPU offload' if gpu else 'CPU only'}; {info}"
    except Exception as exc:  # a broken install is exactly what doctor reports
        return f"unavailable ({exc})"


@dataclass(frozen=True)
class Gpu:
    name: str
    total: int  # bytes
    free: int | None  # bytes free now (None when unknown)
    source: str  # "torch" or "nvidia-smi"


def gpu_probe() -> Gpu | None:
    """The first CUDA GPU: torch when it sees CUDA, else ``nvidia-smi``; None when there is none."""
    try:
        import torch

        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info(0)
            return Gpu(torch.cuda.get_device_name(0), int(total), int(free), "torch")
    except Exception:
        pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        name, total, free = (part.strip() for part in out.splitlines()[0].rsplit(",", 2))
        return Gpu(name, int(float(total)) * 2**20, int(float(free)) * 2**20, "nvidia-smi")  # MiB
    except Exception:
        return None


def gpu_line(gpu: Gpu | None) -> str:
    if gpu is None:
        return "no CUDA GPU (learning trains on the CPU, llama.cpp serves from RAM)"
    free = f", {gpu.free / 1e9:.1f} GB free" if gpu.free is not None else ""
    return f"{gpu.name}: {gpu.total / 1e9:.1f} GB total{free} ({gpu.source})"


def gpu_fit_line(gpu: Gpu, settings, gguf) -> str:
    """Whether serving ``gguf`` on the GPU plus one QLoRA update fit in its memory, by learn/memory.py's rule."""
    from openclaw_local.learn import memory

    try:
        shape = memory.shape_from_gguf(gguf)
        size = gguf.stat().st_size
    except Exception as exc:  # the model row already says what is wrong with the file
        return f"unknown ({type(exc).__name__})"
    serve = memory.serve_bytes(shape, size, settings.n_ctx)
    train = memory.train_bytes(shape, "cuda", rank=settings.lora_rank)
    need = serve + train
    verdict = "fits" if need <= gpu.total else "does not fit"
    now = "" if gpu.free is None else f"; {'fits' if need <= gpu.free else 'does not fit'} in the {memory.gb(gpu.free)} free now"
    return (f"{verdict}: serving (n_ctx {settings.n_ctx}) ~{memory.gb(serve)} + QLoRA update (NF4, rank "
            f"{settings.lora_rank}) ~{memory.gb(train)} = ~{memory.gb(need)} of {memory.gb(gpu.total)}{now} "
            "(learn/memory.py's rule: a lower bound, docs/GPU.md)")


def _selftest_line(home, settings, model) -> str:
    """How this machine loads the model (probes it in a child process unless the decision is cached)."""
    from openclaw_local.services.container import load_plan

    try:
        return load_plan(home, settings, model).describe()
    except UserError as exc:
        return f"PROBLEM: {exc.one_line()}"


def run(args: argparse.Namespace) -> int:
    rows: list[tuple[str, str]] = [
        ("openclaw-local", __version__),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("llama-cpp-python", _version("llama-cpp-python")),
        ("llama.cpp backend", llama_backend()),
        ("torch", _version("torch")),
        ("transformers", _version("transformers")),
        ("peft", _version("peft")),
        ("textual", _version("textual")),
        ("sqlite-utils", _version("sqlite-utils")),
    ]
    gpu = gpu_probe()
    rows.append(("CUDA", gpu_line(gpu)))
    problems = 0
    try:
        home = home_dir()
        rows.append(("data dir", str(home)))
    except UserError as exc:
        rows.append(("data dir", f"PROBLEM: {exc.one_line()}"))
        problems += 1
        settings = None
    else:
        overrides = {f: getattr(args, flag) for flag, f in SETTING_FLAGS.items() if hasattr(args, flag)}
        sources = {f: flag_name(flag) for flag, f in SETTING_FLAGS.items()}
        settings, bad = check_settings(home, overrides, sources=sources)  # every problem, not the first
        rows += [("settings", f"PROBLEM: {line}") for line in bad] or [("settings", "ok (config.toml, env, flags)")]
        problems += len(bad)
        rows += [("settings", f"note: {line}") for line in misspelled_env()]
    if settings is not None:
        from openclaw_local.services.models import learning_memory_line, recommendation_line

        try:
            from openclaw_local.engine.gguf_check import inspect_gguf

            info = inspect_gguf(model_path(settings))
            rows.append(("model", f"{info.path} ({info.architecture}, {info.size_bytes / 1e6:.0f} MB)"))
        except UserError as exc:
            rows.append(("model", f"PROBLEM: {exc.one_line()}"))
            problems += 1
        else:
            line = _selftest_line(home, settings, info.path)
            rows.append(("llama.cpp self-test", line))
            problems += line.startswith("PROBLEM")
            rows.append(("learning memory", learning_memory_line(settings, info.path)))
            if gpu is not None:
                rows.append(("GPU fit", gpu_fit_line(gpu, settings, info.path)))
        from openclaw_local.services.cpu_priority import idle_class_available

        rows.append(("learner CPU priority", "SCHED_IDLE (trains only on otherwise idle cores)" if idle_class_available()
                     else "nice 19 (this OS has no idle scheduling class)"))
        rows.append(("recommended model", recommendation_line()))
        try:
            from openclaw_local.services.container import open_store
            from openclaw_local.store import SCHEMA_VERSION

            store = open_store(home)
            rows.append(("database", f"{store.path} (schema {store.schema_version()}, this build {SCHEMA_VERSION})"))
            store.close()
        except UserError as exc:
            rows.append(("database", f"PROBLEM: {exc.one_line()}"))
            problems += 1
    width = max(len(k) for k, _ in rows)
    columns = max(60, shutil.get_terminal_size((100, 24)).columns)
    for key, value in rows:
        lines = textwrap.wrap(value, width=columns - width - 2, break_on_hyphens=False,
                              break_long_words=False) or [""]
        print(f"{key:<{width}}  {lines[0]}")
        for more in lines[1:]:
            print(f"{'':<{width}}  {more}")
    return 1 if problems else 0
