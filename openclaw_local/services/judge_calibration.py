"""The judge learns this user's way of talking: labels from gestures and overrules, and the
per-user calibration of the learned judge refitted on them.

- :func:`record_gesture_label` (chat process, judge worker): a 👍 / 👎 / correction on a reply
  labels the user's following message (+1 / -1 / -1);
- :func:`overrule_verdict` (TUI, CLI): the user sets a judged reply's verdict before it trains;
  the verdict becomes the sample's reward and a label for its next message;
- :class:`CalibrationFitter` (learner process): when the labels changed, refit the head's
  per-user correction (:func:`~openclaw_local.judge.head.fit_user_calibration`)
  and store it; :func:`load_calibration` (judge worker) picks it up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openclaw_local.store import Store
from openclaw_local.store.judge_labels import JudgeLabelStore
from openclaw_local.store.samples import SampleStore

if TYPE_CHECKING:
    from openclaw_local.judge import LearnedJudge

log = logging.getLogger(__name__)

MIN_LABELS = 2  # one label says too little about a way of talking
RETRY_S = 300.0


def record_gesture_label(store: Store, message_id: int) -> dict[str, Any] | None:
    """Label the message after reply ``message_id`` from its rating / correction, if it has both."""
    return JudgeLabelStore(store).record_gesture(message_id)


def overrule_verdict(store: Store, sample_id: int, label: int) -> bool:
    """The user overrules the judge's verdict on reply ``sample_id`` (+1 / 0 / -1).

    The label is kept for the judge's calibration even when the sample can no longer change
    (already trained, or rated by the user). Returns True if the sample's reward changed.
    """
    changed = SampleStore(store).overrule(sample_id, label)
    JudgeLabelStore(store).record(sample_id, label, "overrule")
    return changed


@dataclass(frozen=True)
class VerdictState:
    """What the user can overrule on one reply (for the TUI's verdict picker)."""

    judge: int | None  # the judge's own verdict (+1 / 0 / -1), None if it has not read a next message
    current: int | None  # the verdict used now: the user's overrule if any, else the judge's
    overruled: bool
    trained: bool  # an update already learned from it: an overrule now only teaches the judge
    refusal: str | None  # why it cannot be overruled, in a sentence; None when it can


def verdict_state(store: Store, message_id: int) -> VerdictState:
    """The judge's verdict on reply ``message_id`` and whether the user may overrule it."""
    row = SampleStore(store).get(message_id)
    label = JudgeLabelStore(store).get(message_id)
    overruled_label = label["label"] if label is not None and label["source"] == "overrule" else None
    if row is None or (row.judge_reward is None and row.reward_source != "overrule"):
        return VerdictState(None, None, False, False,
                            "The judge has not read your next message about this reply yet: nothing to overrule.")
    if row.reward_source in ("rating", "correction"):
        by = "rated" if row.reward_source == "rating" else "corrected"
        return VerdictState(row.judge_reward, row.reward, False, row.status == "trained",
                            f"You {by} this reply: that already decides what it teaches, not the judge.")
    overruled = overruled_label is not None
    current = overruled_label if overruled else row.judge_reward
    return VerdictState(row.judge_reward, current, overruled, row.status == "trained", None)


def load_calibration(store: Store):
    """The stored per-user calibration, or None (none fitted, or cleared)."""
    from openclaw_local.judge.head import UserCalibration

    row = JudgeLabelStore(store).calibration()
    if row is None or not row["params"]:
        return None
    return UserCalibration.from_bytes(row["params"])


class CalibrationFitter:
    """Refits the calibration when the labels changed since the last fit (run in the learner)."""

    def __init__(self, store: Store, judge: "LearnedJudge", *, min_interval_s: float = 0.0):
        """``judge``: the learned judge with its anchor lines (``container.build_judge(settings, None, "learned")``);
        its encoder is loaded only when there is work."""
        self.labels = JudgeLabelStore(store)
        self.min_interval_s = min_interval_s
        self._judge = judge
        self._retry_at = 0.0

    def stale(self) -> bool:
        n, newest = self.labels.stamp()
        cal = self.labels.calibration()
        if cal is None:
            return n >= MIN_LABELS
        return (cal["n_labels"], cal["last_label_at"]) != (n, newest)

    def refit(self) -> int:
        """Fit on every label (fewer than MIN_LABELS: no calibration). Returns the labels used."""
        rows = self.labels.all()
        n, newest = self.labels.stamp()
        if len(rows) < MIN_LABELS:
            self.labels.save_calibration(None, n, newest)
            return 0
        saved = self._judge.calibration
        try:
            cal = self._judge.fit_calibration(rows)
        finally:
            self._judge.calibration = saved  # the judge worker decides when to use it (refresh_calibration)
        self.labels.save_calibration(cal.to_bytes(), n, newest)
        log.info("judge calibration refitted on %d labels", len(rows))
        return len(rows)

    def maybe_refit(self) -> int | None:
        """Refit if stale; None when nothing changed. After a failure, waits RETRY_S before trying again."""
        if time.monotonic() < self._retry_at or not self.stale():
            return None
        try:
            self._retry_at = time.monotonic() + self.min_interval_s  # labels come in bursts: refit at most this often
            return self.refit()
        except Exception:
            self._retry_at = time.monotonic() + RETRY_S
            raise
