"""Crash safety of publish/activate/rollback/delete, start-up checks, and hot-swapped rollback.

A subprocess runs a random loop of the real operations (write a version dir
atomically, register it as a candidate, gate-decide it, activate, roll back,
delete) on one data dir and is SIGKILLed after a random delay, 20 times. After
every kill the app's start-up path must open the store, serve the active version
in llama.cpp, and no version may point at missing or damaged files.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora, write_version_files  # noqa: E402

from openclaw_local.config import Settings  # noqa: E402
from openclaw_local.services import adapter_files  # noqa: E402
from openclaw_local.services.adapters import AdapterService  # noqa: E402
from openclaw_local.services.events import EventBus  # noqa: E402
from openclaw_local.services.learner import LearnerService  # noqa: E402
from openclaw_local.store import Store  # noqa: E402
from openclaw_local.store.adapters import AdapterStore  # noqa: E402
from tests.threads import THREADS  # noqa: E402

TRIALS = 20

LOOP = r'''
import random, shutil, sys
from pathlib import Path
from openclaw_local.config import Settings
from openclaw_local.errors import UserError
from openclaw_local.services import adapter_files
from openclaw_local.services.adapters import AdapterService
from openclaw_local.store import Store

home, template, seed = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
svc = AdapterService(home, Settings(), Store.open(home))
ad = svc.adapters
rng = random.Random(seed)
print("ready", flush=True)
while True:
    op = rng.random()
    try:
        if op < 0.45:  # what Learner.update does after training
            parent = ad.active()
            v = adapter_files.publish_new_version(
                home, ad, lambda tmp: [shutil.copyfile(f, tmp / f.name) for f in template.iterdir()],
                purpose="trained", parent_id=parent.id if parent else None, sample_ids=[], metrics={"loss": 0.1},
                activate=False)
            ad.promote(v.id, {"passed": True}, passed=rng.random() < 0.8, reason="gate said no")
        elif op < 0.65:
            svc.rollback()
        elif op < 0.85:
            vs = [v for v in ad.versions() if v.status != "broken"]
            if vs:
                svc.activate(rng.choice(vs).id, force=True)
        else:
            vs = [v for v in ad.versions() if v.status != "active"]
            if len(vs) > 3:
                svc.delete(rng.choice(vs).id)
    except UserError:
        pass
'''


@pytest.fixture(scope="module")
def template(tmp_path_factory, embedded_model):
    """A real (rank-2, ~2 MB) LoRA version directory for the embedded model."""
    root = tmp_path_factory.mktemp("template")
    return write_version_files(root / "v", random_lora(embedded_model, rank=2, std=0.01), embedded_model)


def start_up(home: Path, engine) -> tuple[LearnerService, Store]:
    engine.set_adapter(None)  # a starting app's engine serves nothing yet (the engine is shared across trials)
    store = Store.open(home)
    service = LearnerService(home, Settings(learn=False, threads=THREADS), store, engine)
    adapter_files.sweep_temporaries(home)
    service.serve_active(check_all=True)
    return service, store


@pytest.mark.slow
def test_random_kills_never_leave_sqlite_and_files_disagreeing(home, engine, template):
    rng = random.Random(1234)
    stats = {"versions": 0, "kills": 0}
    try:
        for trial in range(TRIALS):
            proc = subprocess.Popen([sys.executable, "-c", LOOP, str(home), str(template), str(trial)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert proc.stdout.readline().strip() == b"ready", proc.stderr.read().decode()
            time.sleep(rng.uniform(0.01, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
            stats["kills"] += 1

            service, store = start_up(home, engine)
            adapters = AdapterStore(store)
            versions = adapters.versions()
            stats["versions"] = len(versions)
            assert [v for v in versions if v.status == "broken"] == [], "a crash must never break a version"
            for v in versions:
                assert adapter_files.verify(v) is None, f"trial {trial}: v{v.id} {adapter_files.verify(v)}"
            active = adapters.active()
            assert sum(v.status == "active" for v in versions) <= 1
            assert service.served_version == (active.id if active else None)
            assert engine.adapter_path == (active.gguf_path if active else None)
            # no leftovers of interrupted writes survive a start
            root = home / "adapters"
            assert not [p for p in root.iterdir() if ".tmp-" in p.name or ".old-" in p.name or ".deleted-" in p.name]
            store.close()
    finally:
        engine.set_adapter(None)
    print(f"\n{stats['kills']} kills, {stats['versions']} versions at the end, all consistent")
    assert stats["versions"] > 3


def test_start_marks_missing_or_corrupt_versions_broken_and_falls_back(home, engine, template, embedded_model):
    store = Store.open(home)
    v1 = publish(home, store, None, None, template=template)
    v2 = publish(home, store, None, None, template=template, parent=v1.id)
    v3 = publish(home, store, None, None, template=template, parent=v2.id)
    with open(v3.gguf_path, "r+b") as fh:  # damage the active version's GGUF
        fh.seek(1000)
        fh.write(b"\xff" * 64)
    import shutil

    shutil.rmtree(v1.path)  # and lose an old one entirely
    notices = []
    bus = EventBus()
    bus.subscribe(notices.append)
    service = LearnerService(home, Settings(learn=False, threads=THREADS), store, engine, events=bus)
    try:
        event = service.serve_active(check_all=True)
        adapters = AdapterStore(store)
        assert adapters.get(3).status == "broken" and "corrupt" in adapters.get(3).reason
        assert adapters.get(1).status == "broken" and "missing" in adapters.get(1).reason
        assert adapters.active().id == 2 and service.served_version == 2
        assert engine.adapter_path == adapters.get(2).gguf_path
        assert "v3 is broken" in event.notice and "now serving v2" in event.notice and "v1 is broken" in event.notice
        assert notices and notices[-1] is event
        # the broken version is visible and cannot be activated
        svc = AdapterService(home, Settings(), store)
        with pytest.raises(Exception, match="broken"):
            svc.activate(3)
    finally:
        engine.set_adapter(None)


def test_rollback_is_hot_swapped_into_a_running_chat(home, engine, template):
    # how fast is a benchmark's question (`bench learn` times the swap); here: it happens, both ways
    store = Store.open(home)
    v1 = publish(home, store, None, None, template=template)
    publish(home, store, None, None, template=template, parent=v1.id)
    service = LearnerService(home, Settings(learn=False, threads=THREADS), store, engine)
    svc = AdapterService(home, Settings(), store)
    service.start()
    try:
        assert service.served_version == 2  # served at start
        started = time.monotonic()
        svc.rollback()
        while service.served_version != 1 and time.monotonic() - started < 60:
            time.sleep(0.01)
        took = time.monotonic() - started
        print(f"\nrollback v2 -> v1 served after {took * 1000:.0f} ms")
        assert service.served_version == 1 and engine.adapter_path == Path(v1.path) / "adapter.gguf"
        started = time.monotonic()
        svc.rollback()  # back to the base model
        while service.served_version is not None and time.monotonic() - started < 60:
            time.sleep(0.01)
        assert service.served_version is None and engine.adapter_path is None
    finally:
        service.stop()
        engine.set_adapter(None)


def test_only_the_served_version_keeps_its_merged_model(tmp_path):
    """Merged model files are whole models: every version but the newest served one drops its own
    (it is then served as base + adapter); they are not among the files a version is verified by."""
    from openclaw_local.records import MERGED_NAME
    from openclaw_local.services.adapter_files import CHECKED_FILES, drop_merged, version_dir

    for vid in (1, 2, 3):
        d = version_dir(tmp_path, vid)
        d.mkdir(parents=True)
        (d / MERGED_NAME).write_bytes(b"model")
        (d / "adapter.gguf").write_bytes(b"adapter")
    assert drop_merged(tmp_path, keep=2) == 2
    assert [vid for vid in (1, 2, 3) if (version_dir(tmp_path, vid) / MERGED_NAME).exists()] == [2]
    assert all((version_dir(tmp_path, vid) / "adapter.gguf").exists() for vid in (1, 2, 3))
    assert MERGED_NAME not in CHECKED_FILES
