"""Adapter version directories on disk: atomic writes, checksums, verification.

A version directory ``<data dir>/adapters/vNNNN/`` is always written whole into a
hidden temporary sibling, fsynced, and renamed into place; only then is its SQLite
row written (with the sha256 of the files that matter for serving and continuing).
On start, :func:`verify` re-checks them, so a file that went missing or was
damaged afterwards is noticed before llama.cpp is asked to load it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable

from openclaw_local.store.adapters import GGUF_NAME, AdapterVersion

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
    import re

    from gguf import GGUFReader

    from openclaw_local.engine.gguf_check import inspect_gguf

    try:
        base = inspect_gguf(model)
        reader = GGUFReader(str(version.gguf_path))
        arch_field = reader.fields.get("general.architecture")
        arch = bytes(arch_field.parts[arch_field.data[0]]).decode() if arch_field is not None else None
        layers, width = -1, None
        for t in reader.tensors:
            m = re.match(r"^blk\.(\d+)\.(\w+)\.weight\.lora_a$", t.name)
            if m:
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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_dir_atomic(final: Path, fill: Callable[[Path], None]) -> Path:
    """Create ``final`` by letting ``fill(tmp)`` write a temporary sibling, then fsync + rename.

    A directory already at ``final`` (an orphan no row points at) is replaced.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        fill(tmp)
        for p in tmp.rglob("*"):
            if p.is_file():
                _fsync(p)
        _fsync(tmp)
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, final)
        _fsync(final.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def copy_file_atomic(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    try:
        shutil.copyfile(src, tmp)
        _fsync(tmp)
        os.replace(tmp, dst)
        _fsync(dst.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dst


def remove_version_files(path: Path) -> None:
    """Delete a version directory (after its row is gone): rename aside first, then remove."""
    if not path.exists():
        return
    trash = path.with_name(f".{path.name}.deleted-{os.getpid()}")
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def sweep_temporaries(home: Path) -> int:
    """Remove leftovers of interrupted writes (hidden ``.vNNNN.tmp-*``/``.old-*``/``.deleted-*``)."""
    root = home / ADAPTERS_DIR
    n = 0
    if not root.is_dir():
        return 0
    for p in root.iterdir():
        if p.name.startswith(".v") and any(tag in p.name for tag in (".tmp-", ".old-", ".deleted-")):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
                continue  # another live process is writing it
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
