"""How big a GGUF model is, in parameters, read from the file's tensor table (no weights loaded)."""

from __future__ import annotations

from pathlib import Path


def parameter_count(path: Path | str) -> int | None:
    """The number of weights in a GGUF file (sum of its tensors' elements); None if unreadable."""
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(Path(path).expanduser()))
        return int(sum(int(t.n_elements) for t in reader.tensors))
    except Exception:  # a missing or foreign file: the caller falls back to the small-model choice
        return None
