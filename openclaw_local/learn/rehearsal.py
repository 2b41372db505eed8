"""Rehearsal: every update also imitates the base model's own answers to a few general questions.

Why: learning a style costs the small embedded model general ability in the *reply position*.
Measured on the lowercase persona (docs/PERSONALIZATION.md, "third run"): one update of three
samples moved it from 53.5 % to 48.2 % of the ability set, and it generated "12 + 12 = 20"
where the base answered right; a smaller step, no RL term, a fresh optimizer state or a
stronger KL on plain text each kept at most 2.7 of the 5.3 points. Replaying the update with
8 of these rehearsal items kept all of them (53.5 %). The plain-text KL term does not reach the
reply position; imitating the base's own replies there does.

What it knows: the questions (``assets/rehearsal_prompts.txt``, none from the gate's ability
set), how to answer them greedily with the adapter switched off, and which of them an update
gets. What it does not know: where the answers are cached (the learner's data dir) or how
items are trained (the trainer: they are plain correction items, imitated like a user's
correction).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Sequence

import torch

from openclaw_local.records import CORRECTION, TrainItem

PROMPTS = Path(__file__).resolve().parents[2] / "assets" / "rehearsal_prompts.txt"
ANSWER_TOKENS = 48  # long enough to be a reply, short enough to stay cheap to imitate


def load_prompts(path: Path | None = None) -> list[str]:
    lines = Path(path or PROMPTS).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@torch.no_grad()
def base_answers(model: Any, tokenizer: Any, system_prompt: str, prompts: Sequence[str],
                 max_new_tokens: int = ANSWER_TOKENS) -> list[dict[str, Any]]:
    """The base model's greedy answers (adapter off) to ``prompts``, as the chat would prompt it:
    ``{"text", "ended"}`` each, ``ended`` False where the token cap cut the answer.

    Generated in one left-padded batch (``reply_check.generate``): several times faster on a CPU
    than one prompt at a time, and this runs while the user waits for their second update."""
    from openclaw_local.learn.reply_check import generate

    with model.disable_adapter():
        replies = generate(model, tokenizer, system_prompt, prompts, max_new_tokens)
    return [{"text": r["text"], "ended": r["ended"]} for r in replies]


def items(prompts: Sequence[str], answers: Sequence[dict[str, Any]], system_prompt: str, k: int,
          seed: int) -> list[TrainItem]:
    """``k`` rehearsal items (the base's answer as a known-good reply), a seeded draw per update.

    An answer the cap cut is imitated as far as it goes and no further: no end-of-turn marker
    after it (``TrainItem.ended``). With one, rehearsal would teach the model to stop mid-sentence
    after ``ANSWER_TOKENS`` tokens, where the base model went on."""
    pairs = [(p, a) for p, a in zip(prompts, answers) if a["text"]]
    chosen = random.Random(seed).sample(pairs, min(k, len(pairs)))
    return [TrainItem(prompt_messages=[{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}],
                      reply=answer["text"], reward=1, kind=CORRECTION, ended=bool(answer["ended"]))
            for prompt, answer in chosen]
