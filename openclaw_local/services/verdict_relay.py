"""The chat process's side of a judge that runs elsewhere: record next states, relay verdicts.

The model-free judges (rules, learned: ``judge.MODEL_FREE_MODES``) run in the background learner
process (services/learner_worker.py), so the chat and ``serve`` processes never import torch (the
learned judge's sentence encoder). What has to happen at once stays here and is cheap:

- :func:`record_next_state` (``ChatService(on_next_state=…)`` through :meth:`VerdictRelay.notify`):
  the reply's next state goes into SQLite before the call returns
  (:meth:`SampleStore.record_next_state`), and a rating or correction labels the user's following
  message for the judge's calibration (:func:`record_gesture_label`). The in-process
  :class:`~openclaw_local.services.judging.JudgeWorker` (judges that use the chat's llama.cpp
  model) records through the same function.
- :class:`VerdictRelay` publishes :class:`Judged` on the runtime's event bus for every sample
  that got its verdict: at once for an explicit signal (a rating or correction with no judge to
  wait for), and for the samples it saw waiting once they turned judged or skipped by the judge.
  :meth:`VerdictRelay.poll` runs on the learner service's follower thread (every 0.25 s).

Imports here stay light: no numpy-heavy module, no torch, no judge code.
"""

from __future__ import annotations

import logging
import threading

from openclaw_local.records import Sample
from openclaw_local.services.events import EventBus, Judged
from openclaw_local.services.judge_calibration import record_gesture_label
from openclaw_local.store.samples import SampleStore

log = logging.getLogger(__name__)


def record_next_state(samples: SampleStore, message_id: int) -> Sample | None:
    """Record reply ``message_id``'s next state (and a gesture's judge label); the sample row or None.

    Never raises: the chat must not break because of the learner."""
    try:
        row = samples.record_next_state(message_id)
    except Exception:
        log.exception("recording the next state of message %s failed", message_id)
        return None
    if row is not None and row.reward_source in ("rating", "correction") and row.next_state:
        try:  # the gesture labels the user's following message for the judge's calibration
            record_gesture_label(samples.store, message_id)
        except Exception:
            log.exception("recording the judge label of message %s failed", message_id)
    return row


class VerdictRelay:
    """Publishes the verdicts another process stores as :class:`Judged` events (thread-safe)."""

    def __init__(self, samples: SampleStore, events: EventBus):
        self.samples = samples
        self.events = events
        self._lock = threading.Lock()
        self._announce: list[int] = []  # judged by an explicit signal: say so at the next poll
        self._watch: dict[int, int] = {}  # waiting for the judge: message id -> when it was (re)noted
        self._seq = 0
        for row in samples.all("waiting"):  # left waiting by a previous run: the learner judges them
            self._note_waiting(row.message_id)

    def _note_waiting(self, message_id: int) -> None:
        self._seq += 1
        self._watch[message_id] = self._seq

    def notify(self, message_id: int | None = None) -> None:
        """A reply got a next state (a following message, a rating, a correction): record it now."""
        if message_id is None:
            return
        row = record_next_state(self.samples, message_id)
        if row is None:
            return
        with self._lock:
            if row.status == "judged":
                self._announce.append(message_id)  # explicit signal, no judge needed: still tell the UI
            elif row.status == "waiting":
                self._note_waiting(message_id)

    def pending(self) -> bool:
        """Is a verdict still to be published (a watched sample not yet seen judged, or an announcement)?"""
        with self._lock:
            return bool(self._announce or self._watch)

    def poll(self) -> int:
        """Publish what changed since the last poll; returns how many events were published."""
        with self._lock:
            announce, self._announce = self._announce, []
            watch = dict(self._watch)
        published = 0
        for mid in announce:
            row = self.samples.get(mid)
            if row is not None and row.status == "judged":
                published += self._publish(mid, row)
        done = []
        for mid, seq in sorted(watch.items()):
            row = self.samples.get(mid)
            if row is not None and row.status == "waiting":
                continue
            done.append((mid, seq))
            # judged or skipped by the judge (its mode is stored with its verdict); a skip for another
            # reason (a judge error, regenerated) or an explicit signal meanwhile is not the judge's verdict
            if row is not None and row.status in ("judged", "skipped") and row.judge_mode:
                published += self._publish(mid, row)
        with self._lock:
            for mid, seq in done:
                if self._watch.get(mid) == seq:  # not noted waiting again meanwhile (a new next state)
                    del self._watch[mid]
        return published

    def _publish(self, message_id: int, row: Sample) -> int:
        self.events.publish(Judged(message_id, row.reward, row.hint))  # the bus logs a failing subscriber
        return 1
