"""Standing preferences absorbed into the adapter, then retired from the prompt (docs/METHOD.md,
"Standing preferences: absorbed, then retired").

- **Distil.** For a preference p, the model's own greedy reply to a prompt x *with p in its
  system context* (the adapter on: the model as served) is an OPD item whose teacher context is
  x + p and whose student context is x alone (:func:`distil_items`). The trainer's OPD term then
  moves the model without p towards the model with p, token by token.
- **Measure.** How close the adapter without p comes to the model with p: the mean per-token
  KL(π(·|x+p, y<t) ‖ π(·|x, y<t)) over the greedy with-p replies y to held-out probe prompts
  (``assets/preference_probe_prompts.txt``; never distilled on) (:func:`retire_kl`).
- **Decide.** :func:`decide`: in the prompt and below the threshold → learned; learned and above
  ``BACK_FACTOR`` × the threshold → back into the prompt.

What it does not know: where preferences, prompts and versions are stored (the learner,
services/training.py) or how an item is trained (learn/trainer.py).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from openclaw_local.learn import preference_text as pt
from openclaw_local.learn.losses import general_text_kl
from openclaw_local.records import TrainItem

PROBE_PROMPTS = Path(__file__).resolve().parents[2] / "assets" / "preference_probe_prompts.txt"
REPLY_TOKENS = 64  # the greedy with-preference replies: long enough to show a style, cheap to generate
BACK_FACTOR = 1.5  # a learned preference comes back when its KL rises above this × the retire threshold
KIND = "preference"  # the items' kind (neither a reply nor a correction: no reward, no imitation)


def load_probe_prompts(path: Path | None = None) -> list[str]:
    lines = Path(path or PROBE_PROMPTS).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def with_preferences(messages: Sequence[Mapping[str, str]], texts: Sequence[str]) -> list[dict[str, str]]:
    """The same context with the standing preferences' block after the system message, as the chat
    builds it (services/chat.py); a context with no system message gets one holding only the block."""
    out = [dict(m) for m in messages]
    block = pt.block(list(texts))
    if not block:
        return out
    if out and out[0].get("role") == "system":
        out[0]["content"] = (out[0].get("content") or "") + block
    else:
        out.insert(0, {"role": "system", "content": block.lstrip()})
    return out


def single_turn(system_prompt: str, prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]


def plan(pref_ids: Sequence[int], user_prompts: Sequence[str], general_prompts: Sequence[str], n: int,
         seed: int) -> list[tuple[int, str]]:
    """Which (preference, prompt) pairs an update distils: ``n`` in all, the preferences in turn
    (starting at a seeded one, so with more preferences than items each gets its turn across
    updates), the prompts alternately the user's own and general ones, each drawn without
    repeats by ``seed``. Pure."""
    if n <= 0 or not pref_ids or not (user_prompts or general_prompts):
        return []
    rng = random.Random(seed)
    pools = [rng.sample(list(user_prompts), len(user_prompts)), rng.sample(list(general_prompts), len(general_prompts))]
    first = rng.randrange(len(pref_ids))
    out: list[tuple[int, str]] = []
    for i in range(n):
        pool = pools[i % 2] if pools[i % 2] else pools[(i + 1) % 2]
        if not pool:
            break
        out.append((pref_ids[(first + i) % len(pref_ids)], pool.pop()))
    return out


def distil_item(system_prompt: str, prompt: str, texts: Sequence[str], reply: str) -> TrainItem:
    """One OPD item: the student context lacks the preferences, the teacher context holds them."""
    student = single_turn(system_prompt, prompt)
    return TrainItem(prompt_messages=student, reply=reply, kind=KIND, teacher_messages=with_preferences(student, texts))


@torch.no_grad()
def greedy_replies(model: Any, tokenizer: Any, contexts: Sequence[Sequence[Mapping[str, str]]],
                   max_new_tokens: int = REPLY_TOKENS) -> list[tuple[str, list[int]]]:
    """The model's own greedy replies (adapter as it is: the served model) to each context, as
    (visible text, generated token ids up to and including an end of turn). The contexts are
    generated as one left-padded batch."""
    from openclaw_local.learn.trainer import _ids, _render_prompt  # the learner's own chat encoding

    if not contexts:
        return []
    was_training = model.training
    model.eval()
    stops = {i for i in (tokenizer.eos_token_id, tokenizer.get_vocab().get(_eot_token(tokenizer))) if isinstance(i, int)}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompts = [_ids(tokenizer, _render_prompt(tokenizer, messages)) for messages in contexts]
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=_device(model))
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=_device(model))
    try:
        gen = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=max_new_tokens,
                             use_cache=True,  # the trainable copy turns the KV cache off for training: 10x slower
                             pad_token_id=pad)
    finally:
        model.train(was_training)
    out = []
    for row in gen[:, width:].tolist():
        for j, tok in enumerate(row):
            if tok in stops:
                row = row[: j + 1]
                break
        out.append((tokenizer.decode(row, skip_special_tokens=True).strip(), row))
    return out


@torch.no_grad()
def retire_kl(model: Any, tokenizer: Any, system_prompt: str, prompts: Sequence[str], texts: Sequence[str],
              max_new_tokens: int = REPLY_TOKENS) -> dict[str, Any]:
    """How far the model without the preferences ``texts`` is from the model with them.

    For each prompt: the greedy reply y with the preferences in context, then the mean over y's
    tokens of KL(π(·|x+p, y<t) ‖ π(·|x, y<t)) over the whole vocabulary; the result's ``kl`` is
    the mean over prompts (each reply weighs the same). ``per_prompt`` lists each, ``replies``
    the with-preference replies. 0 exactly when the prompt's block no longer changes anything.
    """
    from openclaw_local.learn.trainer import _ids, _render_prompt

    students = [single_turn(system_prompt, p) for p in prompts]
    teachers = [with_preferences(s, texts) for s in students]
    replies = greedy_replies(model, tokenizer, teachers, max_new_tokens)
    was_training = model.training
    model.eval()
    device = _device(model)
    per_prompt = []
    try:
        for student, teacher, (_, reply) in zip(students, teachers, replies):
            if not reply:
                continue
            logits = []
            for context in (teacher, student):
                prompt = _ids(tokenizer, _render_prompt(tokenizer, context))
                x = torch.tensor([prompt + reply], device=device)
                logits.append(model(input_ids=x).logits[0, len(prompt) - 1: len(prompt) + len(reply) - 1])
            per_prompt.append(float(general_text_kl(logits[1], logits[0])))  # KL(teacher ‖ student)
    finally:
        model.train(was_training)
    kl = sum(per_prompt) / len(per_prompt) if per_prompt else 0.0
    return {"kl": kl, "per_prompt": per_prompt, "replies": [text for text, _ in replies]}


def decide(in_context: bool, kl: float, threshold: float, back_factor: float = BACK_FACTOR) -> str | None:
    """What a measured KL means for a preference. Pure.

    ``in_context``: the preference is in the served prompt (active, or learned but not absorbed by
    the served version). Returns ``"learned"`` when it is and ``kl`` is below ``threshold`` (it can
    leave the prompt), ``"active"`` when it is absorbed but ``kl`` rose above ``back_factor`` ×
    ``threshold`` (the adapter lost it: back into the prompt), else None. A threshold ≤ 0 never retires.
    """
    if threshold <= 0:
        return None
    if in_context:
        return "learned" if kl < threshold else None
    return "active" if kl > back_factor * threshold else None


def _eot_token(tokenizer: Any) -> str:
    from openclaw_local.learn.trainer import _end_of_turn

    return _end_of_turn(tokenizer) or (tokenizer.eos_token or "")


def _device(model: Any) -> torch.device:
    return next(p.device for p in model.parameters())
