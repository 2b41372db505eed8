"""Training contexts under other system messages, so that what is learned holds under any of them.

An update trained only under the product's system prompt ties what it learned to that text:
re-scored with no system message, a lowercase rule learned in a persona run fell from 0.75 to
0.17. Yet endpoint clients send their own system message, users edit theirs, and an exported
adapter runs in tools that send none. So a share (``Settings.system_variants``) of the items
from the user's conversations can be trained with its system message swapped for one drawn from
``TRAINING_SYSTEM_PROMPTS`` (or removed), a fresh draw each update. Off by default: on the
development persona it was measured on, the adapter held under other prompts without it, and
half the items under variants did no better (docs/METHOD.md, "Under other system messages").

What stays: the reply and its reward (the reply is what was judged, not the context), and the
teacher's context. An item with a hint or standing preferences keeps its own original context,
hint added, as the teacher; OPD then teaches "without the hint, under any system message, do
what you would do under ours with it".

These prompts are for training only: ``sim/system_prompts.py`` holds other ones to measure with,
so the measurement is not of the very texts trained on.

Knows ``TrainItem``; nothing of the model, the store or the settings.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Sequence

from openclaw_local.records import TrainItem

TRAINING_SYSTEM_PROMPTS: tuple[str | None, ...] = (
    None,  # no system message at all (the chat template's own default, if it has one)
    "You are a helpful assistant.",
    "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible.",
    "You are an AI assistant. The user will ask you questions; answer them clearly.",
    "You are a knowledgeable assistant. Today's date is 15 January 2026.",
)


def with_system(item: TrainItem, system: str | None) -> TrainItem:
    """``item`` with its leading system message replaced by ``system`` (None: no system message)."""
    messages = list(item.prompt_messages)
    if messages and messages[0].get("role") == "system":
        messages = messages[1:]
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    # the teacher reads the context the reply was made in (its hint is added to that, not to ours)
    teacher = item.teacher_messages
    if teacher is None and item.has_teacher:
        teacher = item.prompt_messages
    return replace(item, prompt_messages=messages, teacher_messages=teacher)


def vary(items: Sequence[TrainItem], share: float, seed: int,
         prompts: Sequence[str | None] = TRAINING_SYSTEM_PROMPTS) -> list[TrainItem]:
    """Each item from a conversation (``message_id`` set) goes, with probability ``share``, under a
    system message drawn from ``prompts``; the learner's own items (rehearsal, distillation) keep
    theirs, since they stand for the base model as served. Same seed, same draw."""
    rng = random.Random(seed)
    out = []
    for item in items:
        if item.message_id is not None and share > 0 and rng.random() < share:
            item = with_system(item, rng.choice(prompts))
        out.append(item)
    return out
