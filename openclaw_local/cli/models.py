"""``models``: get the model openclaw-local is designed for, choose the default, tidy up.

    openclaw-local models list [--json]
    openclaw-local models pull NAME [FILE] | REPO FILE   (qwen3-4b, qwen3-1.7b, qwen3-0.6b, or any hub GGUF)
    openclaw-local models use NAME                (writes model_path to config.toml)
    openclaw-local models rm NAME                 (never the model in use: exit 7)

Downloads go to ``<data dir>/models/``, resume after an interruption (run the same
command again) and are refused unless their sha256 matches the hub's. Nothing is
downloaded unless asked for here. Exit codes: 1 hub unreachable, download broken off,
checksum mismatch or too little disk; 2 usage; 7 refused (the model in use); 8 no such model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from openclaw_local.cli.common import home_dir, on_terminal, settings_from
from openclaw_local.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("models", help="list, download (pull), choose (use) or delete (rm) models")
    a = p.add_subparsers(dest="models_command", metavar="ACTION")
    ls = a.add_parser("list", help="known and downloaded models, and which one suits this machine")
    ls.add_argument("--json", action="store_true")
    pl = a.add_parser("pull", help="download a known model (qwen3-4b, qwen3-1.7b, qwen3-0.6b) or REPO FILE from the hub")
    pl.add_argument("name", metavar="NAME|REPO")
    pl.add_argument("file", nargs="?", metavar="FILE", help="the .gguf file in REPO")
    us = a.add_parser("use", help="make a model the default (model_path in config.toml)")
    us.add_argument("name")
    rm = a.add_parser("rm", help="delete a downloaded model (not the one in use)")
    rm.add_argument("name")
    p.set_defaults(func=run, models_command=None)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.services import models as svc

    cmd = args.models_command
    if cmd is None:
        raise UsageError("say what to do: models list | pull NAME | use NAME | rm NAME")
    home = home_dir()
    if cmd == "pull":
        meter = _Progress()
        try:
            path = svc.pull(home, args.name, args.file, progress=meter)
        finally:
            meter.end_line()  # an error message starts on a line of its own
        print(f"{path} is ready (sha256 verified); serve it with: openclaw-local models use {args.name if args.name in svc.KNOWN else path.name}")
        return 0
    settings = settings_from(args, home)
    if cmd == "use":
        path = svc.use(home, args.name)
        print(f"default model is now {path} (config.toml: model_path)")
        return 0
    if cmd == "rm":
        path = svc.remove(home, args.name, settings)
        print(f"deleted {path}")
        return 0
    if cmd == "list":
        return _list(home, settings, args.json)
    raise UsageError(f"unknown models action {cmd!r}")


def _list(home, settings, as_json: bool) -> int:
    from openclaw_local.learn.memory import gb
    from openclaw_local.services import models as svc

    machine = svc.this_machine()
    best, fits = svc.recommend(machine, n_ctx=settings.n_ctx, rank=settings.lora_rank)
    by_name = {f.model.name: f for f in fits}
    rows = svc.inventory(home, settings)
    if as_json:
        print(json.dumps([{"name": m.name, "path": str(m.path) if m.path else None, "size": m.size,
                           "downloaded": m.downloaded, "in_use": m.in_use, "partial_bytes": m.partial,
                           "serves_here": by_name[m.name].serves if m.name in by_name else None,
                           "learns_here": by_name[m.name].learns if m.name in by_name else None,
                           "recommended": best is not None and best.model.name == m.name} for m in rows], indent=2))
        return 0
    print(f"  {'name':<34}{'size':>9}  {'state':<18}here")
    for m in rows:
        state = "downloaded" if m.downloaded else (f"partial {gb(m.partial)}" if m.partial else "not downloaded")
        fit = by_name.get(m.name)
        here = svc.describe_fit(fit) if fit else (m.known.note if m.known else str(m.path))
        size = ("~" if not m.downloaded else "") + gb(m.size)
        print(f"{'*' if m.in_use else ' '} {m.name:<34}{size:>9}  {state:<18}{here}")
    print(f"recommended: {svc.recommendation_line(machine)}")
    print("(* = in use; learning rule: fp32 on the CPU needs ~4 bytes/param for the weights + 16 bytes/LoRA param "
          "+ activations and logits; NF4 on a GPU ~0.55 bytes/param)")
    return 0


class _Progress:
    """A one-line progress meter on stderr (redrawn at most 5 times a second)."""

    def __init__(self) -> None:
        self.last = 0.0
        self.started = time.monotonic()
        self.first: int | None = None
        self.open_line = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = done
        if now - self.last < 0.2 and done < total:
            return
        if not on_terminal():  # a log or a pipe: no redrawn meter, no control codes (the result is said at the end)
            return
        self.last = now
        rate = (done - self.first) / max(now - self.started, 1e-3)
        pct = 100.0 * done / total if total else 100.0
        print(f"\r{pct:5.1f}%  {done / 1e6:,.0f}/{total / 1e6:,.0f} MB  {rate / 1e6:.1f} MB/s ",
              end="", file=sys.stderr, flush=True)
        self.open_line = True

    def end_line(self) -> None:
        if self.open_line:
            print(file=sys.stderr, flush=True)
            self.open_line = False
