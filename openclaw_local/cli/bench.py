"""``bench``: performance measured as side-by-side ratios; see docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from openclaw_local.cli.common import home_dir, model_path, settings_from


def register(sub) -> None:
    p = sub.add_parser("bench", help="run benchmarks and update docs/BENCHMARKS.md")
    p.add_argument("which", nargs="?", default="all", choices=["all", "chat", "learn", "personas", "gate", "serve"],
                   help="which benchmark (serve: the OpenAI-compatible endpoint; not part of all)")
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds per arm")
    p.add_argument("--max-tokens", dest="bench_tokens", type=int, default=128, help="tokens generated per round")
    p.add_argument("--write", metavar="FILE", default=None,
                   help="rewrite the results sections in this markdown file (default: docs/BENCHMARKS.md when it exists here)")
    p.add_argument("--full", action="store_true", help="personas: the full protocol (36 interactions, all eval prompts, arms)")
    p.add_argument("--compare-extra-buffers", action="store_true",
                   help="chat: measure llama.cpp's extra CPU buffer types on vs off (alternated rounds) instead of app vs raw")
    p.add_argument("--adapter-serving", action="store_true",
                   help="chat: chat speed with a learned version served as base + runtime LoRA vs merged into the base "
                        "(serve_merged), against the base alone, instead of app vs raw")
    p.add_argument("--seeds", type=int, default=None,
                   help="gate: style adapters trained per shipped persona, the noise sample (default 2); "
                        "personas: seeds per persona (default 1); learn --only compliance: seeds (default 3)")
    p.add_argument("--set", dest="persona_set", choices=["dev", "test"], default="dev",
                   help="personas: the development personas (defaults are tuned on them) or the frozen test personas")
    p.add_argument("--words-only", action="store_true", help="personas: a user who only complains (no ratings, no corrections)")
    p.add_argument("--system-prompts", action="store_true",
                   help="personas: also score the base and the final adapter under other system messages")
    p.add_argument("--score-every", type=int, default=None, metavar="N",
                   help="personas: score at every N-th interaction when a new adapter was served since (and at the "
                        "end); 0: after every newly served adapter (default 12)")
    p.add_argument("--keep", metavar="DIR", default=None, help="gate: save each arm's LoRA weights under DIR")
    p.add_argument("--only", choices=["chat-while-training", "judge-latency", "ttft-judging", "correction", "prefs-ttft",
                                      "compliance"],
                   default=None,
                   help="learn: run one section (chat tokens/s idle vs training at nice 19 vs SCHED_IDLE vs pausing; "
                        "the judge's latency per sample; time to first token while the judge works; one correction "
                        "→ served adapter, cold and warm, decomposed; time to first token with standing preferences in context "
                        "vs without; next-reply compliance after a complaint with standing preferences vs without, "
                        "on the development personas, --seeds N (default 3), --out DIR keeps every conversation)")
    p.add_argument("--out", metavar="DIR", default=None, help="personas: keep each simulated run under DIR; "
                   "learn --only compliance: write every conversation to DIR/compliance.json")
    p.add_argument("--from-reports", metavar="DIR", nargs="+", default=None,
                   help="personas: run nothing; table every report.json under DIR (seeds grouped, mean ± spread); "
                        "--write FILE puts it between the personas-table markers")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.from_reports is not None:
        return tables_from_reports(args)
    from openclaw_local.bench import chat_bench

    home = home_dir()
    settings = settings_from(args, home)
    results = []
    if args.which in ("all", "chat"):
        if args.compare_extra_buffers:  # instead of app vs raw: the self-test's two paths
            results.append(chat_bench.run_extra_buffers(model_path(settings), settings, rounds=args.rounds,
                                                        max_tokens=args.bench_tokens))
        elif args.adapter_serving:
            results.append(chat_bench.run_adapter_serving(model_path(settings), settings, rounds=args.rounds,
                                                          max_tokens=args.bench_tokens))
        else:
            results.append(chat_bench.run(model_path(settings), settings, rounds=args.rounds,
                                          max_tokens=args.bench_tokens, home=home))
    if args.which in ("all", "learn"):
        from openclaw_local.bench import learn_bench

        if args.only == "chat-while-training":
            results.append(learn_bench.run_chat_while_training(model_path(settings), settings,
                                                               rounds=max(3, args.rounds // 2), user_home=home))
        elif args.only == "judge-latency":
            results.append(learn_bench.run_judge_latency(model_path(settings), settings, user_home=home))
        elif args.only == "correction":
            results.append(learn_bench.run_correction(model_path(settings), settings, user_home=home))
        elif args.only == "prefs-ttft":
            from openclaw_local.bench import prefs_bench

            results.append(prefs_bench.run(model_path(settings), settings, rounds=max(5, args.rounds), user_home=home))
        elif args.only == "compliance":
            from openclaw_local.bench import compliance_bench

            results.append(compliance_bench.run(model_path(settings), settings, seeds=args.seeds or 3, user_home=home,
                                                out=Path(args.out) if args.out else None))
        elif args.only == "ttft-judging":
            results.append(learn_bench.run_ttft_judging(model_path(settings), settings,
                                                        rounds=max(3, args.rounds // 2), user_home=home))
        else:
            results.append(learn_bench.run(model_path(settings), settings, rounds=max(3, args.rounds // 2), user_home=home))
    if args.which in ("all", "gate"):
        from openclaw_local.bench import gate_bench

        results.append(gate_bench.run(model_path(settings), settings, seeds=args.seeds or 2,
                                      keep=Path(args.keep) if args.keep else None))
    if args.which == "serve":
        from openclaw_local.bench import serve_bench

        results.append(serve_bench.run(model_path(settings), settings, rounds=args.rounds, max_tokens=args.bench_tokens,
                                       user_home=home))
    if args.which in ("all", "personas"):
        from openclaw_local.bench import persona_bench

        results.append(persona_bench.run(full=args.full, out_root=Path(args.out) if args.out else None,
                                         personas=persona_bench.persona_files(args.persona_set),
                                         seeds=args.seeds or 1, words_only=args.words_only,
                                         system_prompts=args.system_prompts,
                                         score_every=persona_bench.SCORE_EVERY if args.score_every is None
                                         else args.score_every))
    for r in results:
        print(r.summary())
    target = args.write
    if target is None and Path("docs/BENCHMARKS.md").exists():
        target = "docs/BENCHMARKS.md"
    if target:
        from openclaw_local.bench.report import write_results

        write_results(target, results)
        print(f"wrote {target}")
    return 0


def tables_from_reports(args: argparse.Namespace) -> int:
    from openclaw_local.bench.persona_tables import from_reports
    from openclaw_local.errors import UsageError

    if args.which != "personas":
        raise UsageError("--from-reports works with `bench personas` only")
    print(from_reports(args.from_reports, write=args.write))
    if args.write:
        print(f"wrote {args.write}")
    return 0
