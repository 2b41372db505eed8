"""A data dir can be copied and moved: the paths in its database are relative to it.

A copy (``cp -a``, ``shutil.copytree``) changes only itself when its versions are deleted or
activated, and serves its own files; a renamed data dir still lists, shows and exports its
versions; an older database with absolute paths is migrated to relative ones (m012); a version
whose files are gone is marked "files missing" and is never served.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora
from dir_hash import tree_digest
from openclaw_local.cli import main
from openclaw_local.records import GGUF_NAME
from openclaw_local.store import SCHEMA_VERSION, Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.migrations import migrations


@pytest.fixture
def tiny_home(home, tiny_llama_gguf, monkeypatch):
    monkeypatch.setenv("OPENCLAW_MODEL_PATH", str(tiny_llama_gguf))
    store = Store.open(home)
    lora = random_lora(tiny_llama_gguf)
    v1 = publish(home, store, lora, tiny_llama_gguf)
    v2 = publish(home, store, random_lora(tiny_llama_gguf, seed=1), tiny_llama_gguf, parent=v1.id)
    publish(home, store, random_lora(tiny_llama_gguf, seed=2), tiny_llama_gguf, parent=v2.id, activate=False)
    store.close()
    return home


def raw_rows(home: Path) -> list[tuple]:
    """adapter_versions exactly as stored (read-only, so reading changes nothing)."""
    conn = sqlite3.connect(f"file:{home / 'openclaw.db'}?mode=ro", uri=True)
    try:
        return conn.execute("select id, path, status, parent_id from adapter_versions order by id").fetchall()
    finally:
        conn.close()


def test_paths_are_stored_relative_and_handed_out_absolute(tiny_home):
    assert [r[1] for r in raw_rows(tiny_home)] == ["adapters/v0001", "adapters/v0002", "adapters/v0003"]
    store = Store.open(tiny_home)
    v = AdapterStore(store).get(2)
    assert isinstance(v.path, Path) and v.path.is_absolute()
    assert v.path == tiny_home.absolute() / "adapters" / "v0002" and v.gguf_path.is_file()
    store.close()


def test_a_copied_data_dir_changes_and_serves_only_itself(tiny_home, tmp_path, monkeypatch, capsys):
    original = tiny_home
    rows, files = raw_rows(original), tree_digest(original)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    monkeypatch.setenv("OPENCLAW_HOME", str(copy))

    assert main(["adapters", "delete", "1"]) == 0
    assert main(["adapters", "activate", "3"]) == 0
    assert "v3 is now active" in capsys.readouterr().out
    assert not (copy / "adapters" / "v0001").exists()

    # the original: its files and its rows untouched
    assert (original / "adapters" / "v0001" / GGUF_NAME).is_file()
    assert raw_rows(original) == rows and tree_digest(original) == files
    # the copy: its own rows changed
    assert [(r[0], r[2]) for r in raw_rows(copy)] == [(2, "retired"), (3, "active")]

    # each resolves its own files
    for home, active in ((original, 2), (copy, 3)):
        store = Store.open(home)
        try:
            v = AdapterStore(store).active()
            assert v.id == active and v.path == home.absolute() / "adapters" / f"v{active:04d}"
            assert v.gguf_path.read_bytes() == (home / "adapters" / f"v{active:04d}" / GGUF_NAME).read_bytes()
        finally:
            store.close()


def test_a_moved_data_dir_lists_shows_and_exports(tiny_home, tmp_path, monkeypatch, capsys):
    moved = tmp_path / "moved"
    os.rename(tiny_home, moved)
    monkeypatch.setenv("OPENCLAW_HOME", str(moved))

    assert main(["adapters", "list"]) == 0
    out = capsys.readouterr().out
    assert "*v2" in out and "files missing" not in out
    assert main(["adapters", "show", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["path"] == str(moved.absolute() / "adapters" / "v0002") and shown["files_missing"] is None
    out_file = tmp_path / "v2.gguf"
    assert main(["adapters", "export", "2", "--format", "gguf-lora", "--out", str(out_file)]) == 0
    assert out_file.read_bytes() == (moved / "adapters" / "v0002" / GGUF_NAME).read_bytes()


def test_versions_whose_files_are_missing_are_marked_and_not_served(tiny_home, tiny_llama_gguf, fake_engine, capsys):
    shutil.rmtree(tiny_home / "adapters" / "v0001")
    (tiny_home / "adapters" / "v0002" / GGUF_NAME).unlink()

    assert main(["adapters", "list"]) == 0
    lines = {line.split()[0].lstrip("*"): line for line in capsys.readouterr().out.splitlines() if "v000" not in line
             and line[:2].strip().lstrip("*").startswith("v")}
    assert "files missing" in lines["v1"] and "files missing" in lines["v2"] and "files missing" not in lines["v3"]

    # show says so, on stdout and as one error line with a non-zero exit (8: a file that is not there)
    assert main(["adapters", "show", "1"]) == 8
    captured = capsys.readouterr()
    assert "files missing" in captured.out and "is missing" in captured.out
    assert captured.err.count("\n") == 1 and "v1's files are missing" in captured.err
    assert main(["adapters", "show", "3"]) == 0
    assert "files missing" not in capsys.readouterr().out

    # serving the active version (v2) whose GGUF is gone falls back with a notice, never crashes
    from openclaw_local.config import Settings
    from openclaw_local.services.learner import LearnerService

    fake_engine.model_path = tiny_llama_gguf
    store = Store.open(tiny_home)
    try:
        service = LearnerService(tiny_home, Settings(learn=False), store, fake_engine)
        event = service.serve_active(check_all=True)
        assert "v2 is broken" in event.notice and "now serving the base model" in event.notice
        assert service.served_version is None and fake_engine.adapter_path is None
    finally:
        store.close()


def _old_database(home: Path, applied: list[str]) -> None:
    """A database as an older build left it: only the migrations named in ``applied``, in that order."""
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    home.mkdir(parents=True, exist_ok=True)
    old = Migrations(migrations.name)
    by_name = {m.name: m for m in migrations._migrations}
    old._migrations = [by_name[name] for name in applied]
    db = Database(home / "openclaw.db")
    old.apply(db)
    db.close()


BEFORE_M012 = [m.name for m in migrations._migrations if m.name < "m011"]


def test_an_old_database_with_absolute_paths_is_migrated_to_relative_ones(tmp_path):
    home = tmp_path / "old"
    _old_database(home, BEFORE_M012)
    for n in (1, 3):
        (home / "adapters" / f"v{n:04d}").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere" / "v0002"
    elsewhere.mkdir(parents=True)
    paths = {
        1: home / "adapters" / "v0001",  # under the data dir: relative
        2: elsewhere,  # outside it, present: kept
        3: tmp_path / "before-the-copy" / "adapters" / "v0003",  # the dir was copied before this upgrade: its own
        4: tmp_path / "gone" / "adapters" / "v0004",  # outside, missing: kept
        5: home / "adapters" / "v0005",  # under the data dir, missing: relative (still missing, but here)
    }
    conn = sqlite3.connect(home / "openclaw.db")
    conn.executemany("insert into adapter_versions (id, created_at, path, status, sample_ids, gate) "
                     "values (?, '2026-01-01T00:00:00', ?, 'retired', '[]', '{}')",
                     [(vid, str(p)) for vid, p in paths.items()])
    conn.commit()
    conn.close()

    store = Store.open(home)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert dict((r[0], r[1]) for r in raw_rows(home)) == {
            1: "adapters/v0001", 2: str(elsewhere), 3: "adapters/v0003", 4: str(paths[4]), 5: "adapters/v0005"}
        adapters = AdapterStore(store)
        assert adapters.get(1).path == home.absolute() / "adapters" / "v0001"
        assert adapters.get(2).path == elsewhere
    finally:
        store.close()


@pytest.mark.parametrize("first", [m.name for m in migrations._migrations if m.name >= "m011"])
def test_the_new_migrations_apply_in_either_order(tmp_path, first):
    """m011 and m012 were written at the same time: a database that has either one gets the other."""
    home = tmp_path / "half"
    _old_database(home, [*BEFORE_M012, first])
    (home / "adapters" / "v0001").mkdir(parents=True)
    conn = sqlite3.connect(home / "openclaw.db")
    conn.execute("insert into adapter_versions (id, created_at, path, status, sample_ids, gate) "
                 "values (1, '2026-01-01T00:00:00', ?, 'active', '[]', '{}')", [str(home / "adapters" / "v0001")])
    conn.commit()
    conn.close()
    store = Store.open(home)
    try:
        assert sorted(store.applied_migrations()) == sorted(Store.known_migrations())
        assert store.schema_version() == SCHEMA_VERSION
        expected = "adapters/v0001" if first != "m012_relative_paths" else str(home / "adapters" / "v0001")
        # applied before the row existed, m012 had nothing to rewrite; applied after, it did
        assert raw_rows(home)[0][1] == expected
    finally:
        store.close()


@pytest.mark.parametrize("how", ["copied", "moved", "restored"])
def test_a_copied_moved_or_restored_data_dir_chats_lists_activates_and_exports(how, tiny_home, tmp_path, monkeypatch,
                                                                             capsys):
    """The same check for each way a data dir reaches a new place; the original is untouched."""
    from openclaw_local.config import load_settings
    from openclaw_local.services.runtime import Runtime

    new = tmp_path / how
    original = tiny_home
    if how == "moved":
        os.rename(original, new)
        original = None
    elif how == "copied":
        shutil.copytree(original, new)
    else:
        archive = tmp_path / "backup.tar.gz"
        assert main(["backup", str(archive)]) == 0
        assert main(["restore", str(archive), "--into", str(new)]) == 0
    before = (raw_rows(original), tree_digest(original)) if original is not None else None
    monkeypatch.setenv("OPENCLAW_HOME", str(new))
    capsys.readouterr()

    # chat: the served adapter is this data dir's own file
    settings = load_settings(new).replace(max_tokens=4, n_ctx=256, learn=False)
    with Runtime.open(new, settings) as rt:
        rt.learner.serve_active()
        assert rt.engine.adapter_path == new.absolute() / "adapters" / "v0002" / GGUF_NAME
        conv = rt.chat.new_conversation()
        reply = rt.chat.send(conv.id, "hello", lambda event: None)
        assert reply.adapter_version == 2
    assert main(["adapters", "list"]) == 0
    assert "*v2" in capsys.readouterr().out
    assert main(["adapters", "activate", "1"]) == 0
    out_file = tmp_path / f"{how}-v1.gguf"
    assert main(["adapters", "export", "1", "--format", "gguf-lora", "--out", str(out_file)]) == 0
    assert out_file.read_bytes() == (new / "adapters" / "v0001" / GGUF_NAME).read_bytes()
    if before is not None:
        assert (raw_rows(original), tree_digest(original)) == before
