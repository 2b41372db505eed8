"""Memory estimates for serving and learning, the model recommendation, and the learner refusing
(one line, no load attempted) to build a trainable copy that would not fit."""

from __future__ import annotations

import pytest

from openclaw_local.config import Settings
from openclaw_local.learn import memory
from openclaw_local.learn.memory import ModelShape, NotEnoughMemory, lora_params, serve_bytes, train_bytes
from openclaw_local.services.models import KNOWN, Machine, assess, recommend, recommendation_line

GB = 10**9


def test_training_rule_by_hand():
    s = ModelShape(params=1_000_000_000, layers=20, hidden=2000, vocab=100_000, kv_dim=512)
    assert lora_params(s, 16) == 16 * 21 * 2000 * 20
    lora = 16 * lora_params(s, 16)
    logits = 12 * 1024 * 100_000
    cpu = 4 * 10**9 + lora + 160 * 1024 * 2000 * 20 + logits + 800e6
    assert train_bytes(s, "cpu", rank=16, seq_len=1024) == int(cpu)
    cuda = 0.55e9 + 2 * 100_000 * 2000 + lora + 34 * 1024 * 2000 + 2 * 1024 * 2000 * 20 + logits + 800e6
    assert train_bytes(s, "cuda", rank=16, seq_len=1024) == int(cuda)
    assert serve_bytes(s, file_size=600_000_000, n_ctx=4096) == int(600e6 + 2 * 20 * 512 * 4096 * 2 + 300e6)
    # fp32 on the CPU costs far more than NF4 on a GPU, and grows with the model
    big = ModelShape(params=4 * 10**9, layers=36, hidden=2560, vocab=151936, kv_dim=1024)
    assert train_bytes(big, "cpu") > 3 * train_bytes(big, "cuda") and train_bytes(big, "cpu") > train_bytes(s, "cpu")


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_shape_from_the_embedded_gguf(embedded_model):
    s = memory.shape_from_gguf(embedded_model)
    # SmolLM2-135M: 30 layers of width 576, a 49152-token vocabulary, 3 KV heads of 64
    assert (s.layers, s.hidden, s.vocab, s.kv_dim) == (30, 576, 49152, 192)
    assert 130e6 < s.params < 140e6


def test_check_refuses_in_one_line_when_it_does_not_fit():
    s = KNOWN["qwen3-4b"].shape
    with pytest.raises(NotEnoughMemory) as err:
        memory.check_training_fits(s, "cpu", rank=16, name="Qwen3-4B-Q4_K_M.gguf", available=8 * GB)
    line = err.value.one_line()
    assert "\n" not in line and "learning paused" in line and "8.0 GB available RAM" in line and "chat goes on" in line
    assert memory.check_training_fits(s, "cuda", rank=16, name="x", available=24 * GB) < 24 * GB


@pytest.mark.parametrize("machine, expected, learns", [
    (Machine(ram=64 * GB, cores=16), "qwen3-4b", True),         # big CPU box: the designed-for model learns
    (Machine(ram=32 * GB, cores=16), "qwen3-1.7b", True),       # 32 GB: 4B in fp32 does not fit beside serving
    (Machine(ram=16 * GB, cores=8), "qwen3-0.6b", True),        # 16 GB laptop: only 0.6B learns in fp32
    (Machine(ram=8 * GB, cores=4), "qwen3-1.7b", False),        # 8 GB: serve 1.7B, learning fits nothing
    (Machine(ram=16 * GB, cores=8, gpu_mem=24 * GB), "qwen3-4b", True),  # a GPU learns 4B in NF4
])
def test_recommendation(machine, expected, learns):
    best, fits = recommend(machine)
    assert best.model.name == expected and best.learns is learns
    assert len(fits) == len(KNOWN)
    assert expected in recommendation_line(machine)


def test_no_gpu_and_few_cores_rule_out_4b_serving():
    f = assess(KNOWN["qwen3-4b"], Machine(ram=64 * GB, cores=2))
    assert not f.serves and "too slow" in f.why
    assert recommend(Machine(ram=1 * GB, cores=2))[0] is None
    assert "none of the known models fits" in recommendation_line(Machine(ram=1 * GB, cores=2))


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_learner_says_so_instead_of_loading(home, tiny_llama_gguf, monkeypatch):
    """The real Learner path: too little memory raises NotEnoughMemory before any weights are read."""
    from openclaw_local.learn import trainable
    from openclaw_local.services.training import Learner
    from openclaw_local.store import Store
    from openclaw_local.store.samples import SampleStore
    from tests.test_adapters_gate import _feedback

    monkeypatch.setattr(memory, "available_bytes", lambda device: 1000)

    def never(*a, **k):
        raise AssertionError("the trainable copy was built despite too little memory")

    monkeypatch.setattr(trainable, "ensure_safetensors_cache", never)
    monkeypatch.setattr(trainable, "load_base_model", never)
    settings = Settings(model_path=str(tiny_llama_gguf), lora_rank=4)
    store = Store.open(home)
    ids = _feedback(store, SampleStore(store, default_system_prompt=settings.system_prompt), 4)
    with pytest.raises(NotEnoughMemory, match="learning paused: .* needs ~"):
        Learner(home, settings, store).update(ids)
    store.close()
