"""``export-data``: the collected feedback as training data for TRL (KTO, SFT) or as full JSONL."""

from __future__ import annotations

import argparse
import sys

from openclaw_local.cli.common import home_dir, settings_from
from openclaw_local.paths import check_output_path


def register(sub) -> None:
    p = sub.add_parser("export-data", help="write feedback as TRL KTO/SFT rows or full JSONL")
    p.add_argument("--format", required=True, choices=["kto", "sft", "jsonl", "judge-labels"],
                   help="kto: prompt/completion/label; sft: messages; jsonl: everything (rewards, hints, votes); "
                        "judge-labels: your labels for the judge (from 👍/👎, corrections, overrules)")
    p.add_argument("--out", required=True, metavar="FILE", help="output JSONL file ('-' for stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.services.data_export import export_data
    from openclaw_local.services.container import open_store

    home = home_dir()
    settings = settings_from(args, home)
    out = None if args.out == "-" else check_output_path(args.out)  # refused before the store is read
    n = export_data(open_store(home), args.format, out, system_prompt=settings.system_prompt)
    if out is not None:
        print(f"wrote {n} {args.format} rows to {out}", file=sys.stderr)
    return 0
