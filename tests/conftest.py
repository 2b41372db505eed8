"""Shared fixtures. Real model, real SQLite; nothing is downloaded.

Other fixtures (tiny GGUF models for architecture coverage) live in
``fixtures_models.py`` and are registered at the end of this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openclaw_local.config import Settings
from openclaw_local.paths import embedded_model_path
from tests.threads import THREADS


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own data dir; nothing touches the real user's."""
    home = tmp_path / "home"
    monkeypatch.setenv("OPENCLAW_HOME", str(home))
    for key in list(__import__("os").environ):
        if key.startswith("OPENCLAW_") and key != "OPENCLAW_HOME":
            monkeypatch.delenv(key)
    return home


_probe_results: dict = {}


@pytest.fixture(autouse=True)
def _selftest_once_per_session(request, monkeypatch):
    """The llama.cpp start-up self-test probes each model once per test session, not once per data dir.

    Every in-process load still follows a real probe's decision (so the suite is safe on a
    CPU where llama.cpp crashes), but its child process runs once per model and options.
    Tests marked ``real_selftest`` get the unshared probe.
    """
    if request.node.get_closest_marker("real_selftest"):
        return
    from openclaw_local.engine import selftest

    real = selftest.run_probe

    def shared(model_path, **options):
        key = (str(model_path), tuple(sorted(options.items())))
        if key not in _probe_results:
            _probe_results[key] = real(model_path, **options)
        return _probe_results[key]

    monkeypatch.setattr(selftest, "run_probe", shared)


@pytest.fixture
def home(_isolated_home) -> Path:
    _isolated_home.mkdir(parents=True, exist_ok=True)
    return _isolated_home


@pytest.fixture(scope="session")
def embedded_model() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="session")
def engine(embedded_model):
    """One real llama.cpp engine on the embedded model, shared by the session.

    Tests that set an adapter must set it back to None.
    """
    from openclaw_local.engine import Engine
    from openclaw_local.engine.selftest import plan_for

    plan = plan_for(None, Settings(threads=THREADS), embedded_model, n_gpu_layers=0)  # as the product would load it
    eng = Engine(embedded_model, n_ctx=1024, threads=THREADS, seed=7, plan=plan)
    yield eng
    eng.close()


@pytest.fixture
def quick_settings() -> Settings:
    return Settings(max_tokens=24, n_ctx=1024, temperature=0.0, seed=7, threads=THREADS)


@pytest.fixture
def fake_engine():
    """A FakeEngine with an empty queue (tests/fake_engine.py): ``fake_engine.queue("reply", ...)``."""
    from tests.fake_engine import FakeEngine

    return FakeEngine()


# --- learning: tiny GGUF models and the trainable-copy cache (see fixtures_models.py) ---


@pytest.fixture(scope="session")
def tiny_gguf_dir(tmp_path_factory, embedded_model) -> Path:
    """A directory holding ``tiny-llama.gguf`` and ``tiny-qwen3.gguf`` (random F32, real tokenizer)."""
    from tests.fixtures_models import TINY_LLAMA, TINY_QWEN3, write_tiny_gguf

    root = tmp_path_factory.mktemp("tiny-gguf")
    for spec in (TINY_LLAMA, TINY_QWEN3):
        write_tiny_gguf(root / f"tiny-{spec.arch}.gguf", spec, embedded_model)
    return root


@pytest.fixture(scope="session")
def tiny_llama_gguf(tiny_gguf_dir) -> Path:
    return tiny_gguf_dir / "tiny-llama.gguf"


@pytest.fixture(scope="session")
def tiny_qwen3_gguf(tiny_gguf_dir) -> Path:
    return tiny_gguf_dir / "tiny-qwen3.gguf"


@pytest.fixture(scope="session")
def trainable_cache_root(tmp_path_factory) -> Path:
    """Shared ``<data dir>/trainable`` for the session, so each GGUF is dequantized once.

    Under pytest-xdist the workers share one: each conversion and each cached base-model result
    is written atomically (a temporary directory or file renamed into place), so two workers
    writing the same entry at once cost time, never a torn file.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # one process: its own
        return tmp_path_factory.mktemp("trainable-cache")
    shared = tmp_path_factory.getbasetemp().parent / "trainable-cache"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def embedded_hf_dir(embedded_model, trainable_cache_root) -> Path:
    """The embedded model dequantized to safetensors (+ config, tokenizer) once per session."""
    from openclaw_local.learn.trainable import ensure_safetensors_cache

    return ensure_safetensors_cache(embedded_model, trainable_cache_root)


@pytest.fixture(scope="session")
def tiny_hf_dirs(tiny_llama_gguf, tiny_qwen3_gguf, trainable_cache_root) -> dict[str, Path]:
    """``{"llama": dir, "qwen3": dir}``: the tiny GGUFs as cached safetensors directories."""
    from openclaw_local.learn.trainable import ensure_safetensors_cache

    return {
        "llama": ensure_safetensors_cache(tiny_llama_gguf, trainable_cache_root),
        "qwen3": ensure_safetensors_cache(tiny_qwen3_gguf, trainable_cache_root),
    }


@pytest.fixture
def shared_trainable_cache(trainable_cache_root):
    """Point a data dir's trainable-model cache at one shared per test session.

    Converting the GGUF to safetensors takes seconds; doing it once per session
    keeps the suite fast. Call it with the data dir before the learner starts.
    """

    def link(home: Path) -> None:
        target = home / "trainable"
        if not target.exists():
            target.symlink_to(trainable_cache_root, target_is_directory=True)

    return link


# --- the fast tier: `pytest -m "not slow"` ------------------------------------------------------
# A test that builds a trainable (torch) copy of a model — training, the gate, conversions, the
# learner — is slow by what it does, whatever its own marker says: the fixtures below are how a
# test gets one, so using any of them puts the test in the slow tier. Other slow tests (learner
# processes, the judge's sentence encoder) carry an explicit ``@pytest.mark.slow``.
TRAINABLE_FIXTURES = frozenset({"embedded_hf_dir", "tiny_hf_dirs", "shared_trainable_cache", "trainable_cache_root"})


# The tests that start a real learner process, longest first: they start the run, so the workers
# (pytest-xdist, ``-n auto`` in pyproject.toml) end together instead of one waiting on a long tail.
LONGEST_FIRST = ("test_simulate.py", "test_gate_ability.py", "test_learning_e2e.py", "test_cli_learn.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if TRAINABLE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)

    def order(item) -> tuple[int, int]:
        name = item.path.name
        if item.get_closest_marker("slow") is None:
            return (2, 0)
        return (0, LONGEST_FIRST.index(name)) if name in LONGEST_FIRST else (1, 0)

    items.sort(key=order)  # stable: within a group, the files' own order


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto``: one worker per core, at most 4 (each worker loads its own models)."""
    return max(1, min(len(os.sched_getaffinity(0)), 4))
