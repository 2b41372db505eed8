"""``eval-prm [FILE.jsonl]``: the judge's accuracy on labeled next states (judge/evaluate.py); the frozen
test set (``assets/judge/test.jsonl``) when no file is given. The one entry point for measuring a judge."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from openclaw_local.cli.common import positive_int
from openclaw_local.errors import NotFoundError, UserError
from openclaw_local.judge import SETTING_MODES


class LabeledFileError(UserError):
    exit_code = 6


def register(sub) -> None:
    p = sub.add_parser("eval-prm", help="measure the judge (PRM) on a labeled JSONL file")
    p.add_argument("file", metavar="FILE.jsonl", nargs="?", default=None,
                   help='lines {"reply": ..., "next_state": ..., "label": 1|0|-1} (default: the judge\'s frozen test set, '
                        "assets/judge/test.jsonl)")
    p.add_argument("--mode", default=None, help=f"judge mode: {' | '.join(SETTING_MODES)} (default: the product's judge mode)")
    p.add_argument("--votes", type=positive_int, default=None, help="judge votes per line (default: the judge_votes setting)")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N lines (N >= 1)")
    p.set_defaults(func=run)


def _check_file(path: Path) -> int:
    if not path.is_file():
        raise NotFoundError(f"labeled file not found: {path}")
    from openclaw_local.judge.data import load_labeled

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LabeledFileError(f"{path}: not UTF-8 text") from None
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabeledFileError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise LabeledFileError(f"{path}:{n}: JSON nested too deeply") from None
    try:
        rows = load_labeled(path)
    except (ValueError, TypeError, AttributeError) as exc:
        raise LabeledFileError(str(exc).splitlines()[0] if str(exc) else f"{path}: malformed line") from None
    if not rows:
        raise LabeledFileError(f"{path}: no labeled lines")
    return len(rows)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.cli.common import home_dir, settings_from
    from openclaw_local.errors import UsageError
    from openclaw_local.judge.data import TEST_PATH
    from openclaw_local.judge.evaluate import evaluate, format_report
    from openclaw_local.services import container

    path = Path(args.file) if args.file is not None else TEST_PATH
    n = _check_file(path)
    settings = settings_from(args, home_dir())
    if args.mode is not None and args.mode not in SETTING_MODES:
        raise UsageError(f"unknown judge mode {args.mode!r} (use one of {', '.join(SETTING_MODES)})")
    if args.mode is not None:
        settings.judge_mode = args.mode
    mode = container.judge_mode(settings)
    engine = container.load_judge_engine(home_dir(), settings, mode, seed=0)
    try:
        judge = container.build_judge(settings, engine, mode, votes=args.votes, seed=0)
        result = evaluate(judge, path, limit=args.limit)
    finally:
        if engine is not None:
            engine.close()
    print(f"{path}: {min(n, args.limit or n)} lines")
    print(format_report(result))
    polar = result["polar_accuracy"]
    print(f"accuracy {result['accuracy']:.3f} · majority-class baseline {result['majority_baseline']:.3f}"
          + (f" · on ±1 lines {polar:.3f}" if polar is not None else ""))
    return 0
