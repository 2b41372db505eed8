"""User-facing errors: one clear line, a meaningful exit code, never a traceback.

Every layer raises a subclass of :class:`UserError` for problems the user can fix
(a bad model path, an unwritable directory, a locked database). The CLI catches
them, prints ``error: <message>`` and exits with ``exit_code``.
"""

from __future__ import annotations


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


class NotFoundError(UserError):
    """A thing the user named (an adapter version, a conversation, a model) does not exist."""

    exit_code = 8
