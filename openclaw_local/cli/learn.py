"""``learn --once``: judge what waits and run one update now.

With a chat open on the same data dir, the request goes to its background
learner (which then hot-swaps the result into the chat); otherwise the update
runs here, in this process, at low priority. Waiting on the chat's learner is
bounded: a chat or serve without a learner (``--no-learn``) refuses the request (one
line naming it, exit code 7), a learner that dies ends the wait with exit code 5; either
way the request is removed.
"""

from __future__ import annotations

import argparse
import sys
import time

from openclaw_local.cli.common import StatusLine, home_dir, settings_from
from openclaw_local.errors import DatabaseError, RefusedError, UsageError
from openclaw_local.records import LearnerPhase


def register(sub) -> None:
    p = sub.add_parser("learn", help="judge waiting replies and run one learning update now")
    p.add_argument("--once", action="store_true", help="one update, then exit (the only mode for now)")
    p.set_defaults(func=run)


_status = StatusLine()  # redrawn in place on a terminal; plain lines, once per phase, in a log


def _line(text: str) -> None:
    _status(text)


def run(args: argparse.Namespace) -> int:
    if not args.once:
        raise UsageError("say `openclaw-local learn --once` (the chat runs the continuous learner itself)")
    from openclaw_local.services.container import open_store
    from openclaw_local.store.adapters import AdapterStore
    from openclaw_local.store.db import InstanceLock

    home = home_dir()
    settings = settings_from(args, home)
    try:
        lock = InstanceLock(home).acquire()
    except DatabaseError:
        return _ask_running_chat(AdapterStore(open_store(home)), home, settings.learn_wait_s)
    try:
        return _learn_here(home, settings)
    finally:
        lock.release()


class NoLearnerError(RefusedError):
    """Another openclaw-local (a chat or serve) holds the data dir, but no learner in it takes requests."""


class LearnerGoneError(DatabaseError):
    """The learner that took the request died, or the request was removed meanwhile."""


NO_LEARNER_GRACE_S = 5.0  # a learner that just started needs a moment to report itself
DONE_TIMEOUT_S = 3600.0  # an update that was taken never takes longer than this
POLL_S = 0.25


def _learner_alive(adapters) -> int | None:
    """The pid of a live learner process, by its state row, or None."""
    from openclaw_local.services.adapter_files import process_alive

    st = adapters.state()
    if not st.pid or st.phase is LearnerPhase.STOPPED or not process_alive(st.pid):
        return None
    return st.pid


def _ask_running_chat(adapters, home, wait_s: float) -> int:
    """Ask the running chat's learner for an update and wait for it, never forever.

    Ends with one line and a non-zero code when nobody takes the request within
    ``wait_s`` (e.g. a chat started with ``--no-learn``: the request is removed), or
    when the learner that took it dies (the request is removed too).
    """
    from openclaw_local.store.db import lock_holder

    holder, front_end = lock_holder(home)
    request = adapters.request_update()
    print(f"a {front_end} is running on this data dir (pid {holder}): asked its learner to update now", file=sys.stderr)
    started = time.monotonic()
    last_seen = started  # when a live learner was last seen
    taken = False
    finished = False
    try:
        while True:
            asked = adapters.request(request)
            if asked is None:
                raise LearnerGoneError("the learn request was removed by another process", "run `learn --once` again")
            if asked.done:
                finished = True
                _line("")
                print(asked.result)
                return 1 if asked.failed else 0
            taken = asked.taken
            now = time.monotonic()
            if _learner_alive(adapters) is not None:
                last_seen = now
            if not taken and (now - started > wait_s or now - last_seen > NO_LEARNER_GRACE_S):
                if adapters.cancel_request(request):
                    finished = True
                    _line("")
                    raise NoLearnerError(
                        f"the openclaw-local {front_end} running on this data dir (pid {holder}) has no learner taking "
                        f"requests (waited {now - started:.0f} s; was it started with --no-learn?)",
                        f"close the {front_end.split()[0]} and run `learn --once` again"
                        + (", or use its own learn-now key" if front_end == "chat" else ""))
                continue  # taken at this very moment
            if taken and (now - last_seen > NO_LEARNER_GRACE_S or now - started > DONE_TIMEOUT_S):
                adapters.drop_request(request)
                finished = True
                _line("")
                why = "exited before finishing" if now - last_seen > NO_LEARNER_GRACE_S else \
                    f"did not finish within {DONE_TIMEOUT_S:.0f} s"
                raise LearnerGoneError(f"the learner of the {front_end} (pid {holder}) {why}; the request was removed",
                                     "see learner.log in the data dir, then retry")
            st = adapters.state()
            if not taken:
                _line(f"waiting for the {front_end}'s learner to take the request ({now - started:.0f} s, at most {wait_s:.0f} s)")
            else:
                _line(f"learner: {st.label} {st.step or ''}/{st.total or ''}")
            time.sleep(POLL_S)
    finally:
        if not finished and not taken:  # interrupted (Ctrl-C): leave no request behind that nobody waits for
            adapters.cancel_request(request)


def _learn_here(home, settings) -> int:
    import os

    from openclaw_local.services import container
    from openclaw_local.services.judging import JudgeWorker
    from openclaw_local.services.training import Learner
    from openclaw_local.store.samples import SampleStore

    try:
        os.nice(10)
    except OSError:
        pass
    from openclaw_local.services import adapter_files
    from openclaw_local.store.adapters import AdapterStore

    store = container.open_store(home)
    adapters = AdapterStore(store)
    adapters.drop_untaken_requests()  # we hold the lock, so no learner exists to answer them
    adapter_files.sweep_temporaries(home)
    adapter_files.sweep_abandoned(home, adapters)
    samples = SampleStore(store, default_system_prompt=settings.system_prompt)
    samples.record_all()
    waiting = samples.counts()["waiting"]
    if waiting:
        judge_mode = container.judge_mode(settings)
        judge_engine = container.load_judge_engine(home, settings, judge_mode)  # on the CPU, like any background job
        worker = JudgeWorker(samples, container.build_judge(settings, judge_engine, judge_mode), settings=settings)
        print(f"judging {waiting} repl{'y' if waiting == 1 else 'ies'}…", file=sys.stderr)
        worker.run_pending()
        if judge_engine is not None:
            judge_engine.close()

    def progress(phase: LearnerPhase, step: int, total: int, loss, note: str | None = None) -> None:
        suffix = f" {step}/{total}" if total else ""
        loss_text = f" loss {loss:.4f}" if loss is not None else ""
        _line(f"{phase.label(note)}{suffix}{loss_text}")

    learner = Learner(home, settings, store, progress=progress)
    ready = learner.ready_samples()
    if not ready:
        print("nothing to learn yet: rate, correct or reply to some answers first", file=sys.stderr)
        return 0
    version = learner.update(ready)
    _line("")
    if version is None:
        print("nothing to learn: no usable samples", file=sys.stderr)
        return 0
    print(f"published adapter v{version.id}: {version.n_samples} samples, loss {version.loss:.4f}, "
          f"mean reward {version.mean_reward:+.2f}, {version.train_seconds:.1f} s — {version.status}"
          + (f" ({version.reason})" if version.reason else ""))
    return 0
