"""The judges that ask a model (the served one, or ``judge_model_path``): ``generate``, ``logprob``
and ``hybrid`` (docs/METHOD.md, "The judge").

- **evaluative** — did the reply meet the user's intent, judging by what the user did
  next? Thanks or moving on → +1; push-back, a redo request, a correction or the same
  request rephrased → -1; unclear → 0.
- **directive** — does the next state show how the reply should have been different?
  If so, a 1–3 sentence hint; otherwise None.

``generate``  the judge model writes an answer (few-shot, strict ``+1``/``-1``/``0``);
              ``votes`` samples at ``temperature``; majority wins, tie or nothing
              parseable → 0. Hints: ``hint_votes`` samples, the longest valid one.
``logprob``   the judge model *scores* the three answers (log p of each option as the
              assistant turn), optionally calibrated by subtracting the scores it gives
              a content-free input; one deterministic vote. Hints as ``generate``.
``hybrid``    the cue rules where a rule fires, otherwise ``generate``.

Measured on the embedded 135M model (docs/JUDGE.md) these are near chance; with a model of
≥ 3B parameters ``auto`` picks ``generate``. Every model call runs with ``background=True`` and
lets :class:`~openclaw_local.engine.Preempted` propagate. Everything but the judge classes is a
pure function.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

from openclaw_local.judge.base import Judge, Votes
from openclaw_local.judge.rules import rule_hint, rule_score
from openclaw_local.judge.words import clip

MAX_REPLY_CHARS = 400
MAX_NEXT_CHARS = 300
MAX_PROMPT_CHARS = 200
HINT_OPEN, HINT_CLOSE = "<hint>", "</hint>"
HINT_MIN_CHARS, HINT_MAX_CHARS = 8, 400


# ----------------------------------------------------------------------------- prompts
EVAL_SYSTEM = (
    "You grade an assistant's reply by what the user did next.\n"
    "Answer +1 if the user is satisfied (thanks, or moves on to a new topic).\n"
    "Answer -1 if the user is not (complains, corrects it, asks for a redo, or repeats the same request).\n"
    "Answer 0 if you cannot tell.\n"
    "Answer with only +1, -1 or 0."
)

# (user request, reply, next state, answer) — short on purpose: a tiny model copies form
EVAL_SHOTS: list[tuple[str, str, str, str]] = [
    ("What is the capital of Japan?", "The capital of Japan is Tokyo.", "Thanks! How many people live there?", "+1"),
    ("Summarize this email in one line.", "Here is a detailed summary in five paragraphs: ...", "Too long. One line, please.", "-1"),
    ("Suggest a name for my cat.", "How about Miso?", "hmm", "0"),
    ("When is the meeting?", "The meeting is on Monday.", "No, it's on Tuesday.", "-1"),
]

HINT_SYSTEM = (
    "You read an assistant's reply and the user's next message.\n"
    "If the user's message shows how the reply should have been different, write one short "
    f"instruction for the assistant between {HINT_OPEN} and {HINT_CLOSE}.\n"
    f"If it does not, write {HINT_OPEN}none{HINT_CLOSE}."
)

HINT_SHOTS: list[tuple[str, str, str]] = [
    ("Here is a detailed summary in five paragraphs: ...", "Too long. One line, please.",
     "Keep the answer to a single short line."),
    ("The capital of Japan is Tokyo.", "Thanks! How many people live there?", "none"),
    ("The meeting is on Monday.", "No, it's on Tuesday.", "The meeting is on Tuesday, not Monday."),
]

# content-free input for logprob calibration (Zhao et al. 2021, "Calibrate before use")
NULL_INPUT = ("N/A", "N/A", "N/A")
LOGPROB_OPTIONS = {1: "+1", -1: "-1", 0: "0"}


def _case(prompt: str | None, reply: str, next_state: str) -> str:
    parts = []
    if prompt:
        parts.append(f"User asked: {clip(prompt, MAX_PROMPT_CHARS)}")
    parts.append(f"Assistant replied: {clip(reply, MAX_REPLY_CHARS)}")
    parts.append(f"User then said: {clip(next_state, MAX_NEXT_CHARS)}")
    return "\n".join(parts) + "\nScore:"


def build_eval_messages(reply: str, next_state: str, prompt: str | None = None) -> list[dict[str, str]]:
    """Few-shot chat messages for the evaluative judge; the answer is the next assistant turn."""
    msgs = [{"role": "system", "content": EVAL_SYSTEM}]
    for p, r, n, a in EVAL_SHOTS:
        msgs.append({"role": "user", "content": _case(p, r, n)})
        msgs.append({"role": "assistant", "content": a})
    msgs.append({"role": "user", "content": _case(prompt, reply, next_state)})
    return msgs


def build_hint_messages(reply: str, next_state: str, prompt: str | None = None) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": HINT_SYSTEM}]
    for r, n, h in HINT_SHOTS:
        msgs.append({"role": "user", "content": _case(None, r, n).removesuffix("\nScore:") + "\nHint:"})
        msgs.append({"role": "assistant", "content": f"{HINT_OPEN}{h}{HINT_CLOSE}"})
    msgs.append({"role": "user", "content": _case(prompt, reply, next_state).removesuffix("\nScore:") + "\nHint:"})
    return msgs


# ----------------------------------------------------------------------------- parsing
_SCORE_RE = re.compile(r"(?<![\w.])([+\-−–]?)\s*([01])(?!\w|\.\d)")
_WORD_SCORES = [
    (re.compile(r"\b(positive|good|satisfied|yes|correct)\b", re.I), 1),
    (re.compile(r"\b(negative|bad|unsatisfied|dissatisfied|no|wrong)\b", re.I), -1),
    (re.compile(r"\b(unclear|neutral|unknown|can'?t tell|cannot tell)\b", re.I), 0),
]


def parse_score(text: str | None) -> int | None:
    """The first score in a judge output: ``+1``/``1`` → 1, ``-1`` → -1, ``0`` → 0; words as a fallback.

    Returns None when nothing parseable is there (empty, "+2", "maybe", ...).
    """
    if not text:
        return None
    t = text.strip()
    m = re.search(r"score\s*[:=]\s*", t, re.I)
    if m:  # "Score: -1" — look after the label first
        t = t[m.end():]
    m = _SCORE_RE.search(t[:40])
    if m:
        sign, digit = m.group(1), m.group(2)
        if digit == "0":
            return 0
        return -1 if sign in ("-", "−", "–") else 1
    for rx, value in _WORD_SCORES:
        if rx.search(t[:40]):
            return value
    return None


def majority(votes: Sequence[int | None]) -> int:
    """Most common parsed vote; a tie for first place or no parsed vote → 0."""
    counts = Counter(v for v in votes if v in (-1, 0, 1))
    if not counts:
        return 0
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return 0
    return ranked[0][0]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def parse_hint(text: str | None) -> str | None:
    """The hint between the markers (a missing close marker is tolerated), or None.

    Invalid: no open marker, "none"/"no"/"n/a", shorter than 8 characters, no
    letters, a copy of an example hint. Longer than 3 sentences → first 3.
    """
    if not text:
        return None
    lo = text.lower()
    i = lo.find(HINT_OPEN)
    if i < 0:
        return None
    body = text[i + len(HINT_OPEN):]
    j = body.lower().find(HINT_CLOSE)
    if j >= 0:
        body = body[:j]
    else:
        body = body.split("<", 1)[0]  # stray markup after an unclosed hint
    body = " ".join(body.split()).strip(" \"'")
    if body.lower().rstrip(".!") in ("none", "no", "n/a", "na", "nothing", "no hint", ""):
        return None
    if len(body) < HINT_MIN_CHARS or not re.search(r"[A-Za-z]{3}", body):
        return None
    if body in {h for _, _, h in HINT_SHOTS}:  # parroted the example
        return None
    body = " ".join(_sentences(body)[:3])
    if len(body) > HINT_MAX_CHARS:
        body = body[:HINT_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    return body


def pick_hint(hints: Sequence[str | None]) -> str | None:
    """The longest valid hint among the votes (docs/METHOD.md: keep the longest valid one)."""
    valid = [h for h in hints if h]
    return max(valid, key=len) if valid else None


def logprob_vote(scores: dict[int, float], baseline: dict[int, float] | None = None) -> int:
    """The option with the highest (optionally calibrated) log-prob."""
    adj = {k: v - (baseline or {}).get(k, 0.0) for k, v in scores.items()}
    return max(adj, key=lambda k: (adj[k], -abs(k)))



class GenerateJudge(Judge):
    """``generate``: the model writes ``+1``/``-1``/``0``, ``votes`` times; the majority wins."""

    mode = "generate"
    needs_engine = True

    def _seed(self, i: int) -> int | None:
        return None if self.seed is None else self.seed + i

    def score(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[int, Votes]:
        msgs = build_eval_messages(reply, next_state, prompt)
        votes = []
        for i in range(self.votes):
            raw = self.engine.complete(
                msgs, max_tokens=self.max_tokens, temperature=self.temperature, seed=self._seed(i), background=True,
                cancel=self.cancel,
            )
            votes.append({"raw": raw, "vote": parse_score(raw)})
        return majority([v["vote"] for v in votes]), votes

    def hint(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[str | None, Votes]:
        """``hint_votes`` samples between the hint markers; the longest valid one."""
        msgs = build_hint_messages(reply, next_state, prompt)
        out = []
        for i in range(self.hint_votes):
            raw = self.engine.complete(
                msgs, max_tokens=self.hint_max_tokens, temperature=self.temperature, seed=self._seed(100 + i),
                background=True, cancel=self.cancel,
            )
            out.append({"raw": raw, "hint": parse_hint(raw)})
        return pick_hint([v["hint"] for v in out]), out


class LogprobJudge(GenerateJudge):
    """``logprob``: the three answers scored by the model's log-probs (calibrated against a content-free input)."""

    mode = "logprob"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._baseline: dict[int, float] | None = None

    def _option_scores(self, msgs) -> dict[int, float]:
        return {k: float(sum(self.engine.token_logprobs(msgs, text, background=True))) for k, text in LOGPROB_OPTIONS.items()}

    def score(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[int, Votes]:
        if self.calibrate and self._baseline is None:
            p, r, n = NULL_INPUT
            self._baseline = self._option_scores(build_eval_messages(r, n, p))
        scores = self._option_scores(build_eval_messages(reply, next_state, prompt))
        vote = logprob_vote(scores, self._baseline if self.calibrate else None)
        return vote, [{"logprobs": {str(k): round(v, 4) for k, v in scores.items()}, "vote": vote}]


class HybridJudge(GenerateJudge):
    """``hybrid``: the cue rules where a rule fires (no model call), otherwise ``generate``."""

    mode = "hybrid"

    def score(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[int, Votes]:
        value, rule = rule_score(reply, next_state, prompt)
        if value is not None:
            return value, [{"rule": rule, "vote": value}]
        return super().score(reply, next_state, prompt)

    def hint(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[str | None, Votes]:
        h = rule_hint(reply, next_state, prompt)
        if h is not None:
            return h, [{"rule": "hint", "hint": h}]
        return super().hint(reply, next_state, prompt)
