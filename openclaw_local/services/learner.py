"""The chat process's side of learning: start/stop the learner process, follow its
state for the status bar, and hot-swap each newly published adapter into the engine.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from openclaw_local.config import Settings
from openclaw_local.engine import Engine
from openclaw_local.store import Store
from openclaw_local.services import adapter_files
from openclaw_local.services.adapters import AUTO_ROLLED_BACK
from openclaw_local.services.events import AdapterSwapped, EventBus
from openclaw_local.services.status import LearnerStatus
from openclaw_local.records import AdapterVersion, LearnerPhase
from openclaw_local.store.adapters import AdapterStore, ConcurrentChange

logger = logging.getLogger(__name__)

POLL_S = 0.25  # a rollback from the CLI or the Adapters screen is served within 0.5 s


class LearnerService:
    def __init__(self, home: Path, settings: Settings, store: Store, engine: Engine, events: EventBus | None = None):
        """``events``: where each swap is published as :class:`AdapterSwapped` (a private bus if None)."""
        self.home = home
        self.settings = settings
        self.store = store
        self.engine = engine
        self.adapters = AdapterStore(store)
        self.events = events if events is not None else EventBus()
        self.served_version: int | None = None
        self._mismatch: dict[int, str | None] = {}  # version -> why it does not fit the served model
        self.notices: list[str] = []  # every fallback notice since start (shown by the UI / CLI)
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._also: list[Callable[[], object]] = []  # more work for the follower thread (also_follow)
        self.log_path = home / "learner.log"

    # ------------------------------------------------------------- adapters
    def serve_active(self, *, check_all: bool = False) -> AdapterSwapped | None:
        """Make the engine serve the active version (if it is not already).

        Before a version is swapped in its files are verified (present, sha256 as
        recorded at publish); a missing or corrupt one, or one llama.cpp refuses, is
        marked ``broken`` and the previous good version is activated instead, with a
        notice. ``check_all`` (on start) also marks every other version whose files
        are gone as broken, so no row points at missing files.
        """
        notices: list[str] = []
        if check_all:
            for v in self.adapters.versions():
                if v.status in ("broken", "active"):
                    continue
                reason = adapter_files.verify(v, hashes=False)
                if reason is not None:
                    self.adapters.mark(v.id, "broken", reason)
                    notices.append(f"adapter v{v.id} is broken ({reason})")
        seconds = 0.0
        while True:
            active = self.adapters.active()
            if active is not None and self._other_base(active, notices):
                active = None  # kept (still active in the store), not served with this model
            target = active.id if active else None
            if target == self.served_version:
                if not notices:
                    return None
                break
            if active is None:
                seconds = self.engine.set_adapter(None)
                break
            reason = adapter_files.verify(active)
            if reason is None:
                try:
                    seconds = self.engine.set_adapter(active.gguf_path, merged=active.merged_path)
                    break
                except Exception as exc:  # corrupt file: mark broken, fall back
                    reason = f"llama.cpp could not load it ({exc})"
            self.adapters.mark(active.id, "broken", reason)
            fallback = self._last_good(before=active.id)
            try:  # unless another process activated something meanwhile (then serve that: loop again)
                self.adapters.activate(fallback.id if fallback else None, expect_active=None, refuse=("broken",))
            except ConcurrentChange:
                continue
            notices.append(f"adapter v{active.id} is broken ({reason}); now serving "
                           f"{f'v{fallback.id}' if fallback else 'the base model'}")
        undone = self._auto_rolled_back(self.served_version)
        if undone:
            notices.append(undone)
        self.served_version = target
        event = AdapterSwapped(target, seconds, "; ".join(notices) or None)
        self.notices.extend(notices)
        self.events.publish(event)
        return event

    def _auto_rolled_back(self, version_id: int | None) -> str | None:
        """Why the version served until now was rolled back automatically, if it was (the learner's
        push-back watch, services/helping.py): the user is told with the swap."""
        if version_id is None:
            return None
        try:
            v = self.adapters.get(version_id)
        except Exception:  # deleted meanwhile
            return None
        if v.status == "rejected" and (v.reason or "").startswith(AUTO_ROLLED_BACK):
            return f"v{v.id} was {v.reason}"
        return None

    def _other_base(self, version: AdapterVersion, notices: list[str]) -> bool:
        """Was ``version`` trained on another base model than the one served? Said once per version."""
        if version.id not in self._mismatch:
            self._mismatch[version.id] = adapter_files.base_mismatch(version, self.engine.model_path)
            if self._mismatch[version.id]:
                notices.append(f"adapter v{version.id} is kept but not served: {self._mismatch[version.id]} "
                               "(switch back to its model to use it; learning starts a new adapter for this one)")
        return self._mismatch[version.id] is not None

    def _last_good(self, before: int) -> AdapterVersion | None:
        return self.adapters.previous_good(before)

    # -------------------------------------------------------------- process
    def start(self) -> None:
        """Start the learner process and the thread that follows it."""
        adapter_files.sweep_temporaries(self.home)
        adapter_files.sweep_abandoned(self.home, self.adapters)
        self.serve_active(check_all=True)
        if self.settings.learn:
            self._spawn()
        self._thread = threading.Thread(target=self._follow, name="learner-follow", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        overrides = {k: v for k, v in asdict(self.settings).items() if v is not None}
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(self.settings.learner_threads)
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "openclaw_local.services.learner_worker", "--home", str(self.home),
             "--settings", json.dumps(overrides), "--parent-pid", str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True,
        )
        log.close()

    def also_follow(self, poll: Callable[[], object]) -> None:
        """Call ``poll()`` on the follower thread too, every POLL_S after the adapter check (before
        :meth:`start`): e.g. the verdict relay, publishing the verdicts the learner process stored."""
        self._also.append(poll)

    def _follow(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.serve_active()
            except Exception as exc:  # never let the follower die silently
                self.events.publish(AdapterSwapped(self.served_version, 0.0, f"adapter swap failed: {exc}"))
            for poll in self._also:
                try:
                    poll()
                except Exception:
                    logger.exception("the learner follower's %r failed", poll)

    def learn_now(self) -> int:
        return self.adapters.request_update()

    def status(self) -> LearnerStatus:
        state = self.adapters.state()
        adapter = f"v{self.served_version}" if self.served_version else "none"
        if self._proc is not None and self._proc.poll() is not None and not self._stop.is_set():
            return LearnerStatus(adapter, f"exited ({self._proc.returncode}); see {self.log_path}")
        return LearnerStatus(
            adapter, state.label if self.settings.learn else "off",
            step=f"{state.step}/{state.total}" if state.phase is LearnerPhase.TRAINING and state.total else None,
            loss=state.loss, reward=state.mean_reward, learner_error=state.error or None,
            gate=self._refusals() or None)

    def _refusals(self) -> str | None:
        """A short status-bar note when the newest updates in a row were refused by the gate."""
        from openclaw_local.services.adapters import gate_refused

        run = []
        for v in reversed(self.adapters.versions()):
            if v.status == "candidate" or (v.source or "trained") != "trained":
                continue
            if not gate_refused(v):
                break
            run.append(v)
        if len(run) < 2:
            return None
        return (f"{len(run)} updates refused ({(run[0].reason or '').split(' (')[0].split(':')[0]}); "
                f"feedback kept · adapters activate {run[0].id} --force")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
