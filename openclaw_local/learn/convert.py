"""PEFT LoRA adapter -> llama.cpp LoRA GGUF (docs/METHOD.md, "Serving and training the same model").

Format read by llama.cpp's ``llama_adapter_lora_init``:

- metadata ``general.architecture`` (must equal the base model's),
  ``general.type = "adapter"``, ``adapter.type = "lora"``, ``adapter.lora.alpha`` (float);
- per layer N and projection P in attn_q, attn_k, attn_v, attn_output, ffn_gate,
  ffn_up, ffn_down: ``blk.N.P.weight.lora_a`` with numpy shape (r, in) and
  ``blk.N.P.weight.lora_b`` with numpy shape (out, r) — PEFT's own A and B.

llama.cpp applies ``scale * alpha / r * B A x`` with the user scale (1.0), which is
PEFT's ``alpha / r`` scaling.

For the llama architecture llama.cpp stores the base q/k weights with their rows
permuted for its rotary layout (``convert_hf_to_gguf.py``: per head, rows reshaped
to (heads, 2, head_dim/2) and the middle axes swapped; k uses n_head_kv). The delta
``B A`` lives in the same row space, so ``lora_b`` of q_proj/k_proj gets the same
permutation (A, the input side, is untouched). qwen3 stores q/k unpermuted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from openclaw_local.paths import atomic_path

__all__ = [
    "GGUF_LORA_KEY",
    "HF_TO_GGUF",
    "PEFT_KEY",
    "llama_permute_rows",
    "lora_tensors_to_gguf",
    "peft_model_to_gguf",
    "adapter_dir_to_gguf",
]

HF_TO_GGUF = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
PERMUTED_ARCHITECTURES = ("llama",)

# The two namings of one LoRA tensor; groups: layer, projection, A/B (a/b).
# PEFT, e.g. base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight (optionally with .default)
PEFT_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+_proj)\.lora_([AB])(?:\.[\w-]+)?\.weight$")
# llama.cpp, e.g. blk.3.attn_q.weight.lora_a
GGUF_LORA_KEY = re.compile(r"^blk\.(\d+)\.(\w+)\.weight\.lora_([ab])$")


def llama_permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of ``w`` (out, ...) reordered exactly like llama.cpp's ``LlamaModel.permute``."""
    if w.shape[0] % (2 * n_head):
        raise ValueError(f"cannot permute {w.shape[0]} rows into {n_head} rotary heads")
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _to_numpy(t: Any) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().to("cpu").float().numpy()
    return np.ascontiguousarray(np.asarray(t, dtype=np.float32))


def lora_tensors_to_gguf(
    tensors: Mapping[str, Any],
    out_path: Path,
    *,
    architecture: str,
    alpha: float,
    n_head: int,
    n_head_kv: int,
    permute_qk: bool = True,
) -> Path:
    """Write LoRA ``tensors`` (peft state-dict names -> A/B) as a llama.cpp adapter GGUF.

    ``permute_qk=False`` skips the llama q/k row permutation; it exists only so a
    test can show that parity breaks without it.
    """
    import gguf

    pairs: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        m = PEFT_KEY.search(key)
        if not m:
            continue
        layer, proj, which = int(m.group(1)), m.group(2), m.group(3)
        if proj not in HF_TO_GGUF:
            continue
        pairs.setdefault((layer, proj), {})[which] = _to_numpy(value)
    if not pairs:
        raise ValueError("no LoRA tensors found to convert")

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), architecture)
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", float(alpha))
        for (layer, proj), ab in sorted(pairs.items()):
            if set(ab) != {"A", "B"}:
                raise ValueError(f"layer {layer} {proj}: lora_A and lora_B must both be present")
            a, b = ab["A"], ab["B"]  # (r, in), (out, r)
            if a.shape[0] != b.shape[1]:
                raise ValueError(f"layer {layer} {proj}: rank mismatch {a.shape} vs {b.shape}")
            if permute_qk and architecture in PERMUTED_ARCHITECTURES:
                if proj == "q_proj":
                    b = llama_permute_rows(b, n_head)
                elif proj == "k_proj":
                    b = llama_permute_rows(b, n_head_kv)
            name = f"blk.{layer}.{HF_TO_GGUF[proj]}.weight"
            writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a))
            writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return out_path


def _heads(config: Any) -> tuple[int, int]:
    get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
    n_head = int(get("num_attention_heads"))
    return n_head, int(get("num_key_value_heads", None) or n_head)


def peft_model_to_gguf(model: Any, out_path: Path, *, architecture: str | None = None, permute_qk: bool = True) -> Path:
    """Convert the active LoRA of a live peft model (uses its base config for heads and arch)."""
    from peft import get_peft_model_state_dict

    base_config = model.get_base_model().config
    lora_config = model.peft_config[model.active_adapter]
    if getattr(lora_config, "use_rslora", False):
        raise ValueError("rsLoRA scaling is not supported by the llama.cpp adapter format")
    n_head, n_head_kv = _heads(base_config)
    return lora_tensors_to_gguf(
        get_peft_model_state_dict(model),
        out_path,
        architecture=architecture or base_config.model_type,
        alpha=float(lora_config.lora_alpha),
        n_head=n_head,
        n_head_kv=n_head_kv,
        permute_qk=permute_qk,
    )


def adapter_dir_to_gguf(adapter_dir: Path, out_path: Path, base_config: Any, *, architecture: str | None = None) -> Path:
    """Convert a saved peft adapter directory (adapter_model.safetensors + adapter_config.json).

    ``base_config`` is the base model's transformers config (or its config.json as a dict).
    """
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    if cfg.get("use_rslora"):
        raise ValueError("rsLoRA scaling is not supported by the llama.cpp adapter format")
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    if architecture is None:
        architecture = base_config["model_type"] if isinstance(base_config, dict) else base_config.model_type
    n_head, n_head_kv = _heads(base_config)
    return lora_tensors_to_gguf(
        tensors, out_path, architecture=architecture, alpha=float(cfg["lora_alpha"]), n_head=n_head, n_head_kv=n_head_kv
    )
