"""The local PRM: turn a reply's next state into a reward (+1 / -1 / 0) and maybe a hint.

Two judges (docs/METHOD.md, "The judge"):

- **evaluative** — did the reply meet the user's intent, judging by what the user did
  next? Thanks or moving on → +1; push-back, a redo request, a correction or the same
  request rephrased → -1; unclear → 0.
- **directive** — does the next state show how the reply should have been different?
  If so, a 1–3 sentence hint; otherwise None.

Modes (``Judge(mode=...)``):

``generate``  the judge model writes an answer (few-shot, strict ``+1``/``-1``/``0``);
              ``votes`` samples at ``temperature``; majority wins, tie or nothing
              parseable → 0.
``logprob``   the judge model *scores* the three answers (log p of each option as the
              assistant turn), optionally calibrated by subtracting the scores it gives
              a content-free input; one deterministic vote.
``rules``     deterministic cue phrases (thanks / "no," / "shorter" / rephrased request /
              new topic); nothing matched → 0. No model.
``hybrid``    rules where a rule fires, otherwise the model (``generate`` votes).
``learned``   a frozen sentence encoder + a trained head (learn/learned_judge.py); hints
              from the user's own request (learn/hints.py). No model call.

Measured on the embedded 135M model (docs/JUDGE.md) the model-only modes are near
chance; ``learned`` is the default (``auto`` in the settings picks it for small
served models and ``generate`` for capable ones, see :func:`resolve_mode`). Every model call runs with ``background=True`` and
lets :class:`~openclaw_local.engine.Preempted` propagate: the caller (the judge worker)
retries later, so the judge never delays the user.

Everything but :class:`Judge` is a pure function.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

MODES = ("generate", "logprob", "rules", "hybrid", "learned")
DEFAULT_MODE = "learned"  # chosen by measured accuracy, see docs/JUDGE.md
MODEL_FREE_MODES = ("rules", "learned")  # need no judge engine
SETTING_MODES = MODES + ("auto",)  # what the judge_mode setting accepts
AUTO_GENERATE_MIN_PARAMS = 3e9  # "auto": a served model this big judges by generation (m votes)


def resolve_mode(mode: str, n_params: float | None) -> str:
    """The concrete mode for a setting: ``auto`` → ``generate`` for a model of ≥ 3B parameters
    (Qwen3-4B judges by voting), else ``learned`` (a 135M model cannot judge, docs/JUDGE.md)."""
    if mode != "auto":
        return mode
    return "generate" if n_params is not None and n_params >= AUTO_GENERATE_MIN_PARAMS else "learned"

MAX_REPLY_CHARS = 400
MAX_NEXT_CHARS = 300
MAX_PROMPT_CHARS = 200
HINT_OPEN, HINT_CLOSE = "<hint>", "</hint>"
HINT_MIN_CHARS, HINT_MAX_CHARS = 8, 400


class JudgeEngine(Protocol):
    """The part of :class:`~openclaw_local.engine.Engine` the judge uses."""

    def complete(self, messages: list[dict[str, str]], **kwargs: Any) -> str: ...

    def token_logprobs(self, messages: list[dict[str, str]], reply: str, *, background: bool = False) -> list[float]: ...


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


def _clip(text: str | None, n: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _case(prompt: str | None, reply: str, next_state: str) -> str:
    parts = []
    if prompt:
        parts.append(f"User asked: {_clip(prompt, MAX_PROMPT_CHARS)}")
    parts.append(f"Assistant replied: {_clip(reply, MAX_REPLY_CHARS)}")
    parts.append(f"User then said: {_clip(next_state, MAX_NEXT_CHARS)}")
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


# ----------------------------------------------------------------------------- rules
_WORD = re.compile(r"[a-z0-9']+")
_STOP = set(
    "a an the and or but if of to in on at for with from by is are was were be been am do does did "
    "i you he she it we they me my your our their this that these those there here what which who whom "
    "how when where why can could would should will shall may might must please just so very really "
    "about as into than then too also not no yes ok okay hi hey pls".split()
)

_POSITIVE = [
    r"\b(thanks|thank\s*(you|u)|thx|ty|cheers|much appreciated|appreciate (it|that))\b",
    r"\b(perfect|great|awesome|excellent|brilliant|fantastic|wonderful|amazing|nice one|nice|neat|cool|sweet)\b",
    r"\b(exactly|spot on|that works|it works|works now|worked|that helps|helpful|helped|love (it|this|that))\b",
    r"\b(did|does) the (trick|job)\b|\b(doing|trying|using|sending|sent|booked|ordered|saved) (it|that|this)?\s*(now|already)\b|\bwill do\b|\bta\W*$",
    r"\b(got it|makes sense|sounds good|good job|well done|that's it|that's right|you're right|great answer)\b",
    r"\b(no problem|no worries)\b",
    r"^\W*(correct|works|good|yes,? (that'?s|this is) (it|right|good))\b(?!\s+(but|except|though))",
    r"\b(that'?s|this is|looks|sounds) (good|fine|right|correct)\b|\b\w+ it is\W*$",
]
_NEGATIVE = [
    r"^\W*((lol|haha|uh|um|ugh|well|hmm+)\W+)?(no|nope|nah|not really|wrong|incorrect)\b(?! (problem|worries|need|rush)\b)",
    r"\bplease no\b|\bno (more )?(emojis?|hashtags?|bullets?|bullet points|lists?|markdown|jargon|headers?)\b",
    r",\s*not\s+(an?\s+|the\s+)?[\w']+\s*[.!]?\s*$",
    r"\b(wrong|incorrect|inaccurate|not (right|correct|true|accurate|quite)|untrue|false|mistaken|a mistake)\b",
    r"\b(that'?s not|that is not|this is not|this isn'?t|that isn'?t|it'?s not|it is not|isn'?t (right|correct|true|what))\b",
    r"\bnot what i\b|\bi (said|asked|meant|wanted|told you|already (said|told|know|asked))\b|\bi mean\b",
    r"\byou (forgot|missed|ignored|skipped|left out|didn'?t|did not|misread|misunderstood|got it wrong)\b",
    r"\btoo (long|short|verbose|wordy|formal|casual|informal|technical|complicated|complex|vague|generic|much|many|basic|simple|stiff|robotic)\b",
    r"\b(shorter|longer|more concise|briefer|simpler|less (formal|verbose|wordy|technical)|more (detail|details|specific|formal|casual))\b",
    r"\b(try again|do it again|redo|rewrite|start over|one more time)\b",
    r"\b(please just|just (give|tell|answer|say|list|write|show|the)|only (give|the answer|answer|need))\b",
    r"\b(don'?t|do not|stop|no more|without( the)?) (use|using|add|adding|include|including|giving|bullet|bullets|emojis?|lists?|markdown|headers?|asking|apologi[sz]ing|explaining)\b",
    r"\b(doesn'?t|does not|didn'?t|did not|won'?t|still) (work|compile|run|help|answer|load|fix)\b|\bnot working\b|\bstill (broken|fails|failing|wrong)\b",
    r"\b(got|getting|throws?|gives?( me)?|raised?) an? (error|exception|traceback)\b|\berror:|\btraceback\b",
    r"\b(useless|not helpful|unhelpful|makes no sense|doesn'?t make (any )?sense|nonsense|ugh|come on|seriously\?)\b",
    r"\b(actually|in fact),? (it|the|that|she|he|they|its|it'?s|there)\b",
    r"\bshould (be|have been|say)\b|\bsupposed to\b",
    r"\b(in|as|to) (one|a single|two|three) (sentence|line|word|paragraph|bullet)s?\b",
    r"\bi didn'?t ask\b|\bnot asking\b|\bthat'?s not what\b|\banswer (the|my) question\b",
    r"\b(make|making|made) (things|stuff|it|that) up\b|\bcan'?t (possibly )?know\b|\bhallucinat",
    r"\btoo (hard|easy|difficult|advanced|expensive|cheap|old|late|early|big|small)\b|\bway (more|less|too)\b",
    r"\bi (just|only) (want|need|asked|wanted)\b|^\W*less \w+",
    r"\b(give|make|write|show|send|use)\b[^.?!]*\binstead\b|\binstead of (this|that|it)\b|\bnot (a|an|the) \w+,? (but|please)\b",
    r"^\W*(please )?(be|sound|make it) (more |less )?(apologetic|professional|polite|friendly|warm|kind|firm|direct|honest|clear|specific|careful|concise|brief|serious|funny|positive|neutral)\b",
    r",\s*(please )?(be|sound) (more |less )?(apologetic|professional|polite|friendly|warm|kind|firm|direct|concise|brief|serious)\b",
    r"^\W*(it'?s|it is|that'?s|that is|the answer is)\s+(only |actually )?[$€£]?\d[\d.,%]*( \w+)?\W*$",
]
_NEW_TOPIC = r"^\W*(ok(ay)?|alright|right|good|now|next|also|another (question|thing)|moving on|different question|new question|btw|by the way|switching)\b[,.!:]?\s+\S"
_AMBIGUOUS = r"^\W*(ok(ay)?|k|hmm+|hm+|uh+|huh|oh|ah|i see|well|sure|fine|right|yes|yeah|maybe|interesting|\?+|\.+|lol|wow)\W*$"

_POS_RX = [re.compile(p, re.I) for p in _POSITIVE]
_NEG_RX = [re.compile(p, re.I) for p in _NEGATIVE]
_NEW_RX = re.compile(_NEW_TOPIC, re.I)
_AMB_RX = re.compile(_AMBIGUOUS, re.I)
_REQUEST_RX = re.compile(
    r"\?\s*$|^\W*(what|how|why|when|where|who|which|can|could|would|will|is|are|do|does|should|tell|give|write|"
    r"make|show|list|find|remind|set|book|translate|explain|help|recommend|suggest|draft|create|please)\b",
    re.I,
)
_HEDGE_RX = re.compile(r"^\W*(hmm+|hm+|huh|well|maybe|i guess|let me)\b", re.I)


def _content_words(text: str | None) -> set[str]:
    words = {w.strip("'") for w in _WORD.findall((text or "").lower())}
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if w and w not in _STOP and len(w) > 1}


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b))) if a and b else 0.0


def rule_score(reply: str, next_state: str, prompt: str | None = None) -> tuple[int | None, str]:
    """A deterministic score from cue phrases, or (None, "") when no rule fires.

    Order matters: push-back beats thanks ("thanks, but that's wrong" is -1); a
    rephrasing of the same request is -1; an explicit new-topic opener or a new
    request sharing nothing with the exchange is +1; bare "ok"/"hmm" is 0.
    """
    ns = " ".join((next_state or "").split())
    if not ns:
        return None, ""
    for i, rx in enumerate(_NEG_RX):
        if rx.search(ns):
            return -1, f"pushback{i}"
    for i, rx in enumerate(_POS_RX):
        if rx.search(ns):
            return 1, f"thanks{i}"
    if _AMB_RX.match(ns):
        return 0, "ambiguous"
    ns_words, prompt_words, reply_words = _content_words(ns), _content_words(prompt), _content_words(reply)
    if _NEW_RX.match(ns):
        return 1, "new-topic-opener"
    if _HEDGE_RX.match(ns):
        return 0, "hedge"
    if prompt_words and len(ns_words) >= 2 and _overlap(ns_words, prompt_words) >= 0.6:
        return -1, "rephrased"
    if len(ns_words) >= 3 and _REQUEST_RX.search(ns) and not (ns_words & (prompt_words | reply_words)):
        return 1, "new-topic"  # a new question or request that shares nothing with the exchange
    return None, ""


_HINT_RULES = [
    (r"too long|shorter|more concise|briefer|too (verbose|wordy|much)|just (give|tell|the)|only (give|the answer|answer)|one (sentence|line|word)",
     "Keep the reply short and to the point."),
    (r"too short|longer|more detail|more details|elaborate|more specific", "Give a fuller, more detailed answer."),
    (r"bullet|lists?\b|markdown|headers?", "Answer in plain sentences, without bullet lists or markdown."),
    (r"too formal|more casual|stiff|robotic", "Use a relaxed, casual tone."),
    (r"too casual|more formal|informal", "Use a formal, professional tone."),
    (r"emoji", "Do not use emojis."),
]
_HINT_RX = [(re.compile(p, re.I), h) for p, h in _HINT_RULES]


def rule_hint(reply: str, next_state: str, prompt: str | None = None) -> str | None:
    """A hint from push-back text: a known style request, else the user's own words as the instruction.

    Only for push-back (rule score -1); a bare "no"/"wrong" carries no direction → None.
    """
    score, _ = rule_score(reply, next_state, prompt)
    if score != -1:
        return None
    ns = " ".join((next_state or "").split())
    for rx, hint in _HINT_RX:
        if rx.search(ns):
            return f"{hint} The user said: \"{_clip(ns, 200)}\""
    if len(_content_words(ns)) < 2:
        return None
    return f"The user pushed back on the reply: \"{_clip(ns, 240)}\". The reply should have done what this asks."


# ----------------------------------------------------------------------------- judge
@dataclass
class Verdict:
    reward: int  # +1 / -1 / 0
    votes: list[dict[str, Any]] = field(default_factory=list)  # one entry per vote: raw output and parsed value
    hint: str | None = None
    hint_votes: list[dict[str, Any]] = field(default_factory=list)
    mode: str = DEFAULT_MODE


class Judge:
    """The evaluative + directive judge over a judge engine (the served Engine by default).

    Model calls raise ``Preempted`` when the user's chat needs the model; nothing is
    stored by the judge itself, so the caller just calls again later.
    """

    def __init__(
        self,
        engine: JudgeEngine | None = None,
        *,
        mode: str = DEFAULT_MODE,
        votes: int = 3,
        temperature: float = 0.6,
        seed: int | None = None,
        calibrate: bool = True,
        hint_votes: int | None = None,
        max_tokens: int = 6,
        hint_max_tokens: int = 60,
    ):
        if mode not in MODES:
            raise ValueError(f"judge mode must be one of {MODES}, not {mode!r}")
        if mode not in MODEL_FREE_MODES and engine is None:
            raise ValueError(f"judge mode {mode!r} needs an engine")
        self.engine = engine
        self.mode = mode
        self.votes = max(1, votes)
        self.temperature = temperature
        self.seed = seed
        self.calibrate = calibrate
        self.hint_votes = self.votes if hint_votes is None else hint_votes
        self.max_tokens = max_tokens
        self.hint_max_tokens = hint_max_tokens
        self._baseline: dict[int, float] | None = None
        self.cancel = threading.Event()  # set by the worker's stop(): ends a judge generation at its next token
        self._learned = None

    @property
    def learned(self):
        """The learned judge (encoder + head), created on first use; loads nothing until it scores."""
        if self._learned is None:
            from openclaw_local.learn.learned_judge import LearnedJudge

            self._learned = LearnedJudge()
        return self._learned

    # -------------------------------------------------------------- evaluative
    def score(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """(reward, votes) for a reply given its next state."""
        if self.mode == "learned":
            return self.learned.score(reply, next_state, prompt)
        if self.mode in ("rules", "hybrid"):
            value, rule = rule_score(reply, next_state, prompt)
            if value is not None or self.mode == "rules":
                return (value or 0), [{"rule": rule or "none", "vote": value or 0}]
        if self.mode == "logprob":
            return self._score_logprob(reply, next_state, prompt)
        return self._score_generate(reply, next_state, prompt)

    def _seed(self, i: int) -> int | None:
        return None if self.seed is None else self.seed + i

    def _score_generate(self, reply, next_state, prompt) -> tuple[int, list[dict[str, Any]]]:
        msgs = build_eval_messages(reply, next_state, prompt)
        votes = []
        for i in range(self.votes):
            raw = self.engine.complete(
                msgs, max_tokens=self.max_tokens, temperature=self.temperature, seed=self._seed(i), background=True,
                cancel=self.cancel,
            )
            votes.append({"raw": raw, "vote": parse_score(raw)})
        return majority([v["vote"] for v in votes]), votes

    def _option_scores(self, msgs) -> dict[int, float]:
        return {k: float(sum(self.engine.token_logprobs(msgs, text, background=True))) for k, text in LOGPROB_OPTIONS.items()}

    def _score_logprob(self, reply, next_state, prompt) -> tuple[int, list[dict[str, Any]]]:
        if self.calibrate and self._baseline is None:
            p, r, n = NULL_INPUT
            self._baseline = self._option_scores(build_eval_messages(r, n, p))
        scores = self._option_scores(build_eval_messages(reply, next_state, prompt))
        vote = logprob_vote(scores, self._baseline if self.calibrate else None)
        return vote, [{"logprobs": {str(k): round(v, 4) for k, v in scores.items()}, "vote": vote}]

    # --------------------------------------------------------------- directive
    def hint(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[str | None, list[dict[str, Any]]]:
        """(hint or None, hint votes). Rules first in rules/hybrid mode; model votes otherwise."""
        if self.mode == "learned":
            from openclaw_local.learn.hints import request_hint

            h = request_hint(next_state)
            return h, [{"request": "hint" if h else "none", "hint": h}]
        if self.mode in ("rules", "hybrid"):
            h = rule_hint(reply, next_state, prompt)
            if h is not None or self.mode == "rules":
                return h, [{"rule": "hint" if h else "none", "hint": h}]
        msgs = build_hint_messages(reply, next_state, prompt)
        out = []
        for i in range(self.hint_votes):
            raw = self.engine.complete(
                msgs, max_tokens=self.hint_max_tokens, temperature=self.temperature, seed=self._seed(100 + i), background=True,
                cancel=self.cancel,
            )
            out.append({"raw": raw, "hint": parse_hint(raw)})
        return pick_hint([v["hint"] for v in out]), out

    def judge(self, reply: str, next_state: str, prompt: str | None = None) -> Verdict:
        """Score, then a hint unless the reply was clearly fine (+1: nothing to direct)."""
        reward, votes = self.score(reply, next_state, prompt)
        # the learned judge hints only on push-back: a "can't tell" message is not a request to follow
        no_hint = reward == 1 or (self.mode == "learned" and reward != -1)
        hint, hint_votes = (None, []) if no_hint else self.hint(reply, next_state, prompt)
        return Verdict(reward=reward, votes=votes, hint=hint, hint_votes=hint_votes, mode=self.mode)
