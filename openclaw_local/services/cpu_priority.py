"""Background work (the learner, the bench's training load) at the lowest CPU priority the OS offers.

Linux has an idle scheduling class (SCHED_IDLE): such a thread gets a core only when no normal
thread wants it and never preempts one. A nice-19 thread is still a normal thread: it keeps about
1.5% of a contended core (weight 15 against 1024) and can be picked over chat when it wakes.
Where SCHED_IDLE is missing (macOS, Windows) or refused, nice 19 is the fallback.
"""

from __future__ import annotations

import os

# "idle": SCHED_IDLE where available, else nice 19; "nice": nice 19 only; "normal": left as it is
POLICIES = ("idle", "nice", "normal")


def lower_cpu_priority(policy: str = "idle") -> str:
    """Lower the calling thread (and every thread it starts later) to ``policy``; one line saying what it got.

    Call it before starting threads (torch's pool): Linux applies both to the calling thread only,
    and new threads inherit them.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown CPU policy {policy!r}; expected one of {POLICIES}")
    if policy == "normal":
        return "normal priority (learner_priority = normal)"
    try:
        os.nice(19 - os.nice(0))  # also under SCHED_IDLE: it keeps the process last if the class is ever reset
        niced = "nice 19"
    except (OSError, AttributeError) as exc:  # no os.nice on Windows
        niced = f"normal priority (nice failed: {exc})"
    if policy == "nice":
        return niced
    setter = getattr(os, "sched_setscheduler", None)
    idle = getattr(os, "SCHED_IDLE", None)
    if setter is None or idle is None:
        return f"{niced} (no SCHED_IDLE on this OS)"
    try:
        setter(0, idle, os.sched_param(0))
    except OSError as exc:  # e.g. a container's seccomp profile
        return f"{niced} (SCHED_IDLE refused: {exc.strerror or exc})"
    return "SCHED_IDLE (runs only when a core is otherwise idle)"


def idle_class_available() -> bool:
    """Whether this OS has the idle scheduling class at all (for ``doctor``)."""
    return hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE")
