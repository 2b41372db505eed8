"""``doctor``: what is installed and where things are, for bug reports."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata

from openclaw_local import __version__
from openclaw_local.cli.common import home_dir, model_path, settings_from
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
        return f"{'GPU offload' if gpu else 'CPU only'}; {info[:120]}"
    except Exception as exc:  # a broken install is exactly what doctor reports
        return f"unavailable ({exc})"


def _selftest_line(home, settings, model) -> str:
    """How this machine loads the model (probes it in a child process unless the decision is cached)."""
    from openclaw_local.engine.selftest import plan_for

    try:
        return plan_for(home, settings, model).describe()
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
    try:
        import torch

        cuda = f"yes ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "no"
    except Exception:
        cuda = "no (torch not importable)"
    rows.append(("CUDA", cuda))
    problems = 0
    try:
        home = home_dir()
        rows.append(("data dir", str(home)))
        settings = settings_from(args, home)
    except UserError as exc:
        rows.append(("data dir", f"PROBLEM: {exc.one_line()}"))
        problems += 1
        settings = None
    if settings is not None:
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
            from openclaw_local.services.models import learning_memory_line, recommendation_line

            rows.append(("learning memory", learning_memory_line(settings, info.path)))
        rows.append(("recommended model", recommendation_line()))
        try:
            from openclaw_local.store import SCHEMA_VERSION, Store

            store = Store.open(home)
            rows.append(("database", f"{store.path} (schema {store.schema_version()}, this build {SCHEMA_VERSION})"))
            store.close()
        except UserError as exc:
            rows.append(("database", f"PROBLEM: {exc.one_line()}"))
            problems += 1
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 1 if problems else 0
