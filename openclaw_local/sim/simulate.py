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
learning, at the end, and in between either whenever a newly published adapter has been swapped in
(``score_every`` 0) or only at every ``score_every``-th interaction when the served adapter changed
since the last point (fixed checkpoints: scoring is most of a run's time otherwise).

Where the time went is in the report (``seconds``): the simulated user's replies, scoring,
waiting for the learner (paced runs wait while an update is due or running), the arms, and the
learner's own phases summed over its updates (``learner_seconds``, from each update's timings).

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
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from openclaw_local.config import Settings, load_settings
from openclaw_local.errors import UsageError
from openclaw_local.paths import atomic_output, shown, write_output
from openclaw_local.records import LearnerPhase
from openclaw_local.sim.arms import memory_system_prompt, run_arms, sft_arm  # noqa: F401 — the arms' home
from openclaw_local.sim.persona import Persona, SimulatedUser
from openclaw_local.sim.scoring import SCORE_MAX_TOKENS, eval_point, persona_score  # noqa: F401 — re-exported
from openclaw_local.sim.scoring import scores_by_system_prompt

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


# ------------------------------------------------------------------------------ the run
@dataclass
class SimRun:
    """One run's inputs and what it has seen so far: set up by :func:`prepare_run`, filled by the loop."""

    persona: Persona
    out_dir: Path
    home: Path
    settings: Settings
    overrides: dict[str, Any]
    seed: int
    pace: str
    evals: list[str]
    user: SimulatedUser  # its seeded RNG drew the prompts and draws the reactions, in that order
    prompts: list[str]
    score_max_tokens: int  # scored replies; the interactions use settings.max_tokens
    say: Progress
    started: float = field(default_factory=time.monotonic)
    curve: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[int, int] = field(default_factory=dict)  # interaction reply id → the user's true verdict
    reactions: Counter = field(default_factory=Counter)
    complaints: list[str] = field(default_factory=list)
    corrections: list[tuple[str, str]] = field(default_factory=list)
    last_eval_version: int | None = None
    by_system_prompt: dict[str, dict[str, float]] = field(default_factory=dict)  # "baseline"/"final" → name → score
    score_every: int = 0  # 0: score each newly served adapter; N: only at every N-th interaction (and at the end)
    seconds: Counter = field(default_factory=Counter)  # where the run's time went, by part (see ``timed``)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @contextmanager
    def timed(self, part: str) -> Iterator[None]:
        """Add the time the block takes to ``seconds[part]``."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[part] += time.monotonic() - start

    def eval_point(self, rt, interactions: int) -> dict[str, Any]:
        """Score the eval prompts with whatever is served now; the point joins the curve."""
        with self.timed("scoring"):
            point = eval_point(rt, self.persona, self.evals, self.settings.system_prompt, self.score_max_tokens,
                                interactions, self.started)
        self.curve.append(point)
        self.last_eval_version = point["version"]
        return point

    def eval_if_new_version(self, rt, interactions: int, *, final: bool = False, before_next: bool = False) -> None:
        """Score when the served adapter changed since the last point, at a checkpoint (or at the end)."""
        if self.score_every and not final and interactions % self.score_every:
            return
        if self.score_every and not final and not before_next and self.pace == "learner":
            return  # a paced run scores a checkpoint once, after the update its interactions made was served
        if rt.learner.served_version != self.last_eval_version:
            point = self.eval_point(rt, interactions)
            self.say(f"  adapter v{point['version']} served: score {point['score']:.2f}")


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
    system_prompts: bool = False,
    score_every: int = 0,
) -> dict[str, Any]:
    """Run one simulated-user session through the product loop; write report.json + curve.png in ``out_dir``.

    The simulated user's own interactions are answered within the run's ``max_tokens``
    (``SIM_SETTINGS``: 96, to keep a run short); every scored reply gets ``score_max_tokens``
    (the product's default), the length a user sees. ``system_prompts``: also score the base and
    the final adapter under the other system messages of ``sim/system_prompts.py``. ``score_every``: see
    the module docstring (0: after every newly served adapter)."""
    from openclaw_local.services.runtime import Runtime

    if score_every < 0:  # before prepare_run makes the run's directory
        raise UsageError("--score-every must be 0 (after every served adapter) or more")
    run = prepare_run(persona, out_dir, interactions=interactions, seed=seed, overrides=overrides or {},
                      eval_prompts=eval_prompts, pace=pace, say=progress or (lambda line: None),
                      prepare_home=prepare_home, score_max_tokens=score_max_tokens)
    run.score_every = score_every
    with run.timed("start"):
        rt = Runtime.open(run.home, run.settings)
    try:
        run.say(f"simulate {persona.name}: {interactions} interactions, {len(run.evals)} eval prompts, "
                f"data dir {run.home}")
        base = run.eval_point(rt, 0)
        run.say(f"baseline score {base['score']:.2f} ({run.elapsed():.0f} s)")
        if system_prompts:
            with run.timed("scoring under other system prompts"):
                run.by_system_prompt["baseline"] = scores_by_system_prompt(rt.engine, persona, run.evals,
                                                                           score_max_tokens)
        with run.timed("start"):
            rt.start_background()
        run.last_eval_version = rt.learner.served_version
        interact(rt, run)
        with run.timed("waiting for the learner"):
            waited_out = wait_for_last_update(rt, run, final_wait_s)
        run.eval_if_new_version(rt, interactions, final=True)
        loop_seconds = run.elapsed()
        if system_prompts:  # the adapter served after the final wait, as the main final score
            with run.timed("scoring under other system prompts"):
                run.by_system_prompt["final"] = scores_by_system_prompt(rt.engine, persona, run.evals,
                                                                        score_max_tokens)
            run.say(f"final score by system prompt: {run.by_system_prompt['final']}")
        product = what_the_product_did(rt, run)
        rt.stop_background()  # stop learning before the arms: they use the engine with other adapters
        with run.timed("arms"):
            arm_results = run_arms(rt, run, product["optimizer_steps"]) if arms else {}
    finally:
        rt.close()
    report = build_report(run, product, arm_results, waited_out=waited_out, loop_seconds=loop_seconds)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    write_report(report, run.out_dir)
    run.say(summary_line(report))
    return report


def prepare_run(persona: Persona, out_dir: Path, *, interactions: int, seed: int, overrides: dict[str, Any],
                eval_prompts: int | None, pace: str, say: Progress, prepare_home: Callable[[Path], None] | None,
                score_max_tokens: int) -> SimRun:
    """Check the arguments, make the run's own data dir with its config.toml, and draw the prompts."""
    if interactions < 1:
        raise UsageError("--interactions must be at least 1")
    n_ctx = int({**SIM_SETTINGS, **overrides}["n_ctx"])
    if score_max_tokens > n_ctx // 2:  # the engine would cut replies there, and the report would say otherwise
        raise UsageError(f"--score-max-tokens {score_max_tokens} is more than half the run's context ({n_ctx})")
    out_dir = Path(out_dir)
    home = out_dir / "home"
    if home.exists() and any(p.name not in ("trainable",) for p in home.iterdir()):
        raise UsageError(f"{home} already holds a run", "pick another --out directory")
    home.mkdir(parents=True, exist_ok=True)
    if prepare_home is not None:
        prepare_home(home)
    sim = {**SIM_SETTINGS, "seed": seed, **overrides}
    if persona.system_prompt:
        sim["system_prompt"] = persona.system_prompt
    _write_config(home, sim)
    user = SimulatedUser(persona, seed)
    return SimRun(
        persona=persona, out_dir=out_dir, home=home, settings=load_settings(home, env={}), overrides=overrides,
        seed=seed, pace=pace, say=say, score_max_tokens=score_max_tokens,
        evals=persona.eval_prompts[:eval_prompts] if eval_prompts else list(persona.eval_prompts),
        user=user, prompts=user.prompts(interactions),
    )


def interact(rt, run: SimRun) -> None:
    """The simulated user's interactions, each a prompt, the reply, and the user's reaction to it."""
    sink = lambda event: None  # noqa: E731 — headless: the chat's stream events go nowhere
    conv, in_conv = None, 0
    for i, prompt in enumerate(run.prompts, 1):
        if run.pace == "learner":
            with run.timed("waiting for the learner"):
                _wait_for_learner(rt, run.settings.learn_min_samples, run.say, run.started)
            run.eval_if_new_version(rt, i - 1, before_next=True)
        with run.timed("replies"):
            if conv is None or in_conv >= PROMPTS_PER_CONVERSATION:
                conv, in_conv = rt.chat.new_conversation(), 0
            reply = rt.chat.send(conv.id, prompt, sink)
            in_conv += 1
            r = run.user.react(reply.content)
            run.truth[reply.id] = r.true_reward
            run.reactions[r.kind] += 1
            if r.kind == "correct":
                rt.chat.correct(reply.id, r.text)
                run.corrections.append((prompt, r.text))
            elif r.kind == "rate":
                rt.chat.rate(reply.id, -1)
            elif r.kind in ("complain", "praise", "neutral"):
                if r.kind == "complain":
                    run.complaints.append(r.text)
                rt.chat.send(conv.id, r.text, sink)
        st = rt.status()
        run.say(f"[{i}/{len(run.prompts)}] {r.kind:8s} score {r.score:.2f} · adapter {st.adapter} · "
                f"learner {st.learner} {st.step or ''} · judging {st.replies_to_judge} · "
                f"waiting {st.samples_to_train} · {run.elapsed():.0f} s")
        run.eval_if_new_version(rt, i)


def wait_for_last_update(rt, run: SimRun, final_wait_s: float) -> bool:
    """Let the judge finish, ask for one last update and wait (bounded) until it is served.

    Returns True when the bound ran out first (the report says so)."""
    adapters = rt.learner.adapters
    rt.wait_judged(60)
    if rt.samples.trainable_ids():
        rt.learner.learn_now()
    deadline = time.monotonic() + final_wait_s
    while True:
        active = adapters.active()
        if (not adapters.pending_requests() and not adapters.state().busy
                and rt.learner.served_version == (active.id if active else None)):
            return False
        if time.monotonic() > deadline:
            run.say(f"stopped waiting for the learner after {final_wait_s:.0f} s")
            return True
        st = rt.status()
        run.say(f"  waiting for the last update: learner {st.learner} {st.step or ''} ({run.elapsed():.0f} s)")
        time.sleep(5)


def what_the_product_did(rt, run: SimRun) -> dict[str, Any]:
    """The versions the learner made, its optimizer steps, the judge's agreement and the sample counts."""
    versions = rt.learner.adapters.versions()
    steps, phases = 0, Counter()
    for v in versions:
        try:
            state = json.loads((Path(v.path) / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue
        steps += int(state.get("steps", 0))
        phases.update(state.get("timings") or {})  # the update's seconds per phase (services/training.py)
    return {"versions": versions, "optimizer_steps": steps, "judge_agreement": _judge_agreement(rt, run.truth),
            "samples": rt.samples.counts(), "learner_seconds": {k: round(v, 1) for k, v in phases.items()}}


def build_report(run: SimRun, product: dict[str, Any], arm_results: dict[str, Any], *, waited_out: bool,
                 loop_seconds: float) -> dict[str, Any]:
    """report.json's content: what was measured, what the product did, and how the run was set up."""
    base, final, versions = run.curve[0], run.curve[-1], product["versions"]
    persona, settings = run.persona, run.settings
    report = {
        "persona": persona.name,
        "persona_file": shown(persona.path) if persona.path else None,  # a name with undecodable bytes too
        "feedback": persona.feedback,
        "seed": run.seed,
        "pace": run.pace,
        "home": str(run.home.relative_to(run.out_dir)),  # the run's data dir, relative to the report's own folder
        "settings": {k: v for k, v in asdict(settings).items() if k in SIM_SETTINGS or k in run.overrides
                     or k in ("learning_rate", "learn_passes", "lora_rank", "lora_alpha", "w_rl", "w_opd", "w_sft",
                              "w_general", "replay_corrections", "system_variants")},
        "interactions": len(run.prompts),
        "eval_prompts": len(run.evals),
        "score_max_tokens": run.score_max_tokens,
        "interaction_max_tokens": settings.max_tokens,
        "cut_replies": {"baseline": base.get("cut_replies"), "final": final.get("cut_replies")},
        "updates": len(versions),
        "updates_served": sum(1 for v in versions if v.status in ("active", "retired")),
        "updates_rejected": [{"version": v.id, "reason": v.reason} for v in versions
                             if v.status not in ("active", "retired")],
        "optimizer_steps": product["optimizer_steps"],
        "served_versions": sorted({p["version"] for p in run.curve if p["version"] is not None}),
        "baseline": base["score"],
        "final": final["score"],
        "final_version": final["version"],
        "score_at_16": _score_at(run.curve, 16),
        "final_general_ppl_ratio": _ppl_ratio(versions, final["version"]),
        "final_ability": next(((v.gate or {}).get("ability") for v in versions if v.id == final["version"]), None),
        "gate_seconds": [(v.gate or {}).get("seconds") for v in versions],
        "curve": [{k: p[k] for k in ("interactions", "version", "score", "at_s", "mixed_versions")} for p in run.curve],
        "per_rule": {k: {"before": base["per_rule"][k], "after": final["per_rule"][k]} for k in base["per_rule"]},
        "reactions": dict(run.reactions),
        "samples": product["samples"],
        "judge_agreement": product["judge_agreement"],
        "arms": {k: {kk: vv for kk, vv in v.items() if kk != "replies"} for k, v in arm_results.items()},
        "learner_waited_out": waited_out,
        "loop_seconds": round(loop_seconds, 1),
        "wall_seconds": round(run.elapsed(), 1),
        "score_every": run.score_every,
        "seconds": {**{k: round(v, 1) for k, v in run.seconds.items()},
                    "other": round(run.elapsed() - sum(run.seconds.values()), 1)},
        "learner_seconds": product["learner_seconds"],
        "eval_replies": {"baseline": base["replies"], "final": final["replies"]},
    }
    if run.by_system_prompt:  # the product's own prompt is "baseline" / "final" above
        report["by_system_prompt"] = run.by_system_prompt
    if arm_results:
        report["beats_arms"] = all(final["score"] >= a["score"] for a in arm_results.values())
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


def summary_line(report: dict[str, Any]) -> str:
    arms = report.get("arms") or {}
    arm_text = "".join(f", {k} {v['score']:.2f}" for k, v in arms.items())
    ja = report["judge_agreement"]["accuracy"]
    return (f"{report['persona']}: baseline {report['baseline']:.2f} → final {report['final']:.2f} after "
            f"{report['interactions']} interactions, {report['updates_served']}/{report['updates']} updates served{arm_text}; judge agreement "
            f"{'n/a' if ja is None else f'{ja:.2f}'}; {report['wall_seconds'] / 60:.1f} min{_time_split(report)}")


def _time_split(report: dict[str, Any]) -> str:
    parts = [f"{k} {v / 60:.1f}" for k, v in sorted((report.get("seconds") or {}).items(), key=lambda kv: -kv[1])
             if v >= 30]
    return f" ({', '.join(parts)} min)" if parts else ""


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
