"""Tiny random F32 GGUF models (llama and qwen3) for fast, offline tests.

Both llama.cpp (``llama_cpp.Llama``) and transformers (``gguf_file=``) load the same
file, so a test can compare the two runtimes on identical weights. The tokenizer
(and chat template) is copied from the embedded SmolLM2 GGUF's metadata, so the
vocabulary is real (49152 tokens) while the transformer itself is a few hundred
thousand parameters.

Weights are drawn in Hugging Face layout (``q_proj`` rows = heads × head_dim). For
the llama architecture llama.cpp stores ``attn_q``/``attn_k`` rows permuted for its
rotary layout (what ``convert_hf_to_gguf.py`` does), so the writer applies that
permutation; transformers undoes it on load. qwen3 is stored unpermuted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TinySpec:
    arch: str
    hidden: int = 64
    ffn: int = 128
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 16
    ctx: int = 512
    seed: int = 0


TINY_LLAMA = TinySpec("llama")
# transformers' Qwen3 GGUF mapping ignores attention.key_length and falls back to
# Qwen3Config's default head_dim=128 (true of every released Qwen3), so use it here too.
TINY_QWEN3 = TinySpec("qwen3", head_dim=128, seed=1)


def llama_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary row permutation (convert_hf_to_gguf ``LlamaModel.permute``)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _copy_tokenizer(writer, source: Path) -> int:
    import gguf

    reader = gguf.GGUFReader(str(source))
    vocab = None
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        value = field.contents()
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(key, value, vtype, sub_type=field.types[-1])
            if key == "tokenizer.ggml.tokens":
                vocab = len(value)
        else:
            writer.add_key_value(key, value, vtype)
    assert vocab is not None
    return vocab


def random_hf_weights(spec: TinySpec, vocab: int) -> dict[str, np.ndarray]:
    """Random weights in Hugging Face names and shapes (tied embeddings)."""
    rng = np.random.default_rng(spec.seed)

    def w(*shape, std=None):
        std = std if std is not None else 1.0 / np.sqrt(shape[-1])
        return (rng.standard_normal(shape) * std).astype(np.float32)

    h, q, kv = spec.hidden, spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim
    out = {"model.embed_tokens.weight": w(vocab, h, std=0.4), "model.norm.weight": np.ones(h, np.float32)}
    for i in range(spec.layers):
        p = f"model.layers.{i}."
        out[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(h)).astype(np.float32)
        out[p + "post_attention_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(h)).astype(np.float32)
        out[p + "self_attn.q_proj.weight"] = w(q, h, std=0.5)
        out[p + "self_attn.k_proj.weight"] = w(kv, h, std=0.5)
        out[p + "self_attn.v_proj.weight"] = w(kv, h)
        out[p + "self_attn.o_proj.weight"] = w(h, q)
        out[p + "mlp.gate_proj.weight"] = w(spec.ffn, h)
        out[p + "mlp.up_proj.weight"] = w(spec.ffn, h)
        out[p + "mlp.down_proj.weight"] = w(h, spec.ffn)
        if spec.arch == "qwen3":
            out[p + "self_attn.q_norm.weight"] = (1 + 0.1 * rng.standard_normal(spec.head_dim)).astype(np.float32)
            out[p + "self_attn.k_norm.weight"] = (1 + 0.1 * rng.standard_normal(spec.head_dim)).astype(np.float32)
    return out


_GGUF_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def write_tiny_gguf(path: Path, spec: TinySpec, tokenizer_source: Path) -> Path:
    """Write a tiny random F32 GGUF of ``spec.arch`` to ``path`` and return it."""
    import gguf

    arch = spec.arch
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"tiny-{arch}")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_block_count(spec.layers)
    writer.add_context_length(spec.ctx)
    writer.add_embedding_length(spec.hidden)
    writer.add_feed_forward_length(spec.ffn)
    writer.add_head_count(spec.heads)
    writer.add_head_count_kv(spec.kv_heads)
    writer.add_key_length(spec.head_dim)
    writer.add_value_length(spec.head_dim)
    writer.add_rope_dimension_count(spec.head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    vocab = _copy_tokenizer(writer, tokenizer_source)
    writer.add_vocab_size(vocab)

    weights = random_hf_weights(spec, vocab)
    writer.add_tensor("token_embd.weight", weights["model.embed_tokens.weight"])
    writer.add_tensor("output_norm.weight", weights["model.norm.weight"])
    for i in range(spec.layers):
        for hf_suffix, gg_suffix in _GGUF_NAMES.items():
            name = f"model.layers.{i}.{hf_suffix}"
            if name not in weights:
                continue
            data = weights[name]
            if arch == "llama" and hf_suffix == "self_attn.q_proj.weight":
                data = llama_permute(data, spec.heads)
            elif arch == "llama" and hf_suffix == "self_attn.k_proj.weight":
                data = llama_permute(data, spec.kv_heads)
            writer.add_tensor(f"blk.{i}.{gg_suffix}", np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
