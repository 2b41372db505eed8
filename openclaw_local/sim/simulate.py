"""``simulate``: a simulated user chats with the real product loop, and we measure whether it learns.

What runs is exactly what the TUI runs: :class:`~openclaw_local.services.runtime.Runtime`
(SQLite store, llama.cpp engine, judge engine + judge worker thread, the nice-19
learner *process*, the hot-swap follower) in the run's own data dir ``OUT/home``.
The simulated user talks through :class:`~openclaw_local.services.chat.ChatService`
(``send`` / ``rate`` / ``correct``); nothing here calls the trainer for the product's
adapters. Interactions go on while the learner trains in the background; at the end
the run asks for one last update (what ``learn --once`` does) and waits, bounded,
for it to be published and served.

Conversations: each interaction sends one train prompt. The next prompt goes into
the same conversation (so "simply the next prompt" is a real next state for the
previous reply), and a new conversation starts after ``PROMPTS_PER_CONVERSATION``
prompts, which keeps training contexts short. A complaint, praise or neutral message is its own
user turn (the model answers it), followed by the next prompt as a separate turn.

Persona score: greedy decoding (temperature 0), one fresh ``[system, user]``
context per eval prompt — the context a new conversation gives — on the chat's
engine with whatever adapter is served at that moment. Measured before any
learning and whenever a newly published adapter has been swapped in.

Comparison arms, on the same interactions and eval prompts, after the loop:

- **in-context**: no training; the user's complaints and (up to three) corrections
  kept as memory in the system prompt, base model;
- **offline SFT**: a fresh LoRA fine-tuned with plain cross-entropy on only the
  corrections collected in the run, for the same number of optimizer steps the
  product's learner took (minibatches of ``batch_size`` cycled over them), same
  learning rate, converted to GGUF and served through the same engine.

Settings chosen for a simulated run (written to ``OUT/home/config.toml`` so the
normal commands see them): see :data:`SIM_SETTINGS`.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from openclaw_local.config import Settings, load_settings
from openclaw_local.errors import UsageError
from openclaw_local.paths import atomic_output, shown, write_output
from openclaw_local.records import LearnerPhase
from openclaw_local.sim.persona import Persona, SimulatedUser
from openclaw_local.sim.rules import check_all

PROMPTS_PER_CONVERSATION = 2
# Why each: replies of ≤ 96 tokens keep an interaction ~1-2 s (the personas want short
# replies anyway); a 2048 context is plenty for 2-prompt conversations; learner_threads=2
# lets the nice-19 learner use both cores whenever chat is idle (nice keeps chat first);
# learn_min_samples=4 (the product default) gives an update every few interactions.
SIM_SETTINGS: dict[str, Any] = {
    "max_tokens": 96,
    "n_ctx": 2048,
    "temperature": 0.7,
    "learn_min_samples": 4,
    "learner_threads": 2,
    "threads": 2,
}
# Scored replies are what a user would see: the product's default reply length, not the
# simulation's shorter training cap, and a reply stopped by that limit fails max_words and
# must_end_with (see ``rules.check_all``).
SCORE_MAX_TOKENS = Settings().max_tokens
Progress = Callable[[str], None]


def _stderr_progress(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _write_config(home: Path, overrides: dict[str, Any]) -> None:
    lines = ["# written by `openclaw-local simulate`: the settings of this simulated run"]
    for k, v in overrides.items():
        if v is None:
            continue
        lines.append(f"{k} = {json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v}")
    (home / "config.toml").write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- scoring
def persona_score(engine: Any, persona: Persona, prompts: list[str], *, system_prompt: str,
                  max_tokens: int = SCORE_MAX_TOKENS) -> dict[str, Any]:
    """Mean rule score over ``prompts``: greedy, fresh ``[system, user]`` context each, replies of
    up to ``max_tokens`` (the product's default); a reply cut by that limit fails the length and
    ending rules."""
    per_rule = [0] * len(persona.rules)
    scores, replies, cut_count = [], [], 0
    for p in prompts:
        msgs = [{"role": "system", "content": system_prompt}, {"role": "user", "content": p}]
        gen = engine.generate(msgs, max_tokens=max_tokens, temperature=0.0, top_p=1.0, seed=0).run()
        cut = gen.stats.finish_reason == "length"
        cut_count += int(cut)
        ok = check_all(gen.reply, persona.rules, cut=cut)
        per_rule = [a + int(b) for a, b in zip(per_rule, ok)]
        scores.append(sum(ok) / len(ok))
        replies.append(gen.reply)
    n = max(1, len(prompts))
    return {
        "score": sum(scores) / n,
        "per_rule": {r.key: c / n for r, c in zip(persona.rules, per_rule)},
        "replies": replies,
        "cut_replies": cut_count,
        "max_tokens": max_tokens,
    }


def _eval_point(rt, persona, prompts, system_prompt, max_tokens, interactions: int, started: float) -> dict[str, Any]:
    v_before = rt.learner.served_version
    res = persona_score(rt.engine, persona, prompts, system_prompt=system_prompt, max_tokens=max_tokens)
    v_after = rt.learner.served_version
    return {"interactions": interactions, "version": v_after, "mixed_versions": v_before != v_after,
            "score": res["score"], "per_rule": res["per_rule"], "replies": res["replies"],
            "cut_replies": res["cut_replies"],
            "at_s": round(time.monotonic() - started, 1)}


# ------------------------------------------------------------------------------- arms
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


# ------------------------------------------------------------------------------ the run
def run_simulation(
    persona: Persona,
    out_dir: Path,
    *,
    interactions: int = 36,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    eval_prompts: int | None = None,
    final_wait_s: float = 600.0,
    arms: bool = True,
    pace: str = "none",
    progress: Progress | None = _stderr_progress,
    prepare_home: Callable[[Path], None] | None = None,
    score_max_tokens: int = SCORE_MAX_TOKENS,
) -> dict[str, Any]:
    """Run one simulated-user session through the product loop; write report.json + curve.png in ``out_dir``.

    The simulated user's own interactions are answered within the run's ``max_tokens``
    (``SIM_SETTINGS``: 96, to keep a run short); every scored reply gets ``score_max_tokens``
    (the product's default), the length a user sees."""
    from openclaw_local.services.runtime import Runtime
    from openclaw_local.store.adapters import AdapterStore

    say = progress or (lambda line: None)
    if interactions < 1:
        raise UsageError("--interactions must be at least 1")
    n_ctx = int({**SIM_SETTINGS, **(overrides or {})}["n_ctx"])
    if score_max_tokens > n_ctx // 2:  # the engine would cut replies there, and the report would say otherwise
        raise UsageError(f"--score-max-tokens {score_max_tokens} is more than half the run's context ({n_ctx})")
    out_dir = Path(out_dir)
    home = out_dir / "home"
    if home.exists() and any(p.name not in ("trainable",) for p in home.iterdir()):
        raise UsageError(f"{home} already holds a run", "pick another --out directory")
    home.mkdir(parents=True, exist_ok=True)
    if prepare_home is not None:
        prepare_home(home)
    sim = {**SIM_SETTINGS, "seed": seed, **(overrides or {})}
    if persona.system_prompt:
        sim["system_prompt"] = persona.system_prompt
    _write_config(home, sim)
    settings = load_settings(home, env={})
    system_prompt = settings.system_prompt
    evals = persona.eval_prompts[:eval_prompts] if eval_prompts else list(persona.eval_prompts)
    user = SimulatedUser(persona, seed)
    prompts = user.prompts(interactions)
    max_tokens = score_max_tokens  # for scoring; the interactions use settings.max_tokens

    started = time.monotonic()
    curve: list[dict[str, Any]] = []
    truth: dict[int, int] = {}  # interaction reply id → the user's true verdict
    reactions: Counter = Counter()
    complaints: list[str] = []
    corrections: list[tuple[str, str]] = []
    sink = lambda event: None  # noqa: E731 — headless: the chat's stream events go nowhere

    rt = Runtime.open(home, settings)
    try:
        say(f"simulate {persona.name}: {interactions} interactions, {len(evals)} eval prompts, data dir {home}")
        base = _eval_point(rt, persona, evals, system_prompt, max_tokens, 0, started)
        curve.append(base)
        say(f"baseline score {base['score']:.2f} ({time.monotonic() - started:.0f} s)")
        rt.start_background()
        last_eval_version = rt.learner.served_version
        conv, in_conv = None, 0
        for i, prompt in enumerate(prompts, 1):
            if pace == "learner":
                _wait_for_learner(rt, settings.learn_min_samples, say, started)
                if rt.learner.served_version != last_eval_version:
                    point = _eval_point(rt, persona, evals, system_prompt, max_tokens, i - 1, started)
                    curve.append(point)
                    last_eval_version = point["version"]
                    say(f"  adapter v{point['version']} served: score {point['score']:.2f}")
            if conv is None or in_conv >= PROMPTS_PER_CONVERSATION:
                conv, in_conv = rt.chat.new_conversation(), 0
            reply = rt.chat.send(conv.id, prompt, sink)
            in_conv += 1
            r = user.react(reply.content)
            truth[reply.id] = r.true_reward
            reactions[r.kind] += 1
            if r.kind == "correct":
                rt.chat.correct(reply.id, r.text)
                corrections.append((prompt, r.text))
            elif r.kind == "rate":
                rt.chat.rate(reply.id, -1)
            elif r.kind in ("complain", "praise", "neutral"):
                if r.kind == "complain":
                    complaints.append(r.text)
                rt.chat.send(conv.id, r.text, sink)
            st = rt.status()
            say(f"[{i}/{interactions}] {r.kind:8s} score {r.score:.2f} · adapter {st.adapter} · "
                f"learner {st.learner} {st.step or ''} · judging {st.replies_to_judge} · "
                f"waiting {st.samples_to_train} · {time.monotonic() - started:.0f} s")
            if rt.learner.served_version != last_eval_version:
                point = _eval_point(rt, persona, evals, system_prompt, max_tokens, i, started)
                curve.append(point)
                last_eval_version = point["version"]
                say(f"  adapter v{point['version']} served: score {point['score']:.2f}")

        # the end: let the judge finish, ask for one last update, wait (bounded) for it to be served
        adapters = AdapterStore(rt.store)
        rt.wait_judged(60)
        if rt.samples.trainable_ids():
            rt.learner.learn_now()
        deadline = time.monotonic() + final_wait_s
        waited_out = False
        while True:
            active = adapters.active()
            pending = adapters.pending_requests()
            busy = adapters.state().busy
            if not pending and not busy and rt.learner.served_version == (active.id if active else None):
                break
            if time.monotonic() > deadline:
                waited_out = True
                say(f"stopped waiting for the learner after {final_wait_s:.0f} s")
                break
            st = rt.status()
            say(f"  waiting for the last update: learner {st.learner} {st.step or ''} "
                f"({time.monotonic() - started:.0f} s)")
            time.sleep(5)
        if rt.learner.served_version != last_eval_version:
            point = _eval_point(rt, persona, evals, system_prompt, max_tokens, interactions, started)
            curve.append(point)
            say(f"  adapter v{point['version']} served: score {point['score']:.2f}")
        loop_seconds = time.monotonic() - started

        # what the product did
        versions = adapters.versions()
        steps = 0
        for v in versions:
            try:
                steps += int(json.loads((Path(v.path) / "trainer_state.json").read_text()).get("steps", 0))
            except (OSError, ValueError):
                pass
        judge = _judge_agreement(rt, truth)
        counts = rt.samples.counts()

        # stop learning before the arms: they use the engine with other adapters
        rt.stop_background()
        arm_results: dict[str, Any] = {}
        if arms:
            arm_results = _run_arms(rt, persona, evals, settings, home, out_dir, complaints, corrections,
                                    steps, seed, max_tokens, say)
    finally:
        rt.close()

    final = curve[-1]
    report = {
        "persona": persona.name,
        "persona_file": shown(persona.path) if persona.path else None,  # a name with undecodable bytes too
        "feedback": persona.feedback,
        "seed": seed,
        "pace": pace,
        "home": str(home.relative_to(out_dir)),  # the run's data dir, relative to the report's own folder
        "settings": {k: v for k, v in asdict(settings).items() if k in SIM_SETTINGS or k in (overrides or {})
                     or k in ("learning_rate", "learn_passes", "lora_rank", "lora_alpha", "w_rl", "w_opd", "w_sft",
                                     "w_general", "replay_corrections")},
        "interactions": interactions,
        "eval_prompts": len(evals),
        "score_max_tokens": score_max_tokens,
        "interaction_max_tokens": settings.max_tokens,
        "cut_replies": {"baseline": base.get("cut_replies"), "final": final.get("cut_replies")},
        "updates": len(versions),
        "updates_served": sum(1 for v in versions if v.status in ("active", "retired")),
        "updates_rejected": [{"version": v.id, "reason": v.reason} for v in versions if v.status not in ("active", "retired")],
        "optimizer_steps": steps,
        "served_versions": sorted({p["version"] for p in curve if p["version"] is not None}),
        "baseline": base["score"],
        "final": final["score"],
        "final_version": final["version"],
        "score_at_16": _score_at(curve, 16),
        "final_general_ppl_ratio": _ppl_ratio(versions, final["version"]),
        "final_ability": next(((v.gate or {}).get("ability") for v in versions if v.id == final["version"]), None),
        "gate_seconds": [(v.gate or {}).get("seconds") for v in versions],
        "curve": [{k: p[k] for k in ("interactions", "version", "score", "at_s", "mixed_versions")} for p in curve],
        "per_rule": {k: {"before": base["per_rule"][k], "after": final["per_rule"][k]} for k in base["per_rule"]},
        "reactions": dict(reactions),
        "samples": counts,
        "judge_agreement": judge,
        "arms": {k: {kk: vv for kk, vv in v.items() if kk != "replies"} for k, v in arm_results.items()},
        "learner_waited_out": waited_out,
        "loop_seconds": round(loop_seconds, 1),
        "wall_seconds": round(time.monotonic() - started, 1),
        "eval_replies": {"baseline": base["replies"], "final": final["replies"]},
    }
    if arm_results:
        report["beats_arms"] = all(final["score"] >= a["score"] for a in arm_results.values())
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(report, out_dir)
    say(summary_line(report))
    return report


def _wait_for_learner(rt, min_samples: int, say, started: float, timeout_s: float = 300.0) -> None:
    """Pace the simulated user like a person: no next message while an update is due or running.

    A person types and reads for tens of seconds between messages, longer than an update
    takes; a loop that fires prompts every second would measure the learner's backlog
    instead of what it learned. Waits while enough samples are ready to trigger an
    update or the learner is busy with one, and until its result is served (bounded).
    """
    rt.wait_judged(60)
    adapters = rt.learner.adapters
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = adapters.state()
        busy = state.busy
        active = adapters.active()
        unserved = rt.learner.served_version != (active.id if active else None)
        due = len(rt.samples.trainable_ids()) >= min_samples and state.phase is not LearnerPhase.ERROR
        if not (busy or due or unserved):
            return
        time.sleep(0.5)
    say(f"  (paced: gave up waiting for the learner after {timeout_s:.0f} s at {time.monotonic() - started:.0f} s)")


def _score_at(curve: list[dict[str, Any]], interactions: int) -> float:
    """The score served after at most ``interactions`` interactions (the last eval point at or before it)."""
    return [p for p in curve if p["interactions"] <= interactions][-1]["score"]


def _ppl_ratio(versions, version_id: int | None) -> float | None:
    """General-text perplexity of a version over the base model's, as its promotion gate measured it."""
    for v in versions:
        if v.id == version_id:
            return (v.gate or {}).get("general", {}).get("ratio")
    return 1.0 if version_id is None else None


def _judge_agreement(rt, truth: dict[int, int]) -> dict[str, Any]:
    """The judge's own score vs the simulated user's true verdict, on replies the judge scored."""
    n = agree = abstain = 0
    confusion = {"+1": Counter(), "-1": Counter()}
    for mid, t in truth.items():
        row = rt.samples.get(mid)
        if row is None or row.judge_reward is None:
            continue
        jr = row.judge_reward
        n += 1
        agree += int(jr == t)
        abstain += int(jr == 0)
        confusion["+1" if t == 1 else "-1"][f"{jr:+d}" if jr else "0"] += 1
    decided = n - abstain
    return {
        "n": n, "agree": agree, "abstained": abstain,
        "accuracy": agree / n if n else None,
        "accuracy_decided": agree / decided if decided else None,
        "confusion_true_vs_judge": {k: dict(v) for k, v in confusion.items()},
        "vs_explicit_ratings": asdict(rt.samples.judge_agreement()),
        "replies_with_true_verdict": len(truth),
    }


def _run_arms(rt, persona, evals, settings, home, out_dir, complaints, corrections, steps, seed, max_tokens, say):
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
        sft = sft_arm(home, settings, items, steps, out_dir / "arms", seed=seed)
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


def summary_line(report: dict[str, Any]) -> str:
    arms = report.get("arms") or {}
    arm_text = "".join(f", {k} {v['score']:.2f}" for k, v in arms.items())
    ja = report["judge_agreement"]["accuracy"]
    return (f"{report['persona']}: baseline {report['baseline']:.2f} → final {report['final']:.2f} after "
            f"{report['interactions']} interactions, {report['updates_served']}/{report['updates']} updates served{arm_text}; judge agreement "
            f"{'n/a' if ja is None else f'{ja:.2f}'}; {report['wall_seconds'] / 60:.1f} min")


def write_report(report: dict[str, Any], out_dir: Path) -> None:
    """``report.json`` and ``curve.png`` in ``out_dir``, each written atomically: a crash or a
    refused write leaves the old file or none, never an empty one. Text that cannot be encoded
    (a file name with undecodable bytes) is written escaped, never a reason to lose the run."""
    write_output(Path(out_dir) / "report.json",
                 json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8", "backslashreplace"))
    plot_curve(report, Path(out_dir) / "curve.png")


def plot_curve(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p["interactions"] for p in report["curve"]]
    ys = [p["score"] for p in report["curve"]]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(xs, ys, marker="o", label="product (adapter served)")
    for (name, arm), style in zip((report.get("arms") or {}).items(), ("--", ":")):
        ax.axhline(arm["score"], linestyle=style, color="gray" if style == "--" else "black", label=name.replace("_", " "))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(report["interactions"], 1))
    ax.set_xlabel("interactions")
    ax.set_ylabel("persona score")
    ax.set_title(f"{report['persona']} (seed {report['seed']})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
