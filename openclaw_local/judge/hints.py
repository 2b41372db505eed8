"""Hints from what people say: a -1 next message that asks for a change becomes an instruction.

"Thanks! can you add sources?" → "Add sources."; "please avoid jargon next time" →
"Avoid jargon."; "it's python 3 not 2" → "Use this correction: it's python 3 not 2.";
a bare complaint ("no", "that's wrong", "useless 🙄") → None: it says the reply failed,
not how to fix it. The user's own words are kept (only politeness, praise and filler are
cut), so the hint carries exactly what was asked for. Pure functions, no model.
"""

from __future__ import annotations

import re

from openclaw_local.judge.words import (
    COMPLAINT_WORDS,
    FILLER_CLAUSE,
    STYLE,
    STYLE_FILLER,
    ASK_RX,
    clauses,
    content_words,
    instruction,
    is_bare,
    strip_clause,
    style_of,
)

MAX_HINT_CHARS = 320

# "it's python 3 not 2", "X, not Y", "actually it's Tuesday": an implicit correction states the right fact
_CORRECTION_RX = re.compile(
    r"\b(not|isn'?t|wasn'?t|aren'?t)\b.*\w|\b(actually|in fact)\b|\b(it'?s|it is|that'?s|that is)\b\s+\w+|\?\?+$", re.I)
_STYLE_HINTS = {h for _, h in STYLE}


def request_hint(next_state: str | None) -> str | None:
    """The change a push-back message asks for, as an instruction in the user's own words.

    An explicit request becomes an instruction (:func:`explicit_request_hint`); a pasted
    error becomes "Fix this error: …"; any other message that says more than "bad"
    (a correction, "I asked about my cat", a request in another language) is passed on
    in the user's words. A bare complaint gives None.
    """
    ns = " ".join((next_state or "").split())
    kept = [c for c in clauses(ns) if not FILLER_CLAUSE.match(c) and not is_bare(c)]
    hint = _with_asked_phrase(ns, explicit_request_hint(ns))
    if hint is not None and hint not in _STYLE_HINTS:
        # the reason often sits beside the request ("I'm vegetarian though, could you swap the chicken?")
        rest = [strip_clause(c) for c in kept if strip_clause(c) and strip_clause(c).lower().rstrip(".") not in hint.lower()]
        return _cap(f"{hint} The user said: \"{' '.join(rest)}\"") if rest else hint
    if hint is not None:
        return hint
    if not kept:
        return None
    said = _cap(" ".join(strip_clause(c) or c for c in kept))
    if _ERROR_TEXT.search(ns):
        return _cap(f"Fix this error: {said}")
    return _cap(f"Take the user's correction into account: \"{said}\"")


# "start with "Hi there!"", "always end your reply with "Keep it up!"": the fixed phrase a user asks a
# reply to open or close with. Only the bare verb (not "you started with…"), only a reply as its object.
_PHRASE_ASK = re.compile(
    r"\b(start|begin|open|lead|end|finish|close)\s+(?:(?:it|them|each|every|your|the|my|replies|reply|answers?|"
    r"messages?|comments?)\s+){0,3}(?:with|on)\s+(?:the words\s+|a\s+\w+\s+)?[\"“]([^\"”]{1,40})[\"”]", re.I)
# a phrase the user rejects or asks about, not one they ask for
_NOT_ASKED = re.compile(r"\b(don'?t|do not|never|stop|no need|without|instead of|why|how (do|can|should) i)\b", re.I)
_PHRASE_VERB = {"start": "Start", "begin": "Start", "open": "Start", "lead": "Start",
                "end": "End", "finish": "End", "close": "End"}


def _with_asked_phrase(message: str, hint: str | None) -> str | None:
    """The instruction names the phrase the user asked for, not "that" or "the greeting".

    "you forgot to start with "Hi there!", please always greet the student first" gave
    "Always greet the student first.": the phrase itself only reached the hint as a quote,
    and the model followed the hint without it (docs/PERSONALIZATION.md, hint following).
    A clause that rejects or asks about the phrase ("no need to begin with "As an AI"") is
    left alone."""
    if hint is None:
        return hint
    for clause in clauses(message):
        match = _PHRASE_ASK.search(clause)
        if match is None or _NOT_ASKED.search(clause[: match.end()]):
            continue
        phrase = match.group(2).strip()
        if phrase.casefold() in hint.casefold():
            return hint
        return f"{_PHRASE_VERB[match.group(1).lower()]} the reply with \"{phrase}\". {hint}"
    return hint


_ERROR_TEXT = re.compile(r"error|exception|traceback|failed|undefined|not found|cannot|denied|timed out|conflict", re.I)


def explicit_request_hint(next_state: str | None) -> str | None:
    """An explicit request ("can you…", "please…", "too long") or a stated correction, as an
    instruction; None otherwise. (Also one of the learned judge's input features.)"""
    ns = " ".join((next_state or "").split())
    if not ns:
        return None
    kept = [c for c in clauses(ns) if not FILLER_CLAUSE.match(c)]
    style = next((hint for rx, hint in STYLE if rx.search(ns)), None)
    if style and len(content_words(ns) - COMPLAINT_WORDS - STYLE_FILLER) <= 2:
        return style  # "too long", "way too technical tbh": the standard wording says it better
    asks = [c for c in kept if ASK_RX.search(c) and not is_bare(c)]
    if asks:
        parts = [style_of(c) or instruction(c) for c in asks[:3]]
        hint = " ".join(p for p in parts if len(p) > 2)
        if hint:
            return _cap(hint)
    if style:
        return style
    corrections = [c for c in kept if _CORRECTION_RX.search(c) and not is_bare(c)]
    if corrections:
        return _cap(f"Use this correction from the user: {strip_clause(' '.join(corrections[:2])) or ns}.")
    return None


def _cap(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_HINT_CHARS else text[: MAX_HINT_CHARS - 1].rsplit(" ", 1)[0] + "…"
