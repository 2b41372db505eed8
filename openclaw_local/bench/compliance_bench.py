"""Next-reply compliance with standing preferences vs without them.

``openclaw-local bench learn --only compliance``. What a user who only talks (no ratings, no
corrections) gets from complaining: after a complaint about one of their rules, do the next
replies keep it? Measured on the development personas (``sim.persona.shipped_personas``, never
the frozen test personas), through the product's own path:

- the real :class:`~openclaw_local.services.chat.ChatService` on a fresh data dir per
  conversation (real SQLite store), the real llama.cpp engine on the embedded model, replies at
  the product's settings (``max_tokens``, temperature, top-p; the sampling seed is the run's seed);
- the real judge: the ``learned`` judge, run synchronously in this process by a
  :class:`~openclaw_local.services.judging.JudgeWorker` exactly as the learner's judge thread runs
  it (``notify`` records the next state, ``run_pending`` judges), right after each reply, so a
  push-back reaches ``PreferenceService.observe_push_back`` as in the product.

One conversation, per persona, rule R (the ones the base model breaks most) and seed:

1. a train prompt whose reply breaks R (the first of the seed's shuffled prompts that does);
2. a complaint about R, drawn with the seed from ``persona.complaint_pool(R)``; the judge judges;
3. the next 3 train prompts: compliance after the 1st complaint = the share of their replies
   that keep R (a reply cut by the token limit fails the length and ending rules,
   ``sim.rules.check_all(cut=True)``);
4. a second complaint about R (another phrasing from the pool), after the 3rd of those replies
   whether or not it broke R: the repeated request is what makes a candidate preference standing;
5. the next 3 train prompts: compliance after the 2nd complaint.

Each conversation runs twice, ``prefs_enabled=False`` (the old behaviour: the complaint is only
in the thread) and ``prefs_enabled=True``, with the same prompts, complaints and sampling seed;
the engine's prompt cache is cleared before the first message of each, so the first reply is the
same in both. After the 2nd complaint the with-preferences arm records which preferences are
active, how many context tokens the preferences in the prompt take, and that their text is in
the system message of the next reply (``ChatService.context_for``).

Replay: until a preference is in its context, the arm with preferences asks the engine for
exactly what the arm without them asked (the same messages, sampling options and seed, after
the same calls since the cache was cleared), and llama.cpp gives the same reply for it; such a
reply is replayed from the first arm instead of generated again (:class:`ReplayingEngine`; the
test checks the premise with replay off). It halves the run where no preference becomes active.

Kill-safe: with ``out``, every conversation is written to ``out/compliance.json`` as soon as it
ends, and a later run with the same settings takes the conversations (and base-model probes)
it finds there instead of running them again.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from openclaw_local.bench.report import BenchResult, machine_line
from openclaw_local.config import Settings
from openclaw_local.errors import UsageError
from openclaw_local.sim.persona import PERSONAS_DIR, Persona, load_persona, shipped_personas
from openclaw_local.sim.rules import Rule, check_all

FOLLOW_UPS = 3  # train prompts after each complaint whose replies are scored
COMPLAINTS = 2
RULES_PER_PERSONA = 2
PROBE_PROMPTS = 6  # base replies per persona that pick the rules it breaks most
MAX_TRIES = 6  # train prompts tried for a first reply that breaks the rule
PERSONA_BUDGET_S = 1800.0  # a persona that has taken this long runs no further seed
JUDGE_MODE = "learned"

Inspect = Callable[[Any, int, "ConversationRecord"], None]  # (chat, conversation id, record) after the 2nd complaint


@dataclass
class ConversationRecord:
    """One conversation of one arm: what was said, what the judge made of it, what the replies kept."""

    persona: str
    rule: str
    seed: int
    prefs: bool
    first_prompt: str
    first_reply: str = ""
    first_broke: bool = False  # the first reply broke the rule (in this arm)
    complaints: list[str] = field(default_factory=list)
    verdicts: list[tuple[int | None, str | None]] = field(default_factory=list)  # (reward, hint) per complaint
    kept: list[list[bool]] = field(default_factory=list)  # per complaint: did each follow-up reply keep the rule
    cut: list[list[bool]] = field(default_factory=list)  # per complaint: was each follow-up reply cut by the limit
    replies: list[list[str]] = field(default_factory=list)  # per complaint: the follow-up replies
    replayed: int = 0  # replies taken from the arm without preferences (same context and seed)
    generated: int = 0  # replies the engine generated
    second_after_break: bool = False  # the reply the 2nd complaint answered broke the rule
    candidates_after: list[int] = field(default_factory=list)  # per complaint: candidate preferences
    active_after: list[list[str]] = field(default_factory=list)  # per complaint: the active preferences' text
    in_context: list[str] = field(default_factory=list)  # after the 2nd complaint: the preferences in the prompt
    context_tokens: int = 0  # … and the tokens their block takes
    in_system_message: bool = False  # … and their text is in the next reply's system message
    other_prefs: list[str] = field(default_factory=list)  # every preference at the end, "status: text"
    seconds: float = 0.0

    def compliance(self, k: int) -> float:
        """The share of follow-up replies that kept the rule after complaint ``k`` (0 or 1)."""
        return sum(self.kept[k]) / len(self.kept[k]) if len(self.kept) > k and self.kept[k] else float("nan")


@dataclass
class ComplianceResult(BenchResult):
    """A BenchResult whose section is a per-persona table (header first) above the metric rows."""

    table: list[list[str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"== {self.title} =="] + ["  " + " | ".join(r) for r in self.table]
        lines += [f"  {k}: {v}" for k, v in self.rows]
        if self.verdict:
            lines.append(f"  => {self.verdict}")
        return "\n".join(lines)

    def markdown(self) -> str:
        from datetime import datetime, timezone

        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        out = [f"### {self.title}", "", f"Measured {stamp} on {machine_line()}.", ""]
        if self.method:
            out += [self.method, ""]
        if self.table:
            head, *body = self.table
            out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            out += ["| " + " | ".join(r) + " |" for r in body]
            out.append("")
        out += ["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in self.rows]
        if self.verdict:
            out += ["", f"**{self.verdict}**"]
        return "\n".join(out)


def _progress(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def dev_personas(personas: Sequence[Path | str | Persona] | None) -> list[Persona]:
    """The development personas (default: every shipped one); the frozen test personas are refused."""
    test_dir = (PERSONAS_DIR / "test").resolve()
    out = []
    for p in personas if personas is not None else shipped_personas():
        persona = p if isinstance(p, Persona) else load_persona(p)
        if persona.path is not None and test_dir in persona.path.resolve().parents:
            raise UsageError(f"{persona.path.name} is a frozen test persona: this benchmark runs on the development ones")
        out.append(persona)
    return out


def prompt_order(persona: Persona, seed: int) -> list[str]:
    """The persona's train prompts in the seed's order (the same for every rule of the persona)."""
    order = list(persona.train_prompts)
    random.Random(f"{persona.name}|prompts|{seed}").shuffle(order)
    return order


def draw_complaints(persona: Persona, rule: Rule, seed: int, n: int = COMPLAINTS) -> list[str]:
    """``n`` phrasings of the complaint about ``rule`` drawn with the seed, different while the pool lasts."""
    rng = random.Random(f"{persona.name}|{rule.key}|{seed}")
    pool = list(persona.complaint_pool(rule))
    out: list[str] = []
    for _ in range(n):
        left = [c for c in pool if c not in out] or pool
        out.append(rng.choice(left))
    return out


def keeps(rule: Rule, reply: str, cut: bool) -> bool:
    return check_all(reply, [rule], cut=cut)[0]


class ReplayingEngine:
    """The real engine, except that a request it has answered before in this run (the same messages and
    sampling options, seed included, after the same calls since the cache was last cleared) gets that
    answer again instead of a new generation. Everything else goes to the engine."""

    def __init__(self, engine: Any):
        self.engine = engine
        self.memo: dict[str, tuple[list[str], Any]] = {}
        self.trail = ""  # the requests since the cache was last cleared: part of the key
        self.replayed = 0
        self.generated = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def reset(self) -> None:
        """Clear the prompt cache (and start a new trail)."""
        self.engine.llm.reset()
        self.trail = ""

    def generate(self, messages: list[dict[str, Any]], **options: Any) -> Any:
        import dataclasses
        import hashlib
        import json

        from openclaw_local.engine import Generation

        request = json.dumps([messages, {k: v for k, v in options.items() if k != "cancel"}], sort_keys=True,
                             default=str)
        self.trail = key = hashlib.sha256((self.trail + request).encode()).hexdigest()
        if key in self.memo:
            self.replayed += 1
            pieces, stats = self.memo[key]
            return Generation(_pieces=iter(pieces), stats=dataclasses.replace(stats))
        self.generated += 1
        real = self.engine.generate(messages, **options)

        def record():
            out = []
            for piece in real:
                out.append(piece)
                yield piece
            if real.stats.finish_reason in ("stop", "length"):
                self.memo[key] = (out, dataclasses.replace(real.stats))

        gen = Generation(_pieces=record())
        gen.stats = real.stats  # filled in as the real one runs
        return gen


class Bench:
    """The engine, the judge and the settings shared by every conversation of a run."""

    def __init__(self, engine: Any, judge: Any, settings: Settings):
        self.engine = engine
        self.judge = judge
        self.settings = settings
        self._base: dict[tuple[str | None, str, int], tuple[str, bool]] = {}

    def reset(self) -> None:
        if isinstance(self.engine, ReplayingEngine):
            self.engine.reset()
        else:
            self.engine.llm.reset()

    def counts(self) -> tuple[int, int]:
        return (self.engine.replayed, self.engine.generated) if isinstance(self.engine, ReplayingEngine) else (0, 0)

    def arm_settings(self, persona: Persona, seed: int, prefs: bool) -> Settings:
        s = self.settings.replace(seed=seed, prefs_enabled=prefs)
        return s.replace(system_prompt=persona.system_prompt) if persona.system_prompt else s

    def _open(self, data_dir: Path, s: Settings):
        from openclaw_local.services import container
        from openclaw_local.services.chat import ChatService
        from openclaw_local.services.judging import JudgeWorker
        from openclaw_local.store.samples import SampleStore

        store = container.open_store(data_dir)
        # the learner's judge thread, driven by hand: notify() records the next state, run_pending() judges
        worker = JudgeWorker(SampleStore(store), self.judge, settings=s)
        chat = ChatService(store, self.engine, s, on_next_state=worker.notify)
        return store, worker, chat

    @staticmethod
    def say(chat: Any, worker: Any, conversation_id: int, text: str) -> tuple[str, bool]:
        """Send ``text``; (reply, cut by the token limit). Then the judge judges what is waiting,
        as the learner's judge thread does within a second of the reply."""
        from openclaw_local.services.events import ReplyFinished

        finished: list[ReplyFinished] = []
        msg = chat.send(conversation_id, text, lambda e: finished.append(e) if isinstance(e, ReplyFinished) else None)
        worker.run_pending()
        return (msg.content if msg else ""), bool(finished and finished[-1].finish_reason == "length")

    def base_reply(self, persona: Persona, prompt: str, seed: int) -> tuple[str, bool]:
        """The base model's reply to ``prompt`` as the first message of a conversation (memoised)."""
        key = (persona.system_prompt, prompt, seed)
        if key not in self._base:
            s = self.arm_settings(persona, seed, prefs=False)
            with tempfile.TemporaryDirectory(prefix="openclaw-compliance-") as tmp:
                store, worker, chat = self._open(Path(tmp), s)
                try:
                    self.reset()
                    self._base[key] = self.say(chat, worker, chat.new_conversation().id, prompt)
                finally:
                    store.close()
        return self._base[key]

    def break_rates(self, persona: Persona, n: int) -> dict[Rule, float]:
        """Per rule, the share of ``n`` base replies (seed 0's first prompts) that break it."""
        replies = [self.base_reply(persona, p, 0) for p in prompt_order(persona, 0)[:n]]
        return {r: sum(not keeps(r, text, cut) for text, cut in replies) / max(1, len(replies)) for r in persona.rules}

    def converse(self, persona: Persona, rule: Rule, seed: int, prompts: list[str], complaints: list[str], *,
                 prefs: bool, inspect: Inspect | None = None) -> ConversationRecord:
        """One conversation of one arm (module docstring, steps 1–5)."""
        t0 = time.perf_counter()
        rec = ConversationRecord(persona.name, rule.key, seed, prefs, prompts[0], complaints=list(complaints))
        s = self.arm_settings(persona, seed, prefs)
        with tempfile.TemporaryDirectory(prefix="openclaw-compliance-") as tmp:
            store, worker, chat = self._open(Path(tmp), s)
            try:
                conv = chat.new_conversation().id
                self.reset()  # no cached prefix: the first reply is the same in both arms
                counts = self.counts()
                reply, cut = self.say(chat, worker, conv, prompts[0])
                rec.first_reply, rec.first_broke = reply, not keeps(rule, reply, cut)
                follow = iter(prompts[1:])
                for k, complaint in enumerate(complaints):
                    if k:
                        rec.second_after_break = not keeps(rule, reply, cut)
                    before = _reply_ids(chat, conv)
                    self.say(chat, worker, conv, complaint)
                    rec.verdicts.append(_verdict(worker.samples, before[-1]) if before else (None, None))
                    prefs_now = chat.preferences.list()
                    rec.candidates_after.append(sum(p.status == "candidate" for p in prefs_now))
                    rec.active_after.append([p.text for p in prefs_now if p.status == "active"])
                    if k == len(complaints) - 1:
                        in_ctx = chat.preferences.in_context()
                        rec.in_context = [p.text for p in in_ctx]
                        block = chat.preferences.block(in_ctx)
                        rec.context_tokens = len(self.engine.tokenize(block, special=False)) if block else 0
                        system = chat.context_for(conv)[0]["content"]
                        rec.in_system_message = bool(in_ctx) and all(p.text in system for p in in_ctx)
                        if inspect is not None:
                            inspect(chat, conv, rec)
                    kept, cuts, replies = [], [], []
                    for _ in range(FOLLOW_UPS):
                        reply, cut = self.say(chat, worker, conv, next(follow))
                        kept.append(keeps(rule, reply, cut))
                        cuts.append(cut)
                        replies.append(reply)
                    rec.kept.append(kept)
                    rec.cut.append(cuts)
                    rec.replies.append(replies)
                rec.other_prefs = [f"{p.status}: {p.text}" for p in chat.preferences.list()]
                rec.replayed, rec.generated = (b - a for a, b in zip(counts, self.counts()))
            finally:
                store.close()
        rec.seconds = time.perf_counter() - t0
        return rec


def _reply_ids(chat: Any, conversation_id: int) -> list[int]:
    return [m.id for m in chat.messages(conversation_id) if m.role == "assistant"]


def _verdict(samples: Any, message_id: int) -> tuple[int | None, str | None]:
    row = samples.get(message_id)
    return (row.reward, row.hint) if row is not None else (None, None)


# ---------------------------------------------------------------------------- the run
class Saved:
    """``out/compliance.json``: the run's settings, base-model probes and conversations, rewritten after
    each conversation; what a later run with the same settings finds there it does not run again."""

    def __init__(self, out: Path | None, fingerprint: dict[str, Any]):
        self.path = Path(out) / "compliance.json" if out is not None else None
        self.fingerprint = fingerprint
        self.probes: dict[str, dict[str, float]] = {}
        self.records: list[ConversationRecord] = []
        if self.path is not None and self.path.is_file():
            data = json.loads(self.path.read_text())
            if data.get("settings") == fingerprint:
                self.probes = data.get("probes") or {}
                self.records = [ConversationRecord(**r) for r in data.get("records") or []]

    def find(self, persona: str, rule: str, seed: int, prefs: bool) -> ConversationRecord | None:
        return next((r for r in self.records if (r.persona, r.rule, r.seed, r.prefs) == (persona, rule, seed, prefs)),
                    None)

    def write(self, records: list[ConversationRecord]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"settings": self.fingerprint, "probes": self.probes, "records": as_dicts(records)},
                                  indent=1, ensure_ascii=False))
        tmp.replace(self.path)


def run(model: Path, settings: Settings, *, seeds: int = 3, user_home: Path | None = None,
        personas: Sequence[Path | str | Persona] | None = None, rules_per_persona: int = RULES_PER_PERSONA,
        max_tokens: int | None = None, probe_prompts: int = PROBE_PROMPTS, max_tries: int = MAX_TRIES,
        persona_budget_s: float = PERSONA_BUDGET_S, replay: bool = True, inspect: Inspect | None = None,
        progress: Callable[[str], None] = _progress, records: list[ConversationRecord] | None = None,
        out: Path | None = None) -> ComplianceResult:
    """Measure next-reply compliance without vs with standing preferences (module docstring).

    ``max_tokens``: the reply length (default: the product's, ``Settings().max_tokens``; a test may
    allow short replies). ``replay``: replay a reply the arm without preferences already got for the
    same request (:class:`ReplayingEngine`). ``inspect(chat, conversation_id, record)`` is called in
    each conversation right after the 2nd complaint was judged, while its store is open. ``records``,
    when given, receives every conversation; ``out``, when given, is a folder where they are kept
    (``compliance.json``, written after each one) and taken from by a later run with the same settings.
    """
    from openclaw_local.services import container

    t_start = time.perf_counter()
    load = [os.getloadavg()[0]]
    s = settings.replace(max_tokens=max_tokens or Settings().max_tokens)
    cast = dev_personas(personas)
    saved = Saved(out, {"model": Path(model).name, "max_tokens": s.max_tokens, "temperature": s.temperature,
                        "top_p": s.top_p, "n_ctx": s.n_ctx, "threads": s.threads, "system_prompt": s.system_prompt,
                        "prefs_token_budget": s.prefs_token_budget, "probe_prompts": probe_prompts,
                        "max_tries": max_tries, "rules_per_persona": rules_per_persona, "judge": JUDGE_MODE})
    engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads,
                                   plan=container.load_plan(user_home, s, model))
    judge = container.build_judge(s, None, JUDGE_MODE)
    judge.judge("Paris.", "Thanks!", "What is the capital of France?")  # the encoder loads here, not mid-run
    bench = Bench(ReplayingEngine(engine) if replay else engine, judge, s)
    done: list[ConversationRecord] = [] if records is None else records
    notes: dict[str, str] = {}
    chosen: dict[str, list[tuple[Rule, float]]] = {}
    resumed, resumed_s = 0, 0.0
    try:
        for persona in cast:
            t_persona = time.perf_counter()
            if persona.name in saved.probes:
                rates = {r: saved.probes[persona.name].get(r.key, 0.0) for r in persona.rules}
            else:
                rates = bench.break_rates(persona, probe_prompts)
                saved.probes[persona.name] = {r.key: rate for r, rate in rates.items()}
            ranked = sorted((r for r in persona.rules if rates[r] > 0), key=lambda r: -rates[r])[:rules_per_persona]
            chosen[persona.name] = [(r, rates[r]) for r in ranked]
            progress(f"[compliance] {persona.name}: base breaks " + ", ".join(
                f"{r.key} {rates[r]:.0%}" for r in persona.rules) + f"; measuring {', '.join(r.key for r in ranked) or 'none'}")
            earlier = 0.0  # seconds this persona's conversations from an earlier run took
            for seed in range(seeds):
                if time.perf_counter() - t_persona + earlier > persona_budget_s:
                    notes[persona.name] = f"stopped after {seed} of {seeds} seeds ({persona_budget_s / 60:.0f} min budget)"
                    progress(f"[compliance] {persona.name}: {notes[persona.name]}")
                    break
                order = prompt_order(persona, seed)
                for rule in ranked:
                    arms = [saved.find(persona.name, rule.key, seed, prefs) for prefs in (False, True)]
                    if all(arms):
                        done.extend(arms)  # type: ignore[arg-type]
                        earlier += sum(r.seconds for r in arms)  # type: ignore[union-attr]
                        resumed, resumed_s = resumed + 2, resumed_s + sum(r.seconds for r in arms)  # type: ignore[union-attr]
                        progress(f"[compliance] {persona.name} {rule.key} seed {seed}: taken from {saved.path.name}")
                        continue
                    first = next((i for i, p in enumerate(order[:max_tries])
                                  if not keeps(rule, *bench.base_reply(persona, p, seed))), None)
                    if first is None:
                        progress(f"[compliance] {persona.name} {rule.key} seed {seed}: no base reply broke it in "
                                 f"{max_tries} prompts, skipped")
                        continue
                    prompts = order[first:first + 1 + COMPLAINTS * FOLLOW_UPS]
                    complaints = draw_complaints(persona, rule, seed)
                    for prefs in (False, True):
                        rec = bench.converse(persona, rule, seed, prompts, complaints, prefs=prefs, inspect=inspect)
                        done.append(rec)
                        saved.write(done)
                        progress(f"[compliance] {persona.name} {rule.key} seed {seed} prefs {'on ' if prefs else 'off'}: "
                                 f"kept {rec.compliance(0):.2f} / {rec.compliance(1):.2f} after 1st / 2nd complaint; "
                                 f"verdicts {[v[0] for v in rec.verdicts]}; "
                                 f"active {rec.active_after[-1] if rec.active_after else []}; "
                                 f"{rec.generated} replies generated, {rec.replayed} replayed; {rec.seconds:.0f} s")
            load.append(os.getloadavg()[0])
            saved.write(done)
    finally:
        engine.close()
    wall = time.perf_counter() - t_start
    return summarize(done, cast, chosen, notes, seeds=seeds, settings=s, wall_s=wall, load=load, resumed=resumed,
                     resumed_s=resumed_s)


# ---------------------------------------------------------------------------- the table
def _mean(xs: Sequence[float]) -> float:
    xs = [x for x in xs if x == x]
    return statistics.fmean(xs) if xs else float("nan")


def _cell(recs: list[ConversationRecord], k: int) -> str:
    """Mean compliance over the conversations, and the min–max of the per-seed means."""
    if not recs:
        return "–"
    per_seed = [_mean([r.compliance(k) for r in recs if r.seed == s]) for s in sorted({r.seed for r in recs})]
    return f"{_mean([r.compliance(k) for r in recs]):.2f} ({min(per_seed):.2f}–{max(per_seed):.2f})"


def _row(label: str, rules: str, recs: list[ConversationRecord], note: str = "") -> list[str]:
    off = [r for r in recs if not r.prefs]
    on = [r for r in recs if r.prefs]
    active = _mean([len(r.active_after[-1]) for r in on if r.active_after])
    tokens = _mean([r.context_tokens for r in on])
    return [label + (f" ({note})" if note else ""), rules, str(len(on)),
            _cell(off, 0), _cell(on, 0), _cell(off, 1), _cell(on, 1),
            "–" if active != active else f"{active:.1f}", "–" if tokens != tokens else f"{tokens:.0f}"]


HEADER = ["persona", "rules measured (base breaks)", "conversations per arm",
          "kept after 1st complaint, without prefs", "with prefs",
          "kept after 2nd complaint, without prefs", "with prefs",
          "active prefs after 2nd", "their context tokens"]


def summarize(recs: list[ConversationRecord], cast: list[Persona], chosen: dict[str, list[tuple[Rule, float]]],
              notes: dict[str, str], *, seeds: int, settings: Settings, wall_s: float,
              load: Sequence[float] = (), resumed: int = 0, resumed_s: float = 0.0) -> ComplianceResult:
    table = [list(HEADER)]
    for persona in cast:
        rules = ", ".join(f"{r.key} ({rate:.0%})" for r, rate in chosen.get(persona.name, [])) or "none broken"
        table.append(_row(persona.name, rules, [r for r in recs if r.persona == persona.name], notes.get(persona.name, "")))
    table.append(_row("**all**", "", recs))
    off = [r for r in recs if not r.prefs]
    on = [r for r in recs if r.prefs]
    gains = [_mean([r.compliance(k) for r in on]) - _mean([r.compliance(k) for r in off]) for k in (0, 1)]
    n_on = max(1, len(on))
    became = Counter(t for r in on for t in (r.active_after[-1] if r.active_after else []))
    hints = sum(1 for r in on for reward, hint in r.verdicts if reward == -1 and hint)
    pushes = sum(1 for r in on for reward, _ in r.verdicts if reward == -1)
    rows = [
        ("complaints read as push-back (−1) by the judge, with a hint", f"{pushes} / {sum(len(r.verdicts) for r in on)}, "
                                                                        f"{hints} with a hint"),
        ("with prefs: conversations with a candidate after the 1st complaint",
         f"{sum(1 for r in on if r.candidates_after and r.candidates_after[0])} / {len(on)}"),
        ("with prefs: conversations with an active preference after the 1st / 2nd complaint",
         f"{sum(1 for r in on if r.active_after and r.active_after[0])} / "
         f"{sum(1 for r in on if r.active_after and r.active_after[-1])} of {len(on)}"),
        ("with prefs: the preference text was in the next reply's system message",
         f"{sum(r.in_system_message for r in on)} of {sum(1 for r in on if r.in_context)} conversations with one in context"),
        ("active preferences after the 2nd complaint (most common)",
         "; ".join(f"\"{t}\" ×{n}" for t, n in became.most_common(6)) or "none"),
        ("2nd complaint followed a reply that broke the rule", f"{sum(r.second_after_break for r in on)} / {len(on)} "
                                                              f"(with prefs), {sum(r.second_after_break for r in off)} / "
                                                              f"{len(off)} (without)"),
        ("follow-up replies cut by the token limit", f"{_cut_share(off):.0%} without, {_cut_share(on):.0%} with"),
        ("first reply the same in both arms, and broke the rule",
         f"{sum(1 for a, b in _pairs(recs) if a.first_reply == b.first_reply and a.first_broke)} / {len(_pairs(recs))}"),
        ("with prefs: replies replayed from the arm without (same request and seed) / generated",
         f"{sum(r.replayed for r in on)} / {sum(r.generated for r in on)}"),
        ("wall time of the run", f"{wall_s / 60:.1f} min ({len(recs)} conversations, "
                                 f"{_mean([r.seconds for r in recs]):.0f} s each on average)"
                                 + (f"; {resumed} of them taken from an earlier run's compliance.json, where they "
                                    f"took {resumed_s / 60:.0f} min" if resumed else "")),
    ]
    if gains[1] == gains[1] and gains[0] == gains[0]:
        raised = gains[1] > 0.05 or gains[0] > 0.05
        verdict = (f"{'preferences raised' if raised else 'preferences did not raise'} next-reply compliance: "
                   f"{gains[0]:+.2f} after the 1st complaint, {gains[1]:+.2f} after the 2nd "
                   f"(with − without, mean over {n_on} conversations per arm)")
    else:
        verdict = "no conversation ran: no rule was broken by the base model"
    method = (
        f"`openclaw-local bench learn --only compliance`. Development personas, words-only feedback, {seeds} seeds. "
        f"Per persona the {RULES_PER_PERSONA} rules the base model breaks most (of {PROBE_PROMPTS} base replies, "
        "percentage in brackets). Per rule and seed, one conversation through the real ChatService (fresh SQLite "
        "data dir, the embedded model on llama.cpp, the product's reply settings: "
        f"max_tokens {settings.max_tokens}, temperature {settings.temperature}, top-p {settings.top_p}, "
        f"n_ctx {settings.n_ctx}, {settings.threads} thread(s), sampling seed = the seed), the learned judge run "
        "synchronously after every reply as the learner's judge thread runs it: a train prompt whose reply breaks "
        f"the rule, a complaint from the persona's pool for it (drawn with the seed), the next {FOLLOW_UPS} train "
        f"prompts, a 2nd complaint (another phrasing) after the {FOLLOW_UPS}rd reply, the next {FOLLOW_UPS}. "
        "\"Kept\" = the share of those replies that keep the rule (a reply cut by the token limit fails the length "
        "and ending rules); the same conversation with `prefs_enabled` off (the complaint is only in the thread) "
        "and on, same prompts, complaints and seed. Mean over rules and seeds; in brackets the min–max of the "
        "per-seed means. Active preferences and their tokens (the block in the system prompt, header included): "
        "with preferences, after the 2nd complaint, mean per conversation. While no preference is in its "
        "context, the arm with preferences sends the engine exactly the requests the arm without sent (same "
        "messages, options and seed, after the same calls since the prompt cache was cleared), and llama.cpp "
        "answers them alike (the test checks it with every reply generated): those replies are replayed from the "
        "first arm instead of generated again."
    )
    if load and max(load) >= 0.5:
        method += (f" Other jobs shared the machine's CPU during the run (1-minute load average {min(load):.1f}–"
                   f"{max(load):.1f} at the start and after each persona, on {os.cpu_count()} cores), so the wall time "
                   "is longer than on an idle machine; the compliance figures do not depend on it.")
    return ComplianceResult(name="learn-compliance",
                            title="Next-reply compliance with and without standing preferences",
                            rows=rows, verdict=verdict, method=method, table=table)


def _cut_share(recs: list[ConversationRecord]) -> float:
    cuts = [c for r in recs for part in r.cut for c in part]
    return sum(cuts) / len(cuts) if cuts else 0.0


def _pairs(recs: list[ConversationRecord]) -> list[tuple[ConversationRecord, ConversationRecord]]:
    off = {(r.persona, r.rule, r.seed): r for r in recs if not r.prefs}
    return [(off[(r.persona, r.rule, r.seed)], r) for r in recs if r.prefs and (r.persona, r.rule, r.seed) in off]


def as_dicts(recs: list[ConversationRecord]) -> list[dict[str, Any]]:
    return [asdict(r) for r in recs]
