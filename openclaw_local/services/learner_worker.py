"""The background learner process: ``python -m openclaw_local.services.learner_worker --home DIR``.

Runs at the lowest CPU priority the OS offers (Linux: the SCHED_IDLE class; elsewhere nice 19;
see services/cpu_priority.py) with a bounded number of torch threads, so chat keeps its speed while
it trains (docs/METHOD.md, "Priorities": at equal priority a torch job cut chat from ~95 to ~25
tokens/s). What it got is in the learner state's ``detail`` and its log.

It polls SQLite once a second: when enough judged samples wait
(``learn_min_samples``) or a "learn now" request is pending, it runs one update
and publishes the new adapter; the chat process sees the new active version and
hot-swaps it. When the judge needs no model (rules, learned) it judges here too, on a
thread of its own that polls for waiting replies every ``JUDGE_POLL_S``, also while an
update trains; the chat process publishes the verdicts it stores (services/verdict_relay.py).
SIGTERM stops it at once: an update is only ever published whole, so an interrupted one
simply leaves its samples judged for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path


class Stop(BaseException):
    """Raised from the SIGTERM handler to abandon work immediately."""


def _lower_priority(threads: int) -> str:
    from openclaw_local.services.cpu_priority import lower_cpu_priority

    got = lower_cpu_priority("idle")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    return got


PUSHBACK_WATCH_S = 30.0  # how often the served version's push-back is compared with its parent's


def _watch_pushback(home: Path, settings, store) -> None:
    """Roll the served version back when the user's push-back rose clearly under it (services/helping.py)."""
    from openclaw_local.services.adapters import AdapterService
    from openclaw_local.services.helping import rollback_if_pushed_back

    try:
        said = rollback_if_pushed_back(store, AdapterService(home, settings, store))
    except Exception:  # a concurrent activate or rollback won; look again next time
        traceback.print_exc(file=sys.stderr)
        return
    if said:
        print(said, file=sys.stderr, flush=True)


MEMORY_RETRY_S = 60.0  # memory may free up (another program closed): look again this often


def _sleep_unless_orphaned(seconds: float, orphaned) -> None:
    """Wait ``seconds``, but not past the chat's end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not orphaned():
        time.sleep(1.0)


JUDGE_POLL_S = 0.5  # the judge thread looks for waiting replies this often: a verdict within a second or two


def _start_judge(settings, store):
    """The judge thread, when the judge needs no model (rules, learned: ``container.judges_in_learner``).

    It runs beside the updates (a thread of this process, in the same idle class), polling SQLite
    for replies the chat recorded as waiting, and stores each verdict; the chat's follower thread
    publishes it (services/verdict_relay.py). A judge that reads the model runs in the chat instead."""
    from openclaw_local.services import container

    mode = container.judge_mode(settings)
    if not container.judges_in_learner(mode):
        return None
    from openclaw_local.services.judging import JudgeWorker
    from openclaw_local.store.samples import SampleStore

    judge = container.build_judge(settings, None, mode)
    # One judgement here, on the main thread, before the thread starts: the learned judge's first
    # use imports transformers and loads its encoder, and transformers' lazy imports on two threads at
    # once (the judge's AutoModel, the trainer's AutoModelForCausalLM) fail with an ImportError.
    try:
        judge.judge("Paris.", "Thanks!", "What is the capital of France?")
    except Exception:  # e.g. no encoder installed: the worker skips each sample with the reason
        traceback.print_exc(file=sys.stderr)
    samples = SampleStore(store, default_system_prompt=settings.system_prompt)
    return JudgeWorker(samples, judge, settings=settings, poll_s=JUDGE_POLL_S).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openclaw-local-learner")
    parser.add_argument("--home", required=True)
    parser.add_argument("--settings", default="{}", help="JSON of settings overrides from the chat process")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process (the chat) is gone")
    args = parser.parse_args(argv)
    os.umask(0o077)  # adapter versions it publishes are owner-only, like the database
    from openclaw_local.config import load_settings

    home = Path(args.home)
    settings = load_settings(home, json.loads(args.settings))
    priority = f"cpu priority: {_lower_priority(settings.learner_threads)}"  # before torch starts its threads
    print(priority, file=sys.stderr, flush=True)

    def on_term(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    import torch

    torch.set_num_threads(settings.learner_threads)
    if settings.learner_pause_for_chat:
        from openclaw_local.services.chat_activity import ChatPause, install_pause_hooks

        install_pause_hooks(ChatPause(home))
        priority += ", pauses while chat generates"
    from openclaw_local.learn.memory import NotEnoughMemory
    from openclaw_local.services import container
    from openclaw_local.services.container import open_store
    from openclaw_local.services.training import Learner
    from openclaw_local.store.adapters import AdapterStore

    store = open_store(home)
    adapters = AdapterStore(store)
    last: dict = {"loss": None, "mean_reward": None}

    def orphaned() -> bool:
        # A chat killed hard (SIGKILL, a closed terminal) cannot stop us: notice it instead.
        return args.parent_pid is not None and os.getppid() != args.parent_pid

    def progress(state: str, step: int, total: int, loss: float | None) -> None:
        if orphaned():
            raise Stop()
        adapters.set_state(state=state, step=step, total=total, pid=os.getpid(), error=None)

    learner = Learner(home, settings, store, progress=progress)
    from openclaw_local.services.judge_calibration import CalibrationFitter

    # this user's judge labels → the learned judge's calibration, refitted at most every 30 s
    judge_fitter = CalibrationFitter(store, container.build_judge(settings, None, "learned"), min_interval_s=30.0)
    try:
        judge_worker = _start_judge(settings, store)
    except Exception:  # learning goes on; the replies stay waiting (the status bar counts them)
        traceback.print_exc(file=sys.stderr)
        judge_worker = None
    adapters.set_state(state="idle", step=0, total=0, pid=os.getpid(), error=None, detail=priority)
    version_made, rehearsal_ready = False, False
    last_watch = time.monotonic()
    try:
        while not orphaned():
            request = adapters.take_request()
            ready = learner.ready_samples()
            if ready and (request is not None or len(ready) >= settings.learn_min_samples):
                try:
                    version = learner.update(ready)
                except Stop:
                    raise
                except NotEnoughMemory as exc:  # said in one line (status bar, doctor); chat goes on
                    adapters.set_state(state="paused", step=0, total=0, error=exc.one_line())
                    if request is not None:
                        adapters.finish_request(request, f"error: {exc.one_line()}")
                    _sleep_unless_orphaned(MEMORY_RETRY_S, orphaned)
                    continue
                except Exception as exc:  # keep serving; the samples stay judged for the next try
                    traceback.print_exc(file=sys.stderr)
                    adapters.set_state(state="error", error=f"{type(exc).__name__}: {exc}")
                    if request is not None:
                        adapters.finish_request(request, f"error: {exc}")
                    time.sleep(5)
                    continue
                if version is not None:
                    version_made = True
                    last = {"loss": version.loss, "mean_reward": version.mean_reward}
                    adapters.set_state(state="idle", step=0, total=0, last_version=version.id, **last)
                if request is not None:
                    adapters.finish_request(request, (f"published v{version.id} ({version.status}"
                                                      f"{': ' + version.reason if version.reason else ''})")
                                            if version else "nothing to learn")
            elif request is not None:
                adapters.finish_request(request, "nothing to learn")
            if version_made and not rehearsal_ready:  # the base's rehearsal answers, once, after a first update
                version_made = False
                try:
                    learner.prepare_rehearsal()
                    rehearsal_ready = True
                except Stop:
                    raise
                except Exception:  # updates go on without rehearsal; tried again after the next one
                    traceback.print_exc(file=sys.stderr)
                adapters.set_state(state="idle", step=0, total=0, **last)
            try:
                judge_fitter.maybe_refit()
            except Exception:  # the judge keeps its previous calibration; learning goes on
                traceback.print_exc(file=sys.stderr)
            if time.monotonic() - last_watch >= PUSHBACK_WATCH_S:
                last_watch = time.monotonic()
                _watch_pushback(home, settings, store)
            time.sleep(1.0)
    except Stop:
        pass
    finally:
        try:
            if judge_worker is not None:
                judge_worker.stop()
            adapters.set_state(state="stopped", step=0, total=0)
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
