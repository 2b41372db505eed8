"""Learning benchmarks: update cost, hot swap vs reload, chat while training,
time to first token while the judge is busy, and correction → served adapter latency.

Every comparison is measured side by side in one run, arms interleaved, medians reported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openclaw_local.bench.report import BenchResult, median
from openclaw_local.config import Settings
from openclaw_local.records import LearnerPhase

CHAT_PROMPT = [{"role": "system", "content": "You are a helpful assistant."},
               {"role": "user", "content": "Write a detailed story about a lighthouse keeper who befriends a whale."}]


def _seed_conversations(chat, n: int, *, correct: bool = True) -> list:
    out = []
    for i in range(n):
        conv = chat.new_conversation()
        reply = chat.send(conv.id, f"Give me tip number {i} for sleeping better.", lambda e: None)
        if correct:
            chat.correct(reply.id, f"Tip {i}: keep a regular bedtime and a dark, cool room.")
        else:
            chat.rate(reply.id, -1)
        out.append(reply)
    return out


def _chat_tps(engine, max_tokens: int) -> float:
    engine.llm.reset()
    gen = engine.generate(CHAT_PROMPT, max_tokens=max_tokens, temperature=0.0, seed=1).run()
    return gen.stats.tokens_per_s


def _ttft(engine, i: int) -> float:
    msgs = [CHAT_PROMPT[0], {"role": "user", "content": f"Question {i}: name a color and a fruit."}]
    engine.llm.reset()  # no cached prefix in either arm: the busy arm's seeding used other prompts
    gen = engine.generate(msgs, max_tokens=4, temperature=0.0, seed=1)
    t0 = time.perf_counter()
    for _ in gen:
        break
    return time.perf_counter() - t0


def run(model: Path, settings: Settings, *, rounds: int = 5, user_home: Path | None = None) -> BenchResult:
    """``user_home``: the data dir whose llama.cpp self-test decision the loads follow."""
    from openclaw_local.engine import ModelGate
    from openclaw_local.services.chat_activity import ChatActivity
    from openclaw_local.services import container
    from openclaw_local.engine.load_plan import open_llama
    from openclaw_local.services.chat import ChatService
    from openclaw_local.services.learner import LearnerService
    from openclaw_local.services.training import Learner
    from openclaw_local.store.samples import SampleStore

    rows: list[tuple[str, str]] = []
    verdicts = []
    s = settings.replace(max_tokens=48, temperature=0.7, seed=5, learn_min_samples=1)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = container.open_store(home)
        gate = ModelGate(on_foreground=ChatActivity(home).mark)  # as the runtime's: the learner pauses for chat
        plan = container.load_plan(user_home, s, model)  # every load below follows the start-up self-test
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, gate=gate, plan=plan)
        samples = SampleStore(store, default_system_prompt=s.system_prompt)
        chat = ChatService(store, engine, s, on_next_state=samples.record_next_state)

        # 1) one update: time and trained tokens/s (in this process, like the learner does)
        _seed_conversations(chat, 8)
        learner = Learner(home, s.replace(learn_passes=1), store)
        t0 = time.perf_counter()
        learner._ensure_loaded()
        load_s = time.perf_counter() - t0
        version = learner.update()
        state = version.gate if version else {}
        rows.append(("trainable model load (first time includes GGUF → safetensors)", f"{load_s:.1f} s"))
        rows.append(("update on 8 corrected replies (16 items, 1 pass)", f"{version.train_seconds:.1f} s"))
        rows.append(("trained reply tokens / update", f"{version.n_tokens}"))
        rows.append(("trained tokens/s (reply tokens / update wall time)", f"{version.n_tokens / version.train_seconds:.1f}"))
        rows.append(("promotion gate per update (ability set + case-folded ppl + feedback check), in the update time",
                     f"{version.gate.get('seconds', float('nan')):.1f} s"))
        rows.append(("base model's gate results, once per base model (cached; in the first update only)",
                     f"{version.gate.get('base_seconds', float('nan')):.1f} s"))
        del state

        # 2) hot swap vs full reload
        swaps, reloads = [], []
        for i in range(rounds):
            swaps.append(engine.set_adapter(version.gguf_path))
            engine.set_adapter(None)
            t0 = time.perf_counter()
            llm = open_llama(model, plan, n_ctx=s.n_ctx, n_threads=s.threads, lora_path=str(version.gguf_path), verbose=False)
            reloads.append(time.perf_counter() - t0)
            llm.close()
        rows.append(("adapter hot swap (init + set + KV reset)", f"{median(swaps) * 1000:.1f} ms"))
        rows.append(("full reload with the adapter", f"{median(reloads) * 1000:.0f} ms"))
        rows.append(("reload / hot swap", f"{median(reloads) / median(swaps):.0f}×"))

        # 3) chat tokens/s while the learner trains vs idle, per CPU policy, interleaved via SIGSTOP/SIGCONT
        train_rows, train_verdict = chat_while_training(engine, home, s, rounds)
        rows += train_rows
        verdicts.append(train_verdict)

        # 4) time to first token while the judge has queued work vs idle, for the default judge and `generate`
        judge_engine = container.load_engine(None, s, model, n_ctx=min(2048, s.n_ctx), gate=gate,
                                             plan=container.load_plan(user_home, s, model, cpu_only=True))
        try:
            ttft_rows, ttft_verdicts = ttft_while_judging(engine, chat, samples, judge_engine, s, rounds)
        finally:
            judge_engine.close()
        rows += ttft_rows
        verdicts += ttft_verdicts

        # 5) correction → served adapter, from a data dir with nothing pending (its own, below)
        engine.close()
        store.close()
        corr_rows, corr_verdict = correction_to_served(model, s, plan, trainable_from=home)
        rows += corr_rows
        verdicts.append(corr_verdict)
        store = container.open_store(home)
        store.close()
    return BenchResult(
        name="learn",
        title="Learning: update cost, hot swap, chat while learning, judge TTFT, correction latency",
        method=(f"Embedded model, {s.threads} llama.cpp threads, learner {s.learner_threads} torch thread(s) "
                "under SCHED_IDLE (nice 19 where the OS has no idle class), compared with nice 19 alone. "
                f"{rounds} interleaved rounds per arm for the ratios (training load paused with SIGSTOP for idle rounds; "
                "judge worker started on a fresh queue for busy rounds). Medians."),
        rows=rows,
        verdict="; ".join(verdicts),
    )


PHASES = ("load", "prepare", "parent", "base", "train", "gate", "repair")  # Learner.update's timings


def correction_to_served(model: Path, s: Settings, plan, *, trainable_from: Path | None = None,
                         rounds: int = 2) -> tuple[list[tuple[str, str]], str]:
    """One correction → the adapter that learned it is served, as in the app (learner process +
    the chat's follower), in a fresh data dir where nothing else is pending: the first round
    cold (the learner process running, its model not yet in memory), the next ones warm.

    The trainable copy of the model (GGUF → safetensors, once per base model) is shared from
    ``trainable_from`` when given, so "cold" means loading it, not converting it. Each round is
    decomposed by the update's own phase timings (``Learner.update``); "publish + swap" is the rest.
    """
    import json

    from openclaw_local.services import container
    from openclaw_local.services.chat import ChatService
    from openclaw_local.services.learner import LearnerService
    from openclaw_local.store.samples import SampleStore

    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if trainable_from is not None and (trainable_from / "trainable").is_dir():
            (home / "trainable").symlink_to((trainable_from / "trainable").resolve(), target_is_directory=True)
        store = container.open_store(home)
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, plan=plan)
        samples = SampleStore(store, default_system_prompt=s.system_prompt)
        chat = ChatService(store, engine, s, on_next_state=samples.record_next_state)
        svc = LearnerService(home, s.replace(learn_min_samples=1), store, engine)
        svc.start()
        latencies: list[float] = []
        try:
            deadline = time.perf_counter() + 300
            while svc.adapters.state().phase is not LearnerPhase.IDLE and time.perf_counter() < deadline:
                time.sleep(0.2)  # the learner process is up (torch imported), its model not loaded
            for i in range(rounds):
                before = svc.served_version
                conv = chat.new_conversation()
                reply = chat.send(conv.id, f"What is a good name for pet number {i}?", lambda e: None)
                t0 = time.perf_counter()
                chat.correct(reply.id, f"Name pet {i} Biscuit.")
                deadline = t0 + 600
                while svc.served_version == before and time.perf_counter() < deadline:
                    time.sleep(0.1)
                total = time.perf_counter() - t0
                latencies.append(total)
                version = svc.adapters.active()
                try:
                    timings = json.loads((version.path / "trainer_state.json").read_text()).get("timings") or {}
                except (OSError, ValueError, AttributeError):
                    timings = {}
                label = "cold" if i == 0 else "warm"
                parts = " · ".join(f"{k} {timings[k]:.1f}" for k in PHASES if timings.get(k))
                rest = total - sum(timings.get(k, 0.0) for k in PHASES)
                rows.append((f"correction → served, learner {label}", f"{total:.1f} s ({parts} · publish + swap {rest:.1f})"))
        finally:
            svc.stop()
            engine.set_adapter(None)
            engine.close()
            store.close()
    warm = median(latencies[1:]) if len(latencies) > 1 else float("nan")
    verdict = (f"correction → served cold {'met' if latencies[0] <= 20.0 else 'MISSED'} ({latencies[0]:.1f} s, target ≤ 20 s), "
               f"warm {'met' if warm <= 10.0 else 'MISSED'} ({warm:.1f} s, target ≤ 10 s)")
    return rows, verdict


def run_correction(model: Path, settings: Settings, *, user_home: Path | None = None, rounds: int = 3) -> BenchResult:
    """``bench learn --only correction``: one correction → served, cold then warm, decomposed."""
    from openclaw_local.services import container

    s = settings.replace(max_tokens=48, temperature=0.7, seed=5, learn_min_samples=1)
    plan = container.load_plan(user_home, s, model)
    with tempfile.TemporaryDirectory() as tmp:  # convert the trainable copy once, outside the timed rounds
        from openclaw_local.learn import trainable as tr

        tr.ensure_safetensors_cache(model, Path(tmp) / "trainable")
        rows, verdict = correction_to_served(model, s, plan, trainable_from=Path(tmp), rounds=rounds)
    return BenchResult(
        name="learn-correction",
        title="Learning: one correction → served adapter, decomposed",
        method=(f"Embedded model, a fresh data dir with nothing pending; the learner process started and idle "
                f"before the correction (cold: its model not in memory; warm: the next corrections). "
                f"{s.learner_threads} torch thread(s) under SCHED_IDLE. Phases from the update's own timings "
                f"(seconds): load (trainable model into memory), prepare (rehearsal, preference distillation), parent "
                f"(the parent's gate scores), base (the base's, cached per base model), train, gate, repair; "
                f"publish + swap is the rest (files, GGUF, SQLite, the chat's follower)."),
        rows=rows,
        verdict=verdict,
    )


def ttft_while_judging(engine, chat, samples, judge_engine, s: Settings, rounds: int,
                       judges: tuple[str | None, ...] = (None, "generate"), max_queue: int = 40
                       ) -> tuple[list[tuple[str, str]], list[str]]:
    """Time to first token of a chat message sent while the judge worker has a queue, vs idle.

    Per judge: the default for this model (``settings.judge_mode``; ``learned`` for the embedded
    model: no model calls, its encoder's CPU competes with chat) and ``generate`` (votes on the
    shared model, preempted by chat). Idle and busy rounds alternate; the judge's latency per
    sample is measured first, which also loads the learned judge's encoder (not timed as TTFT)."""
    rows: list[tuple[str, str]] = []
    verdicts: list[str] = []
    for mode in judges:  # None: the default judge for this model (settings.judge_mode)
        per_sample, name = _judge_latency(chat, samples, judge_engine, s, mode)
        rows.append((f"judge latency per sample ({name} judge, queue of 4, median)", f"{per_sample * 1000:.0f} ms"))
        # enough queued work that the judge is still busy when the message arrives (~2 s of it)
        queue = max(3, min(max_queue, int(2.0 / max(per_sample, 0.05))))
        idle_t, busy_t = [], []
        for i in range(rounds * 2):
            busy_round = i % 2 == 1
            worker = None
            if busy_round:
                _seed_judge_queue(chat, samples, queue)
                worker = _judge_worker(samples, judge_engine, s, mode)
                worker.start()
                time.sleep(min(0.6, per_sample * 2))  # the worker is mid-judgement when the user sends
            try:
                (busy_t if busy_round else idle_t).append(_ttft(engine, i))
            finally:
                if worker is not None:
                    worker.stop()
        _drain_judge_queue(samples, s)  # the next judge's latency starts from an empty queue
        tr = median(busy_t) / median(idle_t)
        rows.append((f"time to first token idle ({name} judge rounds)", f"{median(idle_t) * 1000:.0f} ms"))
        rows.append((f"time to first token with {name}-judge work queued ({queue} replies)",
                     f"{median(busy_t) * 1000:.0f} ms"))
        rows.append((f"ratio judging/idle, {name} judge" + (" (the default; target ≤ 1.1)" if mode is None else ""),
                     f"{tr:.2f}"))
        verdicts.append(f"TTFT while the {name} judge works {'met' if tr <= 1.1 else 'MISSED'} ({tr:.2f})")
    return rows, verdicts


def _judge_worker(samples, judge_engine, s: Settings, mode: str | None):
    """A judge worker for ``mode`` (None: the mode the composition root decides for these settings)."""
    from openclaw_local.services import container
    from openclaw_local.services.judging import JudgeWorker

    mode = mode or container.judge_mode(s)
    return JudgeWorker(samples, container.build_judge(s, judge_engine, mode), settings=s)


def _drain_judge_queue(samples, s: Settings) -> None:
    """Judge what the busy rounds left waiting, with the instant rules judge (not measured)."""
    worker = _judge_worker(samples, None, s, "rules")
    worker.start()
    try:
        worker.wait_idle(120)
    finally:
        worker.stop()


def run_ttft_judging(model: Path, settings: Settings, *, rounds: int = 4, user_home: Path | None = None,
                     judges: tuple[str | None, ...] = (None, "generate"), max_queue: int = 40) -> BenchResult:
    """Only the TTFT-while-judging section of :func:`run` (``bench learn --only ttft-judging``)."""
    from openclaw_local.engine import ModelGate
    from openclaw_local.services import container
    from openclaw_local.services.chat import ChatService
    from openclaw_local.store.samples import SampleStore

    s = settings.replace(max_tokens=48, temperature=0.7, seed=5)
    with tempfile.TemporaryDirectory() as tmp:
        store = container.open_store(Path(tmp))
        gate = ModelGate()
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, gate=gate,
                                       plan=container.load_plan(user_home, s, model))
        judge_engine = container.load_engine(None, s, model, n_ctx=min(2048, s.n_ctx), gate=gate,
                                             plan=container.load_plan(user_home, s, model, cpu_only=True))
        try:
            samples = SampleStore(store, default_system_prompt=s.system_prompt)
            chat = ChatService(store, engine, s, on_next_state=samples.record_next_state)
            rows, verdicts = ttft_while_judging(engine, chat, samples, judge_engine, s, rounds, judges, max_queue)
        finally:
            judge_engine.close()
            engine.close()
            store.close()
    return BenchResult(
        name="learn-ttft",
        title="Time to first token while the judge works",
        method=(f"Embedded model, {s.threads} llama.cpp thread(s); the judge worker in this process with a fresh "
                f"queue for each busy round; {rounds} idle and {rounds} busy rounds alternated per judge, a 4-token "
                "reply to a new prompt each round (no cached prefix). Medians."),
        rows=rows,
        verdict="; ".join(verdicts),
    )


def _seed_judge_queue(chat, samples, n: int):
    """Replies followed by a user message, so the judge has real work waiting."""
    out = []
    for i in range(n):
        conv = chat.new_conversation()
        reply = chat.send(conv.id, f"Explain idea {i} about saving money.", lambda e: None)
        chat.store.add_message(conv.id, "user", "no, that's wrong, please make it much shorter")
        samples.record_next_state(reply.id)
        out.append(reply)
    return out


def _judge_latency(chat, samples, judge_engine, s: Settings, mode: str | None) -> tuple[float, str]:
    """Median seconds per judged sample over a fresh queue of 4, and the judge's concrete mode."""
    _seed_judge_queue(chat, samples, 4)
    worker = _judge_worker(samples, judge_engine, s, mode)
    times: list[float] = []
    last = time.perf_counter()
    worker.start()
    deadline = last + 600
    while not worker.wait_idle(0.01) and time.perf_counter() < deadline:
        if worker.judged > len(times):
            now = time.perf_counter()
            times += [(now - last) / (worker.judged - len(times))] * (worker.judged - len(times))
            last = now
    if worker.judged > len(times):
        times += [(time.perf_counter() - last) / (worker.judged - len(times))] * (worker.judged - len(times))
    worker.stop()
    return median(times), getattr(worker.judge, "mode", mode or "default")


# (name, CPU policy of the load, does the load pause while chat generates)
TRAINING_ARMS = (("idle", None, False), ("training, nice 19", "nice", False),
                 ("training, SCHED_IDLE", "idle", False),
                 ("training, SCHED_IDLE + pauses while chat generates (the learner's default)", "idle", True))
READY_TIMEOUT_S = 600.0  # a loaded machine converts and loads the trainable model slowly


def chat_while_training(engine, home: Path, s: Settings, rounds: int) -> tuple[list[tuple[str, str]], str]:
    """Chat tokens/s idle vs with a training load at nice 19, under SCHED_IDLE, and under SCHED_IDLE
    pausing while chat generates (services/chat_activity.py; ``engine``'s gate must mark ``home``).

    One load process per policy, each paused (SIGSTOP) except in its own rounds; the arms rotate
    their order every round so drift on a shared machine falls on all of them. Medians.
    """
    from openclaw_local.bench.train_load import READY_FILE
    from openclaw_local.services.cpu_priority import idle_class_available

    env = dict(os.environ, OMP_NUM_THREADS=str(s.learner_threads))
    loads: dict[str, subprocess.Popen] = {}
    results: dict[str, list[float]] = {name: [] for name, *_ in TRAINING_ARMS}
    load_share: dict[str, list[float]] = {name: [] for name, *_ in TRAINING_ARMS}  # the load's cores used meanwhile
    try:
        for name, policy, pause in TRAINING_ARMS:
            if policy is None:
                continue
            load_home = home / f"train_load_{policy}{'_pause' if pause else ''}"
            load_home.mkdir(exist_ok=True)
            loads[name] = subprocess.Popen(
                [sys.executable, "-m", "openclaw_local.bench.train_load", "--home", str(load_home),
                 "--threads", str(s.learner_threads), "--policy", policy,
                 *(["--pause-home", str(home)] if pause else [])], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + READY_TIMEOUT_S  # one at a time: both converting at once would race
            while not (load_home / READY_FILE).exists():
                if loads[name].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {policy} training load did not start (exit {loads[name].poll()})")
                time.sleep(0.5)
            os.kill(loads[name].pid, signal.SIGSTOP)
        n = len(TRAINING_ARMS)
        for r in range(rounds):
            order = TRAINING_ARMS[r % n:] + TRAINING_ARMS[:r % n]
            for name, *_ in order:
                for other, proc in loads.items():
                    os.kill(proc.pid, signal.SIGCONT if other == name else signal.SIGSTOP)
                time.sleep(1.0)  # the load is back in its training loop
                cpu0, t0 = _cpu_seconds(loads.get(name)), time.perf_counter()
                results[name].append(_chat_tps(engine, 96))
                cpu1 = _cpu_seconds(loads.get(name))
                if cpu0 is not None and cpu1 is not None:
                    load_share[name].append((cpu1 - cpu0) / (time.perf_counter() - t0))
    finally:
        for proc in loads.values():
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait()
    idle = median(results["idle"])
    rows = [(f"chat tokens/s {name} ({s.learner_threads} torch thread(s))" if name != "idle" else "chat tokens/s idle",
             f"{median(results[name]):.1f} (rounds {min(results[name]):.1f}–{max(results[name]):.1f})")
            for name, *_ in TRAINING_ARMS]
    rows += [(f"training load's CPU while chat generates, {name} (cores, median)", f"{median(load_share[name]):.2f}")
             for name, *_ in TRAINING_ARMS if load_share[name]]
    ratios = {name: median(results[name]) / idle for name, policy, _ in TRAINING_ARMS if policy is not None}
    idle_class = "SCHED_IDLE" if idle_class_available() else "learner policy (no SCHED_IDLE here: nice 19)"
    for name, ratio in ratios.items():
        label = name.replace("SCHED_IDLE", idle_class)
        rows.append((f"ratio {label} / idle" + (" (target ≥ 0.95)" if name == TRAINING_ARMS[-1][0] else ""),
                     f"{ratio:.3f}"))
    ratio = ratios[TRAINING_ARMS[-1][0]]
    return rows, f"chat while training {'met' if ratio >= 0.95 else 'MISSED'} ({ratio:.2f})"


def _cpu_seconds(proc: subprocess.Popen | None) -> float | None:
    """User + system CPU seconds of a child so far (Linux /proc); None elsewhere."""
    if proc is None:
        return None
    try:
        with open(f"/proc/{proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_chat_while_training(model: Path, settings: Settings, *, rounds: int = 4,
                            user_home: Path | None = None) -> BenchResult:
    """Only the chat-while-training section of :func:`run` (``bench learn --only chat-while-training``)."""
    from openclaw_local.engine import ModelGate
    from openclaw_local.services import container
    from openclaw_local.services.chat_activity import ChatActivity

    s = settings.replace(max_tokens=48, temperature=0.7, seed=5)
    with tempfile.TemporaryDirectory() as tmp:
        plan = container.load_plan(user_home, s, model)
        gate = ModelGate(on_foreground=ChatActivity(Path(tmp)).mark)  # as the runtime's: the learner pauses for chat
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, plan=plan, gate=gate)
        try:
            rows, verdict = chat_while_training(engine, Path(tmp), s, rounds)
        finally:
            engine.close()
    return BenchResult(
        name="learn-training",
        title="Chat tokens/s while the learner trains: nice 19, SCHED_IDLE, pausing for chat",
        method=(f"Embedded model, {s.threads} llama.cpp thread(s); a real LoRA training loop "
                f"(bench/train_load.py, {s.learner_threads} torch thread(s)) per CPU policy, paused with SIGSTOP "
                f"outside its rounds; the last arm also pauses itself while chat generates, as the learner does. {rounds} rounds, arm order rotated each round, 96 greedy tokens per "
                "measurement. Medians."),
        rows=rows,
        verdict=verdict,
    )


def run_judge_latency(model: Path, settings: Settings, *, user_home: Path | None = None) -> BenchResult:
    """Only the judge's latency per sample (``bench learn --only judge-latency``): default and generate judge."""
    from openclaw_local.services import container
    from openclaw_local.services.chat import ChatService
    from openclaw_local.store.samples import SampleStore

    s = settings.replace(max_tokens=48, temperature=0.7, seed=5)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = container.open_store(Path(tmp))
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads,
                                       plan=container.load_plan(user_home, s, model))
        judge_engine = container.load_engine(None, s, model, n_ctx=min(2048, s.n_ctx),
                                             plan=container.load_plan(user_home, s, model, cpu_only=True))
        try:
            samples = SampleStore(store, default_system_prompt=s.system_prompt)
            chat = ChatService(store, engine, s, on_next_state=samples.record_next_state)
            for mode in (None, "generate"):  # None: the default judge for this model (settings.judge_mode)
                per_sample, name = _judge_latency(chat, samples, judge_engine, s, mode)
                rows.append((f"judge latency per sample ({name} judge, queue of 4, median)", f"{per_sample * 1000:.0f} ms"))
        finally:
            judge_engine.close()
            engine.close()
            store.close()
    return BenchResult(
        name="learn-judge",
        title="Judge latency per sample",
        method=(f"Embedded model; the judge on its own CPU llama.cpp context, as in the app, {s.judge_votes} vote(s) "
                "for the generate judge. Four fresh replies, each followed by a user complaint, judged by a "
                "JudgeWorker with no chat running. Median time per judged sample."),
        rows=rows,
        verdict="reported (no target)",
    )
