"""The learner process on its own: it starts idle, answers a 'learn now' with nothing to learn,
stops on SIGTERM, and exits by itself when the chat that started it is gone.

It runs in the idle scheduling class: it gets a core only when nothing else wants one, so while
the other test worker (pytest-xdist) keeps both cores busy it does not run at all. The bounds
below are for a hung worker, far above that; each wait returns as soon as its condition holds.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from openclaw_local.records import LearnerPhase
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore


BOUND_S = 400  # a hung worker, not a slow one (module docstring)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def worker_cmd(home, *extra):
    return [sys.executable, "-m", "openclaw_local.services.learner_worker", "--home", str(home), *extra]


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_worker_runs_at_lowest_priority_answers_requests_and_stops_on_sigterm(home):
    adapters = AdapterStore(Store.open(home))
    proc = subprocess.Popen(worker_cmd(home), stderr=subprocess.PIPE)
    try:
        wait_for(lambda: adapters.state().pid == proc.pid, BOUND_S, "the worker to start")
        assert adapters.state().phase is LearnerPhase.IDLE
        with open(f"/proc/{proc.pid}/stat") as fh:
            nice = int(fh.read().rsplit(")", 1)[1].split()[16])
        assert nice == 19
        if hasattr(os, "SCHED_IDLE"):  # Linux: every thread, torch's pool included, in the idle class
            tids = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task")]
            assert {os.sched_getscheduler(t) for t in tids} == {os.SCHED_IDLE}
            assert adapters.state().detail.startswith("cpu priority: SCHED_IDLE")
        else:
            assert "nice 19" in adapters.state().detail
        request = adapters.request_update()
        wait_for(lambda: adapters.request(request).done, BOUND_S, "the request to be answered")
        assert adapters.request(request).result == "nothing to learn"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(BOUND_S) == 0
    assert adapters.state().phase is LearnerPhase.STOPPED


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_worker_exits_when_its_chat_dies(home):
    Store.open(home).close()
    # bash plays the chat: it starts the worker, names itself as the parent, then dies.
    # the worker's output goes elsewhere: holding bash's pipe open, it would keep `run` waiting for it
    script = " ".join(worker_cmd(home, "--parent-pid", "$$")) + " >/dev/null 2>&1 & echo $!; sleep 1"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    pid = int(out.stdout.strip())

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"

    wait_for(gone, BOUND_S, "the orphaned worker to exit")
