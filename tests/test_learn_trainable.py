"""Trainable copy: GGUF -> safetensors cache written once, LoRA attach/save/reload."""

from __future__ import annotations

import json

import pytest
import torch

from openclaw_local.config import Settings
from openclaw_local.learn import trainable as tr
from openclaw_local.learn.trainer import load_optimizer_state, make_optimizer
from tests.threads import THREADS

torch.set_num_threads(THREADS)  # one per xdist worker on a shared machine (tests/threads.py)


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_cache_written_once_and_reused(tiny_llama_gguf, tmp_path, monkeypatch):
    root = tmp_path / "trainable"
    events = []
    d1 = tr.ensure_safetensors_cache(tiny_llama_gguf, root, lambda msg, frac: events.append((msg, frac)))
    assert (d1 / "model.safetensors").exists() and (d1 / "config.json").exists()
    assert (d1 / "tokenizer.json").exists() and (d1 / tr.CACHE_MARKER).exists()
    assert events[0][1] == 0.0 and events[-1][1] == 1.0 and len(events) >= 3
    assert json.loads((d1 / "config.json").read_text())["model_type"] == "llama"
    assert not list(root.glob(".*"))  # no temp dirs left

    import transformers

    def boom(*a, **k):
        raise AssertionError("second load must not re-convert the GGUF")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", boom)
    events.clear()
    d2 = tr.ensure_safetensors_cache(tiny_llama_gguf, root, lambda msg, frac: events.append((msg, frac)))
    assert d2 == d1 and events == [("trainable copy cached", 1.0)]


def test_build_save_reload_adapter(tiny_hf_dirs, tmp_path):
    settings = Settings(hf_model_dir=str(tiny_hf_dirs["qwen3"]), lora_rank=4, lora_alpha=8.0)
    t = tr.build_trainable(settings, tmp_path, device="cpu")
    assert t.architecture == "qwen3" and not t.quantized_4bit
    cfg = t.model.peft_config["default"]
    assert cfg.r == 4 and cfg.lora_alpha == 8.0 and cfg.lora_dropout == 0.0
    assert set(cfg.target_modules) == set(tr.LORA_TARGETS)
    with torch.no_grad():
        for n, p in t.model.named_parameters():
            if "lora_B" in n:
                p.normal_()
    opt = make_optimizer(t.model, 1e-3)
    out = tr.save_adapter(t.model, tmp_path / "adapter", optimizer=opt, extra_state={"updates": 1})
    assert (out / "adapter_model.safetensors").exists() and (out / tr.OPTIMIZER_FILE).exists()
    assert json.loads((out / tr.TRAINER_STATE_FILE).read_text()) == {"updates": 1}
    tr.save_adapter(t.model, tmp_path / "adapter", optimizer=opt)  # overwrite in place
    assert not list(tmp_path.glob(".*"))

    again = tr.build_trainable(settings.replace(hf_model_dir=str(t.base_dir)), tmp_path, adapter_dir=out, device="cpu")
    a = {n: p for n, p in t.model.named_parameters() if "lora_" in n}
    b = {n: p for n, p in again.model.named_parameters() if "lora_" in n}
    assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)
    assert all(p.requires_grad for p in b.values())
    assert load_optimizer_state(make_optimizer(again.model, 1e-3), out / tr.OPTIMIZER_FILE)


def test_unsupported_architecture_is_a_user_error():
    from openclaw_local.errors import ModelError

    with pytest.raises(ModelError):
        tr.architecture_of(type("C", (), {"model_type": "gpt2"})())
