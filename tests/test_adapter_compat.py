"""Adapters trained on another model are kept, not served, with a notice (not marked broken)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora  # noqa: E402

from openclaw_local.config import Settings  # noqa: E402
from openclaw_local.services.adapter_compat import mismatch  # noqa: E402
from openclaw_local.services.learner import LearnerService  # noqa: E402
from openclaw_local.store import Store  # noqa: E402
from openclaw_local.store.adapters import AdapterStore  # noqa: E402


def test_mismatch_from_shapes(tmp_path, embedded_model, tiny_llama_gguf, tiny_qwen3_gguf):
    from adapters_helpers import write_version_files

    own = write_version_files(tmp_path / "own", random_lora(embedded_model, rank=2), embedded_model) / "adapter.gguf"
    llama = write_version_files(tmp_path / "llama", random_lora(tiny_llama_gguf, rank=2), tiny_llama_gguf) / "adapter.gguf"
    qwen = write_version_files(tmp_path / "qwen", random_lora(tiny_qwen3_gguf, rank=2), tiny_qwen3_gguf) / "adapter.gguf"
    assert mismatch(own, embedded_model) is None
    assert "expects another size" in mismatch(llama, embedded_model)  # same architecture, other shapes
    assert "qwen3" in mismatch(qwen, embedded_model)
    assert mismatch(qwen, tiny_qwen3_gguf) is None


def test_switching_models_keeps_adapters_unserved(home, engine, tiny_qwen3_gguf):
    store = Store.open(home)
    v = publish(home, store, random_lora(tiny_qwen3_gguf, rank=2), tiny_qwen3_gguf)  # active, for another model
    events = []
    service = LearnerService(home, Settings(learn=False, threads=2), store, engine, notify=events.append)
    service.serve_active(check_all=True)
    try:
        assert service.served_version is None and engine.adapter_path is None
        assert AdapterStore(store).get(v.id).status == "active"  # kept, not broken
        assert events and "trained on another model" in events[-1].notice and "kept but not served" in events[-1].notice
        assert service.serve_active() is None  # said once, not every poll
    finally:
        engine.set_adapter(None)
        store.close()
