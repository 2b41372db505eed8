"""Command line: ``openclaw-local [SUBCOMMAND]``; no subcommand opens the chat.

Each subcommand lives in its own module with ``register(subparsers)``. User
mistakes raise :class:`~openclaw_local.errors.UserError` and become one line on
stderr and a meaningful exit code (the table in errors.EXIT_CODES, shown by ``--help``);
only real bugs show a traceback. A mistyped command line is one line too
(:class:`OneLineParser`), and an operating-system refusal to write (full disk,
read-only file system, permissions) becomes exit code 4 with the path and reason.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from openclaw_local import __version__
from openclaw_local.cli import bench, chat, doctor, eval_prm, history, learn, simulate
from openclaw_local.cli import adapters, export_data
from openclaw_local.cli import backup as backup_cli
from openclaw_local.cli import judge as judge_cli
from openclaw_local.cli import models, report, serve
from openclaw_local.cli import prefs as prefs_cli
from openclaw_local.cli.common import add_common_options, quiet_progress_bars
from openclaw_local.errors import DataDirError, UsageError, UserError, exit_code_table_text

COMMANDS = [chat, history, doctor, learn, bench, simulate, eval_prm]
COMMANDS += [adapters, export_data]
COMMANDS += [serve, report, models, judge_cli]
COMMANDS += [prefs_cli]
COMMANDS += [backup_cli]


# errors of the environment, not of the program: one line and exit 4, never a traceback
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line (exit 2) pointing at ``--help``."""

    def error(self, message: str):  # noqa: D401 — argparse's hook
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(UsageError.exit_code)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="openclaw-local",
        description="A local assistant that learns from being used. With no command, opens the chat.",
        epilog=exit_code_table_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"openclaw-local {__version__}")
    add_common_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    parser.set_defaults(func=chat.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # everything written under the data dir is owner-only, like the database
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else UsageError.exit_code
    quiet_progress_bars()  # progress bars and control codes only on a terminal
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
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        hint = " — free some disk space and try again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        print(f"error: cannot write{where}: {exc.strerror or exc}{hint}", file=sys.stderr)
        return DataDirError.exit_code
