"""``prefs``: the standing preferences every reply gets (list, add, edit, rm, pause, resume)."""

from __future__ import annotations

import argparse
import json
import sys

from openclaw_local.cli.common import home_dir, open_store, settings_from
from openclaw_local.errors import UsageError
from openclaw_local.records import Preference

ACTIONS = ("list", "add", "edit", "rm", "pause", "resume")


def register(sub) -> None:
    p = sub.add_parser("prefs", help="standing preferences: what every reply is told (list|add TEXT|edit ID TEXT|rm ID|"
                                     "pause ID|resume ID)")
    p.add_argument("action", nargs="?", choices=ACTIONS, default="list",
                   help="list (default); add TEXT; edit ID TEXT; rm ID; pause ID; resume ID (also confirms one that "
                        "came through the endpoint, or keeps one seen once)")
    p.add_argument("args", nargs="*", metavar="ID|TEXT", help="the preference's id (see prefs list) and/or its text")
    p.add_argument("--json", action="store_true", help="machine-readable output (list)")
    p.set_defaults(func=run_prefs)


def _service(args: argparse.Namespace):
    from openclaw_local.services.preferences import PreferenceService

    store = open_store(args)
    return PreferenceService(store, settings_from(args, home_dir()))


def _id(text: str) -> int:
    t = text.strip().lstrip("#")
    if not t.isdigit():
        raise UsageError(f"a preference id is a number, not {text!r}", "openclaw-local prefs list shows the ids")
    return int(t)


def _where(p: Preference) -> str:
    said = f" — from “{p.source_text}”" if p.source_text else ""
    return f"{p.origin}{said}"


def _line(p: Preference, back: bool = False) -> str:
    status = p.status + (" (confirm: prefs resume)" if p.needs_confirmation else "")
    if p.status == "learned" and p.absorbed_version is not None:
        status = f"learned in v{p.absorbed_version}"
        if back:  # the served adapter is not v{N} or a descendant of it (a rollback): told to replies again
            status += " (not served: in the prompt again)"
    seen = f", seen {p.times_seen}×" if p.times_seen > 1 else ""
    return f"#{p.id:<4} {status:<10} {p.text}\n       {_where(p)}{seen}"


def run_prefs(args: argparse.Namespace) -> int:
    action, rest = args.action, list(args.args)
    wants = {"list": 0, "add": 1, "edit": 2, "rm": 1, "pause": 1, "resume": 1}[action]
    if action in ("add", "edit") and len(rest) > wants:  # unquoted text: the words are the text
        rest = rest[: wants - 1] + [" ".join(rest[wants - 1:])]
    if len(rest) != wants:
        usage = {"list": "prefs list", "add": "prefs add TEXT", "edit": "prefs edit ID TEXT", "rm": "prefs rm ID",
                 "pause": "prefs pause ID", "resume": "prefs resume ID"}[action]
        raise UsageError(f"prefs {action} takes {wants or 'no'} argument{'s' if wants != 1 else ''}",
                         f"openclaw-local {usage}")
    svc = _service(args)
    if action == "list":
        return _list(svc, args.json)
    if action == "add":
        p = svc.add(rest[0], origin="cli")
        print(f"added #{p.id}: {p.text}")
    elif action == "edit":
        p = svc.edit(_id(rest[0]), rest[1], origin="cli")
        print(f"#{p.id} now says: {p.text}")
    elif action == "rm":
        pid = _id(rest[0])
        svc.remove(pid)
        print(f"deleted #{pid}")
    elif action == "pause":
        p = svc.pause(_id(rest[0]), origin="cli")
        print(f"paused #{p.id}: {p.text}")
    else:
        p = svc.resume(_id(rest[0]), origin="cli")
        print(f"active #{p.id}: {p.text}")
    return 0


def _list(svc, as_json: bool) -> int:
    prefs = svc.list()
    if as_json:
        print(json.dumps([p.as_dict() for p in prefs], indent=2, ensure_ascii=False))
        return 0
    kept = [p for p in prefs if p.status != "candidate"]
    candidates = [p for p in prefs if p.status == "candidate"]
    back = {p.id for p in svc.unabsorbed() if p.status == "learned"} if any(p.status == "learned" for p in prefs) else set()
    for p in kept:
        print(_line(p, p.id in back))
    if candidates:
        print("\nseen once, not kept yet (said again, they become active; prefs resume ID keeps one now):")
        for p in candidates:
            print(_line(p))
    if not prefs:
        print('no preferences yet: say "from now on …" in a chat, or openclaw-local prefs add TEXT', file=sys.stderr)
    return 0
