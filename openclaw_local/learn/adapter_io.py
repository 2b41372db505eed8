"""Adapters in and out: validate a LoRA against a base GGUF, PEFT <-> llama.cpp LoRA, merged GGUF.

Formats (docs/METHOD.md, "Serving and training the same model"):

- **peft**: ``adapter_config.json`` + ``adapter_model.safetensors`` with tensors named
  ``...layers.N.{self_attn|mlp}.P_proj.lora_{A,B}.weight``, A (r, in), B (out, r), in
  Hugging Face row order.
- **gguf-lora**: llama.cpp adapter GGUF, ``blk.N.<gguf name>.weight.lora_{a,b}``, same
  numpy shapes, but for the llama architecture lora_b of attn_q/attn_k is row-permuted
  into llama.cpp's rotary layout (see ``convert.llama_permute_rows``).
- **gguf-merged**: the base GGUF with ``W += alpha/r · B A`` added to every adapted
  weight, all metadata copied, written as F16 (or Q8_0) with norms and other 1-D
  tensors kept F32. The delta is taken from the gguf-lora form, whose rows are already
  in the GGUF's own layout, so the merged model computes what the served
  base+adapter computes.

Everything here writes to a temporary file and renames it into place.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from openclaw_local.config import MAX_ALPHA_OVER_RANK
from openclaw_local.errors import ImportFormatError
from openclaw_local.learn.convert import (
    GGUF_LORA_KEY,
    HF_TO_GGUF,
    PEFT_KEY,
    PERMUTED_ARCHITECTURES,
    llama_permute_rows,
    lora_tensors_to_gguf,
)
from openclaw_local.paths import atomic_path

GGUF_TO_HF = {v: k for k, v in HF_TO_GGUF.items()}
MLP = ("gate_proj", "up_proj", "down_proj")


@dataclass
class BaseInfo:
    """What a LoRA must agree with: the base GGUF's architecture, heads and weight shapes."""

    architecture: str
    n_head: int
    n_head_kv: int
    n_layer: int
    shapes: dict[str, tuple[int, ...]]  # gguf tensor name -> numpy shape (out, in)


def base_info(gguf_path: Path) -> BaseInfo:
    """Read once per file version (parsing a GGUF's tokenizer arrays in Python takes seconds)."""
    st = Path(gguf_path).stat()
    return _base_info(str(Path(gguf_path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _base_info(gguf_path: str, size: int, mtime_ns: int) -> BaseInfo:
    import gguf

    reader = gguf.GGUFReader(gguf_path)
    fields = {k: f for k, f in reader.fields.items()}
    arch = fields["general.architecture"].contents()

    def get(key: str, default: Any = None) -> Any:
        f = fields.get(f"{arch}.{key}")
        return f.contents() if f is not None else default

    n_head = int(get("attention.head_count"))
    shapes = {t.name: tuple(int(x) for x in reversed(t.shape.tolist())) for t in reader.tensors}
    return BaseInfo(arch, n_head, int(get("attention.head_count_kv", n_head)), int(get("block_count")), shapes)


def llama_unpermute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of :func:`llama_permute_rows` (GGUF rotary row order back to Hugging Face's)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


# --------------------------------------------------------------------- reading
@dataclass
class Lora:
    """A LoRA in GGUF naming and GGUF row order: ``pairs[(layer, gguf_proj)] = (A, B)``."""

    architecture: str
    alpha: float
    rank: int
    pairs: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]]


def read_lora_gguf(path: Path) -> Lora:
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:  # noqa: BLE001 — any parse failure is a format error
        raise ImportFormatError(f"{path.name} is not a readable GGUF file ({type(exc).__name__}: {exc})") from None
    meta = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        raise ImportFormatError(f"{path.name} is a GGUF but not a llama.cpp LoRA adapter (general.type="
                                f"{meta.get('general.type')!r})", "export it with --format gguf-lora or peft")
    if "adapter.lora.alpha" not in meta:
        raise ImportFormatError(f"{path.name} has no adapter.lora.alpha")
    alpha = _alpha(meta["adapter.lora.alpha"], f"{path.name}: adapter.lora.alpha")
    half: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for t in reader.tensors:
        m = GGUF_LORA_KEY.match(t.name)
        if not m or m.group(2) not in GGUF_TO_HF:
            raise ImportFormatError(f"{path.name}: unexpected tensor {t.name!r}")
        if t.tensor_type not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            raise ImportFormatError(f"{path.name}: tensor {t.name} is {t.tensor_type.name}; only F32/F16 LoRAs are supported")
        half.setdefault((int(m.group(1)), m.group(2)), {})[m.group(3)] = np.array(t.data, dtype=np.float32)
    return _pairs(path.name, meta.get("general.architecture"), alpha, half, "a", "b")


def read_peft_dir(path: Path, base: BaseInfo) -> Lora:
    """A PEFT adapter directory, converted to GGUF naming/row order (q/k permuted for llama)."""
    cfg_path, st_path = path / "adapter_config.json", path / "adapter_model.safetensors"
    if not cfg_path.is_file() or not st_path.is_file():
        raise ImportFormatError(f"{path} is not a PEFT adapter directory (needs adapter_config.json and "
                                "adapter_model.safetensors)")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{cfg_path} is not valid JSON ({exc})") from None
    alpha, rank = _check_peft_config(cfg, cfg_path)
    try:
        from safetensors.numpy import load_file

        tensors = load_file(str(st_path))
    except Exception as exc:  # noqa: BLE001
        raise ImportFormatError(f"{st_path.name} is not readable safetensors ({type(exc).__name__}: {exc})") from None
    half: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        m = PEFT_KEY.search(key)
        if not m or m.group(2) not in HF_TO_GGUF:
            raise ImportFormatError(f"{st_path.name}: unexpected tensor {key!r}")
        arr = np.asarray(value, dtype=np.float32)
        layer, proj, which = int(m.group(1)), HF_TO_GGUF[m.group(2)], m.group(3).lower()
        if which == "b" and base.architecture in PERMUTED_ARCHITECTURES and arr.ndim == 2:
            n = base.n_head if proj == "attn_q" else base.n_head_kv if proj == "attn_k" else None
            if n is not None:
                if arr.shape[0] % (2 * n):
                    raise ImportFormatError(f"{key}: {arr.shape[0]} rows do not fit {n} heads of the base model")
                arr = llama_permute_rows(arr, n)
        half.setdefault((layer, proj), {})[which] = arr
    lora = _pairs(path.name, base.architecture, alpha, half, "a", "b")
    if rank is not None and rank != lora.rank:
        raise ImportFormatError(f"{cfg_path}: \"r\" is {rank} but the tensors have rank {lora.rank}")
    return lora


def _alpha(value: Any, where: str) -> float:
    """A LoRA alpha as a positive finite number, or ImportFormatError naming the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ImportFormatError(f"{where} must be a number, not {value!r}"[:200])
    if not np.isfinite(value) or value <= 0:
        raise ImportFormatError(f"{where} must be a positive finite number, not {value!r}")
    return float(value)


def _check_peft_config(cfg: Any, cfg_path: Path) -> tuple[float, int | None]:
    """alpha and r from adapter_config.json, every value that changes the math checked.

    Refused: a non-LoRA type, a missing or non-positive alpha, a bad r, and the PEFT
    options llama.cpp cannot serve (rsLoRA/DoRA scaling, transposed weights, per-layer
    rank/alpha patterns, trained biases).
    """
    if not isinstance(cfg, dict):
        raise ImportFormatError(f"{cfg_path} must hold a JSON object")
    peft_type = cfg.get("peft_type", "LORA")
    if not isinstance(peft_type, str) or peft_type.upper() != "LORA" or "lora_alpha" not in cfg:
        raise ImportFormatError(f"{cfg_path} does not describe a LoRA adapter (needs peft_type LORA and lora_alpha)")
    alpha = _alpha(cfg["lora_alpha"], f"{cfg_path}: lora_alpha")
    rank = cfg.get("r")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
        raise ImportFormatError(f"{cfg_path}: \"r\" must be a whole number >= 1, not {rank!r}"[:200])
    for key in ("use_rslora", "use_dora", "fan_in_fan_out"):
        value = cfg.get(key, False)
        if value is not None and not isinstance(value, bool):
            raise ImportFormatError(f"{cfg_path}: \"{key}\" must be true or false, not {value!r}"[:200])
    if cfg.get("use_rslora") or cfg.get("use_dora"):
        raise ImportFormatError("rsLoRA/DoRA adapters cannot be served by llama.cpp")
    if cfg.get("fan_in_fan_out"):
        raise ImportFormatError(f"{cfg_path}: fan_in_fan_out (transposed) adapters are not supported")
    for key in ("rank_pattern", "alpha_pattern"):
        if cfg.get(key):
            raise ImportFormatError(f"{cfg_path}: per-layer {key} is not supported (one r and alpha for all layers)")
    if cfg.get("bias", "none") not in ("none", None):
        raise ImportFormatError(f"{cfg_path}: bias {cfg.get('bias')!r} is not supported (only \"none\")"[:200])
    return alpha, rank


def _pairs(name: str, arch: Any, alpha: float, half: dict, ka: str, kb: str) -> Lora:
    if not half:
        raise ImportFormatError(f"{name} holds no LoRA tensors")
    pairs, ranks = {}, set()
    for key, ab in half.items():
        if set(ab) != {ka, kb}:
            raise ImportFormatError(f"{name}: layer {key[0]} {key[1]} lacks its lora_{'b' if ka in ab else 'a'} tensor")
        a, b = ab[ka], ab[kb]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise ImportFormatError(f"{name}: layer {key[0]} {key[1]} has mismatched shapes A{a.shape} B{b.shape}")
        ranks.add(a.shape[0])
        pairs[key] = (a, b)
    if len(ranks) != 1:
        raise ImportFormatError(f"{name}: mixed LoRA ranks {sorted(ranks)}")
    rank = ranks.pop()
    if not np.isfinite(alpha) or alpha <= 0:
        raise ImportFormatError(f"{name}: alpha must be a positive finite number, not {alpha!r}")
    if alpha / rank > MAX_ALPHA_OVER_RANK:
        raise ImportFormatError(f"{name}: alpha {alpha:g} with rank {rank} scales the update by {alpha / rank:g}, "
                                f"more than {MAX_ALPHA_OVER_RANK:g} (real adapters use about 0.5 to 4)")
    return Lora(str(arch) if arch else "", alpha, rank, pairs)


def validate(lora: Lora, base: BaseInfo, name: str) -> None:
    """Architecture, shapes and finiteness against the base model; raises ImportFormatError."""
    if lora.architecture != base.architecture:
        raise ImportFormatError(f"{name} is for architecture {lora.architecture!r}, the served model is "
                                f"{base.architecture!r}", "import an adapter trained on the same base model")
    for (layer, proj), (a, b) in sorted(lora.pairs.items()):
        tname = f"blk.{layer}.{proj}.weight"
        if tname not in base.shapes:
            raise ImportFormatError(f"{name}: the base model has no tensor {tname} (layer {layer} of {base.n_layer})",
                                    "import an adapter trained on the same base model")
        out_dim, in_dim = base.shapes[tname]
        if a.shape[1] != in_dim or b.shape[0] != out_dim:
            raise ImportFormatError(f"{name}: {tname} LoRA is A{a.shape} B{b.shape}, the base weight is "
                                    f"({out_dim}, {in_dim})", "import an adapter trained on the same base model")
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise ImportFormatError(f"{name}: {tname} LoRA holds NaN or inf values")


# --------------------------------------------------------------------- writing
def random_lora(base_gguf: Path, rank: int = 2, std: float = 0.02, seed: int = 0) -> Lora:
    """A LoRA in GGUF layout with random A and nonzero B for every projection of every layer (the
    learner's shape): for benchmarks and tests, where what it computes does not matter."""
    base = base_info(base_gguf)
    rng = np.random.default_rng(seed)
    pairs = {}
    for layer in range(base.n_layer):
        for proj in GGUF_TO_HF:
            out_dim, in_dim = base.shapes[f"blk.{layer}.{proj}.weight"]
            pairs[(layer, proj)] = ((rng.standard_normal((rank, in_dim)) * std).astype(np.float32),
                                    (rng.standard_normal((out_dim, rank)) * std).astype(np.float32))
    return Lora(base.architecture, float(2 * rank), rank, pairs)


def write_lora_gguf(lora: Lora, out: Path, base: BaseInfo) -> Path:
    """Write a (GGUF-ordered) LoRA as a llama.cpp adapter GGUF."""
    tensors = {}
    for (layer, proj), (a, b) in lora.pairs.items():
        hf = GGUF_TO_HF[proj]
        block = "mlp" if hf in MLP else "self_attn"
        tensors[f"base_model.model.model.layers.{layer}.{block}.{hf}.lora_A.weight"] = a
        tensors[f"base_model.model.model.layers.{layer}.{block}.{hf}.lora_B.weight"] = b
    # rows are already in GGUF order: no second permutation
    return lora_tensors_to_gguf(tensors, out, architecture=lora.architecture or base.architecture, alpha=lora.alpha,
                                n_head=base.n_head, n_head_kv=base.n_head_kv, permute_qk=False)


def write_peft_dir(lora: Lora, out_dir: Path, base: BaseInfo, base_name: str | None = None) -> Path:
    """Write a (GGUF-ordered) LoRA as a PEFT adapter dir (un-permuting llama q/k rows)."""
    from safetensors.numpy import save

    out_dir.mkdir(parents=True, exist_ok=True)
    tensors, targets = {}, set()
    for (layer, proj), (a, b) in lora.pairs.items():
        hf = GGUF_TO_HF[proj]
        if base.architecture in PERMUTED_ARCHITECTURES and proj in ("attn_q", "attn_k"):
            b = llama_unpermute_rows(b, base.n_head if proj == "attn_q" else base.n_head_kv)
        block = "mlp" if hf in MLP else "self_attn"
        prefix = f"base_model.model.model.layers.{layer}.{block}.{hf}"
        tensors[f"{prefix}.lora_A.weight"] = np.ascontiguousarray(a, dtype=np.float32)
        tensors[f"{prefix}.lora_B.weight"] = np.ascontiguousarray(b, dtype=np.float32)
        targets.add(hf)
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": lora.rank, "lora_alpha": lora.alpha,
        "lora_dropout": 0.0, "bias": "none", "target_modules": sorted(targets), "use_rslora": False,
        "base_model_name_or_path": base_name, "inference_mode": True,
    }
    # serialized here and written by Python, so a full disk is an OSError (ENOSPC) like every other write
    (out_dir / "adapter_model.safetensors").write_bytes(save(tensors))
    (out_dir / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return out_dir


def merge_into_gguf(base_path: Path, lora: Lora, out: Path, *, out_type: str = "f16",
                    progress: Callable[[str, float], None] | None = None) -> Path:
    """Write ``base + alpha/r · B A`` as a standalone GGUF (``out_type`` f16 or q8_0).

    Tensors are streamed one at a time (dequantize, add the delta, convert, write), so
    memory stays at about one weight matrix. 1-D tensors (norms, biases) stay F32.
    """
    import gguf
    from gguf.quants import dequantize, quantize

    qt = gguf.GGMLQuantizationType
    if out_type not in ("f16", "q8_0"):
        raise ValueError(f"unknown merged type {out_type!r}")
    progress = progress or (lambda message, fraction: None)
    reader = gguf.GGUFReader(str(base_path))
    arch = reader.fields["general.architecture"].contents()
    scale = lora.alpha / lora.rank
    deltas = {f"blk.{layer}.{proj}.weight": (a, b) for (layer, proj), (a, b) in lora.pairs.items()}

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch)
        for key, field in reader.fields.items():
            if key.startswith("GGUF.") or key in ("general.architecture", "general.alignment"):
                continue
            value = field.contents()
            if key == "general.file_type":
                value = int(gguf.LlamaFileType.MOSTLY_F16 if out_type == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0)
            vtype = field.types[0]
            if vtype == gguf.GGUFValueType.ARRAY:
                writer.add_key_value(key, value, vtype, sub_type=field.types[-1])
            else:
                writer.add_key_value(key, value, vtype)
        writer.add_string("general.merged_adapter", f"lora r{lora.rank} alpha {lora.alpha:g}")

        plan = []
        for t in reader.tensors:
            shape = tuple(int(x) for x in reversed(t.shape.tolist()))
            if len(shape) < 2:
                plan.append((t, shape, np.float32, None))
            elif out_type == "q8_0" and shape[-1] % 32 == 0:
                plan.append((t, shape, np.uint8, qt.Q8_0))
            else:
                plan.append((t, shape, np.float16, None))
        for t, shape, dtype, raw in plan:
            if raw is None:
                nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
                writer.add_tensor_info(t.name, shape, np.dtype(dtype), nbytes)
            else:
                bsize, tsize = gguf.GGML_QUANT_SIZES[raw]
                byte_shape = (*shape[:-1], shape[-1] // bsize * tsize)
                writer.add_tensor_info(t.name, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)), raw_dtype=raw)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for i, (t, shape, dtype, raw) in enumerate(plan):
            w = dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32).reshape(shape)
            if t.name in deltas:
                a, b = deltas[t.name]
                w = w + scale * (b.astype(np.float32) @ a.astype(np.float32))
            if raw is None:
                data = np.ascontiguousarray(w.astype(dtype))
            else:
                data = quantize(np.ascontiguousarray(w), raw)
            writer.write_tensor_data(data)
            progress(f"merged {t.name}", (i + 1) / len(plan))
        writer.close()
    return out
