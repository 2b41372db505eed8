"""Back up a data dir into one archive, and restore one into an empty data dir.

A backup is a consistent snapshot taken while a chat, ``serve`` or the learner may be running:
SQLite's online backup API copies the database as of one moment (no lock on the data dir is
taken), then the adapter version directories that snapshot references are added. Version
directories are never changed once published (``services/adapter_files.py``), so they match the
snapshot; one deleted meanwhile makes the backup start again from a new snapshot.

The archive (``tar.gz``) holds ``manifest.json`` first, then ``openclaw.db``, ``config.toml`` if
present and ``adapters/vNNNN/…``. The manifest says the format, the schema version (and the
names of the migrations applied), when and by which version it was made, and each file's sha256
and size. Every path in the archived database is relative to the data dir, so it restores
anywhere. Not included: downloaded models (``models/``), caches (``trainable/``, the llama.cpp
self-test's decision), exports and logs.

Nothing is written into the data dir while backing up (it may be on a full disk): the database
snapshot goes into a temporary directory beside the archive, and the archive is written to a
temporary file beside its target and renamed into place. A restore goes into a data dir that is
empty or does not exist yet: everything is extracted into a temporary sibling, each file's
checksum verified, the database opened (and migrated) there, and only then is the whole directory
renamed into place; any failure leaves nothing behind.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from openclaw_local import __version__
from openclaw_local.config import CONFIG_FILE
from openclaw_local.errors import DatabaseError, DataDirError, ImportFormatError, NotFoundError, UserError
from openclaw_local.paths import atomic_dir, atomic_path, check_output_path, unique_sibling
from openclaw_local.records import MERGED_NAME
from openclaw_local.store.adapters import AdapterStore, stored_path
from openclaw_local.store.db import DB_FILE, SCHEMA_VERSION, Store

FORMAT = "openclaw-local-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 64 << 20
ATTEMPTS = 3  # snapshots tried when adapter versions keep being deleted while backing up
COMPRESS_LEVEL = 1  # most bytes are float weights gzip barely shrinks: the fastest level loses little
BLOCK = 1 << 20
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


class RestoreRefused(UserError):
    """A restore that would mix two data dirs: the target is not empty."""

    exit_code = 7


class _SourceChanged(Exception):
    """An adapter file of the snapshot went away or changed while it was read: take a new snapshot."""


@dataclass
class BackupResult:
    path: Path
    schema_version: int
    versions: list[int]  # adapter versions whose files are in the archive
    missing: list[int]  # versions the database names whose files were already missing
    n_files: int
    n_bytes: int  # the archive's size
    seconds: float
    config: bool


@dataclass
class RestoreResult:
    path: Path
    schema_version: int
    n_files: int
    seconds: float
    created_at: str | None = None
    app_version: str | None = None
    versions: list[int] = field(default_factory=list)


# ------------------------------------------------------------------- helpers
def _sha256_file(path: Path) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            h.update(block)
            n += len(block)
    return h.hexdigest(), n


class _HashingReader:
    """A file object for ``tarfile.addfile`` that hashes what it hands out."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.n = 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.sha.update(data)
        self.n += len(data)
        return data


def _safe_name(name: str) -> bool:
    """A member name that stays inside the data dir: relative, no '..', no empty or '.' parts."""
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and "\\" not in name and \
        all(part not in ("", ".", "..") for part in name.split("/"))


def _write_error(exc: OSError, out: Path) -> DataDirError:
    hint = "free some disk space and try again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) \
        else "choose a writable place for the archive"
    return DataDirError(f"cannot write {out} ({exc.strerror or exc})", hint)


# -------------------------------------------------------------------- backup
def backup(home: Path, out: Path) -> BackupResult:
    """Write a consistent snapshot of the data dir ``home`` to the archive ``out`` (atomically)."""
    from openclaw_local.services.container import open_store

    started = time.monotonic()
    # the one rule for files a command writes: its directory must exist, it is no directory (exit 4)
    out = check_output_path(out, "FILE")
    home = Path(home).expanduser()
    if not (home / DB_FILE).is_file():
        raise NotFoundError(f"there is nothing to back up: {home} has no {DB_FILE}",
                            "set OPENCLAW_HOME to the data dir to back up")
    store = open_store(home, read_only=True)  # never migrates or writes anything in the data dir
    try:
        for attempt in range(ATTEMPTS):
            staging = unique_sibling(out, "backup")
            try:
                try:
                    staging.mkdir(mode=0o700)
                except OSError as exc:
                    raise _write_error(exc, out) from None
                try:
                    result = _backup_once(store, home, out, staging)
                except _SourceChanged:
                    if attempt == ATTEMPTS - 1:
                        raise DatabaseError("adapter versions kept changing while backing up",
                                            "run the backup again when no adapter is being deleted") from None
                    continue
                except OSError as exc:
                    if exc.errno in WRITE_ERRNOS and (exc.filename is None or str(out.parent) in str(exc.filename)):
                        raise _write_error(exc, out) from None
                    raise
                result.seconds = round(time.monotonic() - started, 3)
                return result
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    finally:
        store.close()
    raise AssertionError("unreachable")


def _backup_once(store: Store, home: Path, out: Path, staging: Path) -> BackupResult:
    from openclaw_local.services.container import open_store

    snapshot = staging / DB_FILE
    try:
        store.backup_to(snapshot)
    except DataDirError as exc:  # the snapshot lives beside the archive: name the archive
        raise DataDirError(f"cannot write {out} ({exc.message.rpartition('(')[2].rstrip(')')})",
                           "free some disk space or choose another place for the archive") from None
    # what the snapshot references: its adapter versions, each resolved against the data dir
    snap = open_store(staging, migrate=False)
    dirs: list[tuple[str, Path]] = []
    included: list[int] = []
    missing: list[int] = []
    try:
        schema_version, migrations = snap.schema_version(), snap.applied_migrations()
        adapters = AdapterStore(snap, home=home)
        stored = adapters.stored_paths()
        for v in adapters.versions():
            src = Path(v.path)
            if not src.is_dir():
                missing.append(v.id)
                continue
            rel = stored.get(v.id) or ""
            if os.path.isabs(rel) or not _safe_name(rel):
                # an older absolute path: under the data dir it becomes relative; a version kept
                # elsewhere is carried into the archive as the data dir's own adapters/vNNNN
                rel = stored_path(home, src)
                if os.path.isabs(rel) or not _safe_name(rel):
                    rel = f"adapters/v{v.id:04d}"
                adapters.relocate(v.id, rel)
            dirs.append((rel, src))
            included.append(v.id)
    finally:
        snap.close()
    for side in ("-wal", "-shm"):
        Path(f"{snapshot}{side}").unlink(missing_ok=True)

    # every file, hashed before the archive is written so the manifest can come first
    entries: list[tuple[str, Path | bytes]] = [(DB_FILE, snapshot)]
    config_path = home / CONFIG_FILE
    config = config_path.is_file()
    if config:
        entries.append((CONFIG_FILE, config_path.read_bytes()))
    taken = {DB_FILE, CONFIG_FILE}
    for rel, src in dirs:
        try:
            walked = sorted(os.walk(src))
        except OSError:
            raise _SourceChanged() from None
        for dirpath, _dirnames, filenames in walked:
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if path.is_symlink() or not path.is_file():
                    continue
                if name == MERGED_NAME:  # a whole model derived from the adapter; a restored version serves its adapter
                    continue
                arc = f"{rel}/{path.relative_to(src).as_posix()}"
                if arc in taken:
                    continue
                taken.add(arc)
                entries.append((arc, path))
    files: dict[str, dict[str, Any]] = {}
    for arc, src in entries:
        if isinstance(src, bytes):
            files[arc] = {"sha256": hashlib.sha256(src).hexdigest(), "size": len(src)}
            continue
        try:
            digest, size = _sha256_file(src)
        except FileNotFoundError:
            raise _SourceChanged() from None
        files[arc] = {"sha256": digest, "size": size}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": schema_version,
        "migrations": migrations,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "app_version": __version__,
        "adapter_versions": [rel for rel, _ in dirs],
        "missing_adapter_versions": missing,
        "files": files,
    }
    with atomic_path(out) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, \
                tarfile.open(fileobj=raw, mode="w:gz", compresslevel=COMPRESS_LEVEL, format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
            for arc, src in entries:
                if isinstance(src, bytes):
                    _add_bytes(tar, arc, src)
                    continue
                info = _info(arc, files[arc]["size"])
                try:
                    with open(src, "rb") as fh:
                        reader = _HashingReader(fh)
                        tar.addfile(info, reader)
                except (FileNotFoundError, OSError) as exc:
                    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) is None:
                        raise _SourceChanged() from None  # shorter than when hashed: changed meanwhile
                    raise
                if reader.sha.hexdigest() != files[arc]["sha256"] or reader.n != files[arc]["size"]:
                    raise _SourceChanged()
    return BackupResult(path=out, schema_version=schema_version, versions=included,
                        missing=missing, n_files=len(entries), n_bytes=out.stat().st_size, seconds=0.0, config=config)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(time.time())
    info.uname = info.gname = ""
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


# ------------------------------------------------------------------- restore
def restore(archive: Path, into: Path) -> RestoreResult:
    """Restore the backup ``archive`` into the data dir ``into``, which must be empty or not exist."""
    from openclaw_local.services.container import open_store

    started = time.monotonic()
    archive, into = Path(archive).expanduser(), Path(into).expanduser()
    if not archive.exists():
        raise NotFoundError(f"there is no backup {archive}")
    if archive.is_dir():
        raise ImportFormatError(f"{archive} is a directory, not a backup archive", "give the .tar.gz that backup wrote")
    _refuse_unless_empty(into)
    try:
        into.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise DataDirError(f"cannot create {into.parent} ({exc.strerror or exc})", "choose another --into") from None
    bad = f"{archive} is not a backup openclaw-local can restore"
    try:
        tar = tarfile.open(archive, mode="r:gz")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ImportFormatError(f"{bad} ({exc})") from None
    with tar:
        try:
            manifest = _read_manifest(tar, bad)
            expected: dict[str, dict[str, Any]] = manifest["files"]
            try:
                with atomic_dir(into, if_exists="fail", mode=0o700) as tmp:
                    seen = _extract(tar, tmp, expected, archive)
                    absent = sorted(set(expected) - seen)
                    if absent:
                        raise ImportFormatError(f"{archive} is incomplete: {', '.join(absent[:3])} "
                                                f"{'is' if len(absent) == 1 else 'are'} missing from it")
                    # opened where it was extracted, before anything is in place: the store refuses a
                    # database from a newer build and brings an older one up to date
                    store = open_store(tmp)
                    try:
                        schema_version = store.schema_version()
                        versions = [v.id for v in AdapterStore(store).versions()]
                    finally:
                        store.close()
                    _refuse_unless_empty(into)
                    if into.is_dir():
                        try:
                            into.rmdir()  # empty: the restored directory takes its place
                        except OSError as exc:
                            raise RestoreRefused(f"{into} cannot be replaced ({exc.strerror or exc})",
                                                 "restore with --into a new directory") from None
            except FileExistsError:
                raise RestoreRefused(f"{into} appeared while restoring", "restore into an empty directory") from None
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ImportFormatError(f"{bad} ({exc})") from None
        except OSError as exc:
            if exc.errno in WRITE_ERRNOS:
                hint = "free some disk space and try again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else \
                    "choose a writable --into"
                raise DataDirError(f"cannot restore into {into} ({exc.strerror or exc})", hint) from None
            raise
    return RestoreResult(path=into, schema_version=schema_version, n_files=len(expected),
                         seconds=round(time.monotonic() - started, 3), created_at=manifest.get("created_at"),
                         app_version=manifest.get("app_version"), versions=versions)


def _refuse_unless_empty(into: Path) -> None:
    if into.is_symlink():
        raise RestoreRefused(f"{into} is a symbolic link", "give the directory itself with --into")
    if into.is_dir():
        if any(into.iterdir()):
            raise RestoreRefused(f"{into} is not empty: a backup is restored only into an empty data dir",
                                 "choose an empty or new directory with --into, or move the current data dir aside")
    elif into.exists() or into.is_symlink():
        raise RestoreRefused(f"{into} exists and is not a directory", "choose another --into")


def _read_manifest(tar: tarfile.TarFile, bad: str) -> dict[str, Any]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isreg() or first.size > MANIFEST_MAX_BYTES:
        raise ImportFormatError(f"{bad} (it does not start with {MANIFEST})")
    try:
        manifest = json.loads(tar.extractfile(first).read())
    except ValueError as exc:
        raise ImportFormatError(f"{bad} ({MANIFEST} is not valid JSON: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ImportFormatError(f"{bad} ({MANIFEST} is not an {FORMAT} manifest)")
    fmt = manifest.get("format_version")
    if not isinstance(fmt, int) or fmt < 1:
        raise ImportFormatError(f"{bad} (format version {fmt!r})")
    if fmt > FORMAT_VERSION:
        raise ImportFormatError(f"{bad}: it was written by a newer openclaw-local (backup format {fmt}, "
                                f"this version reads {FORMAT_VERSION})", "upgrade openclaw-local")
    schema = manifest.get("schema_version")
    names = manifest.get("migrations") or []
    if not isinstance(schema, int) or not isinstance(names, list):
        raise ImportFormatError(f"{bad} (no schema version in {MANIFEST})")
    unknown = sorted(set(map(str, names)) - set(Store.known_migrations()))
    if schema > SCHEMA_VERSION or unknown:
        raise DatabaseError(f"the backup's database was written by a newer openclaw-local (schema {schema}, "
                            f"this version knows {SCHEMA_VERSION})", "upgrade openclaw-local; nothing was restored")
    files = manifest.get("files")
    if not isinstance(files, dict) or DB_FILE not in files:
        raise ImportFormatError(f"{bad} ({MANIFEST} lists no {DB_FILE})")
    for name, meta in files.items():
        if not _safe_name(name) or name == MANIFEST or not isinstance(meta, dict) \
                or not isinstance(meta.get("sha256"), str) or not isinstance(meta.get("size"), int):
            raise ImportFormatError(f"{bad} ({MANIFEST} lists {name!r} wrongly)")
    return manifest


def _extract(tar: tarfile.TarFile, tmp: Path, expected: dict[str, dict[str, Any]], archive: Path) -> set[str]:
    """Write every member into ``tmp`` (owner-only), checking each against the manifest."""
    seen: set[str] = set()
    while (member := tar.next()) is not None:
        name = member.name
        if member.isdir() and _safe_name(name.rstrip("/")):
            continue
        if not member.isreg() or name not in expected or name in seen:
            why = "a link or device" if not member.isreg() and not member.isdir() else \
                "listed twice" if name in seen else "not in its manifest"
            raise ImportFormatError(f"{archive} was altered: it holds {name!r}, {why}", "use an untouched backup")
        meta = expected[name]
        dest = tmp / name
        try:
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except (FileExistsError, NotADirectoryError):
            raise ImportFormatError(f"{archive} was altered: {name!r} lies under a file", "use an untouched backup") from None
        sha, n = hashlib.sha256(), 0
        src = tar.extractfile(member)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            for block in iter(lambda: src.read(BLOCK), b""):
                sha.update(block)
                n += len(block)
                fh.write(block)
        if n != meta["size"] or sha.hexdigest() != meta["sha256"]:
            raise ImportFormatError(f"{archive} was altered or damaged: {name} does not match its checksum",
                                    "use an untouched backup; nothing was restored")
        seen.add(name)
    return seen
