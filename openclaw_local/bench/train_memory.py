"""Measure the peak memory of one CPU learning step and compare it with learn/memory.py's rule.

    python -m openclaw_local.bench.train_memory [--tokens 256] [--batch 4] [--device cpu|cuda]

Builds the trainable copy of the embedded model in a temporary data dir (rank 16; fp32 on
the CPU, NF4 QLoRA on CUDA), runs two forward/backward/Adam steps on random tokens and prints
the measured peak next to ``train_bytes`` for the same shape: peak RSS (``getrusage``) on the
CPU, ``torch.cuda.max_memory_allocated`` on CUDA. Takes ~3 minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train_memory")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args(argv)
    import torch

    from openclaw_local.config import Settings
    from openclaw_local.learn import memory
    from openclaw_local.learn import trainable as tr
    from openclaw_local.paths import embedded_model_path

    torch.set_num_threads(2)
    started = time.monotonic()
    cuda = args.device == "cuda"
    t = tr.build_trainable(Settings(lora_rank=16, lora_alpha=32), Path(tempfile.mkdtemp()), device=args.device)
    if cuda:
        torch.cuda.synchronize()
        loaded = torch.cuda.max_memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    opt = torch.optim.Adam([p for p in t.model.parameters() if p.requires_grad], lr=1e-3)
    ids = torch.randint(0, t.model.config.vocab_size, (args.batch, args.tokens), device=t.device)
    for _ in range(2):
        logp = torch.log_softmax(t.model(input_ids=ids).logits.float(), -1)
        loss = -logp[..., :-1, :].gather(-1, ids[:, 1:, None]).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
    if cuda:
        torch.cuda.synchronize()
        peak, what = max(loaded, torch.cuda.max_memory_allocated()), "peak GPU memory allocated"
    else:
        peak, what = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak RSS"
    shape = memory.shape_from_gguf(embedded_model_path())
    rule = memory.train_bytes(shape, args.device, rank=16, seq_len=args.batch * args.tokens)
    print(f"{args.device}: rule {rule / 1e9:.2f} GB; measured {what} {peak / 1e9:.2f} GB (after loading {loaded / 1e9:.2f} GB); "
          f"{time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
