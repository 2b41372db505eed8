"""Everything a running chat needs, opened in order and closed in reverse.

``Runtime.open`` takes the data dir and settings and builds: the instance lock,
the store, the serving engine, the chat service, and (when learning is on) the
background judge and learner. ``chat`` and ``serve`` build one; every part comes from the
composition root (:mod:`openclaw_local.services.container`). The model-free judges (rules,
learned) run in the learner process, so this process never imports torch; here a
:class:`~openclaw_local.services.verdict_relay.VerdictRelay` records next states and publishes
their verdicts. A judge that reads the model runs here, as a :class:`JudgeWorker` thread.

``Runtime.events`` is the bus the judge and the learner publish their background events on
(:class:`~openclaw_local.services.events.Judged`, ``AdapterSwapped``); a front-end subscribes
to it with ``runtime.events.subscribe(fn)`` — any number of them, each getting every event.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from openclaw_local.config import Settings
from openclaw_local.engine import Engine, ModelGate
from openclaw_local.services import container
from openclaw_local.services.chat import ChatService
from openclaw_local.services.chat_activity import ChatActivity
from openclaw_local.services.events import EventBus
from openclaw_local.services.judging import JudgeWorker
from openclaw_local.services.learner import LearnerService
from openclaw_local.services.status import LearnerStatus
from openclaw_local.services.verdict_relay import VerdictRelay
from openclaw_local.store.samples import SampleStore
from openclaw_local.store import Store
from openclaw_local.store.db import InstanceLock

WAIT_POLL_S = 0.05


class Runtime:
    def __init__(self, home: Path, settings: Settings):
        self.home = home
        self.settings = settings
        self._stack = ExitStack()
        self.store: Store
        self.engine: Engine
        self.chat: ChatService
        self.events = EventBus()  # background events for every front-end that subscribes
        self.notices: list[str] = []  # start-up notices for the UI (a self-test fallback, said once)

    @classmethod
    def open(cls, home: Path, settings: Settings, *, lock_instance: bool = False, front_end: str = "chat") -> "Runtime":
        """``front_end`` (chat, serve) is written into the data dir's lock, so others can name it."""
        rt = cls(home, settings)
        try:
            rt._open(lock_instance, front_end)
        except BaseException:
            rt.close()
            raise
        return rt

    def _open(self, lock_instance: bool, front_end: str = "chat") -> None:
        s = self.settings
        if lock_instance:
            lock = InstanceLock(self.home, front_end).acquire()
            self._stack.callback(lock.release)
        self.store = container.open_store(self.home)
        self._stack.callback(self.store.close)
        # chat generating → the learner process pauses (services/chat_activity.py)
        activity = ChatActivity(self.home)
        activity.clear()  # a marker left by a chat that died mid-reply
        self._stack.callback(activity.clear)
        self.gate = ModelGate(on_foreground=activity.mark if s.learn and s.learner_pause_for_chat else None)
        self.engine = container.load_chat_engine(self.home, s, gate=self.gate, notices=self.notices)
        self._stack.callback(self.engine.close)
        self.samples = SampleStore(self.store, default_system_prompt=s.system_prompt)
        self.learner = LearnerService(self.home, s, self.store, self.engine, events=self.events)
        from openclaw_local.services.adapters import AdapterService

        self.adapters = AdapterService(self.home, s, self.store)  # the Adapters screen's service
        self._stack.callback(self.adapters.close)
        self.judge_worker: JudgeWorker | None = None  # a judge that reads the model, in this process
        self.verdicts: VerdictRelay | None = None  # a judge in the learner process: its verdicts relayed
        self.judge_engine: Engine | None = None
        on_next_state = self.samples.record_next_state
        if s.learn:
            judge_mode = container.judge_mode(s)
            if container.judges_in_learner(judge_mode):
                # rules / learned: judged in the learner process (no torch here); this process records
                # next states at once and publishes the stored verdicts from the learner's follower thread
                self.verdicts = VerdictRelay(self.samples, self.events)
                self.learner.also_follow(self.verdicts.poll)
                on_next_state = self.verdicts.notify
            else:
                # The judge gets its own llama.cpp context (same gate, so chat still goes first):
                # judging never evicts the chat's cached prompt, and it always judges with the base model.
                self.judge_engine = container.load_judge_engine(self.home, s, judge_mode, gate=self.gate,
                                                                cpu_only=False, notices=self.notices)
                if self.judge_engine is not None:
                    self._stack.callback(self.judge_engine.close)
                self.judge_worker = JudgeWorker(self.samples, container.build_judge(s, self.judge_engine, judge_mode),
                                                settings=s, events=self.events)
                on_next_state = self.judge_worker.notify
        self.chat = ChatService(self.store, self.engine, s, adapter_version=lambda: self.learner.served_version,
                                on_next_state=on_next_state)

    def start_background(self) -> None:
        """Start judging and learning; the active adapter is swapped in first."""
        self.learner.start()
        self._stack.callback(self.learner.stop)
        if self.judge_worker is not None:
            self.judge_worker.start()
            self._stack.callback(self.judge_worker.stop)

    def wait_judged(self, timeout: float = 60.0) -> bool:
        """Block until no reply waits for the judge and every verdict was published on :attr:`events`
        (True), or ``timeout`` seconds pass (False) — wherever the judge runs (this process's judge
        worker, or the learner process). With learning off nothing judges: True only if nothing waits."""
        deadline = time.monotonic() + timeout
        while not self._all_judged():
            if not self.settings.learn or time.monotonic() >= deadline:
                return False
            time.sleep(WAIT_POLL_S)
        return True

    def _all_judged(self) -> bool:
        if self.samples.counts()["waiting"]:
            return False
        if self.judge_worker is not None and self.judge_worker.running and not self.judge_worker.wait_idle(0):
            return False  # its last verdicts are still being published
        return self.verdicts is None or not self.verdicts.pending()

    def stop_background(self) -> None:
        """Stop judging and learning now (the learner process too); :meth:`close` still closes the rest."""
        if self.judge_worker is not None:
            self.judge_worker.stop()
        self.learner.stop()

    def status(self) -> LearnerStatus:
        """The learner's status with the sample counts, polled by the UI (``.fields()`` for the status bar)."""
        counts = self.samples.counts()
        return replace(self.learner.status(), samples_to_train=counts["judged"], replies_to_judge=counts["waiting"])

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
