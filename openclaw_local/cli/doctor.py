"""``doctor``: what is installed and where things are, for bug reports.

It lists every problem it finds (each bad setting on its own row, then the model and
the database, checked with the settings that are valid) and exits 1 when there is any.
Long values (the llama.cpp backend's feature flags) are wrapped, never cut.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import textwrap
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
