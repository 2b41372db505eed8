"""``models``: get and choose the GGUF to serve.

    openclaw-local models pull NAME|REPO [FILE]   download (resumable, sha256-checked) into <data dir>/models
    openclaw-local models list                    downloaded models, the known names, what this machine can run
    openclaw-local models use NAME                make a downloaded model the default (config.toml model_path)
    openclaw-local models rm NAME                 delete a downloaded model (never the one in use)

Only ``pull`` touches the network, and only when asked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from openclaw_local.cli.common import home_dir, settings_from
from openclaw_local.config import CONFIG_FILE
from openclaw_local.errors import UsageError, UserError


def register(sub) -> None:
    p = sub.add_parser("models", help="download (pull), list, choose (use) or delete (rm) models")
    a = p.add_subparsers(dest="models_command", metavar="ACTION")
    pull = a.add_parser("pull", help="download a known model (qwen3-4b, qwen3-1.7b, qwen3-0.6b) or REPO FILE from the hub")
    pull.add_argument("name", metavar="NAME|REPO")
    pull.add_argument("file", nargs="?", metavar="FILE", help="the GGUF file in REPO")
    pull.add_argument("--use", action="store_true", help="make it the default model when done")
    ls = a.add_parser("list", help="downloaded models, known names, and what this machine can serve and learn with")
    ls.add_argument("--json", action="store_true")
    use = a.add_parser("use", help="make a downloaded model the default")
    use.add_argument("name")
    rm = a.add_parser("rm", help="delete a downloaded model (not the one in use)")
    rm.add_argument("name")
    p.set_defaults(func=run, models_command=None)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.services import model_pull as mp

    cmd = args.models_command
    if cmd is None:
        raise UsageError("say what to do: models pull NAME | list | use NAME | rm NAME")
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    if cmd == "pull":
        path = mp.pull(home, args.name, args.file, progress=_progress_printer())
        print(file=sys.stderr)
        print(f"{path}")
        if args.use:
            set_config_value(home, "model_path", str(path))
            print(f"now the default model: {path.name}", file=sys.stderr)
        return 0
    if cmd == "list":
        in_use = _in_use(args, home)
        local = mp.local_models(home)
        m = mp.machine()
        if args.json:
            print(json.dumps({"models": [{"file": p.name, "path": str(p), "bytes": p.stat().st_size, "default": p == in_use}
                                         for p in local],
                              "known": {k: {"repo": v.repo, "file": v.file} for k, v in mp.KNOWN.items()},
                              "machine": m.__dict__, "recommended": (mp.recommend(m) or mp.KNOWN["qwen3-0.6b"]).name},
                             indent=2))
            return 0
        if local:
            for p in local:
                print(f"{'*' if p == in_use else ' '} {p.name:<32} {p.stat().st_size / 1e9:6.2f} GB")
        else:
            print("no downloaded models (the embedded SmolLM2-135M is served)", file=sys.stderr)
        for line in mp.capability_lines(m):
            print(line)
        return 0
    if cmd == "use":
        path = mp.find_local(home, args.name)
        set_config_value(home, "model_path", str(path))
        print(f"now the default model: {path.name} (adapters trained on another model are kept but not served with it)")
        return 0
    if cmd == "rm":
        path = mp.find_local(home, args.name)
        if path == _in_use(args, home):
            raise UsageError(f"{path.name} is the model in use", "choose another first: openclaw-local models use NAME")
        path.unlink()
        print(f"deleted {path.name}")
        return 0
    raise UsageError(f"unknown models action {cmd!r}")


def _in_use(args: argparse.Namespace, home: Path) -> Path | None:
    model = settings_from(args, home).model_path
    return Path(model).expanduser().resolve() if model else None


def set_config_value(home: Path, key: str, value: str) -> None:
    """Set one top-level ``key = "value"`` in config.toml, keeping every other line."""
    path = home / CONFIG_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    line = f"{key} = {json.dumps(value)}"
    pattern = re.compile(rf"^{re.escape(key)}\s*=.*$", re.MULTILINE)
    text = pattern.sub(line, text, count=1) if pattern.search(text) else (text + ("\n" if text and not text.endswith("\n") else "") + line + "\n")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror})") from None


def _progress_printer():
    state = {"t": 0.0, "start": time.monotonic(), "first": None}

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if state["first"] is None:
            state["first"] = done
        if now - state["t"] < 0.5 and done != total:
            return
        state["t"] = now
        rate = (done - state["first"]) / max(now - state["start"], 1e-3) / 1e6
        pct = f"{100 * done / total:5.1f}% " if total else ""
        print(f"\r  {pct}{done / 1e9:.2f}/{total / 1e9:.2f} GB  {rate:.1f} MB/s   ", end="", file=sys.stderr, flush=True)

    return show
