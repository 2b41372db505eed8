"""User-facing errors: one clear line, a meaningful exit code, never a traceback.

Every layer raises a subclass of :class:`UserError` for problems the user can fix
(a bad model path, an unwritable directory, a locked database). The CLI catches
them, prints ``error: <message>`` and exits with ``exit_code``.

:data:`EXIT_CODES` is the one table of exit codes: the README's table and the
``--help`` epilog are rendered from it (a test checks the README), and every
``exit_code`` used by a UserError subclass must appear in it.
"""

from __future__ import annotations


# code, short name, meaning: the one documented table (README and --help are rendered from it)
EXIT_CODES: tuple[tuple[int, str, str], ...] = (
    (0, "ok", "success"),
    (1, "error", "another problem you can fix, explained in the message"),
    (2, "usage", "a bad command line, option or setting (config.toml, OPENCLAW_* environment, --flags)"),
    (3, "model", "the model file is not a GGUF, is truncated or cannot be loaded"),
    (4, "cannot write", "a directory or file cannot be written (permissions, read-only or full disk)"),
    (5, "database", "the database is locked, corrupt or from a newer version"),
    (6, "bad input file", "a file to read is malformed (adapter, persona, labeled JSONL)"),
    (7, "refused", "a valid request refused in the current state (e.g. deleting the active adapter)"),
    (8, "not found", "a thing you named does not exist (adapter version, conversation, file)"),
    (130, "interrupted", "stopped with Ctrl-C"),
)


def exit_code_table_markdown() -> str:
    """The table as Markdown, exactly as README.md shows it."""
    rows = ["| code | meaning |", "|-----:|---------|"]
    rows += [f"| {code} | **{name}**: {meaning} |" for code, name, meaning in EXIT_CODES]
    return "\n".join(rows)


def exit_code_table_text() -> str:
    """The table as plain text, for ``--help``."""
    return "exit codes:\n" + "\n".join(f"  {code:>3}  {name}: {meaning}" for code, name, meaning in EXIT_CODES)


class UserError(Exception):
    """A problem caused by input or environment, explained in one line."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class UsageError(UserError):
    exit_code = 2


class ModelError(UserError):
    """The model file is missing, not a GGUF, truncated or not loadable."""

    exit_code = 3


class DataDirError(UserError):
    """The data directory cannot be created or written."""

    exit_code = 4


class DatabaseError(UserError):
    """The database is locked, corrupt or from a newer version."""

    exit_code = 5


class ImportFormatError(UserError):
    """An imported or exported file is malformed."""

    exit_code = 6


class RefusedError(UserError):
    """A valid request refused in the current state (e.g. no learner is there to take it)."""

    exit_code = 7


class NotFoundError(UserError):
    """A thing the user named (an adapter version, a conversation, a model) does not exist."""

    exit_code = 8
