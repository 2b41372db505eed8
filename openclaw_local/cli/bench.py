"""``bench``: performance measured as side-by-side ratios; see docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse

from openclaw_local.cli.common import home_dir, model_path, settings_from


def register(sub) -> None:
    p = sub.add_parser("bench", help="run benchmarks and update docs/BENCHMARKS.md")
    p.add_argument("which", nargs="?", default="all", choices=["all", "chat", "learn"], help="which benchmark")
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds per arm")
    p.add_argument("--max-tokens", dest="bench_tokens", type=int, default=128, help="tokens generated per round")
    p.add_argument("--write", metavar="FILE", help="rewrite the results table in this markdown file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.bench import chat_bench

    home = home_dir()
    settings = settings_from(args, home)
    results = []
    if args.which in ("all", "chat"):
        results.append(chat_bench.run(model_path(settings), settings, rounds=args.rounds, max_tokens=args.bench_tokens))
    if args.which in ("all", "learn"):
        from openclaw_local.bench import learn_bench

        results.append(learn_bench.run(model_path(settings), settings, rounds=max(3, args.rounds // 2)))
    for r in results:
        print(r.summary())
    if args.write:
        from openclaw_local.bench.report import write_results

        write_results(args.write, results)
        print(f"wrote {args.write}")
    return 0
