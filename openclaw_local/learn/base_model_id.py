"""Which public model a GGUF is, so an exported adapter can name the base to load it on elsewhere.

A PEFT adapter is loaded onto ``base_model_name_or_path``; a local path of our
dequantized copy means nothing on another machine. The GGUF's metadata usually says
where it came from. In order of trust:

1. the embedded model: we ship it, so we know it (``HuggingFaceTB/SmolLM2-135M-Instruct``);
2. ``general.source.huggingface.repository`` / ``general.source.repo_url`` /
   ``general.source.url``: the repository the GGUF was converted from;
3. ``general.organization`` + ``general.name`` (e.g. ``Qwen`` + ``Qwen3 4B`` ->
   ``Qwen/Qwen3-4B``): how convert_hf_to_gguf names models; a reconstruction, so said
   to be one;
4. ``general.base_model.0.*`` (``repo_url``, or ``organization`` + ``name``): the model
   this one was *fine-tuned from*. Only right when the served model is that base
   itself, so it is reported as a lead to check, never as certain.

Otherwise the local path is kept and the export's README says so.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EMBEDDED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_HF_URL = re.compile(r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/([\w.-]+/[\w.-]+?)(?:\.git)?/?(?:$|[/?#])")
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class BaseModelId:
    repo_id: str | None  # a Hugging Face model id, or None when the GGUF does not say
    how: str  # where it came from, in words (shown in the export's README)
    certain: bool  # False: a reconstruction or a lead the user should check


def _hf_id(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _HF_URL.match(text)
    if m:
        return m.group(1)
    return text if _REPO_ID.match(text) else None


def _from_name(org: Any, name: Any) -> str | None:
    if not isinstance(org, str) or not isinstance(name, str) or not org.strip() or not name.strip():
        return None
    candidate = f"{org.strip()}/{'-'.join(name.split())}"
    return candidate if _REPO_ID.match(candidate) else None


# GGUF value types: struct format of the scalar ones; 8 = string, 9 = array
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_metadata(gguf_path: Path) -> dict[str, Any]:
    """The GGUF's ``general.*`` key/values, read from the header only.

    A small reader of its own: gguf.GGUFReader maps every field and tensor (seconds for
    a model with a 150k-token vocabulary); here arrays outside ``general.*`` are skipped.
    """
    out: dict[str, Any] = {}
    with open(gguf_path, "rb") as fh:
        def read(fmt: str) -> Any:
            size = struct.calcsize(fmt)
            data = fh.read(size)
            if len(data) != size:
                raise ValueError("truncated GGUF header")
            return struct.unpack(fmt, data)[0]

        def string() -> str:
            n = read("<Q")
            if n > 1 << 24:
                raise ValueError("implausible GGUF string length")
            data = fh.read(n)
            if len(data) != n:
                raise ValueError("truncated GGUF header")
            return data.decode("utf-8", "replace")

        def value(vtype: int, keep: bool) -> Any:
            if vtype in _SCALARS:
                return read(_SCALARS[vtype])
            if vtype == 8:
                if keep:
                    return string()
                fh.seek(read("<Q"), 1)
                return None
            if vtype == 9:
                itype, n = read("<I"), read("<Q")
                if itype in _SCALARS and not keep:
                    fh.seek(n * struct.calcsize(_SCALARS[itype]), 1)
                    return None
                return [value(itype, keep) for _ in range(n)]
            raise ValueError(f"unknown GGUF value type {vtype}")

        if fh.read(4) != b"GGUF" or read("<I") not in (2, 3):
            raise ValueError("not a GGUF v2/v3 file")
        read("<Q")  # tensor count
        for _ in range(read("<Q")):
            key = string()
            keep = key.startswith("general.")
            v = value(read("<I"), keep)
            if keep:
                out[key] = v
    return out


def identify(meta: dict[str, Any], *, embedded: bool = False) -> BaseModelId:
    """The public id a GGUF's metadata points at, and how sure that is (see the module docstring)."""
    if embedded:
        return BaseModelId(EMBEDDED_ID, "the embedded model openclaw-local ships", True)
    for key in ("general.source.huggingface.repository", "general.source.repo_url", "general.source.url"):
        rid = _hf_id(meta.get(key))
        if rid:
            return BaseModelId(rid, f"the GGUF's {key}", True)
    rid = _from_name(meta.get("general.organization"), meta.get("general.name"))
    if rid:
        return BaseModelId(rid, "reconstructed from the GGUF's general.organization and general.name", False)
    if meta.get("general.base_model.count", 1) == 1:
        rid = _hf_id(meta.get("general.base_model.0.repo_url")) or _from_name(
            meta.get("general.base_model.0.organization"), meta.get("general.base_model.0.name"))
        if rid:
            return BaseModelId(rid, "the GGUF's general.base_model.0 (the model it was fine-tuned from: "
                                    "if you served a fine-tune of it, load that instead)", False)
    return BaseModelId(None, "the GGUF's metadata does not say which public model it is", False)


def public_base_model(gguf_path: Path, *, embedded: bool = False) -> BaseModelId:
    try:
        meta = read_metadata(gguf_path)
    except Exception as exc:  # noqa: BLE001 — an unreadable GGUF has no hint, and export still works
        return BaseModelId(None, f"the GGUF's metadata could not be read ({type(exc).__name__})", False)
    return identify(meta, embedded=embedded)
