"""Why do updates from complaints alone make replies longer? Train a user who only complains,
with and without the end-of-turn marker spared from the −1 push (``TrainConfig.spare_the_end``),
and watch the length of generated replies.

    python scripts/gate_diagnosis/complaints_only_length.py [ROUNDS] [SEED] [--rehearsal] > log

Each round, as the product's learner would see a user who pushes back on every reply: the model
as it stands answers 12 prompts of a development persona (sampled, temperature 0.7, ≤ 96 tokens),
every reply is judged −1 with no hint, and one update trains on them with the learner's defaults
(learning rate, passes, the general-text KL term; with ``--rehearsal`` also the learner's
rehearsal of the base model's own answers, ``learn/rehearsal.py``). After each round the gate's reply check
(``learn/reply_check.py``: 6 general prompts, greedy, ≤ 96 tokens) reads the replies' mean
length, the share that ended by themselves, and the share of repeated 4-word phrases. Both arms
start from the same base model, the same prompts and the same sampling seeds. Prints one JSON
line per arm and round, and a table at the end. A diagnosis tool for docs/METHOD.md, not part of
the product.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

import torch

from openclaw_local.config import Settings
from openclaw_local.learn import rehearsal, reply_check
from openclaw_local.learn.trainable import build_trainable
from openclaw_local.learn.trainer import TrainConfig, _end_of_turn, _ids, _render_prompt, make_optimizer, train_update
from openclaw_local.records import TrainItem
from openclaw_local.services.training import REPLAY_TEXT
from openclaw_local.sim.persona import load_persona

PERSONA = "assets/personas/student.json"  # a development persona: tuning and diagnosis happen on these
PROMPTS_PER_ROUND = 12
REPLY_TOKENS = 96


@torch.no_grad()
def sampled_replies(model, tokenizer, system_prompt: str, prompts: list[str], seed: int) -> list[str]:
    """The model's own replies, sampled as the product serves them (temperature 0.7, top-p 0.95)."""
    eot = _ids(tokenizer, _end_of_turn(tokenizer))[:1]
    stop = sorted({i for i in eot + [tokenizer.eos_token_id] if i is not None})
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [_ids(tokenizer, _render_prompt(tokenizer, [{"role": "system", "content": system_prompt},
                                                          {"role": "user", "content": p}])) for p in prompts]
    width = max(len(e) for e in encoded)
    ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded])
    mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded])
    torch.manual_seed(seed)
    model.eval()
    out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=0.7, top_p=0.95,
                         max_new_tokens=REPLY_TOKENS, use_cache=True, eos_token_id=stop, pad_token_id=pad)
    replies = []
    for row in out[:, width:].tolist():
        end = next((i for i, t in enumerate(row) if t in stop), None)
        replies.append(tokenizer.decode(row if end is None else row[:end], skip_special_tokens=True).strip())
    return replies


def run_arm(spare: bool, rounds: int, seed: int, home: Path, rehearse: bool) -> list[dict]:
    settings = Settings()
    sp = settings.system_prompt
    t = build_trainable(settings, home)
    model, tok = t.model, t.tokenizer
    optimizer = make_optimizer(model, settings.learning_rate)
    general = list(tok(REPLAY_TEXT.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"])
    prompts = load_persona(PERSONA).train_prompts
    rng = random.Random(seed)
    anchors = rehearsal.load_prompts() if rehearse else []
    answers = rehearsal.base_answers(model, tok, sp, anchors) if rehearse else []
    rows = []
    for r in range(rounds + 1):
        model.eval()
        check = reply_check.measure(model, tok, sp, max_new_tokens=REPLY_TOKENS)
        row = {"spare_the_end": spare, "round": r, "tokens": round(check["tokens"], 1),
               "ended": round(check["ended"], 2), "repetition": round(check["repetition"], 3)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if r == rounds:
            break
        asked = rng.sample(prompts, PROMPTS_PER_ROUND)
        replies = sampled_replies(model, tok, sp, asked, seed * 1000 + r)
        items = [TrainItem(prompt_messages=[{"role": "system", "content": sp}, {"role": "user", "content": p}],
                           reply=y, reward=-1) for p, y in zip(asked, replies)]
        if rehearse:
            items += rehearsal.items(anchors, answers, sp, settings.rehearsal_items, seed * 1000 + r)
        config = TrainConfig.from_settings(settings, spare_the_end=spare, seed=seed * 1000 + r)
        train_update(model, tok, items, config, optimizer,
                     general_ids=general if config.w_general > 0 else None)
    return rows


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rounds = int(args[0]) if args else 3
    seed = int(args[1]) if len(args) > 1 else 0
    rehearse = "--rehearsal" in sys.argv
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        results = {spare: run_arm(spare, rounds, seed, Path(tmp), rehearse) for spare in (False, True)}
    print("\n| round | mean tokens, marker pushed down | ended | mean tokens, marker spared | ended |")
    print("|---|---|---|---|---|")
    for off, on in zip(results[False], results[True]):
        print(f"| {off['round']} | {off['tokens']} | {off['ended']} | {on['tokens']} | {on['ended']} |")


if __name__ == "__main__":
    main()
