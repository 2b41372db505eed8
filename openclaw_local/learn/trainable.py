"""The trainable copy of the served model: base weights + a LoRA adapter (peft).

Source of the base weights (docs/METHOD.md, "Serving and training the same model"):

- the served GGUF, loaded by transformers with ``gguf_file=`` and
  ``quantization_config=GgufConfig(dequantize=True)`` (transformers 5.x; without
  ``dequantize=True`` the GGUF quantizer stays attached and saving/training refuse).
  The dequantized model is written once as safetensors (+ config + tokenizer) under
  ``<data dir>/trainable/<name>-<size>-<mtime>/`` so later loads skip the slow
  conversion and so bitsandbytes can load it (it cannot combine with GGUF loading);
- or an HF model directory (``Settings.hf_model_dir``), used as is.

On CUDA the cached safetensors are loaded in 4-bit NF4 with bf16 compute (QLoRA);
on CPU in fp32 (bf16 on CPU is ~30x slower, docs/METHOD.md). The adapter is a peft LoRA
(rank/alpha from Settings, no dropout) on q/k/v/o/gate/up/down. Supported
architectures: ``llama`` (the embedded SmolLM2-135M) and ``qwen3``.
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from openclaw_local.errors import ModelError
from openclaw_local.paths import atomic_dir, owner_only_tree

__all__ = [
    "LORA_TARGETS",
    "SUPPORTED_ARCHITECTURES",
    "Trainable",
    "ProgressFn",
    "cache_dir_for",
    "ensure_safetensors_cache",
    "load_base_model",
    "load_tokenizer",
    "attach_lora",
    "build_trainable",
    "save_adapter",
    "load_adapter_weights",
    "architecture_of",
    "pick_device",
]

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SUPPORTED_ARCHITECTURES = ("llama", "qwen3")
CACHE_MARKER = "openclaw_source.json"
OPTIMIZER_FILE = "optimizer.pt"
TRAINER_STATE_FILE = "trainer_state.json"

ProgressFn = Callable[[str, float], None]
"""``progress(message, fraction_done)``, fraction in [0, 1]."""


@dataclass
class Trainable:
    """A peft model ready to train, with what the trainer and converter need."""

    model: Any  # peft.PeftModel
    tokenizer: Any
    architecture: str  # "llama" | "qwen3" (the GGUF / llama.cpp name)
    device: torch.device
    base_dir: Path  # directory holding the (cached) HF base weights
    quantized_4bit: bool = False


def _noop(message: str, fraction: float) -> None:
    pass


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def architecture_of(config: Any) -> str:
    """The llama.cpp architecture name for a transformers config."""
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_ARCHITECTURES:
        raise ModelError(
            f"learning supports the llama and qwen3 architectures, not {model_type!r}",
            "serve a llama or Qwen3 GGUF, or turn learning off",
        )
    return model_type


def cache_dir_for(gguf_path: Path, cache_root: Path) -> Path:
    """``<cache_root>/<stem>-<size>-<mtime_ns>``: a new file (or a changed one) gets a new cache."""
    st = gguf_path.stat()
    return cache_root / f"{gguf_path.stem}-{st.st_size}-{st.st_mtime_ns}"


def ensure_safetensors_cache(gguf_path: Path, cache_root: Path, progress: ProgressFn | None = None) -> Path:
    """Dequantize ``gguf_path`` once into ``cache_dir_for(gguf_path, cache_root)`` and return that dir.

    Reuses the directory when its marker file exists (the conversion wrote it last).
    The conversion loads the GGUF with transformers (slow: ~10 s for 135M params on 2
    cores, minutes for 4B), saves safetensors + config + tokenizer into a temporary
    directory and renames it into place.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    progress = progress or _noop
    gguf_path = Path(gguf_path).resolve()
    if not gguf_path.is_file():
        raise ModelError(f"model file not found: {gguf_path}")
    final = cache_dir_for(gguf_path, cache_root)
    if (final / CACHE_MARKER).exists():
        progress("trainable copy cached", 1.0)
        return final
    cache_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = time.monotonic()
    # first writer wins: another process (a second learner, an import's gate) may finish first
    with atomic_dir(final, if_exists="keep") as tmp:
        progress(f"reading {gguf_path.name} (first-time conversion for learning)", 0.0)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf_path.parent),
                gguf_file=gguf_path.name,
                quantization_config=GgufConfig(dequantize=True),
                dtype=torch.float32,
            )
        except (ValueError, KeyError, OSError) as exc:
            raise ModelError(f"cannot build a trainable copy of {gguf_path.name} ({exc})") from None
        architecture_of(model.config)
        progress("writing safetensors", 0.6)
        model.save_pretrained(str(tmp), safe_serialization=True)
        del model
        progress("writing tokenizer", 0.85)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        tokenizer.save_pretrained(str(tmp))
        marker = {
            "source": str(gguf_path),
            "size": gguf_path.stat().st_size,
            "mtime_ns": gguf_path.stat().st_mtime_ns,
            "seconds": round(time.monotonic() - started, 2),
        }
        (tmp / CACHE_MARKER).write_text(json.dumps(marker, indent=2))
        owner_only_tree(tmp)  # it lives in the data dir: owner-only like the rest
    progress("trainable copy ready", 1.0)
    return final


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(model_dir: Path, device: torch.device, quantize_4bit: bool | None = None) -> Any:
    """Load HF weights from ``model_dir``: NF4 4-bit + bf16 compute on CUDA (QLoRA), fp32 on CPU."""
    from transformers import AutoModelForCausalLM

    if quantize_4bit is None:
        quantize_4bit = device.type == "cuda"
    if quantize_4bit:
        if device.type != "cuda":
            raise ModelError("4-bit (QLoRA) training needs a CUDA GPU")
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise ModelError(
                "bitsandbytes is not installed (needed for 4-bit training on the GPU)",
                "pip install 'openclaw-local[cuda]'",
            ) from None
        from transformers import BitsAndBytesConfig

        bnb = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir), quantization_config=bnb, dtype=torch.bfloat16, device_map={"": device.index or 0}
        )
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    else:
        dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype).to(device)
    architecture_of(model.config)
    model.config.use_cache = False
    return model


def attach_lora(model: Any, rank: int = 16, alpha: float = 32.0, targets: tuple[str, ...] = LORA_TARGETS) -> Any:
    """Wrap ``model`` in a fresh peft LoRA (B = 0, so the adapter starts as the identity)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=int(rank),
        lora_alpha=float(alpha),
        lora_dropout=0.0,
        target_modules=list(targets),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def load_adapter_weights(model: Any, adapter_dir: Path) -> Any:
    """Load a saved peft adapter (``save_adapter`` output) on top of ``model`` to continue training."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)


def check_memory(gguf: Path, device: torch.device, rank: int) -> int | None:
    """Refuse (:class:`~openclaw_local.learn.memory.NotEnoughMemory`, one line) to build a copy that
    would not fit, before loading anything: an out-of-memory kill would take the learner down
    mid-update. Returns the estimated need (None when the GGUF's shape cannot be read)."""
    from openclaw_local.learn import memory

    try:
        shape = memory.shape_from_gguf(gguf)
    except Exception:  # not readable here: the loader below says why in its own words
        return None
    return memory.check_training_fits(shape, device.type, rank=rank, name=gguf.name)


def build_trainable(
    settings: Any,
    data_dir: Path,
    *,
    model_path: Path | None = None,
    adapter_dir: Path | None = None,
    device: str | torch.device | None = None,
    quantize_4bit: bool | None = None,
    progress: ProgressFn | None = None,
) -> Trainable:
    """Build the trainable peft model for the served model.

    ``model_path`` (else ``settings.model_path``, else the embedded model) is the
    served GGUF; ``settings.hf_model_dir``, when set, is used instead of converting
    it. ``adapter_dir`` continues a saved adapter; otherwise a fresh LoRA of
    ``settings.lora_rank``/``settings.lora_alpha`` is attached.
    """
    from openclaw_local.paths import resolve_model_path

    dev = pick_device(device)
    if getattr(settings, "hf_model_dir", None):
        base_dir = Path(settings.hf_model_dir).expanduser()
    else:
        gguf = Path(model_path).expanduser() if model_path else resolve_model_path(settings)
        check_memory(gguf, dev, getattr(settings, "lora_rank", 16))
        base_dir = ensure_safetensors_cache(gguf, Path(data_dir) / "trainable", progress)
    model = load_base_model(base_dir, dev, quantize_4bit)
    quantized = bool(getattr(model, "is_loaded_in_4bit", False))
    if adapter_dir is not None and (Path(adapter_dir) / "adapter_config.json").exists():
        peft_model = load_adapter_weights(model, Path(adapter_dir))
    else:
        peft_model = attach_lora(model, settings.lora_rank, settings.lora_alpha)
    return Trainable(
        model=peft_model,
        tokenizer=load_tokenizer(base_dir),
        architecture=architecture_of(model.config),
        device=dev,
        base_dir=base_dir,
        quantized_4bit=quantized,
    )


def save_adapter(
    model: Any,
    out_dir: Path,
    optimizer: torch.optim.Optimizer | None = None,
    extra_state: dict | None = None,
    atomic: bool = True,
) -> Path:
    """Save the LoRA (``adapter_model.safetensors`` + ``adapter_config.json``) and optimizer state.

    Written into a temporary sibling directory, fsynced, then renamed over
    ``out_dir``, so readers see either the previous complete adapter or the new one.
    ``extra_state`` (e.g. update counters) goes to ``trainer_state.json``.
    ``atomic=False`` writes straight into ``out_dir``, for a caller that already
    writes into a temporary directory of its own (a new adapter version).
    """
    out_dir = Path(out_dir)
    if atomic:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        target = atomic_dir(out_dir)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        target = nullcontext(out_dir)
    with target as d:
        model.save_pretrained(str(d), safe_serialization=True)
        if optimizer is not None:
            torch.save(optimizer.state_dict(), d / OPTIMIZER_FILE)
        if extra_state is not None:
            (d / TRAINER_STATE_FILE).write_text(json.dumps(extra_state, indent=2))
    return out_dir
