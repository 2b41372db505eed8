"""The two comparison arms of a simulated run, on its eval prompts after the loop (sim/simulate.py).

- **in-context**: no training; the user's complaints and (up to three) corrections kept as memory
  in the system prompt, base model;
- **offline SFT**: a fresh LoRA fine-tuned with plain cross-entropy on only the corrections
  collected in the run, for the same number of optimizer steps the product's learner took.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from openclaw_local.config import Settings
from openclaw_local.sim.scoring import persona_score


def memory_system_prompt(base: str, complaints: list[str], corrections: list[tuple[str, str]]) -> str:
    """The in-context arm's system prompt: the user's own feedback kept as memory."""
    parts = [base.strip()]
    if complaints:
        parts.append("Things this user told you about how they want replies:\n"
                     + "\n".join(f"- {c}" for c in dict.fromkeys(complaints)))
    if corrections:
        parts.append("Replies this user corrected into the form they like:\n" + "\n\n".join(
            f"User: {p}\nAssistant: {c}" for p, c in corrections[-3:]))
    return "\n\n".join(parts)


def sft_arm(home: Path, settings: Settings, items: list[dict[str, Any]], steps: int, out_dir: Path,
            *, batch_size: int = 16, seed: int = 0) -> dict[str, Any]:
    """Fresh LoRA, plain cross-entropy on the corrections, ``steps`` Adam steps → GGUF path.

    Each step is one product update (``trainer.train_update``) on a minibatch of up to
    ``batch_size`` corrections cycled over them, with the imitation term alone
    (``losses.correction_sft_loss`` at weight 1, the RL and distillation weights 0): plain
    cross-entropy, computed by the same code as the product's ``w_sft`` term.
    """
    import torch

    from openclaw_local.learn.convert import peft_model_to_gguf
    from openclaw_local.learn.trainable import build_trainable
    from openclaw_local.learn.trainer import TrainConfig, TrainItem, make_optimizer, train_update

    started = time.monotonic()
    torch.manual_seed(seed)
    t = build_trainable(settings, home)
    tok = t.tokenizer
    corrections = [TrainItem(prompt_messages=i["prompt_messages"], reply=i["reply"], reward=1, kind="correction")
                   for i in items]
    opt = make_optimizer(t.model, settings.learning_rate)
    rng = random.Random(seed)
    order: list[int] = []
    losses: list[float] = []
    for _ in range(steps):
        batch = []
        while len(batch) < min(batch_size, len(corrections)):
            if not order:
                order = list(range(len(corrections)))
                rng.shuffle(order)
            batch.append(corrections[order.pop()])
        sft_only = TrainConfig(lr=settings.learning_rate, w_rl=0.0, w_opd=0.0, w_sft=1.0, batch_size=len(batch), seed=seed)
        train_update(t.model, tok, batch, sft_only, opt, progress=lambda step, total, loss: losses.append(loss))
    t.model.train(False)
    from openclaw_local.learn.promotion import GateConfig, general_text, perplexity
    from openclaw_local.services.training import base_perplexity

    gate = GateConfig.from_settings(settings)  # measured exactly as the promotion gate measures the product's versions
    ppl = perplexity(t.model, tok, general_text(), max_tokens=gate.max_tokens, window=gate.window)
    ppl_ratio = ppl / base_perplexity(home, t, gate)
    out_dir.mkdir(parents=True, exist_ok=True)
    gguf = out_dir / "sft_adapter.gguf"
    peft_model_to_gguf(t.model, gguf, architecture=t.architecture)
    del t
    return {"gguf": gguf, "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "seconds": round(time.monotonic() - started, 1), "general_ppl_ratio": round(ppl_ratio, 4)}


def run_arms(rt, run: Any, steps: int) -> dict[str, Any]:
    """The in-context and offline-SFT arms on the eval prompts of ``run`` (a ``simulate.SimRun``: this
    module does not import it back), after the product's learner took ``steps`` optimizer steps."""
    persona, evals, settings, say = run.persona, run.evals, run.settings, run.say
    complaints, corrections, max_tokens = run.complaints, run.corrections, run.score_max_tokens
    out: dict[str, Any] = {}
    rt.engine.set_adapter(None)
    memory = memory_system_prompt(settings.system_prompt, complaints, corrections)
    say("arm in-context: base model, the user's feedback in the system prompt")
    res = persona_score(rt.engine, persona, evals, system_prompt=memory, max_tokens=max_tokens)
    out["in_context"] = {"score": res["score"], "per_rule": res["per_rule"], "complaints": len(set(complaints)),
                         "corrections_in_prompt": min(3, len(corrections)), "replies": res["replies"]}
    say(f"  in-context score {res['score']:.2f}")
    items = []
    for s in rt.samples.all():
        if s.correction:
            items.append({"prompt_messages": rt.samples.prompt_messages(s.message_id), "reply": s.correction})
    if items and steps > 0:
        say(f"arm offline SFT: {len(items)} corrections, {steps} optimizer steps")
        sft = sft_arm(run.home, settings, items, steps, run.out_dir / "arms", seed=run.seed)
        rt.engine.set_adapter(sft["gguf"])
        try:
            res = persona_score(rt.engine, persona, evals, system_prompt=settings.system_prompt, max_tokens=max_tokens)
        finally:
            rt.engine.set_adapter(None)
        out["offline_sft"] = {"score": res["score"], "per_rule": res["per_rule"], "corrections": len(items),
                              "steps": steps, "train_seconds": sft["seconds"], "loss_first": sft["loss_first"],
                              "loss_last": sft["loss_last"], "general_ppl_ratio": sft["general_ppl_ratio"],
                              "replies": res["replies"]}
        say(f"  offline SFT score {res['score']:.2f}")
    else:
        base = persona_score(rt.engine, persona, evals, system_prompt=settings.system_prompt, max_tokens=max_tokens)
        out["offline_sft"] = {"score": base["score"], "per_rule": base["per_rule"], "corrections": len(items),
                              "steps": 0, "note": "nothing to fine-tune on: no corrections or no learner steps"}
    return out
