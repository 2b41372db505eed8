"""The ability check: does an adapter make the model worse at ordinary tasks? Blind to style.

``assets/ability_set.jsonl`` holds general tasks with one checkable answer each (facts,
arithmetic, following a simple instruction, short reading comprehension), written for
this check and never trained on. Every item carries its right answer and three
distractors written in the same style (same casing, same length class, same form), so
a pure style preference — lowercase, a sign-off, short replies, no Markdown — moves all
four options alike and cannot change which one ranks first.

For each item the model reads the question as a chat turn (the same chat template and
system prompt the learner trains with) and each option is scored as the start of the
assistant's reply:

- **length-normalized**: the mean log-prob of the option's tokens;
- **case-blind**: every option is scored case-folded ("paris", "the lungs"), so an adapter
  that prefers lowercase raises all four options of an item alike (``forms`` can also combine
  the written and folded forms by logsumexp; measured on the "Quick answer:" adapter it moved
  the result no less, at 1.5× the tokens, so the default is folded only);
- **after a neutral lead-in**: the reply is started with ``LEAD_IN`` ("answer:") and only the
  option after it is scored, so a learned opener ("Hi there!", "Quick answer:") does not sit
  at the scored position (without it the reply's first token is mostly the opener's);
- **no end of turn**: the reply's end (where a sign-off or "~" would go) is not scored.

The item's *margin* is the right answer's score minus the best distractor's; the item
counts as answered when the margin is positive. The ability score is the fraction of
items answered; the mean margin is a finer, continuous measure of the same thing.

Sequential scoring (``measure_sequential``): a candidate is first scored on a fixed half of
the set (every other item of each kind, ``stage_one``); the paired change against the base on
that half decides early when the rest cannot plausibly change the verdict (the half's net
loss projected to the whole set, ± 3 sd of the sign noise of its discordant items, is clearly
inside or clearly outside the limit; ± 3 sd, see ``EARLY_Z``). Otherwise the other half is scored and the whole set
decides, exactly as without the first stage.

Cost: no generation. The question is encoded once per item and its options share it:
items are packed into rows of up to ``PACK_TOKENS`` tokens with a block attention mask
(each option sees its question and itself only, positions restart after the question),
so the whole set is a handful of forward passes. ``tests/test_ability.py`` shows the
packed scores equal item-by-item scoring.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

ABILITY_SET = Path(__file__).resolve().parents[2] / "assets" / "ability_set.jsonl"
PACK_TOKENS = 512
LEAD_IN = "answer:"  # starts every scored reply, unscored (see above)
GENERAL_TEXT = Path(__file__).resolve().parents[2] / "assets" / "general_text.txt"
FLUENCY_PROMPT = "Tell me something."
FLUENCY_WORDS = 20  # words per scored piece of prose (below every shipped persona's word limit)
FLUENCY_CHUNKS = 12  # pieces scored, each also shuffled (~700 tokens)


@dataclass
class Segment:
    """One item's tokens: its prompt and, per option, the token ids of each written form."""

    prompt: list[int]
    options: list[list[list[int]]]  # option -> its forms -> token ids (option 0 is the right answer)


def load_set(path: Path | None = None) -> list[dict[str, Any]]:
    lines = Path(path or ABILITY_SET).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def set_digest(items: Sequence[dict[str, Any]], system_prompt: str) -> str:
    """Identifies what a cached base result was measured on (the set and the system prompt)."""
    blob = json.dumps([items, system_prompt, LEAD_IN], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def normalize(option: str) -> str:
    """An option case-folded, outer whitespace removed."""
    return option.strip().casefold()


def forms(option: str, mode: str = "both") -> list[str]:
    """The forms an option is scored in: "both" = as written and case-folded (when that differs),
    "folded" = case-folded only, "written" = as written only."""
    written, folded = option.strip(), normalize(option)
    if mode == "folded":
        return [folded]
    if mode == "written":
        return [written]
    return [written] if written == folded else [written, folded]


def encode(tokenizer: Any, items: Sequence[dict[str, Any]], system_prompt: str, mode: str = "folded",
           lead_in: str | None = None) -> tuple[list[int], list[Segment]]:
    """(shared prefix, segments) for ability items; see :func:`encode_pairs`."""
    pairs = [(i["question"], [forms(o, mode) for o in [i["answer"], *i["distractors"]]]) for i in items]
    return encode_pairs(tokenizer, pairs, system_prompt, lead_in)


def encode_pairs(tokenizer: Any, pairs: Sequence[tuple[str, list[list[str]]]], system_prompt: str,
                 lead_in: str | None = None) -> tuple[list[int], list[Segment]]:
    """(shared prefix, segments) for (question, options' forms) pairs: the tokens every prompt
    starts with (the system turn) are encoded once per packed row; each segment keeps the rest."""
    from openclaw_local.learn.trainer import _ids, _render_prompt  # the learner's own chat encoding

    prompts = []
    for question, _ in pairs:
        messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": question}]
        prompts.append(_ids(tokenizer, _render_prompt(tokenizer, messages) + (LEAD_IN if lead_in is None else lead_in)))
    shared = 0
    while prompts and all(len(p) > shared + 1 and p[shared] == prompts[0][shared] for p in prompts):
        shared += 1
    prefix = prompts[0][:shared] if prompts else []
    out = []
    for (_, options), prompt in zip(pairs, prompts):
        out.append(Segment(prompt[shared:], [[_ids(tokenizer, " " + f) for f in fs] for fs in options]))
    return prefix, out


def _pack(segments: Sequence[Segment], limit: int) -> list[list[int]]:
    """Groups of segment indexes whose packed length stays within ``limit`` tokens."""
    groups: list[list[int]] = []
    size = 0
    for i, seg in enumerate(segments):
        n = len(seg.prompt) + sum(len(f) for opt in seg.options for f in opt)
        if groups and size + n <= limit:
            groups[-1].append(i)
            size += n
        else:
            groups.append([i])
            size = n
    return groups


def _row(prefix: list[int], segments: Sequence[Segment]):
    """Token ids, position ids, a boolean "may attend" matrix, and where each form's tokens sit.

    The row starts with the shared prefix; every item's prompt sees the prefix and itself,
    every option sees the prefix, its item's prompt and itself."""
    ids: list[int] = list(prefix)
    pos: list[int] = list(range(len(prefix)))
    spans = []  # per segment: per option: per form: (positions of the predicting logits, target ids)
    blocks = [(0, len(prefix), None)]  # (start, end, (context start, context end) besides the prefix)
    base = len(prefix)
    for seg in segments:
        p0 = len(ids)
        ids += seg.prompt
        pos += list(range(base, base + len(seg.prompt)))
        blocks.append((p0, len(ids), None))
        seg_spans = []
        for opt in seg.options:
            opt_spans = []
            for form in opt:
                f0 = len(ids)
                ids += form
                pos += list(range(base + len(seg.prompt), base + len(seg.prompt) + len(form)))
                blocks.append((f0, len(ids), (p0, p0 + len(seg.prompt))))
                # the first token is predicted by the prompt's last position, the rest by the form itself
                predictors = [p0 + len(seg.prompt) - 1] + list(range(f0, f0 + len(form) - 1))
                opt_spans.append((predictors, form))
            seg_spans.append(opt_spans)
        spans.append(seg_spans)
    n = len(ids)
    allowed = torch.zeros((n, n), dtype=torch.bool)
    causal = torch.ones((n, n), dtype=torch.bool).tril()
    for start, end, context in blocks:
        allowed[start:end, start:end] = causal[: end - start, : end - start]
        if start >= base:  # everything after the prefix sees all of it
            allowed[start:end, :base] = True
        if context is not None:
            allowed[start:end, context[0]:context[1]] = True
    return ids, pos, allowed, spans


@torch.no_grad()
def option_scores(model: Any, prefix: list[int], segments: Sequence[Segment],
                  pack_tokens: int = PACK_TOKENS) -> list[list[float]]:
    """Per item, per option: logsumexp over its forms of the mean log-prob of the form's tokens."""
    device = next(model.parameters()).device
    out: list[list[float]] = [[] for _ in segments]
    for group in _pack(segments, max(1, pack_tokens - len(prefix))):
        ids, pos, allowed, spans = _row(prefix, [segments[i] for i in group])
        mask = torch.zeros(allowed.shape, dtype=torch.float32)
        mask.masked_fill_(~allowed, torch.finfo(torch.float32).min)
        # only the positions that predict an option token go through the LM head and softmax
        keep = sorted({p for seg_spans in spans for opt_spans in seg_spans for pred, _ in opt_spans for p in pred})
        row_of = {p: i for i, p in enumerate(keep)}
        logits = model(input_ids=torch.tensor([ids], device=device),
                       position_ids=torch.tensor([pos], device=device),
                       attention_mask=mask[None, None].to(device),
                       logits_to_keep=torch.tensor(keep, device=device)).logits[0].float()
        logp = torch.log_softmax(logits, -1)
        for k, seg_spans in zip(group, spans):
            for opt_spans in seg_spans:
                means = torch.tensor([float(logp[[row_of[p] for p in pred], tgt].mean()) for pred, tgt in opt_spans])
                out[k].append(float(torch.logsumexp(means, 0)))
    return out


def summarize(scores: Sequence[Sequence[float]], items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, mean margin, and the per-item margins (kept for paired comparisons)."""
    return from_margins([s[0] - max(s[1:]) for s in scores], items)


def from_margins(margins: Sequence[float], items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:func:`summarize` from the items' margins."""
    by_kind: dict[str, list[int]] = {}
    for item, m in zip(items, margins):
        by_kind.setdefault(item.get("kind", "other"), []).append(int(m > 0))
    return {
        "n": len(margins),
        "accuracy": sum(m > 0 for m in margins) / max(1, len(margins)),
        "margin": sum(margins) / max(1, len(margins)),
        "by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
        "margins": [round(m, 4) for m in margins],
    }


def measure(model: Any, tokenizer: Any, system_prompt: str, items: Sequence[dict[str, Any]] | None = None,
            pack_tokens: int = PACK_TOKENS, mode: str = "folded", lead_in: str | None = None) -> dict[str, Any]:
    """The ability results of one model state (adapter on or off, as the caller set it)."""
    items = list(items) if items is not None else load_set()
    was_training = model.training
    model.eval()
    try:
        prefix, segments = encode(tokenizer, items, system_prompt, mode, lead_in)
        return summarize(option_scores(model, prefix, segments, pack_tokens), items)
    finally:
        model.train(was_training)


def stage_one(items: Sequence[dict[str, Any]], base_margins: Sequence[float] | None = None) -> list[int]:
    """Indexes of the fixed first half: every other item of each kind and, given the base's
    margins, of each kind's items the base answers and those it does not.

    Only an item the base answers can be lost and only one it misses can be gained, so a half
    that held more of the base's right answers would lose more under the same adapter: an
    every-other-item half had 27 of the base's 65 right answers and read 6 points kinder than
    the whole set for every style adapter (docs/METHOD.md)."""
    seen: dict[tuple[str, bool], int] = {}
    out = []
    for i, item in enumerate(items):
        k = (item.get("kind", "other"), bool(base_margins is not None and base_margins[i] > 0))
        if seen.get(k, 0) % 2 == 0:
            out.append(i)
        seen[k] = seen.get(k, 0) + 1
    return out


EARLY_Z = 3.0  # sd the first-half projection must clear; 2 let a −7-point version through (docs/METHOD.md)


def early_verdict(base_margins: Sequence[float], margins: Sequence[float], n_total: int, max_drop: float,
                  z: float = EARLY_Z) -> str | None:
    """"pass" / "refuse" when the scored part already settles the whole-set rule
    (net items lost ≤ ``max_drop`` × ``n_total``), else None.

    Net loss d = lost − gained on the part, k discordant items; the rest is projected as
    ``d × rest/part`` with an sd of ``√(k × rest/part + 1)`` (each discordant item is a
    ±1 coin under the null that the candidate's changes are noise)."""
    part = len(margins)
    lost = sum(1 for b, c in zip(base_margins, margins) if b > 0 >= c)
    gained = sum(1 for b, c in zip(base_margins, margins) if c > 0 >= b)
    ratio = (n_total - part) / max(1, part)
    projected = (lost - gained) * (1 + ratio)
    spread = z * math.sqrt((lost + gained) * ratio + 1)
    limit = max_drop * n_total
    if projected + spread <= limit:
        return "pass"
    if projected - spread > limit:
        return "refuse"
    return None


def measure_sequential(model: Any, tokenizer: Any, system_prompt: str, base: dict[str, Any], max_drop: float,
                       items: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ability results, scoring the fixed first half and the rest only when it could matter.

    ``base`` is the base model's full result (its ``margins`` in the set's order). The result
    carries ``indices`` (the items scored, in set order) and ``stage`` (1: decided on the
    first half, 2: whole set)."""
    items = list(items) if items is not None else load_set()
    first = stage_one(items, base["margins"])
    part = measure(model, tokenizer, system_prompt, [items[i] for i in first])
    verdict = early_verdict([base["margins"][i] for i in first], part["margins"], len(items), max_drop)
    if verdict is not None:
        kinds = [items[i] for i in first]
        return {**from_margins(part["margins"], kinds), "indices": first, "stage": 1,
                "early": verdict}
    rest_idx = [i for i in range(len(items)) if i not in set(first)]
    rest = measure(model, tokenizer, system_prompt, [items[i] for i in rest_idx])
    margins = dict(zip(first, part["margins"])) | dict(zip(rest_idx, rest["margins"]))
    return {**from_margins([margins[i] for i in range(len(items))], items), "stage": 2}


def fluency_chunks(text: str, words: int = FLUENCY_WORDS, limit: int = FLUENCY_CHUNKS) -> list[str]:
    """Consecutive ``words``-word pieces of the case-folded general corpus: short enough for
    every persona's length limit, so a "keep it short" preference does not read as damage."""
    tokens = text.casefold().split()
    return [" ".join(tokens[i:i + words]) for i in range(0, len(tokens) - words + 1, words)][:limit]


@torch.no_grad()
def reply_fluency(model: Any, tokenizer: Any, system_prompt: str, text: str | None = None) -> dict[str, Any]:
    """Ordinary prose *as the assistant's reply*: its perplexity, and how much more likely it is
    than the same words in a shuffled order (the *contrast*, nats/token).

    Pieces are case-folded and shorter than any persona's word limit, so lowercase and "be
    brief" preferences do not read as damage, and the shuffled distractor has the very same
    words, case and length, so no style moves the contrast — only losing word order does
    (an adapter that taught word salad). Measured in the reply position because the learner's
    KL term holds plain-text perplexity in place whatever the adapter does to replies."""
    import random

    chunks = fluency_chunks(text if text is not None else GENERAL_TEXT.read_text(encoding="utf-8"))
    rng = random.Random(0)
    pairs = []
    for c in chunks:
        words = c.split()
        shuffled = words[:]
        while shuffled == words:
            rng.shuffle(shuffled)
        pairs.append((FLUENCY_PROMPT, [[c], [" ".join(shuffled)]]))
    prefix, segments = encode_pairs(tokenizer, pairs, system_prompt)
    was_training = model.training
    model.eval()
    try:
        scores = option_scores(model, prefix, segments)
    finally:
        model.train(was_training)
    n = max(1, len(scores))
    mean = sum(s[0] for s in scores) / n
    return {"n": len(scores), "mean_logprob": mean, "ppl": math.exp(-mean),
            "contrast": sum(s[0] - s[1] for s in scores) / n}


def compare(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Paired change from base to candidate: accuracy, mean margin, items lost and gained."""
    idx = new.get("indices")  # a first-stage result covers only these items
    base_margins = base["margins"] if idx is None else [base["margins"][i] for i in idx]
    pairs = list(zip(base_margins, new["margins"]))
    base_acc = base["accuracy"] if idx is None else sum(m > 0 for m in base_margins) / max(1, len(base_margins))
    base_margin = base["margin"] if idx is None else sum(base_margins) / max(1, len(base_margins))
    lost = sum(1 for b, c in pairs if b > 0 >= c)
    gained = sum(1 for b, c in pairs if c > 0 >= b)
    return {
        "base_accuracy": round(base_acc, 4), "accuracy": round(new["accuracy"], 4),
        "accuracy_delta": round(new["accuracy"] - base_acc, 4),
        "base_margin": round(base_margin, 4), "margin": round(new["margin"], 4),
        "margin_delta": round(new["margin"] - base_margin, 4),
        "lost": lost, "gained": gained, "n": new["n"], "stage": new.get("stage", 2),
    }
