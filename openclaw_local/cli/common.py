"""Options every command shares, and turning them into settings and a store."""

from __future__ import annotations

import argparse
from pathlib import Path

from openclaw_local.config import Settings, load_settings
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
    g = parser.add_argument_group("model and settings (override config.toml and OPENCLAW_* env)")
    g.add_argument("--model", metavar="PATH", default=argparse.SUPPRESS, help="GGUF to serve (default: embedded SmolLM2-135M)")
    g.add_argument("--temperature", type=float, default=argparse.SUPPRESS)
    g.add_argument("--max-tokens", type=int, default=argparse.SUPPRESS)
    g.add_argument("--n-ctx", type=int, default=argparse.SUPPRESS, help="context window in tokens")
    g.add_argument("--threads", type=int, default=argparse.SUPPRESS, help="CPU threads for llama.cpp")
    g.add_argument("--system-prompt", default=argparse.SUPPRESS)


def home_dir() -> Path:
    return ensure_user_dir(user_dir())


def settings_from(args: argparse.Namespace, home: Path) -> Settings:
    overrides = {field: getattr(args, flag) for flag, field in SETTING_FLAGS.items() if hasattr(args, flag)}
    return load_settings(home, overrides)


model_path = resolve_model_path  # the commands' short name for the one resolver (paths.py)


def open_store(args: argparse.Namespace) -> Store:
    """The data dir's store; the config is validated too, so a typo in it never goes unnoticed."""
    home = home_dir()
    settings_from(args, home)
    return Store.open(home)
