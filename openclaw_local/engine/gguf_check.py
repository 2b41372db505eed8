"""Check a model file before llama.cpp sees it, so a bad file gets a clear sentence.

llama.cpp reports a missing, foreign or truncated file as a bare "Failed to load
model"; here each case is told apart and explained.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from openclaw_local.errors import ModelError, NotFoundError

GGUF_MAGIC = b"GGUF"


@dataclass
class GgufInfo:
    path: Path
    architecture: str
    name: str
    size_bytes: int
    file_type: int | None = None  # general.file_type: the quantization (e.g. 3 = Q4_1)
    block_count: int | None = None  # transformer layers (for offloading part of them)
    embedding_length: int | None = None  # hidden size (tells same-architecture models apart for adapters)


_inspected: dict[tuple[str, int, int], GgufInfo] = {}  # by (path, size, mtime): parsing a GGUF takes seconds


def inspect_gguf(path: Path) -> GgufInfo:
    path = Path(path).expanduser()
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key in _inspected:
        return _inspected[key]
    info = _inspect(path)
    if key is not None:
        _inspected[key] = info
    return info


def _inspect(path: Path) -> GgufInfo:
    if not path.exists():
        raise NotFoundError(f"model file not found: {path}", "pass --model PATH to an existing .gguf file")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}", "pass --model PATH to a .gguf file")
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path} ({exc.strerror})") from None
    if len(head) < 8 or head[:4] != GGUF_MAGIC:
        raise ModelError(f"{path.name} is not a GGUF model file", "download a .gguf file (e.g. Qwen3-4B Q4_K_M)")
    (version,) = struct.unpack("<I", head[4:8])
    if version not in (2, 3):
        raise ModelError(f"{path.name} uses GGUF version {version}, which is not supported")
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
    except Exception as exc:  # the reader raises many kinds of errors on a cut file
        raise ModelError(f"{path.name} is truncated or corrupt ({type(exc).__name__})", "download it again") from None
    expected_end = 0
    for tensor in reader.tensors:
        expected_end = max(expected_end, int(tensor.data_offset) + int(tensor.n_bytes))
    if expected_end > size:
        raise ModelError(
            f"{path.name} is truncated ({size} of {expected_end} bytes)", "download it again"
        )
    arch = _field_str(reader, "general.architecture") or "unknown"
    name = _field_str(reader, "general.name") or path.stem
    return GgufInfo(path=path, architecture=arch, name=name, size_bytes=size,
                    file_type=_field_int(reader, "general.file_type"), block_count=_field_int(reader, f"{arch}.block_count"),
                    embedding_length=_field_int(reader, f"{arch}.embedding_length"))


def _field_str(reader, key: str) -> str | None:
    field = reader.fields.get(key)
    if field is None or not field.data:
        return None
    try:
        return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
    except Exception:
        return None


def _field_int(reader, key: str) -> int | None:
    field = reader.fields.get(key)
    if field is None or not field.data:
        return None
    try:
        return int(field.parts[field.data[0]][0])
    except Exception:
        return None
