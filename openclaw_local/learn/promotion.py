"""The promotion gate: may a freshly trained adapter version be served?

It guards what a user would lose — general ability — and lets style through: an adapter
that makes replies lowercase, short, unformatted or signed is the personalization
working, not damage. A version is promoted only if all of these pass:

1. **finite** — every LoRA weight is finite (a NaN/inf adapter would make llama.cpp emit
   garbage or nothing).
2. **ability** — on ``assets/ability_set.jsonl`` (general tasks with checkable answers,
   never trained on; ``learn/ability.py``), scored by ranking each item's right answer
   against three distractors in the same style, case-folded and length-normalized: the
   fraction of items answered may fall at most ``max_accuracy_drop`` below the base
   model's and the mean margin at most ``max_margin_drop``. The base's results are
   computed once per base model and cached. Both thresholds come from the measured noise
   of the check (docs/METHOD.md, "Promotion gate").
3. **feedback** — the update must not turn against the user's own feedback. On a slice of
   recent feedback (the replies this update held out, plus the most recent feedback earlier
   updates already trained on; with a single-sample update and nothing earlier, that sample
   itself, marked ``in_sample``), the gate measures the mean per-token log-prob of *accepted*
   replies (rated up, judged positive, the user's corrected text) and of *rejected* ones
   (rated down, judged negative, the original of a correction) under the parent and the
   candidate, and judges them **jointly**:
   ``margin = Δ_accepted − Δ_rejected`` with
   ``Δ_k = mean_i mean_t log π_new(y_it | x_i) − mean_i mean_t log π_parent(y_it | x_i)`` —
   how much more the candidate prefers accepted over rejected replies than the parent does.
   A style shift (lowercase, a sign-off, brevity) moves a capitalised accepted reply and a
   capitalised rejected one alike, so it cancels; an update that learned the opposite of the
   feedback does not. The candidate is refused when ``margin < min_feedback_margin`` (the
   measured noise, docs/METHOD.md). A slice with only one kind of reply cannot be judged
   jointly: its one-sided Δ is reported and refuses only a broken model (beyond
   ``max_one_sided_drop``).
4. **fluency of replies** — ordinary prose (``assets/general_text.txt``, case-folded, 20-word
   pieces) scored *as the assistant's reply* against the same words shuffled
   (``ability.reply_fluency``): the contrast (nats/token) may fall at most
   ``max_fluency_drop`` below the base's. Same words, same case, same length: no style moves
   it; an adapter that taught word salad does. Measured in the reply position because the
   learner's KL term holds plain-text perplexity in place whatever an adapter does to replies
   (bench: +1.3 % to +1.7 % plain-text perplexity for the shuffled-words adapter, contrast −0.72).
5. **generated replies** — the candidate and the base answer a few general prompts greedily
   (``learn/reply_check.py``): refused when its replies loop (repeated 4-word phrases) or no
   longer end within the cap while growing longer — the damage no fixed-text check sees.
6. **general text, information** — perplexity of the case-folded corpus as plain text
   (``ppl = exp(−mean_t log π(w_t | w_<t))`` over the first ``max_tokens`` tokens) is reported
   next to the ability score; it refuses only beyond ``max_ppl_ratio`` × the base's (a broken
   model). Case-folded, style adapters move it by −0.1 % to +3.3 % (bench).

Measured with torch on the learner's own trainable model (fp32 dequantized copy of
the served GGUF), not with llama.cpp: the learner process already holds that model,
the parent is measured on it just before the update and the base by disabling the
adapter, so the gate costs a few forward passes and no second model load in a process
that must stay small. The parity tests (``test_learn_convert``) show the converted
adapter changes llama.cpp log-probs like torch's (corr ≥ 0.95 on the Q4_1 embedded
model), so the decision carries over to what is served.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from openclaw_local.records import TrainItem

GENERAL_TEXT = Path(__file__).resolve().parents[2] / "assets" / "general_text.txt"


@dataclass
class GateConfig:
    # thresholds measured in docs/METHOD.md ("Promotion gate"): noise of harmless adapters × margin
    max_accuracy_drop: float = 0.06  # ability-set items answered (fraction) below the base's; style: −4.4 pts worst
    max_margin_drop: float = 1.0  # mean answer margin (nats/token): information, refuses only a broken model
    max_fluency_drop: float = 0.3  # reply fluency contrast (nats/token) below the base's; style: never fell
    max_ppl_ratio: float = 1.5  # case-folded general-text perplexity: only a broken model exceeds this
    # feedback (nats/token), judged jointly: margin = Δ accepted − Δ rejected (docs/METHOD.md, noise of
    # harmless adapters on feedback they were not trained on); one-sided slices only refuse a broken model
    min_feedback_margin: float = -0.25
    max_one_sided_drop: float = 1.0
    # generated replies (learn/reply_check.py): the candidate's greedy replies to a few general prompts
    replies: bool = True
    reply_tokens: int = 96  # the cap of each generated reply
    max_repetition_rise: float = 0.15  # mean share of repeated 4-word phrases above the base's
    max_unended_rise: float = 0.34  # share of replies that no longer end within the cap (2 of 6 prompts), when longer
    sequential: bool = True  # score a fixed half of the ability set first; the rest only when it could matter
    max_tokens: int = 512  # general-text tokens scored: one forward pass (fast on a 2-core CPU)
    window: int = 512

    @classmethod
    def from_settings(cls, settings: Any) -> "GateConfig":
        """The one Settings -> GateConfig mapping, used wherever a gate is measured.

        No gate setting exists: every field is a measured default (``INTERNAL_FIELDS``), so this
        maps nothing today; a gate setting added to ``config.Settings`` is mapped here and listed in
        ``SETTING_FOR_FIELD`` (tests/test_train_config_mapping.py checks both lists).
        """
        return cls(**{name: getattr(settings, setting) for name, setting in SETTING_FOR_FIELD.items()})


# Which setting feeds each GateConfig field (none yet), and the fields that have none on purpose.
SETTING_FOR_FIELD: dict[str, str] = {}
INTERNAL_FIELDS: frozenset[str] = frozenset({
    "max_accuracy_drop", "max_margin_drop", "max_fluency_drop",  # ability limits, from measured noise
    "max_ppl_ratio", "min_feedback_margin", "max_one_sided_drop",  # the promotion rule (module docstring)
    "replies", "reply_tokens", "max_repetition_rise", "max_unended_rise",  # generated replies, from measured noise
    "sequential", "max_tokens", "window",  # cost: a first-stage half of the ability set; one forward pass: one forward pass on a 2-core CPU
})


def general_text(path: Path | None = None) -> str:
    """The general corpus, case-folded: what the perplexity check reads (style-blind to case)."""
    return Path(path or GENERAL_TEXT).read_text(encoding="utf-8").casefold()


def lora_nonfinite(model: Any) -> list[str]:
    """Names of LoRA parameters holding NaN or inf (empty: all finite)."""
    bad = []
    for name, p in model.named_parameters():
        if "lora_" in name and not torch.isfinite(p.detach()).all():
            bad.append(name)
    return bad


@torch.no_grad()
def perplexity(model: Any, tokenizer: Any, text: str, *, max_tokens: int = 512, window: int = 512) -> float:
    """exp(mean NLL) of ``text``'s first ``max_tokens`` tokens, in independent windows."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, window):
        chunk = ids[start : start + window]
        if len(chunk) < 2:
            break
        x = torch.tensor([chunk], device=device)
        logits = model(input_ids=x).logits[0, :-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, x[0, 1:, None]).squeeze(-1)
        total += float(-logp.sum())
        count += len(chunk) - 1
    return math.exp(total / max(1, count))


@torch.no_grad()
def mean_logprobs(model: Any, tokenizer: Any, items: Sequence[TrainItem], max_seq_len: int = 1024) -> list[float]:
    """Mean per-token log-prob of each item's ``reply`` given its ``prompt_messages`` (trainer encoding)."""
    from openclaw_local.learn.trainer import encode_item, reply_logprobs

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = []
    for item in items:
        # the student's context only: no hint, no teacher context
        enc = encode_item(tokenizer, TrainItem(prompt_messages=item.prompt_messages, reply=item.reply), max_seq_len)
        logp, mask, _ = reply_logprobs(model, [enc.prompt_ids], [enc.reply_ids], pad)
        out.append(float((logp * mask).sum() / mask.sum()))
    return out


def split_feedback(items: Sequence[TrainItem]) -> tuple[list[TrainItem], list[TrainItem]]:
    """(accepted, rejected) items: reward +1 (incl. corrections) vs reward −1."""
    accepted = [i for i in items if i.reward == 1]
    rejected = [i for i in items if i.reward == -1]
    return accepted, rejected


def measure(model: Any, tokenizer: Any, heldout: Sequence[TrainItem], config: GateConfig,
            text: str | None = None, *, ppl: bool = True, system_prompt: str | None = None,
            base_ability: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the gate needs from one model state: held-out log-probs, (optionally) general
    perplexity, and (when ``system_prompt`` is given) the ability results — scored sequentially
    (``ability.measure_sequential``) when the base's are given and ``config.sequential``."""
    accepted, rejected = split_feedback(heldout)
    out: dict[str, Any] = {
        "accepted": mean_logprobs(model, tokenizer, accepted),
        "rejected": mean_logprobs(model, tokenizer, rejected),
    }
    if ppl:
        out["ppl"] = perplexity(model, tokenizer, general_text() if text is None else text,
                                max_tokens=config.max_tokens, window=config.window)
    if system_prompt is not None:
        from openclaw_local.learn import ability

        if base_ability is not None and config.sequential:
            out["ability"] = ability.measure_sequential(model, tokenizer, system_prompt, base_ability,
                                                        config.max_accuracy_drop)
        else:
            out["ability"] = ability.measure(model, tokenizer, system_prompt)
        out["fluency"] = ability.reply_fluency(model, tokenizer, system_prompt)
        if config.replies:
            from openclaw_local.learn import reply_check

            out["replies"] = reply_check.measure(model, tokenizer, system_prompt, max_new_tokens=config.reply_tokens)
    return out


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def decide(parent: dict[str, Any], new: dict[str, Any], base: dict[str, Any] | float, nonfinite: list[str],
           config: GateConfig | None = None) -> tuple[bool, str | None, dict[str, Any]]:
    """Apply the checks. ``base`` holds the base model's ``ppl`` and ``ability`` (a bare
    number is read as the base perplexity). Returns (passed, reason or None, results)."""
    config = config or GateConfig()
    base = base if isinstance(base, dict) else {"ppl": base}
    reasons: list[str] = []
    results: dict[str, Any] = {"finite": not nonfinite}
    if nonfinite:
        reasons.append(f"{len(nonfinite)} LoRA tensors hold NaN/inf (e.g. {nonfinite[0]})")
    if new.get("ability") and base.get("ability"):
        from openclaw_local.learn.ability import compare

        ab = compare(base["ability"], new["ability"])
        early = new["ability"].get("early")  # a sequential first stage that settled the whole-set rule
        acc_ok = early == "pass" if early else ab["accuracy_delta"] >= -config.max_accuracy_drop
        margin_ok = ab["margin_delta"] >= -config.max_margin_drop
        ab.update(max_accuracy_drop=config.max_accuracy_drop, max_margin_drop=config.max_margin_drop,
                  ok=acc_ok and margin_ok)
        results["ability"] = ab
        if not acc_ok:
            part = f" on the first {ab['n']} items" if early else ""
            reasons.append(f"it answers fewer general questions right{part}: {ab['accuracy'] * 100:.0f}% vs "
                           f"{ab['base_accuracy'] * 100:.0f}% for the base model ({ab['lost']} lost, "
                           f"limit −{config.max_accuracy_drop * 100:.0f} points)")
        elif not margin_ok:
            reasons.append(f"it is less sure of the right answers to general questions: margin "
                           f"{ab['margin_delta']:+.3f} vs the base model (limit −{config.max_margin_drop:.2f})")
    if new.get("fluency") and base.get("fluency"):
        b_c, n_c = base["fluency"]["contrast"], new["fluency"]["contrast"]
        ok = n_c - b_c >= -config.max_fluency_drop
        results["fluency"] = {"base_contrast": round(b_c, 4), "contrast": round(n_c, 4), "delta": round(n_c - b_c, 4),
                              "reply_ppl_ratio": round(new["fluency"]["ppl"] / base["fluency"]["ppl"], 4),
                              "max_drop": config.max_fluency_drop, "ok": ok}
        if not ok:
            reasons.append(f"its replies lose word order: ordinary prose is {n_c:.2f} nats/token more likely than "
                           f"the same words shuffled, vs {b_c:.2f} for the base model (limit −{config.max_fluency_drop})")
    if new.get("replies") and base.get("replies"):
        from openclaw_local.learn import reply_check

        ok, reason, results["replies"] = reply_check.compare(
            base["replies"], new["replies"], max_repetition_rise=config.max_repetition_rise,
            max_unended_rise=config.max_unended_rise, cap=config.reply_tokens)
        if not ok:
            reasons.append(reason)
    reasons += _feedback(parent, new, config, results)
    ppl, base_ppl = new.get("ppl"), base.get("ppl")
    if ppl is not None and base_ppl is not None and math.isfinite(base_ppl) and base_ppl > 0:
        ratio = ppl / base_ppl if math.isfinite(ppl) else float("inf")
        ok = ratio <= config.max_ppl_ratio
        results["general"] = {"base_ppl": round(base_ppl, 4), "ppl": round(ppl, 4) if math.isfinite(ppl) else None,
                              "ratio": round(ratio, 4) if math.isfinite(ratio) else None,
                              "max_ratio": config.max_ppl_ratio, "case_folded": True, "ok": ok}
        if not ok:
            pct = (ratio - 1) * 100 if math.isfinite(ratio) else float("inf")
            reasons.append(f"general-text perplexity {pct:+.1f}% vs base (limit +{(config.max_ppl_ratio - 1) * 100:.0f}%)")
    results["passed"] = not reasons
    return not reasons, "; ".join(reasons) or None, results


def _feedback(parent: dict[str, Any], new: dict[str, Any], config: GateConfig, results: dict[str, Any]) -> list[str]:
    """The joint feedback check (module docstring, 3.): fills ``results`` and returns refusal reasons."""
    deltas: dict[str, float] = {}
    for key in ("accepted", "rejected"):
        before, after = _mean(parent.get(key) or []), _mean(new.get(key) or [])
        if before is None or after is None:
            results[key] = {"n": 0, "skipped": "no held-out replies of this kind"}
            continue
        deltas[key] = after - before
        results[key] = {"n": len(new[key]), "parent": round(before, 4), "new": round(after, 4),
                        "delta": round(after - before, 4), "ok": True}
    if not deltas:
        results["feedback"] = {"skipped": "no feedback replies to check"}
        return []
    if len(deltas) == 2:
        margin = deltas["accepted"] - deltas["rejected"]
        ok = margin >= config.min_feedback_margin
        results["feedback"] = {"margin": round(margin, 4), "min_margin": config.min_feedback_margin, "ok": ok}
        if ok:
            return []
        return [f"it turned against your feedback: it prefers the replies you accepted over those you rejected "
                f"{-margin:.2f} nats/token less than the version before it (limit {config.min_feedback_margin:+.2f})"]
    (key, delta), = deltas.items()
    signed = delta if key == "accepted" else -delta  # what a harmful move lowers
    ok = signed >= -config.max_one_sided_drop
    results[key]["ok"] = ok
    results["feedback"] = {"one_sided": key, "delta": round(delta, 4), "max_drop": config.max_one_sided_drop, "ok": ok}
    if ok:
        return []
    what = "replies you accepted became much less likely" if key == "accepted" else \
        "replies you rejected became much more likely"
    return [f"{what} ({delta:+.2f} nats/token; with no {'rejected' if key == 'accepted' else 'accepted'} reply "
            f"to compare, only a move beyond {config.max_one_sided_drop:.1f} refuses)"]
