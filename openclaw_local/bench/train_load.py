"""A stand-in for the learner under load: repeated real LoRA updates at the learner's CPU priority.

``python -m openclaw_local.bench.train_load --home DIR [--threads N] [--policy idle|nice]``
trains the embedded model's adapter on synthetic items until killed. ``--policy idle`` is what the
learner process uses (SCHED_IDLE where the OS has it, else nice 19); ``nice`` is nice 19 alone.
It touches ``DIR/train_load.ready`` after its first update, so a benchmark knows it is training.
The chat benchmark pauses and resumes it (SIGSTOP/SIGCONT) to interleave idle and busy rounds.
``--pause-home DIR`` makes it also step aside while chat generates, as the learner does
(services/chat_activity.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

READY_FILE = "train_load.ready"


def main() -> None:
    from openclaw_local.services.cpu_priority import POLICIES, lower_cpu_priority

    p = argparse.ArgumentParser()
    p.add_argument("--home", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--policy", choices=POLICIES, default="idle")
    p.add_argument("--pause-home", default=None, help="pause while the chat-busy marker in this dir says chat generates")
    args = p.parse_args()
    print(f"cpu priority: {lower_cpu_priority(args.policy)}", file=sys.stderr, flush=True)  # before torch's threads
    import torch

    torch.set_num_threads(args.threads)
    if args.pause_home:
        from openclaw_local.services.chat_activity import ChatPause, install_pause_hooks

        install_pause_hooks(ChatPause(Path(args.pause_home)))
    from openclaw_local.config import Settings
    from openclaw_local.learn.trainable import build_trainable
    from openclaw_local.learn.trainer import TrainConfig, TrainItem, make_optimizer, train_update

    settings = Settings()
    home = Path(args.home)
    t = build_trainable(settings, home)
    items = [
        TrainItem(prompt_messages=[{"role": "user", "content": f"Tell me fact number {i} about the ocean."}],
                  reply="The ocean covers most of the planet and holds most of its water. " * 4,
                  reward=1 if i % 2 else -1)
        for i in range(4)
    ]
    opt = make_optimizer(t.model, 1e-5)
    train_update(t.model, t.tokenizer, items, TrainConfig(lr=1e-5), opt)
    (home / READY_FILE).touch()
    while True:
        train_update(t.model, t.tokenizer, items, TrainConfig(lr=1e-5), opt)


if __name__ == "__main__":
    main()
