"""The judge (the local PRM): a reply's next state → a reward (+1 / -1 / 0) and maybe a hint.

One class per mode, all derived from :class:`~openclaw_local.judge.base.Judge`, in one table:
adding a judge is one class and one entry in :data:`JUDGES`. Everything else — the modes the
``judge_mode`` setting accepts, the ones that need no model, ``eval-prm``'s choices — is read
from it. Which mode a user gets (``auto``) is decided by the composition root
(``services/container.judge_mode``), which also builds the judge.

Imports inside the package go one way:
``words``, ``data`` → ``base`` → ``rules``, ``hints`` → ``prompted``, ``head`` → ``learned`` → this table
→ ``evaluate`` → ``train``. Importing this module is cheap (no numpy, no torch): the learned judge
loads its model on its first judgement.
"""

from __future__ import annotations

from typing import Any

from openclaw_local.judge.base import Judge, JudgeEngine, Verdict
from openclaw_local.judge.learned import LearnedJudge
from openclaw_local.judge.prompted import GenerateJudge, HybridJudge, LogprobJudge
from openclaw_local.judge.rules import RulesJudge

JUDGES: dict[str, type[Judge]] = {cls.mode: cls for cls in (LearnedJudge, RulesJudge, HybridJudge, GenerateJudge, LogprobJudge)}
MODES = tuple(JUDGES)
MODEL_FREE_MODES = tuple(mode for mode, cls in JUDGES.items() if not cls.needs_engine)  # load no judge engine
DEFAULT_MODE = "learned"  # chosen by measured accuracy (docs/JUDGE.md); what ``auto`` gives a small model
SETTING_MODES = ("auto", *MODES)  # what the judge_mode setting accepts


def make_judge(mode: str, engine: JudgeEngine | None = None, **options: Any) -> Judge:
    """The judge of a concrete ``mode`` (not ``auto``). Product code builds judges through the
    composition root (``services/container.build_judge``), which fills in the options."""
    if mode not in JUDGES:
        raise ValueError(f"judge mode must be one of {MODES}, not {mode!r}")
    return JUDGES[mode](engine, **options)


__all__ = ["DEFAULT_MODE", "JUDGES", "MODEL_FREE_MODES", "MODES", "SETTING_MODES", "GenerateJudge", "HybridJudge",
           "Judge", "JudgeEngine", "LearnedJudge", "LogprobJudge", "RulesJudge", "Verdict", "make_judge"]
