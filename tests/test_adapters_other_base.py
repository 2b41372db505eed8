"""After ``models use`` picks another model, adapters trained on the old one are kept but not served,
with a notice (not an error, not marked broken); switching back serves them again."""

from __future__ import annotations

import pytest

from openclaw_local.config import Settings
from openclaw_local.services import adapter_files
from openclaw_local.services.events import EventBus
from openclaw_local.services.learner import LearnerService
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from tests.adapters_helpers import publish, random_lora
from tests.threads import THREADS


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_base_mismatch_reasons(home, tiny_llama_gguf, tiny_qwen3_gguf):
    store = Store.open(home)
    v = publish(home, store, random_lora(tiny_llama_gguf, rank=2), tiny_llama_gguf)
    assert adapter_files.base_mismatch(v, tiny_llama_gguf) is None
    assert "trained on a llama model" in adapter_files.base_mismatch(v, tiny_qwen3_gguf)
    store.close()


def test_adapter_for_another_model_is_kept_not_served(home, engine, embedded_model, tiny_llama_gguf):
    store = Store.open(home)
    mine = publish(home, store, random_lora(embedded_model, rank=2, std=0.01), embedded_model)
    other = publish(home, store, random_lora(tiny_llama_gguf, rank=2), tiny_llama_gguf, parent=mine.id)
    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    service = LearnerService(home, Settings(learn=False, threads=THREADS), store, engine, events=bus)
    try:
        service.serve_active(check_all=True)
        adapters = AdapterStore(store)
        assert adapters.get(other.id).status == "active"  # kept as the user left it, not "broken"
        assert service.served_version is None
        assert events and f"adapter v{other.id} is kept but not served" in events[-1].notice
        assert service.serve_active() is None  # said once, not on every poll
        adapters.activate(mine.id)
        service.serve_active()
        assert service.served_version == mine.id
    finally:
        engine.set_adapter(None)
        store.close()
