"""No wait on another process is unbounded: ``learn --once`` against a chat that runs no learner.

A real second process holds the data dir's instance lock (what ``chat --no-learn``
does) and runs no learner; ``learn --once`` must give up within its timeout with
one line and exit code 5, and remove the request it made.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from openclaw_local.records import LearnerPhase
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from tests.test_cli import cli

HOLD_LOCK = r'''
import sys, time
from pathlib import Path
from openclaw_local.store import Store
from openclaw_local.store.db import InstanceLock
home = Path(sys.argv[1])
Store.open(home).close()
lock = InstanceLock(home).acquire()
print("ready", flush=True)
time.sleep(120)
'''


@pytest.fixture
def lock_holder(home):
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready", proc.stderr.read().decode()
    yield proc
    proc.kill()
    proc.wait(10)


def _last_lines(stderr: str) -> list[str]:
    # the progress line is redrawn with \r; what the user is left with is after the last \r of each line
    return [line.rsplit("\r", 1)[-1].replace("\x1b[K", "") for line in stderr.splitlines() if line.strip()]


def _requests(home) -> int:
    store = Store.open(home)
    try:
        return store._query("select count(*) as n from learn_requests")[0]["n"]  # noqa: SLF001
    finally:
        store.close()


def test_learn_once_gives_up_on_a_chat_without_learner_and_removes_its_request(home, lock_holder):
    started = time.monotonic()
    result = cli("learn", "--once", home=home, env_extra={"OPENCLAW_LEARN_WAIT_S": "2"}, timeout=180)
    seconds = time.monotonic() - started
    assert result.returncode == 7, result.stderr  # refused: the running front-end has no learner
    assert "Traceback" not in result.stderr
    errors = [line for line in _last_lines(result.stderr) if line.startswith("error: ")]
    assert len(errors) == 1 and "no learner" in errors[0] and f"pid {lock_holder.pid}" in errors[0], result.stderr
    assert seconds < 120, f"took {seconds:.1f} s"  # the 2 s wait and a CLI start on a busy machine, not a hang
    assert _requests(home) == 0, "the unanswerable request must be removed"


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_a_dead_learner_is_noticed_before_the_timeout(home, lock_holder):
    # a learner state row left by a learner that died (SIGKILL): its pid is gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store = Store.open(home)
    AdapterStore(store).set_state(LearnerPhase.IDLE, pid=dead.pid)
    store.close()
    started = time.monotonic()
    result = cli("learn", "--once", home=home, env_extra={"OPENCLAW_LEARN_WAIT_S": "600"}, timeout=500)
    assert result.returncode == 7 and "Traceback" not in result.stderr, result.stderr  # refused, not a DB error
    assert "no learner taking requests" in result.stderr
    assert time.monotonic() - started < 400  # the 5 s grace (and a busy machine), not the 600 s timeout
    assert _requests(home) == 0


def test_learn_once_here_drops_requests_nobody_answers(home):
    store = Store.open(home)
    AdapterStore(store).request_update()  # left by an earlier learn --once against a chat that is gone
    store.close()
    result = cli("learn", "--once", home=home)
    assert result.returncode == 0, result.stderr
    assert _requests(home) == 0
    assert os.stat(home / "openclaw.lock").st_mode & 0o077 == 0
