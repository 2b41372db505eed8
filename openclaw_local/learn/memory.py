"""How much memory serving and learning a model take, and how much this machine has.

Pure estimates (no torch, no files) so they can be tested and shown before anything
is loaded. The rules, in bytes (docs/METHOD.md, "Memory"):

- **Serving** (llama.cpp): the GGUF file (mapped into memory) + the KV cache
  (``2 × layers × kv_dim × n_ctx × 2`` bytes, f16) + ~300 MB of buffers.
- **Learning on the CPU** (fp32, what ``learn/trainable.py`` loads there):
  ``4 × params`` for the frozen weights, ``16 × lora_params`` for the LoRA weights,
  their gradients and Adam's two moments (4 bytes each), activations kept for the
  backward pass (``~160 × seq × hidden × layers``, calibrated by a measurement, see
  ``CPU_ACT_BYTES``) and the logits (``3 × 4 × seq × vocab``: logits, log-softmax,
  their gradient) + 800 MB for python and torch themselves. ``seq`` is the tokens of
  one forward pass (1024). The first run also dequantizes the GGUF to fp32 in RAM,
  which the weights term covers.
- **Learning on CUDA** (QLoRA: NF4 weights, bf16 compute, gradient checkpointing):
  ``0.55 × params`` (4 bits + double-quantized scales) + ``2 × vocab × hidden`` for
  the bf16 embeddings, LoRA as above, one layer's activations at bf16 plus a hidden
  state per layer, the logits in fp32, + 800 MB of CUDA context. The one-time
  dequantization still needs ``4 × params`` of RAM.

LoRA parameters: rank ``r`` on q/k/v/o/gate/up/down is ``r × (in + out)`` per matrix,
about ``r × 21 × hidden`` per layer for Qwen3/Llama shapes (MLP ~3.8 × hidden wide).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openclaw_local.errors import UserError

GB = 1e9
SERVE_OVERHEAD = 300e6
CPU_TRAIN_OVERHEAD = 800e6  # python + torch + transformers themselves
# Bytes of saved activations per token × hidden × layer in fp32 on the CPU. Calibrated: SmolLM2-135M,
# rank 16, 4 × 256 tokens, Adam: peak RSS 4.88 / 4.48 GB in two runs vs 4.87 GB by these rules (the textbook
# 34·s·h per layer at 2 bytes, doubled for fp32, gave 68 and underestimated by 1.6 GB).
CPU_ACT_BYTES = 160
CUDA_CONTEXT = 800e6


@dataclass(frozen=True)
class ModelShape:
    params: int
    layers: int
    hidden: int
    vocab: int
    kv_dim: int  # kv heads × head dim (the width of K and V)


class NotEnoughMemory(UserError):
    """Learning this model would not fit in this machine's memory (the chat goes on without it)."""

    exit_code = 1


def lora_params(shape: ModelShape, rank: int) -> int:
    return int(rank * 21 * shape.hidden * shape.layers)


def serve_bytes(shape: ModelShape, file_size: int, n_ctx: int = 4096) -> int:
    kv = 2 * shape.layers * shape.kv_dim * n_ctx * 2
    return int(file_size + kv + SERVE_OVERHEAD)


def train_bytes(shape: ModelShape, device: str, *, rank: int = 16, seq_len: int = 1024) -> int:
    """Peak memory of one update on ``device`` ("cpu": fp32; "cuda": NF4 QLoRA), by the rules above."""
    lora = 16 * lora_params(shape, rank)
    logits = 3 * 4 * seq_len * shape.vocab
    if device == "cpu":
        weights = 4 * shape.params
        activations = CPU_ACT_BYTES * seq_len * shape.hidden * shape.layers
        return int(weights + lora + activations + logits + CPU_TRAIN_OVERHEAD)
    weights = 0.55 * shape.params + 2 * shape.vocab * shape.hidden
    activations = 34 * seq_len * shape.hidden + 2 * seq_len * shape.hidden * shape.layers
    return int(weights + lora + activations + logits + CUDA_CONTEXT)


def fits(need: int, available: int | None) -> bool:
    return available is None or need <= available


def gb(n: float) -> str:
    return f"{n / GB:.1f} GB"


def shape_from_gguf(path: Path) -> ModelShape:
    """The shape read from a GGUF's metadata and tensor table (memory-mapped: fast even for 4B)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def num(key: str, default: int = 0) -> int:
        field = reader.fields.get(key)
        try:
            return int(field.parts[field.data[0]][0]) if field is not None and field.data else default
        except Exception:
            return default

    arch_field = reader.fields.get("general.architecture")
    arch = bytes(arch_field.parts[arch_field.data[0]]).decode() if arch_field is not None else "llama"
    params = sum(int(t.n_elements) for t in reader.tensors)
    hidden = num(f"{arch}.embedding_length")
    heads = num(f"{arch}.attention.head_count", 1) or 1
    kv_heads = num(f"{arch}.attention.head_count_kv", heads) or heads
    head_dim = num(f"{arch}.attention.key_length", hidden // heads if heads else 0) or hidden // heads
    vocab = 0
    for t in reader.tensors:
        if t.name == "token_embd.weight":
            vocab = int(max(t.shape))
    return ModelShape(params=params, layers=num(f"{arch}.block_count"), hidden=hidden, vocab=vocab,
                      kv_dim=kv_heads * head_dim)


def available_bytes(device: str) -> int | None:
    """Free memory now: RAM (psutil, else /proc/meminfo) for "cpu", free GPU memory for "cuda"."""
    if device == "cuda":
        try:
            import torch

            return int(torch.cuda.mem_get_info()[0])
        except Exception:
            return None
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_training_fits(shape: ModelShape, device: str, *, rank: int, name: str,
                        available: int | None = None) -> int:
    """Raise :class:`NotEnoughMemory` (one line) when learning ``name`` here would not fit; return the need."""
    need = train_bytes(shape, device, rank=rank)
    have = available_bytes(device) if available is None else available
    if not fits(need, have):
        where = "free GPU memory" if device == "cuda" else "available RAM"
        raise NotEnoughMemory(
            f"learning paused: {name} needs ~{gb(need)} to train ({'NF4 on the GPU' if device == 'cuda' else 'fp32 on the CPU'}), "
            f"{gb(have or 0)} {where}",
            "chat goes on; pick a smaller model (openclaw-local models list) or free memory")
    return need
