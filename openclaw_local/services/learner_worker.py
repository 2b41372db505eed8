"""The background learner process: ``python -m openclaw_local.services.learner_worker --home DIR``.

Runs at the lowest CPU priority the OS offers (Linux: the SCHED_IDLE class; elsewhere nice 19;
see services/cpu_priority.py) with a bounded number of torch threads, so chat keeps its speed while
it trains (docs/METHOD.md, "Priorities": at equal priority a torch job cut chat from ~95 to ~25
tokens/s). What it got is in the learner state's ``detail`` and its log.

It polls SQLite once a second (:class:`LearnerWorker`): when enough judged samples wait
(``learn_min_samples``) or a "learn now" request is pending, it runs one update
and publishes the new adapter; the chat process sees the new active version and
hot-swaps it. When the judge needs no model (rules, learned) it judges here too, on a
thread of its own that polls for waiting replies every ``JUDGE_POLL_S``, also while an
update trains; the chat process publishes the verdicts it stores (services/verdict_relay.py).
SIGTERM stops it at once: an update is only ever published whole, so an interrupted one
simply leaves its samples judged for the next run.

Everything beyond the standard library, the settings and the records is imported after
:func:`set_up_process`: the thread-count variables must be set before numpy and torch load.
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

from openclaw_local.records import LearnerPhase  # a leaf: loads nothing heavy

POLL_S = 1.0  # how often the loop looks for ready samples and "learn now" requests
MEMORY_RETRY_S = 60.0  # memory may free up (another program closed): look again this often
ERROR_RETRY_S = 5.0  # after a failed update, before the next try
PUSHBACK_WATCH_S = 30.0  # how often the served version's push-back is compared with its parent's
JUDGE_POLL_S = 0.5  # the judge thread looks for waiting replies this often: a verdict within a second or two


class Stop(BaseException):
    """Raised from the SIGTERM handler to abandon work immediately (a BaseException, so no
    ``except Exception`` on the way swallows it)."""


def _raise_stop(signum, frame) -> None:
    raise Stop()


def _lower_priority(threads: int, policy: str = "idle") -> str:
    from openclaw_local.services.cpu_priority import lower_cpu_priority

    got = lower_cpu_priority(policy)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    return got


def set_up_process(home: Path, settings) -> str:
    """Lowest CPU priority and bounded threads (before torch starts its pool), SIGTERM/SIGINT stop
    the work at once, and the chat pauses it while it generates when so set. Returns what it got:
    the learner state's ``detail``."""
    detail = f"cpu priority: {_lower_priority(settings.learner_threads, settings.learner_priority)}"
    print(detail, file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)

    import torch

    torch.set_num_threads(settings.learner_threads)
    if settings.learner_pause_for_chat:
        from openclaw_local.services.chat_activity import ChatPause, install_pause_hooks

        install_pause_hooks(ChatPause(home))
        detail += ", pauses while chat generates"
    return detail


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


class LearnerWorker:
    """The learner process's loop, one method per step of a pass (see :meth:`run`)."""

    def __init__(self, home: Path, settings, *, parent_pid: int | None = None, detail: str = ""):
        """``parent_pid``: the chat that started it (the worker exits when it is gone);
        ``detail``: how the process runs (:func:`set_up_process`), shown in the learner state."""
        from openclaw_local.services import container
        from openclaw_local.services.judge_calibration import CalibrationFitter
        from openclaw_local.services.training import Learner
        from openclaw_local.store.adapters import AdapterStore

        self.home = home
        self.settings = settings
        self.parent_pid = parent_pid
        self.detail = detail
        self.store = container.open_store(home)
        self.adapters = AdapterStore(self.store)
        self.learner = Learner(home, settings, self.store, progress=self.publish_progress)
        # this user's judge labels → the learned judge's calibration, refitted at most every 30 s
        self.judge_fitter = CalibrationFitter(self.store, container.build_judge(settings, None, "learned"),
                                              min_interval_s=30.0)
        self.judge_worker = None
        self.last_update: dict = {"loss": None, "mean_reward": None}  # of the last published update
        self.version_made = False  # an update was published since the rehearsal answers were last tried
        self.rehearsal_ready = False
        self.last_watch = time.monotonic()

    @classmethod
    def in_this_process(cls, home: Path, overrides: dict, *, parent_pid: int | None = None) -> "LearnerWorker":
        """Set this process up to learn (:func:`set_up_process`; the files it writes owner-only), then
        build the worker on the settings of ``home`` with the chat's ``overrides``."""
        os.umask(0o077)  # adapter versions it publishes are owner-only, like the database
        from openclaw_local.config import load_settings

        settings = load_settings(home, overrides)
        return cls(home, settings, parent_pid=parent_pid, detail=set_up_process(home, settings))

    # ------------------------------------------------------------------- the loop
    def run(self) -> int:
        """Poll until SIGTERM or the chat is gone; the state says ``stopped`` at the end."""
        self.judge_worker = self.start_judge()
        self.adapters.set_state(LearnerPhase.IDLE, step=0, total=0, pid=os.getpid(), error=None, detail=self.detail)
        try:
            while not self.orphaned():
                if not self.update_if_due(self.adapters.take_request()):
                    continue  # the update failed and waited out its retry time: look again at once
                self.prepare_rehearsal_once()
                self.refit_judge_calibration()
                self.watch_pushback()
                time.sleep(POLL_S)
        except Stop:
            pass
        finally:
            self.shut_down()
        return 0

    def orphaned(self) -> bool:
        # A chat killed hard (SIGKILL, a closed terminal) cannot stop us: notice it instead.
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    # ------------------------------------------------------------------ the steps
    def start_judge(self):
        """The judge thread (:func:`_start_judge`), or None: without one learning goes on and the
        replies stay waiting (the status bar counts them)."""
        try:
            return _start_judge(self.settings, self.store)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return None

    def update_if_due(self, request: int | None) -> bool:
        """One update when enough samples are ready, or any are and a "learn now" ``request`` waits;
        the request is answered either way. False when the update failed: the state says why, and
        the retry time has passed."""
        from openclaw_local.learn.memory import NotEnoughMemory

        ready = self.learner.ready_samples()
        if not ready or (request is None and len(ready) < self.settings.learn_min_samples):
            if request is not None:
                self.adapters.finish_request(request, "nothing to learn")
            return True
        try:
            version = self.learner.update(ready)
        except NotEnoughMemory as exc:  # said in one line (status bar, doctor); chat goes on
            self.adapters.set_state(LearnerPhase.PAUSED, step=0, total=0, error=exc.one_line())
            if request is not None:
                self.adapters.finish_request(request, f"error: {exc.one_line()}")
            self.wait(MEMORY_RETRY_S)
            return False
        except Exception as exc:  # keep serving; the samples stay judged for the next try
            traceback.print_exc(file=sys.stderr)
            self.adapters.set_state(LearnerPhase.ERROR, error=f"{type(exc).__name__}: {exc}")
            if request is not None:
                self.adapters.finish_request(request, f"error: {exc}")
            time.sleep(ERROR_RETRY_S)
            return False
        if version is not None:
            self.version_made = True
            self.last_update = {"loss": version.loss, "mean_reward": version.mean_reward}
            self.adapters.set_state(LearnerPhase.IDLE, step=0, total=0, last_version=version.id, **self.last_update)
        if request is not None:
            self.adapters.finish_request(request, (f"published v{version.id} ({version.status}"
                                                   f"{': ' + version.reason if version.reason else ''})")
                                         if version else "nothing to learn")
        return True

    def prepare_rehearsal_once(self) -> None:
        """The base model's rehearsal answers, once, after a first update (tried again after the next
        one if it failed: updates go on without rehearsal meanwhile)."""
        if not self.version_made or self.rehearsal_ready:
            return
        self.version_made = False
        try:
            self.learner.prepare_rehearsal()
            self.rehearsal_ready = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
        self.adapters.set_state(LearnerPhase.IDLE, step=0, total=0, **self.last_update)

    def refit_judge_calibration(self) -> None:
        try:
            self.judge_fitter.maybe_refit()
        except Exception:  # the judge keeps its previous calibration; learning goes on
            traceback.print_exc(file=sys.stderr)

    def watch_pushback(self) -> None:
        """Every ``PUSHBACK_WATCH_S``: roll the served version back when the user's push-back rose
        clearly under it (services/helping.py)."""
        if time.monotonic() - self.last_watch < PUSHBACK_WATCH_S:
            return
        self.last_watch = time.monotonic()
        from openclaw_local.services.adapters import AdapterService
        from openclaw_local.services.helping import rollback_if_pushed_back

        try:
            said = rollback_if_pushed_back(self.store, AdapterService(self.home, self.settings, self.store))
        except Exception:  # a concurrent activate or rollback won; look again next time
            traceback.print_exc(file=sys.stderr)
            return
        if said:
            print(said, file=sys.stderr, flush=True)

    def publish_progress(self, phase: LearnerPhase, step: int, total: int, loss: float | None,
                         note: str | None = None) -> None:
        """The learner's progress callback: into the state the status bar reads; stops an update
        whose chat is gone."""
        if self.orphaned():
            raise Stop()
        self.adapters.set_state(phase, note=note, step=step, total=total, pid=os.getpid(), error=None)

    def wait(self, seconds: float) -> None:
        """Wait ``seconds``, but not past the chat's end."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.orphaned():
            time.sleep(1.0)

    def shut_down(self) -> None:
        try:
            if self.judge_worker is not None:
                self.judge_worker.stop()
            self.adapters.set_state(LearnerPhase.STOPPED, step=0, total=0)
        finally:
            self.store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openclaw-local-learner")
    parser.add_argument("--home", required=True)
    parser.add_argument("--settings", default="{}", help="JSON of settings overrides from the chat process")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process (the chat) is gone")
    args = parser.parse_args(argv)
    return LearnerWorker.in_this_process(Path(args.home), json.loads(args.settings), parent_pid=args.parent_pid).run()


if __name__ == "__main__":
    raise SystemExit(main())
