"""PEFT adapter -> llama.cpp LoRA GGUF: format, and parity of what the adapter does.

Parity: the per-token log-prob change an adapter causes must be the same in
llama.cpp (the served model) as in torch+peft (the trained model). A wrong q/k
permutation still loads and "works"; only this comparison catches it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from openclaw_local.learn.convert import adapter_dir_to_gguf, llama_permute_rows, peft_model_to_gguf
from openclaw_local.learn.trainable import attach_lora, load_base_model, save_adapter
from tests.threads import THREADS

torch.set_num_threads(THREADS)  # one per xdist worker on a shared machine (tests/threads.py)
llama_cpp = pytest.importorskip("llama_cpp")

TEXT = (
    b"The quick brown fox jumps over the lazy dog. The meeting moved to Tuesday at noon;"
    b" please bring the slides and a short summary of last week's numbers."
)
GGML_TYPE_F32 = 0


def _llama(path: Path, lora: Path | None = None):
    # F32 KV cache so that the F32 tiny models compare at ~1e-3, not at f16 noise.
    return llama_cpp.Llama(
        str(path), n_ctx=256, n_threads=THREADS, logits_all=True, verbose=False,
        lora_path=str(lora) if lora else None, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32,
    )


def _cpp_logprobs(path: Path, ids: list[int], lora: Path | None = None) -> np.ndarray:
    llm = _llama(path, lora)
    try:
        llm.reset()
        llm.eval(ids)
        scores = np.array(llm.scores[: len(ids)], dtype=np.float64)
    finally:
        llm.close()
    logp = scores - np.logaddexp.reduce(scores, axis=-1, keepdims=True)
    return logp[np.arange(len(ids) - 1), ids[1:]]


def _torch_logprobs(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    return logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()


def _random_lora(hf_dir: Path, rank: int = 8, std: float = 0.02, seed: int = 0, only: tuple[str, ...] = ()):
    """A LoRA with random A and nonzero B (a fresh LoRA, B=0, would make parity vacuous).

    ``only`` restricts the nonzero B matrices to those projections (e.g. q/k).
    """
    model = attach_lora(load_base_model(hf_dir, torch.device("cpu")), rank=rank, alpha=2 * rank)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
                if "lora_B" in name and only and not any(f".{o}." in name for o in only):
                    p.zero_()
    model.eval()
    return model


def _parity(gguf: Path, model, adapter_gguf: Path) -> dict[str, float]:
    tok = llama_cpp.Llama(str(gguf), vocab_only=True, verbose=False)
    ids = tok.tokenize(TEXT, add_bos=False)
    tok.close()
    d_cpp = _cpp_logprobs(gguf, ids, adapter_gguf) - _cpp_logprobs(gguf, ids)
    d_torch = _torch_logprobs(model, ids)
    with model.disable_adapter():
        d_torch = d_torch - _torch_logprobs(model, ids)
    return {
        "corr": float(np.corrcoef(d_cpp, d_torch)[0, 1]),
        "max_abs": float(np.abs(d_cpp - d_torch).max()),
        "mean_abs_delta": float(np.abs(d_torch).mean()),
    }


@pytest.fixture(scope="module")
def tiny_loras(tiny_hf_dirs):
    return {arch: _random_lora(d) for arch, d in tiny_hf_dirs.items()}


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_tiny_f32_parity(arch, tiny_gguf_dir, tiny_loras, tmp_path):
    model = tiny_loras[arch]
    adapter = peft_model_to_gguf(model, tmp_path / "adapter.gguf")
    r = _parity(tiny_gguf_dir / f"tiny-{arch}.gguf", model, adapter)
    print(f"\n{arch} tiny F32 parity: {r}")
    assert r["mean_abs_delta"] > 0.05  # the adapter really changes the model
    assert r["corr"] >= 0.99
    assert r["max_abs"] <= 1e-2


def test_tiny_llama_parity_fails_without_qk_permutation(tiny_gguf_dir, tiny_hf_dirs, tmp_path):
    # only q/k carry the adapter here, so the permutation is all that is tested
    model = _random_lora(tiny_hf_dirs["llama"], std=0.05, seed=1, only=("q_proj", "k_proj"))
    gguf = tiny_gguf_dir / "tiny-llama.gguf"
    good = _parity(gguf, model, peft_model_to_gguf(model, tmp_path / "adapter.gguf"))
    bad = _parity(gguf, model, peft_model_to_gguf(model, tmp_path / "adapter-noperm.gguf", permute_qk=False))
    print(f"\nllama tiny F32 q/k-only adapter parity: with permutation {good}, WITHOUT {bad}")
    assert good["mean_abs_delta"] > 0.05
    assert good["corr"] >= 0.99
    assert bad["corr"] < 0.8
    assert bad["max_abs"] > 0.1


def test_embedded_q4_parity(embedded_model, embedded_hf_dir, tmp_path):
    # Q4_1 base: quantization noise (~0.07 mean |Δ log-prob| between runtimes) is
    # not part of the adapter, so the adapter must move log-probs well above it.
    model = _random_lora(embedded_hf_dir, rank=8, std=0.05)
    adapter = peft_model_to_gguf(model, tmp_path / "adapter.gguf")
    r = _parity(embedded_model, model, adapter)
    print(f"\nembedded Q4_1 parity: {r}")
    assert r["corr"] >= 0.95


def test_gguf_format_and_saved_dir_roundtrip(tiny_loras, tiny_hf_dirs, tmp_path):
    import gguf
    from transformers import AutoConfig

    model = tiny_loras["llama"]
    live = peft_model_to_gguf(model, tmp_path / "live.gguf")
    saved = save_adapter(model, tmp_path / "adapter")
    from_dir = adapter_dir_to_gguf(saved, tmp_path / "dir.gguf", AutoConfig.from_pretrained(tiny_hf_dirs["llama"]))
    r1, r2 = gguf.GGUFReader(str(live)), gguf.GGUFReader(str(from_dir))
    meta = {k: f.contents() for k, f in r1.fields.items() if not k.startswith("GGUF.")}
    assert meta["general.architecture"] == "llama"
    assert meta["general.type"] == "adapter"
    assert meta["adapter.type"] == "lora"
    assert meta["adapter.lora.alpha"] == pytest.approx(16.0)
    names = {t.name: t for t in r1.tensors}
    assert len(names) == 2 * 2 * 7  # 2 layers x 7 projections x (a, b)
    a, b = names["blk.0.attn_q.weight.lora_a"], names["blk.0.attn_q.weight.lora_b"]
    assert a.data.shape == (8, 64) and b.data.shape == (4 * 16, 8)  # (r, in), (out, r)
    assert names["blk.1.ffn_down.weight.lora_a"].data.shape == (8, 128)
    # the q lora_b is the peft B with llama.cpp's rotary row permutation
    peft_b = model.base_model.model.model.layers[0].self_attn.q_proj.lora_B["default"].weight.detach().numpy()
    assert np.array_equal(b.data, llama_permute_rows(peft_b, 4))
    for t in r2.tensors:
        assert np.array_equal(t.data, names[t.name].data)
    assert not list(tmp_path.glob(".*tmp*"))
