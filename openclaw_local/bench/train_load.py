"""A stand-in for the learner under load: repeated real LoRA updates at nice 19.

``python -m openclaw_local.bench.train_load --home DIR [--threads N] [--nice 19]``
trains the embedded model's adapter on synthetic items until killed. The chat
benchmark pauses and resumes it (SIGSTOP/SIGCONT) to interleave idle and busy rounds.
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--home", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--nice", type=int, default=19)
    args = p.parse_args()
    os.nice(args.nice)
    import torch

    torch.set_num_threads(args.threads)
    from pathlib import Path

    from openclaw_local.config import Settings
    from openclaw_local.learn.trainable import build_trainable
    from openclaw_local.learn.trainer import TrainConfig, make_optimizer, train_update

    settings = Settings()
    t = build_trainable(settings, Path(args.home))
    items = [
        {"prompt_messages": [{"role": "user", "content": f"Tell me fact number {i} about the ocean."}],
         "reply": "The ocean covers most of the planet and holds most of its water. " * 4, "reward": 1 if i % 2 else -1}
        for i in range(4)
    ]
    opt = make_optimizer(t.model, 1e-5)
    while True:
        train_update(t.model, t.tokenizer, items, TrainConfig(lr=1e-5), opt)


if __name__ == "__main__":
    main()
