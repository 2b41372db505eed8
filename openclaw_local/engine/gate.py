"""Who gets the model next: chat first, background work (the judge) only when chat is idle.

Background holders must call :meth:`ModelGate.preempt_requested` between tokens
and give the model up when it returns True; that keeps the time to first token of
a user's message close to idle even while judge work is queued.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class ModelGate:
    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._busy = False
        self._foreground_waiting = 0

    @contextmanager
    def foreground(self) -> Iterator[None]:
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
