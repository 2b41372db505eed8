"""Rehearsal items: the base model's own answers, drawn per update; never the gate's ability set."""

from __future__ import annotations

from openclaw_local.learn import ability, rehearsal


def test_the_rehearsal_questions_are_not_the_gates_ability_questions():
    prompts = rehearsal.load_prompts()
    assert len(prompts) >= 16 and len(set(prompts)) == len(prompts)
    asked = {i["question"].casefold() for i in ability.load_set()}
    assert not asked & {p.casefold() for p in prompts}


def test_items_are_a_seeded_draw_of_known_good_replies_and_skip_empty_answers():
    prompts = [f"q{i}" for i in range(6)]
    answers = [{"text": t, "ended": True} for t in ("a0", "", "a2", "a3", "a4", "a5")]
    one = rehearsal.items(prompts, answers, "sys", 3, seed=1)
    assert one == rehearsal.items(prompts, answers, "sys", 3, seed=1)  # reproducible
    assert len(one) == 3 and all(i.reply for i in one)
    assert all(i.kind == "correction" and i.reward == 1 and i.hint is None for i in one)
    assert one[0].prompt_messages[0] == {"role": "system", "content": "sys"}
    assert len(rehearsal.items(prompts, answers, "sys", 50, seed=2)) == 5  # never more than there are
    draws = {tuple(i.reply for i in rehearsal.items(prompts, answers, "sys", 3, seed=s)) for s in range(8)}
    assert len(draws) > 1  # updates rehearse different questions


def test_base_answers_come_from_the_model_with_its_adapter_switched_off(tiny_hf_dirs):
    import torch

    from openclaw_local.learn.trainable import attach_lora, load_base_model, load_tokenizer

    model_dir = next(iter(tiny_hf_dirs.values()))
    tokenizer = load_tokenizer(model_dir)
    model = attach_lora(load_base_model(model_dir, torch.device("cpu"), False), rank=4, alpha=8)
    before = rehearsal.base_answers(model, tokenizer, "You are helpful.", ["Hi?", "Why?"], max_new_tokens=6)
    with torch.no_grad():  # an adapter that changes everything
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.add_(torch.randn_like(param))
    after = rehearsal.base_answers(model, tokenizer, "You are helpful.", ["Hi?", "Why?"], max_new_tokens=6)
    assert len(before) == 2 and before == after and model.training
    assert all(isinstance(a["text"], str) and isinstance(a["ended"], bool) for a in before)


def test_a_cut_answer_is_trained_without_an_end_of_turn_marker(tiny_hf_dirs):
    from openclaw_local.learn.trainable import load_tokenizer
    from openclaw_local.learn.trainer import encode_item

    tok = load_tokenizer(tiny_hf_dirs["llama"])
    answers = [{"text": "The sea is wide and", "ended": False}, {"text": "The sea is wide.", "ended": True}]
    cut, whole = sorted(rehearsal.items(["q0", "q1"], answers, "sys", 2, seed=0), key=lambda i: i.ended)
    assert (cut.ended, whole.ended) == (False, True)
    enc_cut, enc_whole = encode_item(tok, cut), encode_item(tok, whole)
    assert enc_cut.end_tokens == 0 and enc_whole.end_tokens > 0
    assert not tok.decode(enc_cut.reply_ids).rstrip().endswith(tok.decode(enc_whole.reply_ids[-enc_whole.end_tokens:]).rstrip())
