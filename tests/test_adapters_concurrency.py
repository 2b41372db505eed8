"""Concurrent adapter writers never corrupt a version; everything in the data dir is owner-only.

Each trial (``openclaw_local.bench.adapter_stress``; the stress command runs the
same trial 20 times) runs at once, on one data dir: 8 real ``adapters import …
--activate`` commands, a learner process publishing through ``Learner.publish``,
and ``adapters activate`` / ``rollback`` / ``delete`` commands, while this process
follows the active version as a running chat does (real llama.cpp hot swap).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from openclaw_local.bench import adapter_stress
from openclaw_local.config import Settings
from openclaw_local.services import adapter_files
from openclaw_local.services.adapters import AdapterService
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore, ConcurrentChange

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora  # noqa: E402

TRIALS = 2


@pytest.fixture(scope="module")
def stress_inputs(tmp_path_factory, embedded_model):
    root = tmp_path_factory.mktemp("stress")
    inputs = adapter_stress.make_inputs(embedded_model, root / "inputs", 8)
    template = root / "template"
    from openclaw_local.learn.adapter_io import base_info, read_peft_dir, write_lora_gguf

    import shutil

    shutil.copytree(inputs[0], template)
    base = base_info(embedded_model)
    write_lora_gguf(read_peft_dir(template, base), template / "adapter.gguf", base)
    return root, inputs, template


def assert_owner_only(home: Path) -> None:
    loose = []
    for dirpath, dirnames, filenames in os.walk(home):
        for name in [*dirnames, *filenames, None]:
            p = Path(dirpath) if name is None else Path(dirpath, name)
            mode = p.lstat().st_mode
            want = 0o700 if stat.S_ISDIR(mode) else 0o600
            if stat.S_IMODE(mode) & ~want:
                loose.append(f"{p.relative_to(home)} {oct(stat.S_IMODE(mode))}")
    assert not loose, f"not owner-only: {loose}"


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_concurrent_imports_and_learner_never_corrupt_a_version(trial, stress_inputs, embedded_model, engine, tmp_path):
    root, inputs, template = stress_inputs
    r = adapter_stress.run_trial(trial, embedded_model, inputs, template, engine, tmp_path)
    assert r.bad_outputs == [], "every command succeeds or fails with one clear line"
    assert r.corrupt == [], "every version's checksum verifies"
    assert r.inconsistent == []
    assert r.active_loads, "the active version loads in llama.cpp"
    assert not [f for f in r.failures if f.startswith("import")], "an import never collides with another writer"
    assert r.versions >= 8
    assert_owner_only(tmp_path / f"trial-{trial:03d}")


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_ids_are_reserved_before_files_and_never_reused(home, embedded_model):
    store = Store.open(home)
    adapters = AdapterStore(store)
    lora = random_lora(embedded_model, rank=2, std=0.01)
    v1 = publish(home, store, lora, embedded_model)
    v2 = publish(home, store, lora, embedded_model, activate=False)
    AdapterService(home, Settings(), store).delete(v2.id)
    # a leftover directory for the next id (say, from an older version that crashed) is never replaced
    leftover = adapter_files.version_dir(home, v2.id + 1)
    leftover.mkdir(parents=True)
    (leftover / "mine").write_text("keep")
    v3 = publish(home, store, lora, embedded_model)
    assert v3.id not in (v1.id, v2.id, v2.id + 1), "a deleted version's id or a taken directory is never reused"
    assert (leftover / "mine").read_text() == "keep"
    # a reservation whose writer died is abandoned and its directory removed by the sweep
    dead = adapters.reserve(2**22 + 12345, "imported")  # no such process
    adapter_files.version_dir(home, dead).mkdir()
    adapter_files.sweep_abandoned(home, adapters)
    assert adapters.reservation(dead)["status"] == "abandoned"
    assert not adapter_files.version_dir(home, dead).exists()
    with pytest.raises(ConcurrentChange):  # a dead writer's reservation cannot be published any more
        adapters.publish(dead, adapter_files.version_dir(home, dead), parent_id=None, sample_ids=[], metrics={})
    store.close()


def test_write_dir_atomic_never_replaces_an_existing_directory(tmp_path):
    final = tmp_path / "v0001"
    final.mkdir()  # even an empty one, which a plain rename would silently replace
    with pytest.raises(FileExistsError):
        adapter_files.write_dir_atomic(final, lambda tmp: (tmp / "x").write_text("new"))
    assert list(final.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["v0001"], "the temporary is removed"


def test_activate_verifies_an_already_active_version(home, embedded_model, capsys):
    from openclaw_local.services.adapters import AdapterError

    store = Store.open(home)
    svc = AdapterService(home, Settings(), store)
    lora = random_lora(embedded_model, rank=2, std=0.01)
    v1 = publish(home, store, lora, embedded_model)
    v2 = publish(home, store, lora, embedded_model, parent=v1.id)
    assert svc.activate(v2.id).status == "active"  # intact: a no-op
    with open(v2.gguf_path, "r+b") as fh:  # damage it in place
        fh.seek(-8, os.SEEK_END)
        fh.write(b"\0" * 8)
    with pytest.raises(AdapterError, match="corrupt"):
        svc.activate(v2.id)
    assert svc.get(v2.id).status == "broken"
    assert svc.active().id == v1.id, "the previous good version is served instead"
    store.close()


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_data_dir_is_owner_only_after_import_publish_and_chat(home, embedded_model, quick_settings, tmp_path):
    """Walk a data dir after a real import (CLI), a publish, an export into it and a chat turn."""
    from openclaw_local.services.runtime import Runtime
    from tests.test_cli import cli

    os.chmod(home, 0o755)  # as an older version or another tool might have left it
    old_export = home / "exports" / "old" / "v1.gguf"
    old_export.parent.mkdir(parents=True)
    old_export.write_bytes(b"from an older version")
    for p, mode in ((old_export, 0o644), (old_export.parent, 0o755), (home / "exports", 0o755)):
        os.chmod(p, mode)
    peft = tmp_path / "peft"
    from openclaw_local.learn.adapter_io import base_info, write_peft_dir

    write_peft_dir(random_lora(embedded_model, rank=2, std=0.01), peft, base_info(embedded_model))
    result = cli("adapters", "import", str(peft), "--activate", "--force", home=home)
    assert result.returncode == 0, result.stderr
    store = Store.open(home)
    v = publish(home, store, random_lora(embedded_model, rank=2, std=0.02, seed=1), embedded_model)
    svc = AdapterService(home, Settings(), store)
    svc.export(v.id, "peft", svc.export_dir / "v2-peft")
    svc.export(v.id, "gguf-lora", svc.export_dir / "v2.gguf")
    store.close()
    with Runtime.open(home, quick_settings.replace(learn=False), lock_instance=True) as rt:
        rt.learner.start()
        conv = rt.chat.new_conversation()
        reply = rt.chat.send(conv.id, "Hello!", lambda e: None)
        assert reply is not None and rt.learner.served_version == v.id
        rt.learner.stop()
    assert (home / "openclaw.lock").exists() and (home / "exports" / "v2-peft").is_dir()
    assert_owner_only(home)


def test_a_data_dir_from_before_reservations_keeps_working(home, embedded_model):
    """Versions written before m006 count as reserved: new ids continue after them."""
    import sqlite3

    from sqlite_utils import Database

    from openclaw_local.store.migrations import migrations

    old = Database(sqlite3.connect(home / "openclaw.db"))
    migrations.apply(old, stop_before="m006_adapter_reservations")
    old.conn.close()
    store = Store.open(home, migrate=False)
    lora = random_lora(embedded_model, rank=2, std=0.01)
    from adapters_helpers import write_version_files

    vdir = write_version_files(adapter_files.version_dir(home, 3), lora, embedded_model)
    with store._tx() as db:  # noqa: SLF001 — a row as the previous version wrote it
        db["adapter_versions"].insert({"id": 3, "parent_id": None, "created_at": "2026-01-01T00:00:00.000+00:00",
                                       "path": str(vdir), "status": "active", "sample_ids": "[]", "gate": "{}",
                                       "files": None, "source": "trained"})
    store.close()
    store = Store.open(home)
    adapters = AdapterStore(store)
    assert adapters.reservation(3)["status"] == "done"
    v = publish(home, store, lora, embedded_model)
    assert v.id == 4 and adapters.get(3).status == "retired"
    assert AdapterService(home, Settings(), store).activate(3).status == "active"
    store.close()
