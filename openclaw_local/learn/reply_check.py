"""The gate's look at generated replies: does the candidate still stop, and not loop?

The other checks of the promotion gate score fixed text (ranked answers, prose against its
shuffled words, held-out feedback) and never look at a reply the candidate itself writes.
An update that taught the model not to stop — every reply running to the token limit,
one paragraph repeated — passes them all. This check has the candidate and the base answer
a few general prompts (``assets/gate_reply_prompts.txt``: none is trained on, none is in the
ability set or the rehearsal prompts), greedily, at most ``max_new_tokens`` tokens each, and
reads three things off each reply:

- **ended**: the reply ended by itself (the end-of-turn token) before the cap;
- **repetition**: the share of the reply's word 4-grams that already occurred earlier in it
  (0 for ordinary prose; a looped paragraph drives it towards 1);
- **tokens**: its length.

The candidate is refused when its replies loop (mean repetition above the base's by more than
``max_repetition_rise``), or when fewer of them end than the base's by more than
``max_unended_rise`` of the prompts *and* they are longer — a style that asks for longer
answers may end fewer replies within the cap but does not loop, and a "be brief" style ends
more. Limits come from the measured spread of harmless style adapters (docs/METHOD.md).

What it knows: prompts, greedy decoding with the learner's own chat encoding, and the three
measures. What it does not know: where the base's results are cached (the caller's data dir).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import torch

PROMPTS = Path(__file__).resolve().parents[2] / "assets" / "gate_reply_prompts.txt"
MAX_NEW_TOKENS = 96  # long enough for a loop to show, short enough for a few seconds on 2 cores
NGRAM = 4


def load_prompts(path: Path | None = None) -> list[str]:
    lines = Path(path or PROMPTS).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def repetition(text: str, n: int = NGRAM) -> float:
    """Share of the word ``n``-grams of ``text`` that already occurred earlier in it (0: none repeat)."""
    words = text.casefold().split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeated = 0
    for g in grams:
        repeated += g in seen
        seen.add(g)
    return repeated / len(grams)


def summarize(replies: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean measures over one model's replies (each ``{"text", "tokens", "ended"}``)."""
    n = max(1, len(replies))
    return {
        "n": len(replies),
        "ended": sum(bool(r["ended"]) for r in replies) / n,
        "repetition": sum(repetition(r["text"]) for r in replies) / n,
        "tokens": sum(r["tokens"] for r in replies) / n,
    }


def digest(prompts: Sequence[str], system_prompt: str, max_new_tokens: int = MAX_NEW_TOKENS) -> str:
    """Cache key of the base's results: the prompts, the system prompt and the cap."""
    return hashlib.sha256(repr((list(prompts), system_prompt, max_new_tokens, NGRAM)).encode()).hexdigest()[:16]


@torch.no_grad()
def generate(model: Any, tokenizer: Any, system_prompt: str, prompts: Sequence[str] | None = None,
             max_new_tokens: int = MAX_NEW_TOKENS) -> list[dict[str, Any]]:
    """Greedy replies of ``model`` as it stands (adapter on unless the caller disabled it), one batch."""
    from openclaw_local.learn.trainer import _end_of_turn, _ids, _render_prompt  # the learner's chat encoding

    prompts = list(prompts if prompts is not None else load_prompts())
    eot_ids = _ids(tokenizer, _end_of_turn(tokenizer))
    stop_ids = {i for i in (eot_ids[:1] + [tokenizer.eos_token_id]) if i is not None}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [_ids(tokenizer, _render_prompt(tokenizer, [{"role": "system", "content": system_prompt},
                                                         {"role": "user", "content": p}])) for p in prompts]
    width = max(len(e) for e in encoded)
    device = next(model.parameters()).device
    ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded], device=device)  # left-padded
    mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded], device=device)
    was_training = model.training
    model.eval()
    try:
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=max_new_tokens,
                             use_cache=True,  # the trainable copy turns the KV cache off for training: 10x slower
                             eos_token_id=sorted(stop_ids), pad_token_id=pad)
    finally:
        model.train(was_training)
    replies = []
    for row in out[:, width:].tolist():
        end = next((i for i, t in enumerate(row) if t in stop_ids), None)
        body = row if end is None else row[:end]
        replies.append({"text": tokenizer.decode(body, skip_special_tokens=True).strip(),
                        "tokens": len(body), "ended": end is not None})
    return replies


def measure(model: Any, tokenizer: Any, system_prompt: str, prompts: Sequence[str] | None = None,
            max_new_tokens: int = MAX_NEW_TOKENS) -> dict[str, Any]:
    """The summary of ``model``'s replies, and the first two replies for the record."""
    replies = generate(model, tokenizer, system_prompt, prompts, max_new_tokens)
    return {**summarize(replies), "examples": [r["text"][:200] for r in replies[:2]]}


def compare(base: dict[str, Any], new: dict[str, Any], *, max_repetition_rise: float,
            max_unended_rise: float, cap: int = MAX_NEW_TOKENS) -> tuple[bool, str | None, dict[str, Any]]:
    """Apply the rule (module docstring): (ok, reason, results)."""
    rep_rise = new["repetition"] - base["repetition"]
    unended_rise = base["ended"] - new["ended"]
    longer = new["tokens"] > base["tokens"]
    results = {"base": {k: round(base[k], 4) for k in ("ended", "repetition", "tokens")},
               "new": {k: round(new[k], 4) for k in ("ended", "repetition", "tokens")},
               "max_repetition_rise": max_repetition_rise, "max_unended_rise": max_unended_rise}
    if rep_rise > max_repetition_rise:
        reason = (f"its replies repeat themselves: {new['repetition'] * 100:.0f}% of their 4-word phrases are "
                  f"repeats vs {base['repetition'] * 100:.0f}% for the base model "
                  f"(limit +{max_repetition_rise * 100:.0f} points)")
    elif unended_rise > max_unended_rise and longer:
        reason = (f"its replies no longer end: {new['ended'] * 100:.0f}% end within {cap} tokens vs "
                  f"{base['ended'] * 100:.0f}% for the base model (limit −{max_unended_rise * 100:.0f} points)")
    else:
        reason = None
    results["ok"] = reason is None
    return reason is None, reason, results
