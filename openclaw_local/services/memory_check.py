"""Will the learner's trainable copy fit? Estimated before it is built, so a model too big
for this machine pauses learning with one clear line instead of an out-of-memory kill.

The learner dequantizes the served GGUF into a trainable copy: fp32 on CPU (4 bytes a
parameter, plus LoRA state, gradients through activations and the runtime: ×1.3 + 1 GB,
measured loosely on the 0.6B–4B range) or NF4 on CUDA (half a byte a parameter, ×1.5 +
1.5 GB). The parameter count comes from the GGUF's tensor shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class MemoryVerdict:
    fits: bool
    need_bytes: int
    free_bytes: int
    where: str  # "RAM" or "GPU memory"

    def sentence(self, model_name: str) -> str:
        verb = "fits" if self.fits else "does not fit"
        return (f"learning with {model_name} needs ~{self.need_bytes / 1e9:.1f} GB {self.where}, "
                f"{self.free_bytes / 1e9:.1f} GB is free: it {verb}")


def gguf_params(path: Path) -> int:
    """Number of parameters in a GGUF (from its tensor shapes; the file is memory-mapped, not read)."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(path))
    return int(sum(int(np.prod(t.shape)) for t in reader.tensors))


def free_ram() -> int:
    """MemAvailable from /proc/meminfo (what can be allocated without swapping), in bytes."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def need_bytes(params: int, cuda: bool) -> int:
    return int(params * 0.5 * 1.5 + 1.5e9) if cuda else int(params * 4 * 1.3 + 1e9)


def learning_fits(model_path: Path, *, cuda: bool | None = None, free: int | None = None) -> MemoryVerdict:
    """Does the trainable copy of ``model_path`` fit now? ``cuda``/``free`` default to this machine."""
    if cuda is None:
        try:
            import torch

            cuda = torch.cuda.is_available()
        except ImportError:
            cuda = False
    if free is None:
        if cuda:
            import torch

            free = int(torch.cuda.mem_get_info()[0])
        else:
            free = free_ram()
    need = need_bytes(gguf_params(model_path), cuda)
    return MemoryVerdict(need <= free, need, free, "GPU memory" if cuda else "RAM")
