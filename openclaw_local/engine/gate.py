"""Who gets the model next: chat first, background work (the judge) only when chat is idle.

Background holders must call :meth:`ModelGate.preempt_requested` between tokens
and give the model up when it returns True; that keeps the time to first token of
a user's message close to idle even while judge work is queued.

``on_foreground(True)`` is called when chat starts wanting the model (nobody in the
foreground before) and ``on_foreground(False)`` when the last foreground holder is done;
the runtime uses it to tell the learner process to step aside (services/chat_activity.py).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator


class ModelGate:
    def __init__(self, on_foreground: Callable[[bool], None] | None = None) -> None:
        self._cv = threading.Condition()
        self._busy = False
        self._foreground_waiting = 0
        self._foreground = 0  # foreground callers waiting or holding
        self._on_foreground = on_foreground
        self._signal_lock = threading.Lock()  # keeps the True/False calls in order

    @contextmanager
    def foreground(self) -> Iterator[None]:
        self._count_foreground(+1)
        try:
            with self._cv:
                self._foreground_waiting += 1
                try:
                    while self._busy:
                        self._cv.wait()
                finally:
                    self._foreground_waiting -= 1
                self._busy = True
            with self._release_on_exit():
                yield
        finally:
            self._count_foreground(-1)

    def _count_foreground(self, delta: int) -> None:
        if self._on_foreground is None:
            return
        with self._signal_lock:
            self._foreground += delta
            if (delta > 0 and self._foreground == 1) or (delta < 0 and self._foreground == 0):
                try:
                    self._on_foreground(delta > 0)
                except Exception:  # a courtesy signal; the model is served regardless
                    pass

    @contextmanager
    def background(self) -> Iterator[None]:
        with self._cv:
            while self._busy or self._foreground_waiting:
                self._cv.wait()
            self._busy = True
        with self._release_on_exit():
            yield

    @contextmanager
    def _release_on_exit(self) -> Iterator[None]:
        """Run the holder's block, then free the model and wake every waiter."""
        try:
            yield
        finally:
            with self._cv:
                self._busy = False
                self._cv.notify_all()

    def preempt_requested(self) -> bool:
        return self._foreground_waiting > 0
