"""Options every command shares, and turning them into settings and a store."""

from __future__ import annotations

import argparse
from pathlib import Path

from openclaw_local.config import Settings, accepted, load_settings
from openclaw_local.paths import ensure_user_dir, resolve_model_path, user_dir
from openclaw_local.store import Store

SETTING_FLAGS = {
    "model": "model_path",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "n_ctx": "n_ctx",
    "threads": "threads",
    "system_prompt": "system_prompt",
}


def add_common_options(parser: argparse.ArgumentParser) -> None:
    # Values stay text here: load_settings parses and checks them like OPENCLAW_* env values,
    # so a bad flag gets the same one line (setting, value, "--flag", what is accepted).
    g = parser.add_argument_group("model and settings (override config.toml and OPENCLAW_* env)")
    g.add_argument("--model", metavar="PATH", default=argparse.SUPPRESS, help="GGUF to serve (default: embedded SmolLM2-135M)")
    g.add_argument("--temperature", metavar="T", default=argparse.SUPPRESS, help=f"sampling temperature: {accepted('temperature')}")
    g.add_argument("--max-tokens", metavar="N", default=argparse.SUPPRESS, help=f"most tokens per reply: {accepted('max_tokens')}")
    g.add_argument("--n-ctx", metavar="N", default=argparse.SUPPRESS, help=f"context window in tokens: {accepted('n_ctx')}")
    g.add_argument("--threads", metavar="N", default=argparse.SUPPRESS, help=f"CPU threads for llama.cpp: {accepted('threads')}")
    g.add_argument("--system-prompt", metavar="TEXT", default=argparse.SUPPRESS)


def flag_name(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (``--limit 0`` or ``-1`` is a usage error, not a silent no-op)."""
    t = text.strip()
    if not t.lstrip("+").isdigit() or int(t) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return int(t)


def home_dir() -> Path:
    return ensure_user_dir(user_dir())


def settings_from(args: argparse.Namespace, home: Path) -> Settings:
    overrides = {field: getattr(args, flag) for flag, field in SETTING_FLAGS.items() if hasattr(args, flag)}
    sources = {field: flag_name(flag) for flag, field in SETTING_FLAGS.items()}
    return load_settings(home, overrides, sources=sources)


model_path = resolve_model_path  # the commands' short name for the one resolver (paths.py)


def open_store(args: argparse.Namespace) -> Store:
    """The data dir's store; the config is validated too, so a typo in it never goes unnoticed."""
    home = home_dir()
    settings_from(args, home)
    from openclaw_local.services.container import open_store

    return open_store(home)
