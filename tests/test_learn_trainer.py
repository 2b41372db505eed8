"""One real update moves log-probs the right way (tiny models and the embedded model)."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from openclaw_local.learn.trainable import attach_lora, load_base_model, load_tokenizer
from openclaw_local.learn.trainer import (
    HINT_LABEL,
    TrainConfig,
    TrainItem,
    encode_item,
    load_optimizer_state,
    make_optimizer,
    reply_logprobs,
    save_optimizer_state,
    train_update,
    with_hint,
)
from openclaw_local.thinking import strip_thinking
from tests.threads import THREADS

torch.set_num_threads(THREADS)  # one per xdist worker on a shared machine (tests/threads.py)

GOOD = TrainItem(
    prompt_messages=[{"role": "user", "content": "What day is the meeting?"}],
    reply="The meeting is on Tuesday.",
    reward=1,
)
BAD = TrainItem(
    prompt_messages=[{"role": "user", "content": "Give me a fruit."}],
    reply="Bananas bananas bananas!",
    reward=-1,
)


def _mean_logp(model, tokenizer, item):
    enc = encode_item(tokenizer, item)
    model.eval()
    with torch.no_grad():
        logp, mask, _ = reply_logprobs(model, [enc.prompt_ids], [enc.reply_ids], tokenizer.pad_token_id)
    return float(logp[mask.bool()].mean())


def _lora_state(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def _check_update(model, tokenizer, lr):
    before = {k: _mean_logp(model, tokenizer, it) for k, it in (("good", GOOD), ("bad", BAD))}
    weights = _lora_state(model)
    seen = []
    m = train_update(
        model, tokenizer, [GOOD, BAD], TrainConfig(lr=lr, batch_size=2, micro_batch_size=2),
        progress=lambda step, total, loss: seen.append((step, total, loss)),
    )
    after = {k: _mean_logp(model, tokenizer, it) for k, it in (("good", GOOD), ("bad", BAD))}
    changed = [n for n, p in _lora_state(model).items() if not torch.equal(p, weights[n])]
    print(f"\nbefore {before} after {after} metrics {asdict(m)}")
    assert changed, "the adapter did not change"
    assert after["good"] > before["good"]
    assert after["bad"] < before["bad"]
    assert m.steps == 1 and seen == [(1, 1, pytest.approx(m.loss))]
    # ratio 1: loss = -(mean A) over the two replies; the rejected reply's end-of-turn marker gets no
    # RL push (losses.spare_the_end), so its mean advantage is -(1 - its marker's share of its tokens)
    bad = encode_item(tokenizer, BAD)
    assert bad.end_tokens >= 1 and bad.reply_ids[-bad.end_tokens:] == encode_item(tokenizer, GOOD).reply_ids[-bad.end_tokens:]
    spared = bad.end_tokens / len(bad.reply_ids)
    assert m.loss == pytest.approx(-(1 - (1 - spared)) / 2, abs=1e-5)
    assert m.n_items == 2 and m.mean_reward == 0.0 and m.n_tokens > 10 and m.tokens_per_s > 0
    return m


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_one_update_tiny(arch, tiny_hf_dirs):
    d = tiny_hf_dirs[arch]
    model = attach_lora(load_base_model(d, torch.device("cpu")), rank=8, alpha=16)
    _check_update(model, load_tokenizer(d), lr=1e-2)


def test_one_update_embedded(embedded_hf_dir):
    model = attach_lora(load_base_model(embedded_hf_dir, torch.device("cpu")), rank=16, alpha=32)
    _check_update(model, load_tokenizer(embedded_hf_dir), lr=1e-3)


def test_hint_only_item_uses_opd_and_optimizer_state_roundtrip(tiny_hf_dirs, tmp_path):
    d = tiny_hf_dirs["qwen3"]
    tok = load_tokenizer(d)
    model = attach_lora(load_base_model(d, torch.device("cpu")), rank=4, alpha=8)
    opt = make_optimizer(model, 1e-3)
    item = TrainItem(
        prompt_messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "List fruits"}],
        reply="<think>the user wants fruit</think>\n\n- apple\n- pear",
        hint="The user wants no bullet lists.",
    )
    enc = encode_item(tok, item)
    assert tok.decode(enc.reply_ids).startswith("- apple") and "think" not in tok.decode(enc.reply_ids)
    assert HINT_LABEL in tok.decode(enc.teacher_prompt_ids) and len(enc.teacher_prompt_ids) > len(enc.prompt_ids)
    skipped = TrainItem(prompt_messages=[{"role": "user", "content": "x"}], reply="y")  # no signal
    m = train_update(model, tok, [item, skipped], TrainConfig(lr=1e-3, passes=2), optimizer=opt)
    assert m.n_items == 1 and m.skipped == 1 and m.n_hinted == 1 and m.n_rewarded == 0
    assert m.steps == 2 and m.mean_opd_advantage != 0.0
    save_optimizer_state(opt, tmp_path / "opt.pt")
    fresh = make_optimizer(model, 1e-3)
    assert load_optimizer_state(fresh, tmp_path / "opt.pt")
    assert fresh.state_dict()["state"][0]["step"] == 2
    assert not load_optimizer_state(fresh, tmp_path / "missing.pt")


def test_text_helpers():
    assert strip_thinking("<think>\nhmm\n</think>\n\nHello") == "Hello"
    assert strip_thinking("Hi <think>unfinished") == "Hi"
    msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    out = with_hint(msgs, " be short ")
    assert out[2]["content"] == f"c\n\n{HINT_LABEL}\nbe short" and msgs[2]["content"] == "c"
    assert out[0]["content"] == "a"


def test_general_text_kl_term_holds_plain_text_near_the_base(embedded_hf_dir):
    """With ``w_general`` the same update leaves the model closer to the base on plain text (real model)."""
    from openclaw_local.learn.losses import general_text_kl

    d = embedded_hf_dir
    tok = load_tokenizer(d)
    text = "The river town wakes slowly in autumn. A baker carries bread to the window, and pigeons wait. " * 3
    general = tok(text, add_special_tokens=False)["input_ids"]
    x = torch.tensor([general])
    corrected = TrainItem(prompt_messages=GOOD.prompt_messages, reply="Tuesday! Tuesday! Tuesday!", reward=1,
                          kind="correction")
    kl_after = {}
    for w in (0.0, 1.0):
        torch.manual_seed(0)
        model = attach_lora(load_base_model(d, torch.device("cpu")), rank=16, alpha=32)
        cfg = TrainConfig(lr=2e-3, passes=4, batch_size=2, w_sft=1.0, w_general=w, general_tokens=len(general))
        m = train_update(model, tok, [corrected, BAD], cfg, general_ids=general)
        assert (m.general_kl > 0) == (w > 0)
        model.eval()
        with torch.no_grad():
            with model.disable_adapter():
                base_logits = model(input_ids=x).logits[0]
            kl_after[w] = float(general_text_kl(model(input_ids=x).logits[0], base_logits))
    print(f"\nKL to the base on plain text after the update: {kl_after}")
    assert 0 < kl_after[1.0] < kl_after[0.0]
