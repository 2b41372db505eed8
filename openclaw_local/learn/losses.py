"""Loss math for learning from next-state signals (docs/METHOD.md, "Two learning signals, one update").

Pure functions on tensors shaped ``(batch, T)``: one row per reply, one column per
token position. ``mask`` is 1 on the reply's tokens and 0 on prompt tokens and
padding, so prompt tokens never contribute. Notation (as in docs/METHOD.md and trl):

- ``logp``      log π(y_t | x, y_<t) under the policy being trained (with grad)
- ``old_logp``  log π_old(y_t | x, y_<t), recomputed before the update (no grad)
- ``teacher_logp`` log π_teacher(y_t | x + hint, y_<t) (no grad)
- ``A_t``       token advantage
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "masked_mean_per_reply",
    "clipped_surrogate_loss",
    "binary_rl_advantages",
    "opd_advantages",
    "combined_advantages",
    "kl_to_base",
    "general_text_kl",
    "clip_fraction",
]


def masked_mean_per_reply(values: Tensor, mask: Tensor) -> Tensor:
    r"""Mean of ``values`` over each reply's tokens, then over replies.

    .. math::
        \bar{v} = \frac{1}{B} \sum_{i=1}^{B} \frac{1}{|y^i|} \sum_{t \in y^i} v_{i,t}

    Every reply weighs the same regardless of its length (docs/METHOD.md: "averaged over
    the reply's tokens, then over replies"). Rows with no reply token count as zero.
    """
    mask = mask.to(values.dtype)
    per_reply = (values * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
    return per_reply.mean()


def clipped_surrogate_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
) -> Tensor:
    r"""PPO clipped surrogate with an asymmetric clip (docs/METHOD.md, "Binary RL").

    .. math::
        \rho_t = \exp(\log\pi(y_t) - \log\pi_{old}(y_t))

        \ell_t = -\min\big(\rho_t A_t,\; \mathrm{clip}(\rho_t, 1-\epsilon_{low}, 1+\epsilon_{high}) A_t\big)

        \mathcal{L} = \frac{1}{B}\sum_i \frac{1}{|y^i|}\sum_{t\in y^i} \ell_{i,t}

    with :math:`\epsilon_{low}=0.2`, :math:`\epsilon_{high}=0.28`. Where the clipped
    branch is the minimum (ρ beyond the clip in the advantage's direction) the token
    gets no gradient. ``old_logp`` and ``advantages`` are treated as constants.
    """
    ratio = torch.exp(logp - old_logp.detach())
    adv = advantages.detach()
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    return masked_mean_per_reply(per_token, mask)


def clip_fraction(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor,
                  clip_low: float = 0.2, clip_high: float = 0.28) -> float:
    """Share of reply tokens whose gradient the clip removes (a diagnostic)."""
    ratio = torch.exp(logp.detach() - old_logp.detach())
    clipped = ((ratio > 1 + clip_high) & (advantages > 0)) | ((ratio < 1 - clip_low) & (advantages < 0))
    m = mask.bool()
    return float(clipped[m].float().mean()) if m.any() else 0.0


def binary_rl_advantages(rewards: Tensor, mask: Tensor) -> Tensor:
    r"""Binary-RL advantage: the reply's scalar reward on every reply token.

    .. math::
        A_{i,t} = r_i \quad (t \in y^i), \qquad A_{i,t} = 0 \text{ elsewhere}

    ``rewards`` has shape ``(batch,)`` with values in {+1, -1} (0 = no reward).
    """
    return rewards.to(mask.dtype if mask.is_floating_point() else torch.float32)[:, None] * mask


def spare_the_end(rl: Tensor, rewards: Tensor, end_mask: Tensor) -> Tensor:
    r"""The binary-RL advantage with a rejected reply's end-of-turn marker left alone.

    .. math::
        A_{i,t} = r_i \cdot \mathbb{1}[\, r_i > 0 \;\lor\; y_t \notin \text{end of turn} \,]

    A −1 verdict says the reply was wrong, not that it should not have stopped. Pushing the
    marker's log-prob down on every rejected reply teaches the model not to stop where it did,
    and for a user who only complains (−1 verdicts with no accepted reply to pull the other way)
    every update makes replies longer, until they run to the token limit. An accepted reply keeps
    its marker: stopping where it stopped is part of what was accepted. ``end_mask`` is 1 on the
    reply tokens that are the template's end-of-turn marker.
    """
    spare = (rewards.to(rl.device)[:, None] < 0) & end_mask.bool()
    return rl.masked_fill(spare, 0.0)


def opd_advantages(teacher_logp: Tensor, old_logp: Tensor, mask: Tensor) -> Tensor:
    r"""Hindsight on-policy distillation advantage (docs/METHOD.md, "OPD").

    .. math::
        A_{i,t} = \log\pi_{teacher}(y_t \mid x + \text{hint}, y_{<t}) - \log\pi_{old}(y_t \mid x, y_{<t})

    on reply tokens, 0 elsewhere: tokens the hint makes more likely are pushed up,
    tokens it makes less likely are pushed down.
    """
    return (teacher_logp.detach() - old_logp.detach()) * mask


def combined_advantages(
    rewards: Tensor,
    teacher_logp: Tensor,
    old_logp: Tensor,
    mask: Tensor,
    has_hint: Tensor,
    w_rl: float = 1.0,
    w_opd: float = 1.0,
    end_mask: Tensor | None = None,
) -> Tensor:
    r"""Combined advantage (docs/METHOD.md, "Combined").

    .. math::
        A_{i,t} = w_{rl}\, r_i + w_{opd}\, \mathbb{1}[\text{hint}_i]\,(\log\pi_{teacher}(y_t) - \log\pi_{old}(y_t))

    A reply with only a reward (``rewards[i]`` = ±1, no hint) gets the RL term, one
    with only a hint (``rewards[i]`` = 0) the OPD term, one with both the sum.
    ``teacher_logp`` is ignored on rows where ``has_hint`` is false. With ``end_mask`` (the
    end-of-turn marker's tokens), a rejected reply's marker gets no RL term (:func:`spare_the_end`);
    the OPD term still moves it when a hint asks for a longer or shorter reply.
    """
    rl = binary_rl_advantages(rewards, mask)
    if end_mask is not None:
        rl = spare_the_end(rl, rewards, end_mask)
    hint = has_hint.to(rl.dtype)[:, None]
    opd = torch.where(hint.bool(), opd_advantages(teacher_logp, old_logp, mask), torch.zeros_like(rl))
    return w_rl * rl + w_opd * opd


def kl_to_base(logp: Tensor, base_logp: Tensor, mask: Tensor) -> Tensor:
    r"""KL(π ‖ π_base) estimate on the sampled reply tokens (Schulman's k3 estimator).

    .. math::
        \delta_t = \log\pi_{base}(y_t) - \log\pi(y_t), \qquad
        k3_t = e^{\delta_t} - \delta_t - 1 \;\ge 0

    averaged over reply tokens then replies. Unbiased for KL when y is sampled from
    π and always non-negative. Its weight defaults to 0 (docs/METHOD.md: only the general-text KL is on).
    """
    delta = base_logp.detach() - logp
    return masked_mean_per_reply(torch.exp(delta) - delta - 1.0, mask)


def correction_sft_loss(logp: Tensor, mask: Tensor, is_correction: Tensor) -> Tensor:
    r"""Plain imitation of the user's corrected replies, next to the clipped surrogate.

    .. math::
        \mathcal{L}_{sft} = \frac{1}{B} \sum_{i=1}^{B} c_i \cdot
            \left(-\frac{1}{|y^i|} \sum_{t \in y^i} \log \pi(y^i_t \mid x^i, y^i_{<t})\right)

    with :math:`c_i = 1` for a correction item, else 0. A correction is a known-good reply
    (docs/METHOD.md, "Corrections, imitated"); as a +1 sample alone its ratio is clipped at 1 + 0.28 per
    update, which is too slow to learn fixed wording ("Hi there!") — measured in
    docs/PERSONALIZATION.md. This term is unclipped; the promotion gate guards general ability.
    """
    mask = mask.to(logp.dtype)
    per_reply = -(logp * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
    return (per_reply * is_correction.to(logp.dtype)).mean()


def general_text_kl(logits: Tensor, base_logits: Tensor) -> Tensor:
    r"""KL(π_base ‖ π) over the whole vocabulary on plain (non-chat) text, per position.

    .. math::
        \mathcal{L}_{gen} = \frac{1}{T} \sum_{t=1}^{T} \sum_{v}
            \pi_{base}(v \mid w_{<t}) \left[\log \pi_{base}(v \mid w_{<t}) - \log \pi(v \mid w_{<t})\right]

    A replay regularizer (continual-learning style, as in distillation from the
    frozen model): the adapter may change how the model answers this user, but on
    ordinary prose it should predict like the base model. The forward KL (base
    as the target distribution) is the cross-entropy to the base's soft labels minus
    its constant entropy, so it is zero exactly when the two agree everywhere.
    ``logits``/``base_logits``: ``(T, V)`` or ``(B, T, V)``; the base is not differentiated.
    """
    base_logp = torch.log_softmax(base_logits.detach().float(), -1)
    logp = torch.log_softmax(logits.float(), -1)
    return (base_logp.exp() * (base_logp - logp)).sum(-1).mean()
