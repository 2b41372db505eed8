"""The judge's verdict on a reply as the user sees it: ✓ accepted (+1), ✗ pushed back (-1), · can't tell.

One table for the store (``Message.judgment``), the CLI and the TUI. A leaf module: no internal imports.
"""

from __future__ import annotations

ACCEPTED, PUSHED_BACK, UNCLEAR = "✓", "✗", "·"
MARKS = {1: ACCEPTED, -1: PUSHED_BACK}  # reward -> mark; any other reward (0, None) is UNCLEAR
WORDS = {ACCEPTED: "accepted", PUSHED_BACK: "pushed back", UNCLEAR: "unclear"}  # mark -> the verdict in words


def mark(reward: int | None) -> str:
    """The mark for a judge's reward: ✓ for +1, ✗ for -1, · for anything else."""
    return MARKS.get(reward, UNCLEAR)  # type: ignore[arg-type]
