"""``judge``: what the judge has learned about how you talk (``judge status``), and forgetting it
(``judge reset``: deletes your judge labels and the calibration fitted on them)."""

from __future__ import annotations

import argparse

from openclaw_local.cli.common import open_store


def register(sub) -> None:
    p = sub.add_parser("judge", help="the judge's labels from your gestures: status, or reset (forget them)")
    jsub = p.add_subparsers(dest="judge_command", metavar="ACTION", required=True)
    jsub.add_parser("status", help="how many labels the judge has from you, and its calibration").set_defaults(func=status)
    jsub.add_parser("reset", help="forget your judge labels and the calibration fitted on them").set_defaults(func=reset)


def status(args: argparse.Namespace) -> int:
    from openclaw_local.store.judge_labels import JudgeLabelStore

    labels = JudgeLabelStore(open_store(args))
    rows = labels.all()
    by_source: dict[str, int] = {}
    for r in rows:
        by_source[r["source"]] = by_source.get(r["source"], 0) + 1
    detail = ", ".join(f"{n} from {s}" for s, n in sorted(by_source.items()))
    print(f"{len(rows)} judge label{'s' if len(rows) != 1 else ''}" + (f" ({detail})" if detail else ""))
    cal = labels.calibration()
    if cal and cal["params"]:
        print(f"calibration fitted on {cal['n_labels']} labels at {cal['fitted_at']}")
    else:
        print("no calibration (the shipped judge is used as is)")
    return 0


def reset(args: argparse.Namespace) -> int:
    from openclaw_local.store.judge_labels import JudgeLabelStore

    n = JudgeLabelStore(open_store(args)).clear()
    print(f"forgot {n} judge label{'s' if n != 1 else ''} and the judge calibration")
    return 0
