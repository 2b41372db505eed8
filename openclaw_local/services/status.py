"""The learner's status as the chat shows it: one typed record, polled by the status bar twice a second."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# record field -> the status bar's field name (the bar's names predate these; it shows them unchanged)
_BAR_NAMES = {"samples_to_train": "waiting", "replies_to_judge": "judging"}


@dataclass(frozen=True)
class LearnerStatus:
    adapter: str  # the served adapter: "v3", or "none" for the base model
    learner: str  # the learner's phase as shown (LearnerState.label), "off", or "exited (…); see …"
    step: str | None = None  # "3/8" while training
    loss: float | None = None  # of the last published update
    reward: float | None = None  # mean reward of the last published update
    learner_error: str | None = None
    gate: str | None = None  # a note when the newest updates in a row were refused by the promotion gate
    samples_to_train: int | None = None  # judged samples the next update will learn from
    replies_to_judge: int | None = None  # replies waiting for the judge

    def fields(self) -> dict[str, Any]:
        """The status bar's fields: the set ones, under the bar's names."""
        return {_BAR_NAMES.get(k, k): v for k, v in asdict(self).items() if v is not None}
