"""Loss math against values computed by hand on small tensors."""

import math

import pytest
import torch

from openclaw_local.learn.losses import (
    binary_rl_advantages,
    clipped_surrogate_loss,
    combined_advantages,
    kl_to_base,
    masked_mean_per_reply,
    opd_advantages,
    spare_the_end,
)

torch.set_num_threads(1)


def _grad(logp, old, adv, mask, **kw):
    logp = logp.clone().requires_grad_(True)
    loss = clipped_surrogate_loss(logp, old, adv, mask, **kw)
    loss.backward()
    return loss, logp.grad


def test_ratio_one_loss_is_minus_mean_advantage_and_gradient_sign():
    old = torch.tensor([[-1.0, -2.0, -0.5]])
    mask = torch.ones(1, 3)
    adv = torch.tensor([[1.0, -1.0, 2.0]])
    loss, g = _grad(old, old, adv, mask)
    # ratio 1 everywhere: loss = -mean(A) = -(1 - 1 + 2)/3
    assert loss.item() == pytest.approx(-2.0 / 3.0)
    # d loss / d logp_t = -A_t * rho_t / |y| -> descent raises logp where A>0
    assert torch.allclose(g, torch.tensor([[-1 / 3, 1 / 3, -2 / 3]]))
    assert g[0, 0] < 0 and g[0, 1] > 0  # gradient descent: +A up, -A down


def test_clipping_both_sides_zeroes_gradient():
    old = torch.zeros(1, 4)
    # ratios: e^0.5=1.65 (> 1.28), e^-0.5=0.61 (< 0.8), and the unclipped direction
    logp = torch.tensor([[0.5, -0.5, 0.5, -0.5]])
    adv = torch.tensor([[1.0, -1.0, -1.0, 1.0]])
    mask = torch.ones(1, 4)
    loss, g = _grad(logp, old, adv, mask)
    r_hi, r_lo = math.exp(0.5), math.exp(-0.5)
    # token 0: A>0, rho>1.28 -> clipped value 1.28*1, no grad
    # token 1: A<0, rho<0.8 -> min(-0.61, -0.8) = -0.8 (clipped), no grad
    # token 2: A<0, rho=1.65 -> min(-1.65, -1.28) = -1.65 unclipped, grad
    # token 3: A>0, rho=0.61 -> min(0.61, 0.8) = 0.61 unclipped, grad
    expected = -(1.28 + -0.8 + -r_hi + r_lo) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert g[0, 0] == 0 and g[0, 1] == 0
    assert g[0, 2].item() == pytest.approx(r_hi / 4, rel=1e-5)  # -(-1)*rho/4, pushes logp down
    assert g[0, 3].item() == pytest.approx(-r_lo / 4, rel=1e-5)


def test_asymmetric_clip_bounds():
    old = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    adv = torch.tensor([[1.0, 1.0]])
    # rho = 1.25 is inside the high clip (1.28): still has gradient
    _, g = _grad(torch.tensor([[math.log(1.25), math.log(1.30)]]), old, adv, mask)
    assert g[0, 0] != 0 and g[0, 1] == 0
    # the low side clips at 0.8 for negative advantages
    _, g = _grad(torch.tensor([[math.log(0.85), math.log(0.75)]]), old, -adv, mask)
    assert g[0, 0] != 0 and g[0, 1] == 0


def test_mask_excludes_prompt_and_padding():
    old = torch.zeros(1, 5)
    logp = torch.tensor([[-3.0, -2.0, 0.0, 0.0, 9.0]])
    mask = torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0]])  # prompt, prompt, reply, reply, pad
    adv = torch.full((1, 5), 1.0)
    loss, g = _grad(logp, old, adv, mask)
    assert loss.item() == pytest.approx(-1.0)
    assert g[0, 0] == 0 and g[0, 1] == 0 and g[0, 4] == 0
    assert g[0, 2].item() == pytest.approx(-0.5)


def test_zero_advantage_zero_gradient():
    logp = torch.randn(2, 4)
    _, g = _grad(logp, logp - 0.1, torch.zeros(2, 4), torch.ones(2, 4))
    assert torch.count_nonzero(g) == 0


def test_token_mean_per_reply_then_mean_over_replies():
    old = torch.zeros(2, 4)
    mask = torch.tensor([[1.0, 0, 0, 0], [1.0, 1, 1, 1]])
    adv = torch.tensor([[2.0, 0, 0, 0], [1.0, 1, 1, 1]])
    loss, g = _grad(old, old, adv, mask)
    # reply 0: mean A = 2, reply 1: mean A = 1 -> loss = -(2 + 1)/2 (token mean would give -6/5)
    assert loss.item() == pytest.approx(-1.5)
    assert g[0, 0].item() == pytest.approx(-1.0)  # -2 / (1 token) / 2 replies
    assert g[1, 0].item() == pytest.approx(-0.125)  # -1 / 4 tokens / 2 replies
    assert masked_mean_per_reply(torch.tensor([[4.0, 9.0]]), torch.tensor([[1.0, 0.0]])).item() == 4.0


def test_advantages():
    mask = torch.tensor([[0.0, 1, 1], [0.0, 0, 1]])
    rewards = torch.tensor([1.0, -1.0])
    assert torch.equal(binary_rl_advantages(rewards, mask), torch.tensor([[0.0, 1, 1], [0.0, 0, -1]]))
    teacher = torch.tensor([[-1.0, -1.0, -2.0], [-5.0, -5.0, -1.0]])
    old = torch.tensor([[-3.0, -2.0, -1.0], [-1.0, -1.0, -3.0]])
    assert torch.equal(opd_advantages(teacher, old, mask), torch.tensor([[0.0, 1.0, -1.0], [0.0, 0.0, 2.0]]))

    # row 0: reward only; row 1: hint only (reward 0); row 2: both
    mask3 = torch.ones(3, 2)
    teacher3 = torch.tensor([[0.0, 0.0], [-1.0, -3.0], [-1.0, -1.0]])
    old3 = torch.tensor([[-9.0, -9.0], [-2.0, -2.0], [-2.0, -1.5]])
    a = combined_advantages(
        torch.tensor([1.0, 0.0, -1.0]), teacher3, old3, mask3, torch.tensor([False, True, True]), w_rl=1.0, w_opd=0.5
    )
    assert torch.allclose(a, torch.tensor([[1.0, 1.0], [0.5, -0.5], [-0.5, -0.75]]))


def test_kl_to_base_k3():
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    logp = torch.tensor([[-1.0, -2.0, 0.0]], requires_grad=True)
    base = torch.tensor([[-1.0, -1.0, -7.0]])
    kl = kl_to_base(logp, base, mask)
    # token 0: delta 0 -> 0; token 1: delta 1 -> e - 2
    assert kl.item() == pytest.approx((math.e - 2) / 2, rel=1e-6)
    kl.backward()
    assert logp.grad[0, 0] == 0 and logp.grad[0, 2] == 0
    assert logp.grad[0, 1] < 0  # raising logp toward the base lowers the KL


def test_correction_sft_loss_is_mean_negative_logp_of_corrections_only():
    from openclaw_local.learn.losses import correction_sft_loss

    logp = torch.tensor([[-1.0, -3.0, 0.0], [-2.0, -2.0, -2.0]], requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    is_correction = torch.tensor([True, False])
    loss = correction_sft_loss(logp, mask, is_correction)
    # reply 0: -(-1 - 3)/2 = 2; reply 1 not a correction; mean over 2 replies = 1
    assert torch.isclose(loss, torch.tensor(1.0))
    loss.backward()
    assert torch.allclose(logp.grad, torch.tensor([[-0.25, -0.25, 0.0], [0.0, 0.0, 0.0]]))


def test_general_text_kl_is_zero_at_the_base_and_pulls_towards_it():
    from openclaw_local.learn.losses import general_text_kl

    base = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    assert general_text_kl(base.clone(), base).item() == pytest.approx(0.0, abs=1e-7)
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, 0.0]], requires_grad=True)
    kl = general_text_kl(logits, base)
    p = torch.softmax(base, -1)
    expected = (p * (torch.log_softmax(base, -1) - torch.log_softmax(logits.detach(), -1))).sum(-1).mean()
    assert kl.item() == pytest.approx(expected.item(), rel=1e-6) and kl.item() > 0
    kl.backward()
    # d/dz KL = (softmax(z) - p_base) / T: the gradient step moves the logits towards the base
    assert torch.allclose(logits.grad, (torch.softmax(logits.detach(), -1) - p) / 2, atol=1e-6)


def test_a_rejected_reply_keeps_its_end_of_turn_marker_an_accepted_one_is_pushed_as_a_whole():
    """−1 pushes every token of the reply down except the end-of-turn marker (stopping is not what
    was rejected); +1 pushes all of it up, the marker included; the OPD term still moves the marker."""
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    end = torch.tensor([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    for reward, expect_end in ((-1.0, 0.0), (1.0, 1.0)):
        rewards = torch.tensor([reward, reward])
        adv = combined_advantages(rewards, torch.zeros(2, 4), torch.zeros(2, 4), mask, torch.tensor([False, False]),
                                  end_mask=end)
        assert adv[0, :2].tolist() == [reward, reward] and adv[0, 2].item() == expect_end and adv[0, 3].item() == 0.0
        assert adv[1, :3].tolist() == [reward] * 3 and adv[1, 3].item() == expect_end
    # without the end mask, the marker gets the reward like any token (the old behaviour, kept for measuring)
    adv = combined_advantages(torch.tensor([-1.0, -1.0]), torch.zeros(2, 4), torch.zeros(2, 4), mask,
                              torch.tensor([False, False]))
    assert adv[0, 2].item() == -1.0
    # a hint that makes stopping more likely still raises the marker of a rejected reply
    teacher = torch.tensor([[0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.5]])
    adv = combined_advantages(torch.tensor([-1.0, -1.0]), teacher, torch.zeros(2, 4), mask,
                              torch.tensor([True, True]), end_mask=end)
    assert adv[0, 2].item() == 0.5 and adv[1, 3].item() == 0.5
    assert spare_the_end(torch.ones(1, 2), torch.tensor([1.0]), torch.tensor([[0.0, 1.0]])).tolist() == [[1.0, 1.0]]
