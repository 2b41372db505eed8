"""``learned``: the judge that reads the user's next message with a sentence encoder and a trained
head (judge/head.py), and hints from the user's own request (judge/hints.py). No model call.

Importing this module is cheap: numpy, torch and the encoder are loaded on the first judgement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from openclaw_local.judge.base import Judge, Votes
from openclaw_local.judge.hints import request_hint

if TYPE_CHECKING:
    import numpy as np

    from openclaw_local.judge.head import Encoder, Head, UserCalibration

Rows = Sequence[dict[str, Any]]


class LearnedJudge(Judge):
    """``score(reply, next_state, prompt) -> (reward, votes)`` with the shipped head (+ this user's calibration).

    ``anchors``: a callable giving labeled training rows that keep a user calibration honest on
    other phrasings (:meth:`fit_calibration`); the composition root passes them. ``head`` and ``encoder``
    default to the shipped head and the process's shared encoder, loaded on first use.
    """

    mode = "learned"

    def __init__(self, engine: Any = None, *, head: "Head | None" = None, encoder: "Encoder | None" = None,
                 anchors: Callable[[], Rows] | None = None, **options: Any):
        super().__init__(engine, **options)
        self._head = head
        self._encoder = encoder
        self.anchors = anchors
        self.calibration: "UserCalibration | None" = None
        self._anchor_features: "tuple[np.ndarray, list[int]] | None" = None  # computed once, on the first calibration

    @property
    def head(self) -> "Head":
        if self._head is None:
            from openclaw_local.judge.head import HEAD_PATH, Head

            self._head = Head.load(HEAD_PATH)
        return self._head

    @property
    def encoder(self) -> "Encoder":
        if self._encoder is None:
            from openclaw_local.judge.head import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    def features(self, rows: Rows) -> "np.ndarray":
        from openclaw_local.judge.head import featurize

        return featurize(rows, self.encoder, self.head.feature_set)

    def probabilities(self, reply: str, next_state: str, prompt: str | None = None) -> "np.ndarray":
        X = self.features([{"prompt": prompt, "reply": reply, "next_state": next_state}])
        return self.head.probs(X, self.calibration)[0]

    def score(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[int, Votes]:
        from openclaw_local.judge.head import CLASSES, decide

        if not (next_state or "").strip():
            return 0, [{"learned": "empty", "vote": 0}]
        p = self.probabilities(reply, next_state, prompt)
        vote = decide(p[None, :], self.head.threshold)[0]
        return vote, [{"learned": {str(c): round(float(x), 4) for c, x in zip(CLASSES, p)},
                       "calibrated": self.calibration is not None, "vote": vote}]

    def hint(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[str | None, Votes]:
        """The change the user's message asks for, in their own words (judge/hints.py)."""
        h = request_hint(next_state)
        return h, [{"request": "hint" if h else "none", "hint": h}]

    def wants_hint(self, reward: int) -> bool:
        return reward == -1  # only push-back: a "can't tell" message is not a request to follow

    def fit_calibration(self, rows: Rows) -> "UserCalibration":
        """Fit this user's calibration on labeled rows (their next messages) and use it from now on."""
        from openclaw_local.judge.head import fit_user_calibration

        if self._anchor_features is None:
            if self.anchors is None:
                raise ValueError("the learned judge needs anchor rows to calibrate (build it through the composition root)")
            anchors = list(self.anchors())
            self._anchor_features = (self.features(anchors), [r["label"] for r in anchors])
        X_anchor, y_anchor = self._anchor_features
        self.calibration = fit_user_calibration(self.head, self.features(rows), [r["label"] for r in rows],
                                                X_anchor=X_anchor, y_anchor=y_anchor)
        return self.calibration

    def score_many(self, rows: Rows) -> "tuple[list[int], np.ndarray]":
        X = self.features(rows)
        P = self.head.probs(X, self.calibration)
        return self.head.decide(P), P
