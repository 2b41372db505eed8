"""The judge worker: a daemon thread that scores replies in the background.

Where it runs: the model-free judges (rules, learned) run in the background learner process
(services/learner_worker.py), which polls SQLite for waiting samples every ``poll_s``; the chat
process only records next states and relays the verdicts (services/verdict_relay.py), so it never
imports torch. Judges that need the llama.cpp model (generate, logprob, hybrid) run in the chat
process, on a llama.cpp context of their own behind the chat's gate:
``ChatService(on_next_state=worker.notify)``: every time a reply gets a next state
the worker records it (:func:`~openclaw_local.services.verdict_relay.record_next_state`,
synchronously, so it is in SQLite before ``notify`` returns) and wakes up. On start it picks
up whatever a previous run left waiting. For each waiting sample it runs the :class:`Judge`,
stores every vote, the score and the hint, and publishes :class:`Judged` (message id,
the sample's *final* reward — an explicit rating wins over the judge — and hint) on its
event bus so the UI can show ✓ / ✗ / ·.

It never delays the user: all model work runs with ``background=True``, so the
engine's gate hands the model to a waiting chat message first and background
generation raises ``Preempted`` between tokens; the worker then simply tries the
same sample again once the chat is done (nothing was stored, nothing is lost).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from openclaw_local.config import Settings
from openclaw_local.engine import Preempted
from openclaw_local.judge import Judge
from openclaw_local.records import WaitingReply
from openclaw_local.services.events import EventBus, Judged
from openclaw_local.services.judge_calibration import load_calibration
from openclaw_local.services.preferences import PreferenceService
from openclaw_local.services.verdict_relay import record_next_state
from openclaw_local.store.judge_labels import JudgeLabelStore
from openclaw_local.store.samples import SampleStore

log = logging.getLogger(__name__)

BATCH = 20


class JudgeWorker:
    def __init__(
        self,
        samples: SampleStore,
        judge: Judge,
        *,
        settings: Settings | None = None,
        events: EventBus | None = None,
        poll_s: float = 60.0,
        retry_s: float = 0.05,
        preferences: PreferenceService | None = None,
    ):
        """``judge``: built by the composition root (``container.build_judge`` for ``container.judge_mode``).

        ``events``: where each final verdict is published as :class:`Judged` (a private bus if None).
        """
        settings = settings or Settings()
        self.samples = samples
        self.judge = judge
        # a push-back with a hint: the change asked for becomes a candidate preference (active when repeated)
        self.preferences = preferences if preferences is not None else PreferenceService(samples.store, settings)
        self.events = events if events is not None else EventBus()
        self.poll_s = poll_s
        self.retry_s = retry_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._announce: deque[int] = deque()
        self._thread: threading.Thread | None = None
        self.judged = 0  # samples judged by this worker (for tests and the status bar)
        self._calibration_key: tuple | None = None
        self.preemptions = 0
        self.errors = 0

    # ---------------------------------------------------------------- control
    def start(self) -> "JudgeWorker":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self.judge.cancel.clear()  # a worker can be stopped and started again
            self._idle.clear()
            self._thread = threading.Thread(target=self._run, name="judge-worker", daemon=True)
            self._thread.start()
            self._wake.set()  # re-judge anything left waiting by a previous run
        return self

    def notify(self, message_id: int | None = None) -> None:
        """A reply got a next state (a following message, a rating, a correction): record it and wake up."""
        if message_id is not None:
            row = record_next_state(self.samples, message_id)  # never raises: the chat goes on
            if row is not None and row.status == "judged":
                self._announce.append(message_id)  # explicit signal, no judge needed: still tell the UI
        self._idle.clear()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current model call (a judge generation is cancelled at its next token)."""
        self._stop.set()
        self.judge.cancel.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is waiting to be judged (True) or the timeout passes (False)."""
        return self._idle.wait(timeout)

    # ------------------------------------------------------------------- work
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._flush_announcements()
                self.run_pending()
                self._flush_announcements()
            except Exception:
                self.errors += 1
                log.exception("judge worker pass failed")
                self._stop.wait(1.0)
                self._wake.set()
                continue
            if not self._wake.is_set():
                self._idle.set()

    def _flush_announcements(self) -> None:
        while self._announce:
            mid = self._announce.popleft()
            row = self.samples.get(mid)
            if row is not None and row.status == "judged":
                self._emit(mid, row.reward, row.hint)

    def _emit(self, message_id: int, reward: int | None, hint: str | None) -> None:
        self.events.publish(Judged(message_id, reward, hint))  # the bus logs a failing subscriber

    def refresh_calibration(self) -> None:
        """Use the newest per-user calibration the learner fitted (learned judge only)."""
        if self.judge.mode != "learned":
            return
        row = JudgeLabelStore(self.samples.store).calibration()
        key = (row["fitted_at"], row["n_labels"]) if row and row["params"] else None
        if key != self._calibration_key:
            self.judge.calibration = load_calibration(self.samples.store) if key else None
            self._calibration_key = key

    def run_pending(self) -> int:
        """Judge every waiting sample (in this thread). Returns how many were judged."""
        done = 0
        while not self._stop.is_set():
            batch = self.samples.to_judge(limit=BATCH)
            if not batch:
                break
            self.refresh_calibration()
            progressed = False
            for item in batch:
                if self._stop.is_set():
                    break
                if self.judge_one(item):
                    done += 1
                progressed = True
            if not progressed:
                break
        return done

    def judge_one(self, item: WaitingReply) -> bool:
        """Judge one waiting sample, retrying after preemption. True if stored."""
        mid = item.message_id
        while not self._stop.is_set():
            try:
                verdict = self.judge.judge(item.reply, item.next_state or "", item.prompt)
                break
            except Preempted:
                # the user's chat wants the model: let it have it, then start this sample over
                self.preemptions += 1
                self._stop.wait(self.retry_s)
            except Exception as exc:
                self.errors += 1
                log.exception("judging message %s failed", mid)
                self.samples.mark_skipped(mid, f"judge error: {type(exc).__name__}: {exc}"[:300])
                return False
        else:
            return False
        if self.judge.cancel.is_set() and self._stop.is_set():
            return False  # cut short by stop(): leave it waiting for the next run
        stored = self.samples.record_judgement(
            mid,
            next_state=item.next_state,
            judge_reward=verdict.reward,
            votes=verdict.votes,
            hint=verdict.hint,
            hint_votes=verdict.hint_votes,
            mode=verdict.mode,
        )
        if stored:
            self.judged += 1
            if verdict.reward == -1 and verdict.hint:
                try:
                    self.preferences.observe_push_back(mid)
                except Exception:  # never break judging because of a preference
                    log.exception("recording a preference from the push-back on message %s failed", mid)
            row = self.samples.get(mid)
            self._emit(mid, row.reward if row else None, row.hint if row else None)
        return stored
