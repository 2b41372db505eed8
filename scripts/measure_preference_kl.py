"""The retire measure of a standing preference before and after a few distilling updates.

    .venv/bin/python scripts/measure_preference_kl.py [--updates 4] [--pref "Answer in French."] ...

For each preference (a fresh LoRA on the embedded model each time, the learner's defaults:
``TrainConfig.from_settings``, the plain-text KL on ``assets/replay_text.txt``): the mean
per-token KL(model with the preference ‖ model without it) on the held-out probe prompts
(learn/absorption.retire_kl), then ``--updates`` updates of ``prefs_distil_items`` distillation
items each (general prompts from assets/rehearsal_prompts.txt, as the learner draws them when
the user has no prompts of their own) and the KL after each. Prints one line per measurement.
Used to choose ``prefs_retire_kl`` (docs/METHOD.md). A few minutes of CPU.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=4)
    ap.add_argument("--pref", action="append", help="a preference's text (repeatable)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    prefs = args.pref or ["Answer in French.", "End every reply with 'Cheers!'"]

    import torch

    from openclaw_local.config import Settings
    from openclaw_local.learn import absorption, rehearsal
    from openclaw_local.learn.trainable import build_trainable
    from openclaw_local.learn.trainer import TrainConfig, make_optimizer, train_update
    from openclaw_local.services.training import REPLAY_TEXT

    torch.set_num_threads(args.threads)
    s = Settings()
    probes = absorption.load_probe_prompts()
    general = rehearsal.load_prompts()
    with tempfile.TemporaryDirectory() as tmp:
        for text in prefs:
            torch.manual_seed(0)
            t = build_trainable(s, Path(tmp))
            opt = make_optimizer(t.model, s.learning_rate)
            ids = list(t.tokenizer(REPLAY_TEXT.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"])

            def measure(label: str) -> None:
                started = time.monotonic()
                m = absorption.retire_kl(t.model, t.tokenizer, s.system_prompt, probes, [text])
                seconds = time.monotonic() - started
                bare = absorption.greedy_replies(t.model, t.tokenizer, [absorption.single_turn(s.system_prompt, probes[0])])
                print(f"{text!r} {label}: KL {m['kl']:.4f} per prompt {[round(k, 3) for k in m['per_prompt']]} "
                      f"({seconds:.1f} s)\n    with it:    {m['replies'][0][:90]!r}\n    without it: {bare[0][0][:90]!r}",
                      flush=True)

            measure("before")
            for u in range(1, args.updates + 1):
                pairs = absorption.plan([1], [], general, s.prefs_distil_items, seed=u)
                contexts = [absorption.with_preferences(absorption.single_turn(s.system_prompt, p), [text])
                            for _, p in pairs]
                replies = absorption.greedy_replies(t.model, t.tokenizer, contexts)
                items = [absorption.distil_item(s.system_prompt, p, [text], r) for (_, p), (r, _) in zip(pairs, replies) if r]
                metrics = train_update(t.model, t.tokenizer, items, TrainConfig.from_settings(s), opt, general_ids=ids)
                measure(f"after update {u} ({len(items)} items, loss {metrics.loss:.3f})")


if __name__ == "__main__":
    main()
