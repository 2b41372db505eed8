"""Command line: ``openclaw-local [SUBCOMMAND]``; no subcommand opens the chat.

Each subcommand lives in its own module with ``register(subparsers)``. User
mistakes raise :class:`~openclaw_local.errors.UserError` and become one line on
stderr and a meaningful exit code; only real bugs show a traceback.
"""

from __future__ import annotations

import argparse
import sys

from openclaw_local import __version__
from openclaw_local.cli import bench, chat, doctor, eval_prm, history, learn, simulate
from openclaw_local.cli import adapters, export_data
from openclaw_local.cli import judge as judge_cli
from openclaw_local.cli.common import add_common_options
from openclaw_local.errors import UserError

COMMANDS = [chat, history, doctor, learn, bench, simulate, eval_prm]
COMMANDS += [adapters, export_data]
COMMANDS += [judge_cli]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openclaw-local",
        description="A local assistant that learns from being used. With no command, opens the chat.",
    )
    parser.add_argument("--version", action="version", version=f"openclaw-local {__version__}")
    add_common_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    parser.set_defaults(func=chat.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
