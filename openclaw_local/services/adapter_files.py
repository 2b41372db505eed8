"""Adapter version directories on disk: atomic writes, checksums, verification.

A version directory ``<data dir>/adapters/vNNNN/`` is always written whole into a
hidden temporary sibling, fsynced, and renamed into place; only then is its SQLite
row written (with the sha256 of the files that matter for serving and continuing).
On start, :func:`verify` re-checks them, so a file that went missing or was
damaged afterwards is noticed before llama.cpp is asked to load it.

Several processes may write versions at once (``adapters import`` commands, the
learner): :func:`publish_new_version` reserves the id in SQLite first, writes the
directory under a name unique to the process, and moves it into place with a rename
that refuses to replace anything (``renameat2(RENAME_NOREPLACE)`` on Linux), so an
existing version directory is never replaced. Reservations whose writer died are
cleaned up by :func:`sweep_abandoned`. Everything written here is owner-only
(directories 0700, files 0600), like the database.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from openclaw_local.errors import DataDirError
from openclaw_local.paths import atomic_dir, remove_dir
from openclaw_local.records import GGUF_NAME, MERGED_NAME, AdapterVersion
from openclaw_local.store.adapters import AdapterStore

DIR_MODE = 0o700
FILE_MODE = 0o600
STALE_RESERVATION = timedelta(hours=12)  # no write takes this long: a reservation this old was abandoned

ADAPTERS_DIR = "adapters"
CHECKED_FILES = (GGUF_NAME, "adapter_model.safetensors", "adapter_config.json")


def version_dir(home: Path, version_id: int) -> Path:
    return home / ADAPTERS_DIR / f"v{version_id:04d}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksums(vdir: Path) -> dict[str, str]:
    """sha256 of the files a version is served and continued from (those present)."""
    return {name: sha256_file(vdir / name) for name in CHECKED_FILES if (vdir / name).is_file()}


def verify(version: AdapterVersion, *, hashes: bool = True) -> str | None:
    """Why ``version``'s files cannot be trusted, or None when they are intact."""
    vdir = Path(version.path)
    if not vdir.is_dir():
        return f"its directory {vdir} is missing"
    if not version.gguf_path.is_file():
        return f"{GGUF_NAME} is missing"
    expected = version.files or {}
    for name, digest in expected.items():
        path = vdir / name
        if not path.is_file():
            return f"{name} is missing"
        if hashes and sha256_file(path) != digest:
            return f"{name} is corrupt (checksum differs from the one recorded at publish)"
    return None


def base_mismatch(version: AdapterVersion, model: Path) -> str | None:
    """Why ``version`` was trained for another base model than ``model``, or None when it fits.

    Compares the adapter GGUF's architecture, layer count and input width with the served
    model's header (cached by ``inspect_gguf``; nothing heavy is parsed). A version that does
    not fit is kept, just not served: switching back to its model serves it again. An
    unreadable adapter is not a mismatch (``verify`` and llama.cpp report it as broken).
    """
    from gguf import GGUFReader

    from openclaw_local.engine.gguf_check import inspect_gguf
    from openclaw_local.learn.convert import GGUF_LORA_KEY

    try:
        base = inspect_gguf(model)
        reader = GGUFReader(str(version.gguf_path))
        arch_field = reader.fields.get("general.architecture")
        arch = bytes(arch_field.parts[arch_field.data[0]]).decode() if arch_field is not None else None
        layers, width = -1, None
        for t in reader.tensors:
            m = GGUF_LORA_KEY.match(t.name)
            if m and m.group(3) == "a":
                layers = max(layers, int(m.group(1)))
                if m.group(2) == "attn_q":
                    width = int(t.shape[0])  # ggml order: ne0 is the input width
    except Exception:
        return None
    if arch and arch != base.architecture:
        return f"it was trained on a {arch} model, {base.path.name} is {base.architecture}"
    if base.block_count is not None and layers + 1 > base.block_count:
        return f"it has {layers + 1} layers, {base.path.name} has {base.block_count}"
    if width is not None and base.embedding_length is not None and width != base.embedding_length:
        return f"it is {width} wide, {base.path.name} is {base.embedding_length}"
    return None


def owner_only(root: Path) -> None:
    """chmod a file, or a directory and everything in it, to 0600 files / 0700 directories."""
    if root.is_symlink():
        return
    if root.is_file():
        os.chmod(root, FILE_MODE)
        return
    os.chmod(root, DIR_MODE)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, DIR_MODE)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, FILE_MODE)


def write_dir_atomic(final: Path, fill: Callable[[Path], None]) -> Path:
    """Create ``final`` by letting ``fill(tmp)`` write a temporary sibling, then fsync + rename.

    Never replaces anything: if ``final`` exists (another writer's, or a leftover),
    FileExistsError is raised and the temporary is removed. The result is owner-only.
    """
    final.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    with atomic_dir(final, if_exists="fail", mode=DIR_MODE) as tmp:
        fill(tmp)
        owner_only(tmp)
    return final


def sweep_temporaries(home: Path) -> int:
    """Remove leftovers of interrupted writes (hidden ``.vNNNN.tmp-*``/``.old-*``/``.deleted-*``)."""
    root = home / ADAPTERS_DIR
    n = 0
    if not root.is_dir():
        return 0
    for p in root.iterdir():
        if p.name.startswith(".v") and any(tag in p.name for tag in (".tmp-", ".old-", ".deleted-")):
            pid = p.name.rsplit("-", 1)[-1]  # every temporary name ends in -<pid>
            if pid.isdigit() and process_alive(int(pid)) and int(pid) != os.getpid():
                continue  # another live process is writing it
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            n += 1
    return n


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------- new versions
def drop_merged(home: Path, keep: int | None) -> int:
    """Remove the merged model files of every version but ``keep`` (one whole model each; a version
    without one is served as base + adapter). Returns how many were removed. A process still
    serving a removed one keeps its open copy until it swaps."""
    removed = 0
    for path in sorted((Path(home) / ADAPTERS_DIR).glob(f"v*/{MERGED_NAME}")):
        if keep is not None and path.parent == version_dir(home, keep):
            continue
        try:
            path.unlink()
            removed += 1
        except OSError:
            pass  # e.g. held open on an OS that refuses: the next update tries again
    return removed


def publish_new_version(home: Path, adapters: AdapterStore, fill: Callable[[Path], None], *, purpose: str,
                        **publish: Any) -> AdapterVersion:
    """Reserve an id, write the version directory with ``fill(tmp)``, register it (one transaction).

    ``publish`` goes to :meth:`AdapterStore.publish` (parent_id, sample_ids, metrics,
    activate, status, reason, source). On any failure the reservation is abandoned and
    whatever this call wrote is removed, so the next writer starts clean.
    """
    sweep_abandoned(home, adapters)
    vid = adapters.reserve(os.getpid(), purpose, taken=lambda n: os.path.lexists(version_dir(home, n)))
    vdir = version_dir(home, vid)
    placed = False
    try:
        try:
            write_dir_atomic(vdir, fill)
        except FileExistsError:
            raise DataDirError(f"adapter directory {vdir} appeared while it was being written",
                               "another program writes into the adapters directory; retry") from None
        except OSError as exc:
            raise DataDirError(f"cannot write adapter version {vdir} ({exc.strerror or exc})",
                               "free some disk space or check the data directory's permissions") from None
        placed = True
        version = adapters.publish(vid, vdir, files=checksums(vdir), source=publish.pop("source", purpose), **publish)
    except BaseException:
        adapters.abandon(vid, pid=os.getpid())
        if placed:
            remove_dir(vdir)
        raise
    return version


def sweep_abandoned(home: Path, adapters: AdapterStore) -> int:
    """Close reservations whose writer is gone and remove version directories no row owns.

    A directory ``vNNNN`` is removed only when the database (read in one transaction)
    has no row for it and no open reservation, and NNNN was already reserved then,
    so a writer that reserves or renames into place meanwhile is never touched.
    """
    n = 0
    cutoff = (datetime.now(timezone.utc) - STALE_RESERVATION).isoformat(timespec="milliseconds")
    for r in adapters.open_reservations():
        dead = r["pid"] is None or not process_alive(r["pid"]) or (r["created_at"] or "") < cutoff
        if dead and adapters.abandon(r["id"], pid=r["pid"]):
            n += 1
    root = home / ADAPTERS_DIR
    if not root.is_dir():
        return n
    rows, writing, highest = adapters.ownership()
    for p in root.iterdir():
        if not (p.name.startswith("v") and p.name[1:].isdigit() and p.is_dir()):
            continue
        vid = int(p.name[1:])
        if vid in rows or vid in writing or vid > highest:
            continue
        remove_dir(p)
        n += 1
    return n
