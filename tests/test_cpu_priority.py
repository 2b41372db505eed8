"""The learner's CPU policy: SCHED_IDLE where the OS has it, else nice 19 with the reason in one line."""

import os
import subprocess
import sys

import pytest

from openclaw_local.services import cpu_priority


def _in_child(policy: str) -> tuple[str, int, int]:
    """Apply ``policy`` in a fresh process (the test process keeps its priority); its line, policy, nice."""
    code = ("import os; from openclaw_local.services.cpu_priority import lower_cpu_priority as f; "
            f"line = f({policy!r}); print(line); print(os.sched_getscheduler(0)); print(os.nice(0))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    line, sched, nice = out.stdout.strip().splitlines()
    return line, int(sched), int(nice)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="no idle scheduling class on this OS")
def test_idle_policy_puts_the_process_in_the_idle_class_and_at_nice_19():
    line, sched, nice = _in_child("idle")
    assert line.startswith("SCHED_IDLE")
    assert (sched, nice) == (os.SCHED_IDLE, 19)


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="no scheduling policies on this OS")
def test_nice_policy_stays_in_the_normal_class():
    if os.sched_getscheduler(0) != os.SCHED_OTHER:  # the "nice" policy keeps whatever class it was started in
        pytest.skip("the test run itself is not in the normal scheduling class (e.g. started under chrt -i 0)")
    line, sched, nice = _in_child("nice")
    assert line == "nice 19"
    assert (sched, nice) == (os.SCHED_OTHER, 19)


def test_falls_back_to_nice_19_with_the_reason_when_the_os_has_no_idle_class(monkeypatch):
    monkeypatch.delattr(os, "SCHED_IDLE", raising=False)
    monkeypatch.setattr(os, "nice", lambda inc: 0)
    assert cpu_priority.lower_cpu_priority("idle") == "nice 19 (no SCHED_IDLE on this OS)"
    assert not cpu_priority.idle_class_available()


def test_falls_back_to_nice_19_with_the_reason_when_the_idle_class_is_refused(monkeypatch):
    def refuse(pid, policy, param):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "SCHED_IDLE", 5, raising=False)
    monkeypatch.setattr(os, "sched_setscheduler", refuse, raising=False)
    monkeypatch.setattr(os, "sched_param", lambda p: p, raising=False)
    monkeypatch.setattr(os, "nice", lambda inc: 0)
    assert cpu_priority.lower_cpu_priority("idle") == "nice 19 (SCHED_IDLE refused: Operation not permitted)"


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError):
        cpu_priority.lower_cpu_priority("realtime")


def test_normal_policy_leaves_the_process_as_it_is():
    import os

    from openclaw_local.services.cpu_priority import lower_cpu_priority

    nice = os.nice(0)
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    assert lower_cpu_priority("normal").startswith("normal priority")
    assert os.nice(0) == nice
    if policy is not None:
        assert os.sched_getscheduler(0) == policy


def test_learner_priority_is_a_setting_with_three_choices(home, capsys):
    from openclaw_local.cli import main

    (home / "config.toml").write_text('learner_priority = "fast"\n')
    assert main(["history"]) == 2
    err = capsys.readouterr().err
    assert "learner_priority" in err and "idle" in err and "normal" in err
