"""Options every command shares, and turning them into settings and a store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

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


SQLITE_MAX_ID = 2**63 - 1  # SQLite's INTEGER is a signed 64-bit number: no row id is larger


def id_type(what: str, prefix: str = "") -> "Callable[[str], int]":
    """argparse type for every id on the command line (adapter versions, conversations): a whole
    number from 1 to SQLite's largest integer, optionally written with ``prefix`` (``v3``).
    Anything else (text, 0, negative, too large to be a row id) is a usage error (exit 2)."""

    def parse(text: str) -> int:
        t = text.strip()
        if prefix and t[:1].lower() == prefix:
            t = t[1:]
        if not t.isascii() or not t.isdigit() or len(t.lstrip("0")) > 19 or not 1 <= int(t) <= SQLITE_MAX_ID:
            raise argparse.ArgumentTypeError(f"not a valid {what} id: {text!r} (a whole number from 1 to {SQLITE_MAX_ID})")
        return int(t)

    parse.__name__ = f"{what} id"  # argparse names the type in some messages
    return parse


def port_number(text: str) -> int:
    """argparse type for every --port: a TCP port, 1 to 65535."""
    t = text.strip()
    if not t.isascii() or not t.isdigit() or len(t.lstrip("0")) > 5 or not 1 <= int(t) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {text!r} (a whole number from 1 to 65535)")
    return int(t)


def on_terminal(stream=None) -> bool:
    """Whether ``stream`` (stderr by default) is a terminal: progress bars and control codes only then."""
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


def quiet_progress_bars() -> None:
    """No progress bars (tqdm: transformers, huggingface_hub, gguf) unless stderr is a terminal:
    in a log they are thousands of redrawn lines. Set before those libraries load (the
    environment), and switched off in any that already did."""
    if on_terminal():
        return
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "transformers.utils.logging" in sys.modules:
        sys.modules["transformers.utils.logging"].disable_progress_bar()
    if "huggingface_hub.utils" in sys.modules:
        sys.modules["huggingface_hub.utils"].disable_progress_bars()
    std = sys.modules.get("tqdm.std")  # tqdm reads TQDM_DISABLE when it is imported: already loaded, tell it
    if std is not None and not getattr(std.tqdm, "_openclaw_quiet", False):
        init = std.tqdm.__init__

        def quiet_init(self, *args, **kwargs):
            kwargs.setdefault("disable", True)
            init(self, *args, **kwargs)

        std.tqdm.__init__ = quiet_init
        std.tqdm._openclaw_quiet = True


class StatusLine:
    """One status line on stderr, redrawn in place on a terminal (``\\r`` + erase-line).

    Not on a terminal (a log, a pipe), no control codes are written and a line is printed
    only when the status changes beyond its numbers, so a log gets each phase once."""

    def __init__(self) -> None:
        self._last_shape: str | None = None
        self._open = False

    def __call__(self, text: str) -> None:
        if on_terminal():
            sys.stderr.write(f"\r\033[K{text}")
            sys.stderr.flush()
            self._open = bool(text)
            return
        shape = "".join(c for c in text if not c.isdigit())
        if text and shape != self._last_shape:
            print(text, file=sys.stderr, flush=True)
        self._last_shape = shape if text else None

    def end(self) -> None:
        """Finish the line (on a terminal), so what is printed next starts on its own line."""
        if self._open:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._open = False


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
