"""Items trained under other system messages: the student's context changes, the teacher's does not."""

from __future__ import annotations

from openclaw_local.learn import system_variants as sv
from openclaw_local.records import TrainItem

OURS = {"role": "system", "content": "You are openclaw."}


def item(message_id: int | None = 1, hint: str | None = None, teacher=None) -> TrainItem:
    return TrainItem(prompt_messages=[OURS, {"role": "user", "content": f"q{message_id}"}], reply="a",
                     reward=-1, hint=hint, teacher_messages=teacher, message_id=message_id)


def test_with_system_replaces_or_removes_the_system_message_only():
    it = item()
    swapped = sv.with_system(it, "You are a helpful assistant.")
    assert swapped.prompt_messages == [{"role": "system", "content": "You are a helpful assistant."},
                                       {"role": "user", "content": "q1"}]
    assert sv.with_system(it, None).prompt_messages == [{"role": "user", "content": "q1"}]
    assert (swapped.reply, swapped.reward, swapped.message_id) == ("a", -1, 1)
    assert swapped.teacher_messages is None and not swapped.has_teacher  # no hint: no teacher is made up
    assert it.prompt_messages[0] == OURS  # the original is untouched


def test_a_hinted_item_keeps_its_own_context_as_the_teacher():
    hinted = sv.with_system(item(hint="Make it shorter."), None)
    assert hinted.prompt_messages[0]["role"] == "user"
    assert hinted.teacher_messages == [OURS, {"role": "user", "content": "q1"}]
    prefs = [{"role": "system", "content": "You are openclaw.\nPreferences: be brief."}, {"role": "user", "content": "q1"}]
    kept = sv.with_system(item(teacher=prefs), "You are a helpful assistant.")
    assert kept.teacher_messages == prefs


def test_vary_draws_a_share_of_conversation_items_and_leaves_the_learners_own():
    items = [item(i) for i in range(1, 401)] + [item(None) for _ in range(50)]
    varied = sv.vary(items, 0.5, seed=3)
    changed = [v for v, o in zip(varied, items) if v.prompt_messages != o.prompt_messages]
    assert 150 <= len(changed) <= 250  # about half of 400
    assert all(v.message_id is not None for v in changed)  # rehearsal / distillation items keep theirs
    assert {(v.prompt_messages[0]["content"] if v.prompt_messages[0]["role"] == "system" else None)
            for v in changed} == set(sv.TRAINING_SYSTEM_PROMPTS)
    assert sv.vary(items, 0.5, seed=3) == varied  # same seed, same draw
    assert sv.vary(items, 0.5, seed=4) != varied
    assert sv.vary(items, 0.0, seed=3) == items


def test_the_trainer_scores_the_student_under_the_variant_and_the_teacher_under_the_original(tiny_hf_dirs):
    from openclaw_local.learn.trainable import load_tokenizer
    from openclaw_local.learn.trainer import encode_item

    tok = load_tokenizer(tiny_hf_dirs["llama"])
    varied = sv.with_system(item(hint="Make it shorter."), "You are a helpful assistant.")
    enc = encode_item(tok, varied, 1024)
    student, teacher = tok.decode(enc.prompt_ids), tok.decode(enc.teacher_prompt_ids)
    assert "You are a helpful assistant." in student and "openclaw" not in student
    assert "openclaw" in teacher and "Make it shorter." in teacher and "helpful assistant." not in teacher
