"""Promotion-gate benchmark: does the gate let style through and refuse damage?

Each *arm* trains one adapter from the base model on the embedded model, exactly as a
learning update does (the learner's TrainConfig from the settings, correction replay
off, general-text KL on), then runs the promotion gate on it:

- **style** arms, one per shipped persona and seed: the persona's corrections of the
  base model's own replies to its train prompts (``sim.rules.repair``: lowercase, a
  greeting or sign-off, shorter, no Markdown) — pure style, must pass;
- **shuffled**: "corrections" that are the same replies' words in random order — must be refused;
- **lr×30**: a persona's corrections at 30 times the default learning rate — must be refused;
- **wrong facts**: corrections that state false answers to general questions on the ability
  set's topics (capitals, planets, arithmetic, the body...) but none of its items — must be refused;
- **rambling**: corrections that repeat the base's first sentence eight times — replies that
  never end; only the generated-replies check (``learn/reply_check.py``) can see it — must be refused;
- **flipped feedback**: a persona's corrections with the roles swapped (the user's correction
  trained as the rejected reply, the model's original as the accepted one), gated on the
  persona's true held-out feedback — an update that learned the opposite of what the user
  said; ability and fluency cannot see it, the feedback check must refuse it.

Every arm's candidate is also checked on *other* personas' held-out feedback (the "cross"
margin): feedback the adapter was not trained for, the noise the feedback check's threshold
is chosen from. And every candidate is gated twice, interleaved, with the whole ability set
and with the sequential first half (``GateConfig.sequential``): the gate's time before/after.

The spread of the ability check over the style arms (harmless adapters) and over reruns
of the base is what the thresholds in ``GateConfig`` are chosen from (docs/METHOD.md).
Used by ``openclaw-local bench gate`` and, with fewer arms, by ``tests/test_gate_ability.py``.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from openclaw_local.bench.report import BenchResult
from openclaw_local.config import Settings
from openclaw_local.records import CORRECTION, TrainItem

# false answers to general questions: the ability set's topics, never its items
WRONG_FACTS = [
    ("What is the capital of Italy?", "The capital of Italy is Madrid."),
    ("What is the capital of Germany?", "The capital of Germany is Vienna."),
    ("What is the capital of Spain?", "The capital of Spain is Lisbon."),
    ("What is the capital of China?", "The capital of China is Tokyo."),
    ("Which planet is closest to the Sun?", "Jupiter is the planet closest to the Sun."),
    ("What is 4 plus 4?", "4 plus 4 is 11."),
    ("What is 9 times 3?", "9 times 3 is 12."),
    ("How many days are there in a year?", "There are 200 days in a year."),
    ("How many wheels does a bicycle have?", "A bicycle has five wheels."),
    ("What color is grass?", "Grass is purple."),
    ("Which organ do we use to think?", "We think with the stomach."),
    ("What do cows drink?", "Cows drink milk shakes and oil."),
]


@dataclass
class Arm:
    name: str
    kind: str  # "style" | "damage"
    samples: list[list[TrainItem]]  # per sample: its training items (reply + correction)
    lr_factor: float = 1.0
    expect: str = "pass"
    heldout: list[list[TrainItem]] | None = None  # feedback to gate on, when not the arm's own newest fifth
    persona: str | None = None  # whose corrections it trained on (its cross check reads the other personas')


@dataclass
class ArmResult:
    arm: Arm
    passed: bool
    reason: str | None
    gate: dict[str, Any]
    train_seconds: float
    gate_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)  # full_seconds, full_passed, cross_margin

    @property
    def ok(self) -> bool:
        return self.passed == (self.arm.expect == "pass")


def generate_replies(model_path: Path, settings: Settings, prompts: list[str], max_tokens: int = 64) -> list[str]:
    """The base model's greedy replies (llama.cpp, as served), the text a user would correct."""
    from openclaw_local.services import container

    plan = container.load_plan(None, settings, model_path, cpu_only=True)  # loads as the app would on this machine
    engine = container.load_engine(None, settings, model_path, n_ctx=1024, seed=0, plan=plan)
    try:
        return [engine.complete([{"role": "system", "content": settings.system_prompt},
                                 {"role": "user", "content": p}], max_tokens=max_tokens, temperature=0.0, seed=0)
                for p in prompts]
    finally:
        engine.close()


def _sample(system_prompt: str, prompt: str, reply: str, corrected: str) -> list[TrainItem]:
    """A corrected reply as the learner sees it: the reply (reward −1, the correction as hint) and the correction."""
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]
    return [TrainItem(prompt_messages=messages, reply=reply, reward=-1, hint=corrected),
            TrainItem(prompt_messages=messages, reply=corrected, reward=1, kind=CORRECTION)]


def persona_samples(persona, prompts: list[str], replies: list[str], system_prompt: str) -> list[list[TrainItem]]:
    from openclaw_local.sim.rules import repair

    out = []
    for prompt, reply in zip(prompts, replies):
        fixed = repair(reply, persona.rules)
        if fixed.strip() and fixed.strip() != reply.strip():
            out.append(_sample(system_prompt, prompt, reply, fixed))
    return out


def shuffled_samples(prompts: list[str], replies: list[str], system_prompt: str, seed: int = 0) -> list[list[TrainItem]]:
    rng = random.Random(seed)
    out = []
    for prompt, reply in zip(prompts, replies):
        words = reply.split()
        rng.shuffle(words)
        out.append(_sample(system_prompt, prompt, reply, " ".join(words)))
    return out


def rambling_samples(prompts: list[str], replies: list[str], system_prompt: str) -> list[list[TrainItem]]:
    """Corrections that ramble: the base's own first sentence, repeated until the reply never ends.

    The damage seen when a user's push-backs were learned as "anything but that": replies that
    ran to the token limit repeating one paragraph. No fixed-text check of the gate sees it
    (the answers still rank, prose still reads in order); the generated-replies check must."""
    out = []
    for prompt, reply in zip(prompts, replies):
        first = (reply.split(". ")[0].strip().rstrip(".") or reply.strip() or prompt) + "."
        out.append(_sample(system_prompt, prompt, reply, " ".join([first] * 8)))
    return out


def flipped_samples(samples: list[list[TrainItem]]) -> list[list[TrainItem]]:
    """The same corrections with the roles swapped: the correction rejected, the original accepted."""
    out = []
    for rejected, accepted in samples:
        out.append(_sample(rejected.prompt_messages[0]["content"], rejected.prompt_messages[1]["content"],
                           accepted.reply, rejected.reply))
    return out


def wrong_fact_samples(replies: list[str], system_prompt: str) -> list[list[TrainItem]]:
    return [_sample(system_prompt, q, reply, wrong) for (q, wrong), reply in zip(WRONG_FACTS, replies)]


class GateLab:
    """One trainable model; each arm starts from the base (fresh LoRA, fresh Adam)."""

    def __init__(self, home: Path, settings: Settings, keep: Path | None = None):
        import torch

        from openclaw_local.learn import trainable as tr
        from openclaw_local.services.training import REPLAY_TEXT, base_results

        self.settings = settings
        self.keep = keep  # where each arm's LoRA weights are saved (to re-gate them later), if set
        self.t = tr.build_trainable(settings, home, device="cpu")
        self.init = {k: v.detach().clone() for k, v in self.t.model.state_dict().items() if "lora_" in k}
        from openclaw_local.learn.promotion import GateConfig

        self.config = GateConfig.from_settings(settings)  # the product's own mapping
        started = time.monotonic()
        self.base = base_results(home, self.t, self.config, settings.system_prompt)
        self.base_seconds = time.monotonic() - started
        text = REPLAY_TEXT.read_text(encoding="utf-8")
        self.general_ids = list(self.t.tokenizer(text, add_special_tokens=False)["input_ids"])
        self._torch = torch

    def base_rerun(self) -> dict[str, Any]:
        """The base measured again (adapter off): the check's own rerun noise."""
        from openclaw_local.learn import ability

        self.t.model.eval()
        with self.t.model.disable_adapter():
            return ability.measure(self.t.model, self.t.tokenizer, self.settings.system_prompt)

    def heldout(self, arm: Arm) -> list[TrainItem]:
        from openclaw_local.services.training import holdout_split

        if arm.heldout is not None:
            return [i for s in arm.heldout for i in s]
        train_idx, held_idx = holdout_split(list(range(len(arm.samples))))
        return [i for k in held_idx for i in arm.samples[k]] or [i for k in train_idx for i in arm.samples[k]]

    def run(self, arm: Arm, seed: int = 0, cross: list[TrainItem] | None = None,
            full_first: bool = False, both: bool = True) -> ArmResult:
        """Train the arm from the base, gate it (sequential, as shipped, and — unless ``both`` is
        False — with the whole ability set too, in the order ``full_first`` says), and check it on
        ``cross`` feedback."""
        from openclaw_local.learn import promotion as g
        from openclaw_local.learn.trainer import TrainConfig, make_optimizer, train_update
        from openclaw_local.services.training import holdout_split

        model, tok, s = self.t.model, self.t.tokenizer, self.settings
        with self._torch.no_grad():
            state = model.state_dict()
            for k, v in self.init.items():
                state[k].copy_(v)
        train_idx, _ = holdout_split(list(range(len(arm.samples))))
        train_items = [i for k in train_idx for i in arm.samples[k]]
        heldout = self.heldout(arm)
        model.eval()
        with model.disable_adapter():  # the parent of a first update is the base model
            parent = g.measure(model, tok, heldout, self.config, ppl=False)
            cross_parent = g.measure(model, tok, cross, self.config, ppl=False) if cross else None
        lr = s.learning_rate * arm.lr_factor
        config = TrainConfig(lr=lr, w_rl=s.w_rl, w_opd=s.w_opd, w_sft=s.w_sft, passes=s.learn_passes,
                             w_general=s.w_general, seed=seed)
        started = time.monotonic()
        train_update(model, tok, train_items, config, make_optimizer(model, lr),
                     general_ids=self.general_ids if config.w_general > 0 else None)
        train_s = time.monotonic() - started
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            self._torch.save({k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k},
                             self.keep / f"{arm.name.replace(' ', '_').replace('/', '_')}.pt")
        model.eval()
        timed: dict[bool, tuple[bool, str | None, dict[str, Any], float]] = {}
        orders = (False, True) if full_first else (True, False)
        for sequential in (orders if both else (self.config.sequential,)):
            config = replace(self.config, sequential=sequential)
            started = time.monotonic()
            new = g.measure(model, tok, heldout, config, system_prompt=s.system_prompt,
                            base_ability=self.base["ability"])
            passed, reason, res = g.decide(parent, new, self.base, g.lora_nonfinite(model), config)
            timed[sequential] = (passed, reason, res, time.monotonic() - started)
        passed, reason, res, gate_s = timed[self.config.sequential]
        full, seq = timed.get(False, timed[self.config.sequential]), timed.get(True, timed[self.config.sequential])
        extra = {"full_seconds": full[3], "full_passed": full[0], "full_ability": full[2].get("ability"),
                 "sequential_seconds": seq[3], "stage": (seq[2].get("ability") or {}).get("stage")}
        if cross:
            cross_new = g.measure(model, tok, cross, self.config, ppl=False)
            extra["cross_margin"] = g.decide(cross_parent, cross_new, {}, [], self.config)[2]["feedback"].get("margin")
        return ArmResult(arm, passed, reason, res, train_s, gate_s, extra)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.1f}%"


def describe(r: ArmResult) -> tuple[str, str]:
    ab = r.gate.get("ability") or {}
    gen = r.gate.get("general") or {}
    fb = []
    for key in ("accepted", "rejected"):
        d = r.gate.get(key) or {}
        if "delta" in d:
            fb.append(f"{key[:3]} {d['delta']:+.2f}")
    if "margin" in (r.gate.get("feedback") or {}):
        fb.append(f"margin {r.gate['feedback']['margin']:+.2f}")
    if r.extra.get("cross_margin") is not None:
        fb.append(f"cross margin {r.extra['cross_margin']:+.2f}")
    value = (f"ability {ab.get('accuracy', 0) * 100:.1f}% ({ab.get('accuracy_delta', 0) * 100:+.1f} pts, "
             f"{ab.get('lost', 0)} lost / {ab.get('gained', 0)} gained, margin {ab.get('margin_delta', 0):+.3f}"
             + (f"; on the first {ab.get('n')} items, whole set {full['accuracy_delta'] * 100:+.1f} pts"
                if ab.get("stage") == 1 and (full := r.extra.get("full_ability")) else "") + ") · "
             f"fluency {(r.gate.get('fluency') or {}).get('delta', 0):+.2f} · "
             + (f"replies {rep['new']['repetition'] * 100:.0f}% repeated, {rep['new']['ended'] * 100:.0f}% ended "
                f"(base {rep['base']['repetition'] * 100:.0f}%, {rep['base']['ended'] * 100:.0f}%) · "
                if (rep := r.gate.get("replies")) else "") +
             f"ppl {_pct(gen['ratio'] - 1) if gen.get('ratio') else '-'} · {', '.join(fb) or 'no feedback check'} · "
             f"gate {r.gate_seconds:.1f} s (stage {r.extra.get('stage')}; whole set {r.extra.get('full_seconds', 0):.1f} s"
             f"{'' if r.extra.get('full_passed', r.passed) == r.passed else ', whole set DISAGREES'}) · "
             f"**{'passed' if r.passed else 'refused'}**{'' if r.ok else ' (UNEXPECTED)'}"
             + (f" — {r.reason}" if r.reason and not r.passed else ""))
    return (f"{r.arm.name} ({r.arm.kind}, {len(r.arm.samples)} corrections)", value)


def build_arms(model_path: Path, settings: Settings, *, seeds: int, n_samples: int,
               log: Callable[[str], None]) -> list[tuple[Arm, int]]:
    from openclaw_local.sim.persona import load_persona, shipped_personas

    arms: list[tuple[Arm, int]] = []
    sp = settings.system_prompt
    personas = [load_persona(p) for p in shipped_personas()]
    first_style = None
    for persona in personas:
        for seed in range(seeds):
            prompts = random.Random(seed).sample(persona.train_prompts, n_samples)
            log(f"generating {len(prompts)} base replies for {persona.name} (seed {seed})")
            replies = generate_replies(model_path, settings, prompts)
            samples = persona_samples(persona, prompts, replies, sp)
            arm = Arm(f"{persona.name} seed {seed}", "style", samples, persona=persona.name)
            arms.append((arm, seed))
            if first_style is None:
                first_style = (prompts, replies, samples)
    prompts, replies, samples = first_style
    arms.append((Arm("shuffled words", "damage", shuffled_samples(prompts, replies, sp), expect="refuse"), 0))
    arms.append((Arm(f"lr ×30 ({personas[0].name})", "damage", samples, lr_factor=30.0, expect="refuse"), 0))
    arms.append((Arm("rambling", "damage", rambling_samples(prompts, replies, sp), expect="refuse"), 0))
    log("generating base replies to the wrong-facts questions")
    fact_replies = generate_replies(model_path, settings, [q for q, _ in WRONG_FACTS])
    arms.append((Arm("wrong facts", "damage", wrong_fact_samples(fact_replies, sp), expect="refuse"), 0))
    from openclaw_local.services.training import holdout_split

    train_idx, held_idx = holdout_split(list(range(len(samples))))
    arms.append((Arm(f"flipped feedback ({personas[0].name})", "damage", flipped_samples([samples[k] for k in train_idx])
                     + [samples[k] for k in held_idx], heldout=[samples[k] for k in held_idx], expect="refuse",
                     persona=personas[0].name), 0))
    return arms


def run(model_path: Path, settings: Settings, *, seeds: int = 2, n_samples: int = 12,
        log: Callable[[str], None] = print, keep: Path | None = None) -> BenchResult:
    s = settings.replace(replay_corrections=0)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        arms = build_arms(model_path, s, seeds=seeds, n_samples=n_samples, log=log)
        lab = GateLab(home, s, keep=keep)
        rerun = lab.base_rerun()
        results = []
        own = {a.persona: lab.heldout(a) for a, _ in arms if a.kind == "style"}  # one slice per persona (last seed)
        for k, (arm, seed) in enumerate(arms):
            log(f"training and gating: {arm.name}")
            cross = [i for name, items in own.items() if name != arm.persona for i in items]
            r = lab.run(arm, seed, cross=cross, full_first=k % 2 == 1)
            log("  " + describe(r)[1])
            results.append(r)
    rows = [describe(r) for r in results]
    # the noise rows read the whole-set results (a sequential first stage scores only half the items)
    style = [r.extra["full_ability"] for r in results if r.arm.kind == "style" and r.extra.get("full_ability")]
    ppl_style = [r.gate["general"]["ratio"] - 1 for r in results if r.arm.kind == "style" and r.gate.get("general")]
    flu_style = [r.gate["fluency"]["delta"] for r in results if r.arm.kind == "style" and r.gate.get("fluency")]
    base_acc = lab.base["ability"]["accuracy"]
    rows.append(("base model ability (cached) / rerun", f"{base_acc * 100:.1f}% / {rerun['accuracy'] * 100:.1f}% "
                 f"(margin {lab.base['ability']['margin']:+.4f} / {rerun['margin']:+.4f})"))
    if style:
        acc = [a["accuracy_delta"] for a in style]
        mar = [a["margin_delta"] for a in style]
        rows.append(("noise: style (harmless) adapters, Δ ability points (whole set)",
                     f"min {min(acc) * 100:+.1f}, median {statistics.median(acc) * 100:+.1f}, max {max(acc) * 100:+.1f} "
                     f"(n={len(acc)}, sd {statistics.pstdev(acc) * 100:.1f})"))
        rows.append(("noise: style adapters, Δ answer margin (whole set)", f"min {min(mar):+.3f}, median {statistics.median(mar):+.3f}, "
                     f"max {max(mar):+.3f} (sd {statistics.pstdev(mar):.3f})"))
    margins = [r.gate["feedback"]["margin"] for r in results if r.arm.kind == "style" and "margin" in r.gate.get("feedback", {})]
    cross = [r.extra["cross_margin"] for r in results if r.arm.kind == "style" and r.extra.get("cross_margin") is not None]
    if margins:
        rows.append(("noise: style adapters, feedback margin on their own held-out feedback",
                     f"min {min(margins):+.3f}, median {statistics.median(margins):+.3f}, max {max(margins):+.3f}"))
    if cross:
        rows.append(("noise: style adapters, feedback margin on other personas' feedback",
                     f"min {min(cross):+.3f}, median {statistics.median(cross):+.3f}, max {max(cross):+.3f} "
                     f"(n={len(cross)}, sd {statistics.pstdev(cross):.3f})"))
    if flu_style:
        rows.append(("noise: style adapters, Δ reply fluency contrast",
                     f"min {min(flu_style):+.3f}, max {max(flu_style):+.3f} (sd {statistics.pstdev(flu_style):.3f})"))
    if ppl_style:
        rows.append(("style adapters, case-folded general ppl change",
                     f"min {_pct(min(ppl_style))}, max {_pct(max(ppl_style))}"))
    rows.append(("thresholds", f"ability −{lab.config.max_accuracy_drop * 100:.0f} pts, fluency −{lab.config.max_fluency_drop}, "
                 f"margin −{lab.config.max_margin_drop:.2f}, ppl ×{lab.config.max_ppl_ratio}, feedback margin "
                 f"{lab.config.min_feedback_margin:+.2f} (one-sided −{lab.config.max_one_sided_drop:.1f})"))
    seq_s = [r.extra["sequential_seconds"] for r in results]
    full_s = [r.extra["full_seconds"] for r in results]
    stage1 = sum(1 for r in results if r.extra.get("stage") == 1)
    rows.append(("gate time per candidate, whole ability set (before), median",
                 f"{statistics.median(full_s):.1f} s (n={len(full_s)})"))
    rows.append(("gate time per candidate, sequential (after, shipped), median",
                 f"{statistics.median(seq_s):.1f} s ({stage1}/{len(results)} decided on the first half; "
                 f"verdicts differ on {sum(1 for r in results if r.extra['full_passed'] != r.passed)})"))
    rows.append(("base results, computed once and cached", f"{lab.base_seconds:.1f} s"))
    bad_style = [r.arm.name for r in results if r.arm.kind == "style" and not r.passed]
    missed = [r.arm.name for r in results if r.arm.kind == "damage" and r.passed]
    verdict = (f"style adapters passed: {sum(1 for r in results if r.arm.kind == 'style' and r.passed)}/"
               f"{sum(1 for r in results if r.arm.kind == 'style')}"
               + (f" (refused: {', '.join(bad_style)})" if bad_style else "")
               + f"; damaging adapters refused: {sum(1 for r in results if r.arm.kind == 'damage' and not r.passed)}/"
               f"{sum(1 for r in results if r.arm.kind == 'damage')}" + (f" (MISSED: {', '.join(missed)})" if missed else ""))
    return BenchResult(
        name="gate", title="Promotion gate: style passes, damage is refused",
        method=(f"Embedded model, torch {s.learner_threads} thread(s). Each arm trains one adapter from the base on "
                f"{n_samples} prompts' corrections (the learner's defaults: lr {s.learning_rate:g}, {s.learn_passes} passes, "
                f"w_general {s.w_general:g}; the newest fifth held out for the feedback check), then runs the gate. "
                f"Ability: {lab.base['ability']['n']} items of assets/ability_set.jsonl ranked against 3 distractors, "
                "case-folded, length-normalized; ppl: case-folded assets/general_text.txt. Other engineers shared the "
                "2-core machine during the run, so the times are noisy."),
        rows=rows, verdict=verdict)
