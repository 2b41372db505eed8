"""The cue rules: deterministic phrases (thanks / "no," / "shorter" / a rephrased request / a new
topic) read as a verdict, and push-back turned into a hint. No model.

Kept as the measured baseline (docs/JUDGE.md) and as one input feature of the learned judge;
``rules`` is also a mode of its own (:class:`RulesJudge`).
"""

from __future__ import annotations

import re

from openclaw_local.judge.base import Judge, Votes
from openclaw_local.judge.words import clip, content_words, overlap

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

POS_RX = [re.compile(p, re.I) for p in _POSITIVE]
NEG_RX = [re.compile(p, re.I) for p in _NEGATIVE]
_NEW_RX = re.compile(_NEW_TOPIC, re.I)
_AMB_RX = re.compile(_AMBIGUOUS, re.I)
_REQUEST_RX = re.compile(
    r"\?\s*$|^\W*(what|how|why|when|where|who|which|can|could|would|will|is|are|do|does|should|tell|give|write|"
    r"make|show|list|find|remind|set|book|translate|explain|help|recommend|suggest|draft|create|please)\b",
    re.I,
)
_HEDGE_RX = re.compile(r"^\W*(hmm+|hm+|huh|well|maybe|i guess|let me)\b", re.I)


def rule_score(reply: str, next_state: str, prompt: str | None = None) -> tuple[int | None, str]:
    """A deterministic score from cue phrases, or (None, "") when no rule fires.

    Order matters: push-back beats thanks ("thanks, but that's wrong" is -1); a
    rephrasing of the same request is -1; an explicit new-topic opener or a new
    request sharing nothing with the exchange is +1; bare "ok"/"hmm" is 0.
    """
    ns = " ".join((next_state or "").split())
    if not ns:
        return None, ""
    for i, rx in enumerate(NEG_RX):
        if rx.search(ns):
            return -1, f"pushback{i}"
    for i, rx in enumerate(POS_RX):
        if rx.search(ns):
            return 1, f"thanks{i}"
    if _AMB_RX.match(ns):
        return 0, "ambiguous"
    ns_words, prompt_words, reply_words = content_words(ns), content_words(prompt), content_words(reply)
    if _NEW_RX.match(ns):
        return 1, "new-topic-opener"
    if _HEDGE_RX.match(ns):
        return 0, "hedge"
    if prompt_words and len(ns_words) >= 2 and overlap(ns_words, prompt_words) >= 0.6:
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
            return f"{hint} The user said: \"{clip(ns, 200)}\""
    if len(content_words(ns)) < 2:
        return None
    return f"The user pushed back on the reply: \"{clip(ns, 240)}\". The reply should have done what this asks."




class RulesJudge(Judge):
    """``rules``: the cue phrases; nothing matched → 0. No model."""

    mode = "rules"

    def score(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[int, Votes]:
        value, rule = rule_score(reply, next_state, prompt)
        return (value or 0), [{"rule": rule or "none", "vote": value or 0}]

    def hint(self, reply: str, next_state: str, prompt: str | None = None) -> tuple[str | None, Votes]:
        h = rule_hint(reply, next_state, prompt)
        return h, [{"rule": "hint" if h else "none", "hint": h}]
