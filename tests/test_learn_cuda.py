"""QLoRA path (NF4 4-bit base, bf16 compute) on the tiny qwen3 model. Needs CUDA + bitsandbytes."""

from __future__ import annotations

import importlib.util

import pytest
import torch

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes"),
]


def test_qlora_update_and_export(tiny_hf_dirs, tmp_path):
    import gguf

    from openclaw_local.config import Settings
    from openclaw_local.learn.convert import peft_model_to_gguf
    from openclaw_local.learn.trainable import build_trainable, save_adapter
    from openclaw_local.learn.trainer import TrainConfig, TrainItem, train_update

    settings = Settings(hf_model_dir=str(tiny_hf_dirs["qwen3"]), lora_rank=8, lora_alpha=16.0)
    t = build_trainable(settings, tmp_path, device="cuda")
    assert t.quantized_4bit and t.device.type == "cuda"
    before = {n: p.detach().clone() for n, p in t.model.named_parameters() if "lora_" in n}
    items = [
        TrainItem([{"role": "user", "content": "What day?"}], "Tuesday.", reward=1),
        TrainItem([{"role": "user", "content": "Fruit?"}], "Bananas!", reward=-1, hint="Answer with one word."),
    ]
    m = train_update(t.model, t.tokenizer, items, TrainConfig(lr=1e-2))
    assert m.steps == 1 and m.n_items == 2 and m.n_hinted == 1
    changed = [n for n, p in t.model.named_parameters() if "lora_" in n and not torch.equal(p, before[n])]
    assert changed
    save_adapter(t.model, tmp_path / "adapter")
    out = peft_model_to_gguf(t.model, tmp_path / "adapter.gguf")
    reader = gguf.GGUFReader(str(out))
    assert reader.fields["general.architecture"].contents() == "qwen3"
    assert len(reader.tensors) == 2 * 2 * 7
