"""The learner steps aside while a reply is being generated: a marker file, and the hooks that obey it.

Why: the learner already runs in the idle scheduling class (services/cpu_priority.py), yet
measured chat speed while it trained stayed at 0.65–0.72× idle on a 2-core machine. A
scheduling class decides who gets a core, not who gets the memory bandwidth, the caches or
the other hyperthread of a core; a torch job that keeps running takes those from llama.cpp
whatever its priority. So the learner *pauses* while chat generates.

- The chat process marks "chat is generating" with a file, ``DATA_DIR/chat-busy``, holding
  its pid: created when a foreground holder takes the model (``ModelGate(on_foreground=…)``)
  and removed when the last one lets it go. The judge's background work does not mark it.
- The learner process installs :func:`install_pause_hooks`: every transformer decoder layer
  checks the marker before its forward pass and (through a hook on its output) before its
  part of the backward pass, so a reply that starts mid-step waits at most one layer's
  compute (milliseconds), not a whole optimizer step. The check is one ``stat`` at most
  every ``CHECK_EVERY_S``.
- It never waits forever: a marker whose pid is gone (or that holds no pid) is stale and
  removed, and the runtime removes any marker when it opens and closes; one pause lasts at
  most ``MAX_PAUSE_S``, after which the learner runs for ``RUN_AFTER_PAUSE_S`` before it
  obeys the marker again (a server under constant load would otherwise starve it).

Nothing here knows what is trained or served; it only knows the marker.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from openclaw_local.services.adapter_files import process_alive

MARKER = "chat-busy"
CHECK_EVERY_S = 0.005
POLL_S = 0.01
MAX_PAUSE_S = 60.0
RUN_AFTER_PAUSE_S = 5.0
STALE_EMPTY_S = 2.0


def marker_path(home: Path) -> Path:
    return Path(home) / MARKER


class ChatActivity:
    """The chat side: ``mark(True)`` while generating, ``mark(False)`` after (``ModelGate``'s callback)."""

    def __init__(self, home: Path):
        self.path = marker_path(home)
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Remove a marker left behind by a chat killed mid-reply: its pid is gone, or reused by us.
        A live other front-end's marker (a second process on this data dir) is left alone."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return
        if not text.isdigit() or int(text) == os.getpid() or not process_alive(int(text)):
            self.mark(False)

    def mark(self, busy: bool) -> None:
        with self._lock:
            try:
                if busy:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    try:
                        os.write(fd, str(os.getpid()).encode())
                    finally:
                        os.close(fd)
                else:
                    self.path.unlink(missing_ok=True)
            except OSError:
                pass  # the marker is a courtesy to the learner; chat never fails on it


class ChatPause:
    """The learner side: :meth:`wait` returns at once unless chat is generating (then it waits)."""

    def __init__(self, home: Path, *, max_pause_s: float = MAX_PAUSE_S, run_after_pause_s: float = RUN_AFTER_PAUSE_S,
                 clock: Callable[[], float] = time.monotonic):
        self.path = marker_path(home)
        self.max_pause_s = max_pause_s
        self.run_after_pause_s = run_after_pause_s
        self.clock = clock
        self._next_check = 0.0
        self._free_until = 0.0
        self.paused_s = 0.0  # total time spent waiting
        self.pauses = 0

    def busy(self) -> bool:
        """Is a live chat process generating now? Removes a marker left by a process that is gone."""
        try:
            text = self.path.read_text().strip()
            age = time.time() - self.path.stat().st_mtime
        except (FileNotFoundError, OSError):
            return False
        # no live pid in it: stale (a marker being written this instant is empty for microseconds)
        if (text.isdigit() and not process_alive(int(text))) or (not text.isdigit() and age > STALE_EMPTY_S):
            self.path.unlink(missing_ok=True)
            return False
        return True

    def wait(self) -> None:
        now = self.clock()
        if now < self._next_check or now < self._free_until:
            return
        self._next_check = now + CHECK_EVERY_S
        if not self.busy():
            return
        start = now
        self.pauses += 1
        while self.busy():
            if self.clock() - start >= self.max_pause_s:
                self._free_until = self.clock() + self.run_after_pause_s
                break
            time.sleep(POLL_S)
        self.paused_s += self.clock() - start


def _is_decoder_layer(module: Any) -> bool:
    return type(module).__name__.endswith("DecoderLayer")


def install_pause_hooks(pause: ChatPause) -> Callable[[], None]:
    """Make every decoder layer in this process wait on ``pause`` before its forward and backward work.

    Process-wide (torch's global module hooks), so models built later are covered too: the
    trainer's and the promotion gate's scoring alike (the judge calibration's small encoder has
    no decoder layers and is not paused).
    Returns a function that removes the hooks."""
    from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

    def before_forward(module, args):
        if _is_decoder_layer(module):
            pause.wait()

    def after_forward(module, args, output):
        if not _is_decoder_layer(module):
            return None
        out = output[0] if isinstance(output, (tuple, list)) and output else output
        if getattr(out, "requires_grad", False):
            out.register_hook(_wait_in_backward(pause))  # fires when this layer's backward begins
        return None

    handles = [register_module_forward_pre_hook(before_forward), register_module_forward_hook(after_forward)]

    def remove() -> None:
        for h in handles:
            h.remove()

    return remove


def _wait_in_backward(pause: ChatPause):
    def hook(grad):
        pause.wait()
        return None  # the gradient is unchanged

    return hook
