"""``adapters``: what the assistant learned, as versions you can inspect, switch, undo and take elsewhere.

    openclaw-local adapters list
    openclaw-local adapters show N
    openclaw-local adapters activate N [--force]
    openclaw-local adapters rollback
    openclaw-local adapters export N --format peft|gguf-lora|gguf-merged --out PATH [--type f16|q8_0]
    openclaw-local adapters import PATH [--activate [--force]]
    openclaw-local adapters delete N

Activation only changes SQLite; a running chat hot-swaps the new active version
within half a second, otherwise it is served at the next start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from openclaw_local.cli.common import home_dir, id_type, settings_from
from openclaw_local.errors import UsageError
from openclaw_local.paths import check_output_path, output_errors


_version = id_type("adapter version", prefix="v")


def register(sub) -> None:
    p = sub.add_parser("adapters", help="list, inspect, activate, roll back, export, import or delete adapter versions")
    a = p.add_subparsers(dest="adapters_command", metavar="ACTION")
    ls = a.add_parser("list", help="every version with its status and metrics")
    ls.add_argument("--json", action="store_true")
    show = a.add_parser("show", help="one version in full (gate results, samples, files)")
    show.add_argument("version", type=_version)
    show.add_argument("--json", action="store_true")
    act = a.add_parser("activate", help="serve this version (a rejected/broken one needs --force)")
    act.add_argument("version", type=_version)
    act.add_argument("--force", action="store_true", help="activate even a version the gate rejected")
    a.add_parser("rollback", help="undo the active version: serve the previous good one (or the base model)")
    ex = a.add_parser("export", help="write a version as peft, gguf-lora or gguf-merged")
    ex.add_argument("version", type=_version)
    ex.add_argument("--format", required=True, choices=["peft", "gguf-lora", "gguf-merged"])
    ex.add_argument("--out", required=True, metavar="PATH", help="a new directory (peft) or file (gguf-*)")
    ex.add_argument("--type", default="f16", choices=["f16", "q8_0"], help="weight type of gguf-merged (default f16)")
    im = a.add_parser("import", help="add a peft directory or llama.cpp LoRA GGUF for the served base model")
    im.add_argument("path")
    im.add_argument("--activate", action="store_true",
                    help="serve it if the promotion gate passes it (it is gated like a learned version; refused: exit 7)")
    im.add_argument("--force", action="store_true", help="with --activate: serve it at once, without the gate")
    de = a.add_parser("delete", help="delete a version that is not active")
    de.add_argument("version", type=_version)
    p.set_defaults(func=run, adapters_command=None)


def _service(args):
    from openclaw_local.services.adapters import AdapterService
    from openclaw_local.services.container import open_store

    home = home_dir()
    settings = settings_from(args, home)
    return AdapterService(home, settings, open_store(home))


def _fmt(x, spec: str = ".4f") -> str:
    return "-" if x is None else format(x, spec)


def _print_helping(helping) -> None:
    """"Is it helping?": how the replies each version served went (openclaw-local report plots it)."""
    from openclaw_local.services.helping import trend

    if not helping:
        return
    print("\nIs it helping? How your replies went under each version:")
    print(f"  {trend(helping)}")
    for o in helping:
        print(f"  {o.sentence()}")


def _refuse_missing(version_id: int, problem: str | None) -> None:
    """``show`` of a version whose files are gone says so and exits 8 (a file that is not there)."""
    from openclaw_local.errors import NotFoundError

    if problem:
        raise NotFoundError(f"v{version_id}'s files are missing: {problem}",
                            "restore the data dir from a backup, or delete the version")


def run(args: argparse.Namespace) -> int:
    from openclaw_local.services.adapters import gate_summary

    cmd = args.adapters_command
    if cmd is None:
        raise UsageError("say what to do: adapters list | show N | activate N | rollback | export N | import PATH | delete N")
    svc = _service(args)
    if cmd == "list":
        versions = svc.versions()
        from openclaw_local.services.helping import outcomes

        helping = outcomes(svc.store)
        if args.json:
            by_version = {o.version: o.as_dict() for o in helping}
            print(json.dumps([{**svc.describe(v), "outcome": by_version.get(v.id)} for v in versions], indent=2))
            return 0
        if not versions:
            print("no adapter versions yet: the base model is served", file=sys.stderr)
            _print_helping(helping)
            return 0
        print(f"{'ver':<6}{'status':<10}{'parent':<8}{'created':<18}{'samples':>8}{'loss':>9}{'reward':>8}  gate / reason")
        for v in versions:
            parent = f"v{v.parent_id}" if v.parent_id else "base"
            note = gate_summary(v) + (f" — {v.reason}" if v.reason else "")
            if svc.files_missing(v):
                note = f"files missing — {note}"
            marker = "*" if v.status == "active" else " "
            print(f"{marker}v{v.id:<4}{v.status:<10}{parent:<8}{v.created_at[:16].replace('T', ' '):<18}"
                  f"{v.n_samples or 0:>8}{_fmt(v.loss):>9}{_fmt(v.mean_reward, '+.2f'):>8}  {note}")
        if svc.active() is None:
            print("(no active version: the base model is served)")
        _print_helping(helping)
        notice = svc.refusal_notice()
        if notice:
            print(f"note: {notice}")
        return 0
    if cmd == "show":
        v = svc.get(args.version)
        d = svc.describe(v)
        if args.json:
            print(json.dumps(d, indent=2))
            _refuse_missing(v.id, d["files_missing"])
            return 0
        for key in ("id", "status", "reason", "parent", "source", "created_at", "activated_at", "n_samples", "n_tokens",
                    "loss", "mean_reward", "train_seconds", "gate_summary", "path"):
            if d[key] is not None:
                print(f"{key:<14}{d[key]}")
        print(f"{'samples':<14}{', '.join(str(s) for s in d['samples']) or '-'}")
        print(f"{'gate':<14}{json.dumps(d['gate'])}")
        if d["force_hint"]:
            print(f"{'refused':<14}{d['force_hint']}")
        if d["files_missing"]:
            print(f"{'files missing':<14}{d['files_missing']}")
        _refuse_missing(v.id, d["files_missing"])
        return 0
    if cmd == "activate":
        v = svc.activate(args.version, force=args.force)
        print(f"v{v.id} is now active" + (" (forced)" if args.force else ""))
        return 0
    if cmd == "rollback":
        undone, now = svc.rollback()
        print(f"rolled back v{undone.id}; now serving {f'v{now.id}' if now else 'the base model'}")
        return 0
    if cmd == "export":
        # the one rule for output files (paths.check_output_path): a typo is refused, never created
        out = check_output_path(args.out, directory=args.format == "peft")
        with output_errors(out):
            out = svc.export(args.version, args.format, out, merged_type=args.type)
        print(f"wrote v{args.version} as {args.format} to {out}")
        if args.format == "peft":
            base = json.loads((out / "adapter_config.json").read_text()).get("base_model_name_or_path")
            print(f"base model: {base} (how to load it elsewhere: {out / 'README.md'})")
        return 0
    if cmd == "import":
        if args.force and not args.activate:
            raise UsageError("--force goes with --activate", "openclaw-local adapters import PATH --activate --force")
        v = svc.import_adapter(Path(args.path), activate=args.activate, force=args.force)
        if v.status == "rejected":  # kept, with the gate's results, but not served
            from openclaw_local.services.adapters import AdapterError

            raise AdapterError(f"imported as v{v.id}, but the promotion gate refused it: {v.reason}; it is kept as rejected",
                               f"to serve it anyway: openclaw-local adapters activate {v.id} --force")
        extra = f" ({v.reason})" if v.reason else ""
        print(f"imported as v{v.id}: {v.status}{extra}" + (" (forced, not gated)" if args.force else ""))
        return 0
    if cmd == "delete":
        svc.delete(args.version)
        print(f"deleted v{args.version}")
        return 0
    raise UsageError(f"unknown adapters action {cmd!r}")
