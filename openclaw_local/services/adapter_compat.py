"""Was an adapter made for the model being served? Checked from the two GGUFs' shapes.

A LoRA adapter only fits the model (shape) it was trained on. When the user switches
models (``models use``), versions trained on the old one are kept — switching back
serves them again — but not served with the new one; llama.cpp would refuse them and
they must not be marked broken for it. Same architecture and same tensor shapes count
as "made for it" (a different quantization of the same model is fine).
"""

from __future__ import annotations

from pathlib import Path


def mismatch(adapter_gguf: Path, base_gguf: Path) -> str | None:
    """Why the adapter does not fit the base model, or None when it does (or cannot be read: verify decides)."""
    import gguf

    from openclaw_local.learn.adapter_io import base_info

    try:
        reader = gguf.GGUFReader(str(adapter_gguf))
        base = base_info(base_gguf)
    except Exception:  # noqa: BLE001 — unreadable files are the integrity check's business
        return None
    arch_field = reader.fields.get("general.architecture")
    arch = arch_field.contents() if arch_field is not None else None
    if arch and arch != base.architecture:
        return f"made for a {arch} model, this one is {base.architecture}"
    for t in reader.tensors:
        for suffix, axis in ((".lora_a", 1), (".lora_b", 0)):
            if not t.name.endswith(suffix):
                continue
            target = t.name[: -len(suffix)]
            shape = tuple(int(x) for x in reversed(t.shape.tolist()))
            base_shape = base.shapes.get(target)
            if base_shape is None:
                return f"it adapts {target}, which this model does not have"
            if shape[axis] != base_shape[axis]:
                return f"{target} is {base_shape[0]}×{base_shape[1]} here, the adapter expects another size"
    return None
