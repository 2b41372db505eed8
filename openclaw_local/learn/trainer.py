"""One LoRA update from judged replies (docs/METHOD.md, "Two learning signals, one update").

Reads top to bottom: tokenize -> score (old policy, teacher, base) -> clipped
surrogate on the combined advantage -> Adam steps -> metrics.

Choices, stated once:

- **What is trained.** The prompt is the chat template rendered with
  ``add_generation_prompt=True`` and, for Qwen3, ``enable_thinking=False`` (the
  template then writes an empty ``<think></think>`` block). The trained reply is the
  *visible* reply (any ``<think>…</think>`` is stripped) followed by the template's
  end-of-turn marker (``<|im_end|>``), so the model also learns where to stop.
  Thinking traces are not trained: the user judged the visible answer, and a fixed
  non-thinking form keeps training and the non-thinking served form identical.
  Prompt and reply are tokenized separately and concatenated, which is how the
  served model saw them (it generated the reply tokens after the prompt tokens).
- **π_old** is recomputed here, with no grad, before the first step; with one pass
  the ratio starts at 1 and clipping only matters on later passes/minibatches.
- **Teacher for OPD = the current policy (π_old) under the hint context**, not the
  frozen base. With the policy as teacher the advantage
  log π_old(y|x+hint) − log π_old(y|x) is exactly what the hint changes. With the
  frozen base it becomes [log π_base(y|x+hint) − log π_base(y|x)] + [log π_base(y|x) −
  log π_old(y|x)]: the second bracket pulls every hinted reply back towards the base,
  an unrequested KL-to-base that erodes what earlier updates learned (and grows as
  the adapter does). It is also one forward pass cheaper per item (no adapter
  toggling). ``TrainConfig.teacher = "base"`` exists for measuring the alternative.
- **Loss normalization.** Token mean within each reply, then mean over the replies
  of a minibatch (see ``losses.masked_mean_per_reply``); micro-batches only split
  the forward passes for memory and add up to exactly that mean.
"""

from __future__ import annotations

import io
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from openclaw_local.learn.losses import (
    clip_fraction,
    clipped_surrogate_loss,
    combined_advantages,
    correction_sft_loss,
    general_text_kl,
    kl_to_base,
)
from openclaw_local.records import TrainItem  # the item type the store hands over (kept importable from here)
from openclaw_local.thinking import strip_thinking

__all__ = [
    "HINT_LABEL",
    "TrainItem",
    "TrainConfig",
    "UpdateMetrics",
    "Encoded",
    "with_hint",
    "encode_item",
    "reply_logprobs",
    "make_optimizer",
    "save_optimizer_state",
    "load_optimizer_state",
    "train_update",
]

HINT_LABEL = "[user's hint]"
ProgressCallback = Callable[[int, int, float], None]  # (step, total_steps, loss)


@dataclass
class TrainConfig:
    lr: float = 1e-4
    w_rl: float = 1.0
    w_opd: float = 1.0
    w_sft: float = 0.0  # weight of plain imitation of corrected replies (losses.correction_sft_loss)
    kl_weight: float = 0.0
    w_general: float = 0.0  # weight of KL(base ‖ policy) on plain general text (losses.general_text_kl)
    general_tokens: int = 128  # tokens of general text per optimizer step for that term
    passes: int = 1  # passes over the items (PPO epochs)
    batch_size: int = 16  # items per optimizer step
    micro_batch_size: int = 4  # items per forward/backward (memory)
    grad_clip: float = 1.0
    clip_low: float = 0.2
    clip_high: float = 0.28
    max_seq_len: int = 1024  # prompt is cut from the left beyond this
    teacher: str = "policy"  # "policy" (π_old with hint) or "base" (adapter disabled, with hint)
    # a −1 reply's end-of-turn marker gets no RL push (losses.spare_the_end): False only to measure
    # what it prevents (docs/METHOD.md, section 3: "Except a rejected reply's end-of-turn marker")
    spare_the_end: bool = True
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "TrainConfig":
        """The one Settings -> TrainConfig mapping (fields in ``SETTING_FOR_FIELD``; the rest keep defaults).

        ``overrides`` replace fields afterwards (benchmarks, tests); an unknown name is an error.
        """
        cfg = cls(**{name: type(getattr(cls, name))(getattr(settings, setting))
                     for name, setting in SETTING_FOR_FIELD.items()})
        for key, value in overrides.items():
            if not hasattr(cfg, key):
                raise TypeError(f"TrainConfig has no field {key!r}")
            setattr(cfg, key, value)
        return cfg


# Which setting (config.Settings) feeds each TrainConfig field. A field that is not here must
# be listed in INTERNAL_FIELDS; tests/test_train_config_mapping.py fails otherwise.
SETTING_FOR_FIELD: dict[str, str] = {
    "lr": "learning_rate",
    "w_rl": "w_rl",
    "w_opd": "w_opd",
    "w_sft": "w_sft",
    "w_general": "w_general",
    "passes": "learn_passes",
}
# Fields with no setting, on purpose: measured once and fixed, or used only by benchmarks/tests.
INTERNAL_FIELDS: frozenset[str] = frozenset({
    "kl_weight",  # KL to the base on the trained replies; off (0): w_general holds general ability instead
    "general_tokens",  # size of the general-text batch per step: a cost knob, not a user choice
    "batch_size", "micro_batch_size",  # optimizer step / memory split; updates are a few dozen items
    "grad_clip", "clip_low", "clip_high",  # PPO-style clipping constants
    "max_seq_len",  # prompt truncation for memory
    "teacher",  # "base" exists only to measure the alternative (module docstring)
    "spare_the_end",  # off only to measure the lengthening it prevents
    "seed",  # reproducible minibatch order; the sampling seed setting is a different thing
})


@dataclass
class UpdateMetrics:
    loss: float = 0.0  # mean training loss over optimizer steps
    mean_reward: float = 0.0  # over items that carry a reward
    n_items: int = 0
    n_rewarded: int = 0
    n_hinted: int = 0  # items with a teacher context (a hint, or their own: standing preferences)
    n_tokens: int = 0  # reply tokens trained on (one pass)
    steps: int = 0
    seconds: float = 0.0
    tokens_per_s: float = 0.0  # all tokens through every forward pass (scoring + training) per second
    clip_fraction: float = 0.0
    mean_opd_advantage: float = 0.0  # mean of teacher - old over hinted reply tokens
    grad_norm: float = 0.0  # last step, before clipping
    skipped: int = 0  # items with neither reward nor hint nor teacher context
    general_kl: float = 0.0  # mean general-text KL to the base over steps (0 when the term is off)


@dataclass
class Encoded:
    prompt_ids: list[int]
    reply_ids: list[int]
    teacher_prompt_ids: list[int] | None = None
    end_tokens: int = 0  # how many of reply_ids' last tokens are the end-of-turn marker (0: cut off)
    extra: dict = field(default_factory=dict)


# --- tokenization ---------------------------------------------------------------


def with_hint(messages: Sequence[Mapping[str, str]], hint: str) -> list[dict[str, str]]:
    """Teacher context: the hint appended to the last user message (blank line, label, hint)."""
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") == "user":
            m["content"] = f"{m['content']}\n\n{HINT_LABEL}\n{hint.strip()}"
            return out
    out.append({"role": "user", "content": f"{HINT_LABEL}\n{hint.strip()}"})
    return out


def _render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the tokenizer has no chat template; cannot build training prompts")
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=True, enable_thinking=False
    )


def _end_of_turn(tokenizer: Any) -> str:
    """The text the template puts after an assistant message's content (e.g. ``<|im_end|>``)."""
    cached = getattr(tokenizer, "_openclaw_eot", None)
    if cached is not None:
        return cached
    marker = "XQZPLACEHOLDERQZX"
    probe = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": marker}],
        tokenize=False,
        enable_thinking=False,
    )
    tail = probe[probe.rindex(marker) + len(marker):].rstrip() if marker in probe else ""
    eot = tail or (tokenizer.eos_token or "")
    try:
        tokenizer._openclaw_eot = eot
    except AttributeError:
        pass
    return eot


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_item(tokenizer: Any, item: TrainItem, max_seq_len: int = 1024) -> Encoded:
    """Token ids of prompt and reply (and of the teacher prompt: the item's teacher context, or its
    prompt, with the hint appended; None when the item has neither)."""
    end_of_turn = _end_of_turn(tokenizer)
    end_ids = _ids(tokenizer, end_of_turn)
    reply_ids = _ids(tokenizer, strip_thinking(item.reply) + (end_of_turn if item.ended else ""))
    reply_ids = reply_ids[: max(1, max_seq_len - 1)]
    end_tokens = len(end_ids) if end_ids and reply_ids[-len(end_ids):] == end_ids else 0
    room = max(1, max_seq_len - len(reply_ids))  # keep at least one prompt token (the one predicting y_1)

    def prompt(messages):
        ids = _ids(tokenizer, _render_prompt(tokenizer, messages))
        return ids[-room:]

    teacher = None
    if item.has_teacher:
        context = item.teacher_messages if item.teacher_messages is not None else item.prompt_messages
        teacher = prompt(with_hint(context, item.hint) if item.has_hint else context)
    return Encoded(prompt_ids=prompt(item.prompt_messages), reply_ids=reply_ids, teacher_prompt_ids=teacher,
                   end_tokens=end_tokens)


# --- scoring --------------------------------------------------------------------


def _model_device(model: Any) -> torch.device:
    return next(p.device for p in model.parameters())


def reply_logprobs(
    model: Any, prompts: Sequence[list[int]], replies: Sequence[list[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """log π(y_t | prompt, y_<t) for each reply token, as ``(B, R)`` aligned at the reply start.

    Returns ``(logp, mask, n_tokens_forwarded)``; ``mask`` is 1 on real reply tokens.
    Grad flows if enabled by the caller.
    """
    device = _model_device(model)
    seqs = [p + r for p, r in zip(prompts, replies)]
    length = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    attention = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, s in enumerate(seqs):
        input_ids[i, : len(s)] = torch.tensor(s)
        attention[i, : len(s)] = 1
    input_ids, attention = input_ids.to(device), attention.to(device)
    logits = model(input_ids=input_ids, attention_mask=attention).logits.float()

    r_max = max(len(r) for r in replies)
    mask = torch.zeros((len(seqs), r_max), device=device)
    rows = []
    for i, (p, r) in enumerate(zip(prompts, replies)):
        # logits at position t predict token t+1: reply tokens p..p+r-1 come from positions p-1..p+r-2
        lg = logits[i, len(p) - 1 : len(p) + len(r) - 1]
        tgt = input_ids[i, len(p) : len(p) + len(r)]
        row = lg.gather(-1, tgt[:, None]).squeeze(-1) - torch.logsumexp(lg, -1)
        rows.append(torch.nn.functional.pad(row, (0, r_max - len(r))))
        mask[i, : len(r)] = 1.0
    logp = torch.stack(rows)
    return logp, mask, int(attention.sum())


def _chunks(seq: Sequence[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(seq), size):
        yield list(seq[i : i + size])


@torch.no_grad()
def _score(model, prompts, replies, pad_id, micro) -> tuple[list[torch.Tensor], int]:
    """Per-item reply log-probs (1-D tensors), no grad, in micro-batches."""
    out: list[torch.Tensor] = []
    n_tok = 0
    for idx in _chunks(range(len(prompts)), micro):
        logp, mask, n = reply_logprobs(model, [prompts[i] for i in idx], [replies[i] for i in idx], pad_id)
        n_tok += n
        out.extend(logp[j, : int(mask[j].sum())].detach() for j in range(len(idx)))
    return out, n_tok


def _stack(rows: Sequence[torch.Tensor], width: int, device) -> torch.Tensor:
    return torch.stack([torch.nn.functional.pad(r, (0, width - len(r))) for r in rows]).to(device)


def _end_mask(encoded: Sequence[Encoded], width: int, device) -> torch.Tensor:
    """1 on each reply's end-of-turn tokens (aligned at the reply start, like ``reply_logprobs``)."""
    mask = torch.zeros((len(encoded), width), device=device)
    for row, e in enumerate(encoded):
        if e.end_tokens:
            mask[row, len(e.reply_ids) - e.end_tokens : len(e.reply_ids)] = 1.0
    return mask


def _general_kl(model: Any, ids: Sequence[int], tokens: int, rng: random.Random, device) -> torch.Tensor:
    """General-text KL to the base (adapter disabled) on a random ``tokens``-long window of ``ids``."""
    start = rng.randrange(0, max(1, len(ids) - tokens))
    x = torch.tensor([list(ids[start : start + tokens])], device=device)
    with torch.no_grad(), model.disable_adapter():
        base_logits = model(input_ids=x).logits
    return general_text_kl(model(input_ids=x).logits[0], base_logits[0])


# --- optimizer state ------------------------------------------------------------


def make_optimizer(model: Any, lr: float) -> torch.optim.Adam:
    """Adam over the trainable (LoRA) parameters only."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (is a LoRA attached?)")
    return torch.optim.Adam(params, lr=lr)


def save_optimizer_state(optimizer: torch.optim.Optimizer, path: Path) -> None:
    """Persist ``optimizer.state_dict()`` atomically (temp + fsync + rename)."""
    from openclaw_local.paths import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(optimizer.state_dict(), buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_optimizer_state(optimizer: torch.optim.Optimizer, path: Path) -> bool:
    """Restore a state saved by ``save_optimizer_state``/``save_adapter``; False if absent."""
    path = Path(path)
    if not path.exists():
        return False
    state = torch.load(path, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state)
    return True


# --- the update -----------------------------------------------------------------


def train_update(
    model: Any,
    tokenizer: Any,
    items: Sequence[TrainItem],
    config: TrainConfig | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    progress: ProgressCallback | None = None,
    general_ids: Sequence[int] | None = None,
) -> UpdateMetrics:
    """Run one learning update on ``model`` (a peft model) in place and return its metrics.

    ``optimizer`` (from ``make_optimizer``) carries Adam's moments across updates; the
    caller persists it. Without one a fresh Adam is used for this update only.
    ``general_ids`` are token ids of plain general text; with ``config.w_general > 0``
    every step also pulls the policy towards the base on a random window of it.
    """
    config = config or TrainConfig()
    started = time.monotonic()
    metrics = UpdateMetrics()
    all_items = list(items)
    usable = [i for i in all_items if i.has_reward or i.has_teacher]
    metrics.skipped = len(all_items) - len(usable)
    metrics.n_items = len(usable)
    if not usable:
        metrics.seconds = time.monotonic() - started
        return metrics
    optimizer = optimizer or make_optimizer(model, config.lr)
    for group in optimizer.param_groups:
        group["lr"] = config.lr
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    micro = max(1, config.micro_batch_size)
    device = _model_device(model)

    # 1. tokenize: prompt, reply (student's own tokens), teacher prompt with the hint
    enc = [encode_item(tokenizer, it, config.max_seq_len) for it in usable]
    prompts = [e.prompt_ids for e in enc]
    replies = [e.reply_ids for e in enc]
    rewards = torch.tensor([float(it.reward or 0) for it in usable])
    has_hint = torch.tensor([it.has_teacher for it in usable])  # the OPD term: a hint or a teacher context
    is_correction = torch.tensor([it.is_correction for it in usable])
    metrics.n_rewarded = int((rewards != 0).sum())
    metrics.n_hinted = int(has_hint.sum())
    metrics.mean_reward = float(rewards[rewards != 0].mean()) if metrics.n_rewarded else 0.0
    metrics.n_tokens = sum(len(r) for r in replies)
    n_forward = 0

    # 2. score with no grad: π_old, the teacher (hinted items), the base (KL term)
    was_training = model.training
    model.eval()
    old, n = _score(model, prompts, replies, pad_id, micro)
    n_forward += n
    teacher = [o.clone() for o in old]
    hinted = [i for i, e in enumerate(enc) if e.teacher_prompt_ids is not None]
    if hinted:
        t_prompts = [enc[i].teacher_prompt_ids for i in hinted]
        t_replies = [replies[i] for i in hinted]
        if config.teacher == "base":
            with model.disable_adapter():
                scored, n = _score(model, t_prompts, t_replies, pad_id, micro)
        elif config.teacher == "policy":
            scored, n = _score(model, t_prompts, t_replies, pad_id, micro)
        else:
            raise ValueError(f"unknown teacher {config.teacher!r} (use 'policy' or 'base')")
        n_forward += n
        for i, s in zip(hinted, scored):
            teacher[i] = s
        diffs = torch.cat([teacher[i] - old[i] for i in hinted])
        metrics.mean_opd_advantage = float(diffs.mean())
    base = None
    if config.kl_weight > 0:
        with model.disable_adapter():
            base, n = _score(model, prompts, replies, pad_id, micro)
        n_forward += n

    # 3. clipped surrogate on the combined advantage, Adam steps over minibatches
    model.train(True)
    rng = random.Random(config.seed)
    order = list(range(len(usable)))
    batch = max(1, config.batch_size)
    total_steps = config.passes * math.ceil(len(order) / batch)
    losses, clip_fracs, general_kls = [], [], []
    use_general = config.w_general > 0 and general_ids is not None and len(general_ids) > 1
    step = 0
    for _ in range(config.passes):
        rng.shuffle(order)
        for mb in _chunks(order, batch):
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for sub in _chunks(mb, micro):
                logp, mask, n = reply_logprobs(model, [prompts[i] for i in sub], [replies[i] for i in sub], pad_id)
                n_forward += n
                width = logp.shape[1]
                old_b = _stack([old[i] for i in sub], width, device)
                adv = combined_advantages(
                    rewards[sub].to(device),
                    _stack([teacher[i] for i in sub], width, device),
                    old_b,
                    mask,
                    has_hint[sub].to(device),
                    w_rl=config.w_rl,
                    w_opd=config.w_opd,
                    end_mask=_end_mask([enc[i] for i in sub], width, device) if config.spare_the_end else None,
                )
                loss = clipped_surrogate_loss(logp, old_b, adv, mask, config.clip_low, config.clip_high)
                if config.w_sft:
                    loss = loss + config.w_sft * correction_sft_loss(logp, mask, is_correction[sub].to(device))
                if base is not None:
                    loss = loss + config.kl_weight * kl_to_base(logp, _stack([base[i] for i in sub], width, device), mask)
                # mean over the minibatch's replies = sum of micro-batch means weighted by their share
                (loss * (len(sub) / len(mb))).backward()
                step_loss += float(loss.detach()) * len(sub) / len(mb)
                clip_fracs.append(clip_fraction(logp, old_b, adv, mask, config.clip_low, config.clip_high))
            if use_general:
                kl = _general_kl(model, general_ids, config.general_tokens, rng, device)
                (config.w_general * kl).backward()
                step_loss += config.w_general * float(kl.detach())
                general_kls.append(float(kl.detach()))
                n_forward += 2 * min(config.general_tokens, len(general_ids))
            params = [p for g in optimizer.param_groups for p in g["params"]]
            metrics.grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.grad_clip))
            optimizer.step()
            step += 1
            losses.append(step_loss)
            if progress is not None:
                progress(step, total_steps, step_loss)
    optimizer.zero_grad(set_to_none=True)
    model.train(was_training)

    metrics.steps = step
    metrics.loss = sum(losses) / len(losses) if losses else 0.0
    metrics.general_kl = sum(general_kls) / len(general_kls) if general_kls else 0.0
    metrics.clip_fraction = sum(clip_fracs) / len(clip_fracs) if clip_fracs else 0.0
    metrics.seconds = time.monotonic() - started
    metrics.tokens_per_s = n_forward / metrics.seconds if metrics.seconds > 0 else 0.0
    return metrics
