"""``backup`` / ``restore``: a consistent snapshot of a data dir in one archive, restored elsewhere.

The backup is taken while a store connection is writing (WAL not checkpointed), restores into a
fresh dir with the same history and byte-identical adapters, and the restore refuses a tampered
archive, a newer schema and a non-empty target, leaving nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora
from openclaw_local.cli import main
from openclaw_local.store import SCHEMA_VERSION, Store
from openclaw_local.store.adapters import AdapterStore


def _history(store: Store) -> list[tuple]:
    out = []
    for conv in store.list_conversations(limit=10_000):
        for m in store.messages(conv.id, include_superseded=True):
            out.append((conv.id, conv.title, m.id, m.role, m.content, m.rating, m.correction))
    return sorted(out)


@pytest.fixture
def source(home, tiny_llama_gguf, monkeypatch):
    """A data dir with conversations, feedback, config.toml and three adapter versions; the store stays open."""
    monkeypatch.setenv("OPENCLAW_MODEL_PATH", str(tiny_llama_gguf))
    (home / "config.toml").write_text('temperature = 0.5\n')
    store = Store.open(home)
    for i in range(20):
        conv = store.create_conversation()
        store.add_message(conv.id, "user", f"question {i}")
        reply = store.add_message(conv.id, "assistant", f"answer {i}")
        if i % 3 == 0:
            store.rate(reply.id, 1)
        if i % 5 == 0:
            store.correct(reply.id, f"better answer {i}")
    v1 = publish(home, store, random_lora(tiny_llama_gguf), tiny_llama_gguf)
    v2 = publish(home, store, random_lora(tiny_llama_gguf, seed=1), tiny_llama_gguf, parent=v1.id)
    publish(home, store, random_lora(tiny_llama_gguf, seed=2), tiny_llama_gguf, parent=v2.id, activate=False)
    yield store
    store.close()


def test_backup_while_writing_then_restore_gives_the_same_history_and_adapters(source, home, tmp_path, capsys,
                                                                               monkeypatch):
    # the source is being written to: rows still in the WAL, and a writer running during the backup
    assert Path(f"{home}/openclaw.db-wal").stat().st_size > 0
    stop, first_written = threading.Event(), threading.Event()
    written = []

    def writer():
        conv = source.create_conversation()
        while not stop.is_set() and len(written) < 2000:
            written.append(source.add_message(conv.id, "user", f"typed during the backup {len(written)}").id)
            first_written.set()

    t = threading.Thread(target=writer)
    t.start()
    # the backup starts only once the writer has a row in: the snapshot then holds at least one of its writes
    assert first_written.wait(timeout=60)
    try:
        archive = tmp_path / "out" / "backup.tar.gz"
        archive.parent.mkdir()
        assert main(["backup", str(archive)]) == 0
    finally:
        stop.set()
        t.join()
    assert "adapter versions v1, v2, v3" in capsys.readouterr().out
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in archive.parent.iterdir()) == ["backup.tar.gz"]  # no temporaries left

    restored = tmp_path / "restored"
    assert main(["restore", str(archive), "--into", str(restored)]) == 0
    assert "restored" in capsys.readouterr().out
    copy = Store.open(restored)
    try:
        got, now = _history(copy), _history(source)
        # a consistent snapshot: everything written before the backup, and a prefix of the concurrent writes
        assert got == [row for row in now if row[2] <= max(r[2] for r in got)]
        assert len(got) >= 40 + 1
        adapters = AdapterStore(copy)
        assert [(v.id, v.status) for v in adapters.versions()] == [(1, "retired"), (2, "active"), (3, "candidate")]
        assert all(v.path.parent == restored.absolute() / "adapters" for v in adapters.versions())
    finally:
        copy.close()
    assert (restored / "config.toml").read_text() == "temperature = 0.5\n"
    for vid in (1, 2, 3):
        src, dst = home / "adapters" / f"v{vid:04d}", restored / "adapters" / f"v{vid:04d}"
        assert sorted(p.name for p in src.iterdir()) == sorted(p.name for p in dst.iterdir())
        for f in src.iterdir():
            assert hashlib.sha256(f.read_bytes()).digest() == hashlib.sha256((dst / f.name).read_bytes()).digest()
    assert oct(restored.stat().st_mode & 0o777) == "0o700"
    assert oct((restored / "openclaw.db").stat().st_mode & 0o777) == "0o600"

    # the restored data dir works through the CLI
    monkeypatch.setenv("OPENCLAW_HOME", str(restored))
    assert main(["adapters", "show", "2"]) == 0
    assert str(restored / "adapters" / "v0002") in capsys.readouterr().out


def _archive(source_home: Path, tmp_path: Path) -> Path:
    archive = tmp_path / "b.tar.gz"
    assert main(["backup", str(archive)]) == 0
    return archive


def _members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive, "r:gz") as tar:
        return [(m, tar.extractfile(m).read()) for m in tar.getmembers()]


def _rewrite(archive: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_the_archive_holds_a_manifest_first(source, home, tmp_path):
    (home / "adapters" / "v0002" / "merged.gguf").write_bytes(b"a whole model")  # derived: left out
    members = _members(_archive(home, tmp_path))
    names = [m.name for m, _ in members]
    assert names[0] == "manifest.json" and "openclaw.db" in names and "config.toml" in names
    assert "adapters/v0002/adapter.gguf" in names and "adapters/v0002/merged.gguf" not in names
    manifest = json.loads(members[0][1])
    assert manifest["format"] == "openclaw-local-backup" and manifest["format_version"] == 1
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["app_version"] and manifest["created_at"]
    for info, data in members[1:]:
        assert manifest["files"][info.name] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert set(manifest["files"]) == set(names[1:])
    assert not any(n.startswith("/") or ".." in n for n in names)


def _refused(argv, code, capsys, *, says):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and says in err, err


def test_a_tampered_archive_is_refused_and_nothing_is_left(source, home, tmp_path, capsys):
    archive = _archive(home, tmp_path)
    members = _members(archive)
    target = tmp_path / "new-home"

    gguf = next(i for i, (m, _) in enumerate(members) if m.name == "adapters/v0002/adapter.gguf")
    changed = list(members)
    data = bytearray(changed[gguf][1])
    data[len(data) // 2] ^= 0xFF
    changed[gguf] = (changed[gguf][0], bytes(data))
    _rewrite(archive, changed)
    _refused(["restore", str(archive), "--into", str(target)], 6, capsys, says="does not match its checksum")
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

    # a file the manifest does not list
    _rewrite(archive, [*members, (tarfile.TarInfo("adapters/v0002/extra.bin"), b"x")])
    _refused(["restore", str(archive), "--into", str(target)], 6, capsys, says="not in its manifest")
    # a file left out
    _rewrite(archive, [m for m in members if m[0].name != "config.toml"])
    _refused(["restore", str(archive), "--into", str(target)], 6, capsys, says="config.toml is missing")
    # not an archive at all, or cut short
    archive.write_bytes(b"not a backup")
    _refused(["restore", str(archive), "--into", str(target)], 6, capsys, says="not a backup")
    _rewrite(archive, members)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    _refused(["restore", str(archive), "--into", str(target)], 6, capsys, says="not a backup")
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_newer_schema_is_refused(source, home, tmp_path, capsys):
    archive = _archive(home, tmp_path)
    members = _members(archive)
    manifest = json.loads(members[0][1])
    manifest["schema_version"] = SCHEMA_VERSION + 1
    manifest["migrations"].append("m999_from_the_future")
    _rewrite(archive, [(members[0][0], json.dumps(manifest).encode()), *members[1:]])
    target = tmp_path / "new-home"
    _refused(["restore", str(archive), "--into", str(target)], 5, capsys, says="newer openclaw-local")
    assert not target.exists()


def test_restore_refuses_a_non_empty_data_dir(source, home, tmp_path, capsys, monkeypatch):
    archive = _archive(home, tmp_path)
    # the default target is the data dir, which is in use here
    _refused(["restore", str(archive)], 7, capsys, says="is not empty")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    _refused(["restore", str(archive), "--into", str(target)], 7, capsys, says="is not empty")
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    # an empty one, or one that does not exist yet (OPENCLAW_HOME), is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["restore", str(archive), "--into", str(empty)]) == 0
    monkeypatch.setenv("OPENCLAW_HOME", str(tmp_path / "fresh" / "home"))
    assert main(["restore", str(archive)]) == 0
    assert (tmp_path / "fresh" / "home" / "openclaw.db").is_file()


def test_backup_output_mistakes(source, home, tmp_path, capsys):
    _refused(["backup", str(tmp_path / "no-such-dir" / "b.tar.gz")], 4, capsys, says="no-such-dir for FILE does not exist")
    _refused(["backup", str(tmp_path)], 4, capsys, says="it is a directory")
    _refused(["restore", str(tmp_path / "none.tar.gz"), "--into", str(tmp_path / "x")], 8, capsys,
             says="there is no backup")


def _tree(home: Path) -> list[tuple]:
    return sorted((p.relative_to(home).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in home.rglob("*") if not p.name.endswith(("-wal", "-shm")))


def test_backup_writes_nothing_into_the_data_dir(source, home, tmp_path, monkeypatch):
    """The data dir may be on a full disk: the backup only reads it; its temporaries (the database
    snapshot, the archive being written) go beside the archive."""
    import builtins

    before = _tree(home)
    home_abs = str(home.absolute())
    opened_for_writing = []
    real_os_open, real_open = os.open, builtins.open

    def os_open(path, flags, *a, **kw):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and os.path.abspath(path).startswith(home_abs):
            opened_for_writing.append(path)
        return real_os_open(path, flags, *a, **kw)

    def open_(file, mode="r", *a, **kw):
        if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+") and \
                os.path.abspath(file).startswith(home_abs):
            opened_for_writing.append(file)
        return real_open(file, mode, *a, **kw)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    archive = tmp_path / "b.tar.gz"
    assert main(["backup", str(archive)]) == 0
    monkeypatch.undo()
    assert opened_for_writing == [] and _tree(home) == before


def test_backup_of_a_data_dir_nothing_can_be_written_to(source, home, tmp_path):
    """As on a full disk or a read-only mount: no file can be created in the data dir (non-root only)."""
    source.close()
    before = _tree(home)
    dirs = [home, *[p for p in home.rglob("*") if p.is_dir()]]
    for p in dirs:
        os.chmod(p, 0o500)
    try:
        if os.access(home, os.W_OK):
            pytest.skip("root can write anywhere: a read-only directory proves nothing here")
        assert main(["backup", str(tmp_path / "b.tar.gz")]) == 0
    finally:
        for p in dirs:
            os.chmod(p, 0o700)
    assert _tree(home) == before


def test_versions_kept_elsewhere_are_carried_and_missing_ones_named(source, home, tmp_path, capsys):
    adapters = AdapterStore(source)
    outside = tmp_path / "elsewhere" / "v0001"
    outside.parent.mkdir()
    shutil.copytree(home / "adapters" / "v0001", outside)
    shutil.rmtree(home / "adapters" / "v0001")
    adapters.relocate(1, outside)  # an absolute path outside the data dir (kept so by m012)
    shutil.rmtree(home / "adapters" / "v0003")  # and one whose files are gone
    assert adapters.stored_paths()[1] == str(outside)

    archive = tmp_path / "b.tar.gz"
    assert main(["backup", str(archive)]) == 0
    captured = capsys.readouterr()
    assert "adapter versions v1, v2;" in captured.out and "v3 were already missing" in captured.err
    assert adapters.stored_paths()[1] == str(outside)  # the source is left as it was

    restored = tmp_path / "restored"
    assert main(["restore", str(archive), "--into", str(restored)]) == 0
    copy = Store.open(restored)
    try:
        got = AdapterStore(copy)
        assert got.stored_paths() == {1: "adapters/v0001", 2: "adapters/v0002", 3: "adapters/v0003"}
        assert got.get(1).gguf_path.read_bytes() == (outside / "adapter.gguf").read_bytes()
    finally:
        copy.close()


@pytest.fixture
def full_disk(tmp_path):
    """A small tmpfs filled to the last block (needs root and mount; skipped elsewhere)."""
    import subprocess

    mnt = tmp_path / "full"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def _fill(mnt: Path) -> None:
    fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_backup_and_restore_on_a_full_disk(full_disk, tmp_path, monkeypatch, capsys):
    home = full_disk / "home"
    monkeypatch.setenv("OPENCLAW_HOME", str(home))
    home.mkdir()
    store = Store.open(home)
    conv = store.create_conversation()
    for i in range(50):
        store.add_message(conv.id, "user", f"message {i}")
    store.close()
    for side in ("-wal", "-shm"):  # no chat running: nothing beside the database
        Path(f"{home}/openclaw.db{side}").unlink(missing_ok=True)
    _fill(full_disk)
    archive = tmp_path / "b.tar.gz"
    assert main(["backup", str(archive)]) == 0
    capsys.readouterr()
    # the archive's own disk full: exit 4 naming the archive, nothing left beside it
    _refused(["backup", str(full_disk / "b.tar.gz")], 4, capsys, says=f"cannot write {full_disk / 'b.tar.gz'}")
    _refused(["restore", str(archive), "--into", str(full_disk / "r")], 4, capsys, says="free some disk space")
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler", "home"]
    assert main(["restore", str(archive), "--into", str(tmp_path / "r")]) == 0
    restored = Store.open(tmp_path / "r")
    assert [m.content for m in restored.messages(conv.id)] == [f"message {i}" for i in range(50)]
    restored.close()
