"""Hints from what people say: a -1 next message that asks for a change becomes an instruction.

"Thanks! can you add sources?" → "Add sources."; "please avoid jargon next time" →
"Avoid jargon."; "it's python 3 not 2" → "Use this correction: it's python 3 not 2.";
a bare complaint ("no", "that's wrong", "useless 🙄") → None: it says the reply failed,
not how to fix it. The user's own words are kept (only politeness, praise and filler are
cut), so the hint carries exactly what was asked for. Pure functions, no model.
"""

from __future__ import annotations

import re

from openclaw_local.learn.judge import _content_words

MAX_HINT_CHARS = 320

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+|\s*\n+\s*|\s+[-–—]\s+|(?<=[,;:])\s+(?=(?:but|though|however|just|can|could|would|pls|please|and)\b)", re.I)
# praise / thanks / fillers that carry no instruction (a whole clause made of them is dropped)
_FILLER_CLAUSE = re.compile(
    r"^\W*((ok(ay)?|k|so|well|hmm+|um+|uh+|great|nice|cool|perfect|awesome|thanks?( you| a lot| so much)?|thx|ty|"
    r"love (it|this|that)|good( job| start)?|looks good|that'?s (great|nice|good|helpful|useful)|this is (great|nice|good)|"
    r"lol|haha|yeah|yes|sure|right|wow|oh|ah|hey|hi|sorry|gracias|danke|merci|lovely|brilliant|amazing|"
    r"not bad|fine|interesting|i see)\W*)+$",
    re.I,
)
# leading politeness / framing to strip from the request clause
_LEADS = [
    r"^(but|though|however|and|also|so|just|oh|ok(ay)?|well|hmm+|actually|honestly|sorry)\b[,!.]?\s*",
    r"^(thanks|thank you|thx|great|nice|perfect|cool|awesome|love (it|this))\b[,!.]?\s*(but\s+)?",
    r"^(can|could|would|will) (you|u)( please| pls| maybe| possibly| also| just)?\s+",
    r"^(please|pls|plz|kindly)\b[,]?\s*",
    r"^(i'?d|i would) (like|love|prefer|appreciate)( it)?( if)?( you)?( to)?\s+",
    r"^(i|we) (need|want|wanted)( you)?( to)?\s+",
    r"^(do you mind|would you mind|mind)\s+",
    r"^(maybe|perhaps)\s+(you could\s+)?",
    r"^(you )?(should|could|might want to|need to)\s+",
    r"^(try to|try and)\s+",
    r"^next time,?\s+",
]
_LEAD_RX = [re.compile(p, re.I) for p in _LEADS]
_TRAIL_RX = re.compile(r"[\s,]*(please|pls|plz|thanks?( you)?|thx|next time|this time|for me|maybe|if you can|if possible|"
                       r"instead of this|lol|haha|\?|!|\.|🙏|😊|🙂)+\s*$", re.I)
# a clause that asks for a change (after the leads are stripped, or anywhere in it)
_ASK_RX = re.compile(
    r"\b(can|could|would|will) (you|u)\b|\b(please|pls|plz)\b|\bnext time\b|\binstead\b|\bi'?d (like|prefer|love)\b|"
    r"\b(i|we) (need|want)\b|\bshould\b|\b(don'?t|do not|stop|avoid|no more|without|skip|drop|leave out)\b|"
    r"\b(too|way too) \w+|\b(shorter|longer|simpler|clearer|more|less|fewer)\b|\b(make|keep) (it|this|that|them)\b|"
    r"^\W*(just |only |now )?(add|use|give|make|write|show|explain|include|remove|cut|shorten|simplify|rewrite|redo|put|say|change|fix|"
    r"list|tell|answer|focus|mention|cite|translate|format|split|number|sort|compare|keep|be|write|start|end|stick)\b",
    re.I,
)
# "it's python 3 not 2", "X, not Y", "actually it's Tuesday": an implicit correction states the right fact
_CORRECTION_RX = re.compile(
    r"\b(not|isn'?t|wasn'?t|aren'?t)\b.*\w|\b(actually|in fact)\b|\b(it'?s|it is|that'?s|that is)\b\s+\w+|\?\?+$", re.I)
# words that say "bad" without saying what to change
_COMPLAINT_WORDS = set((
    "wrong incorrect bad useless terrible awful meh nope nah no not right true correct helpful help sense "
    "nonsense garbage rubbish wtf ugh seriously really hmm huh what again answer reply response thing "
    "that this it is isn't wasn't doesn't didn't work works working great job quite exactly that's thats it's "
    "its stupid dumb lame missed point that' it' what' completely totally absolutely utterly "
    "even all whatever come ok okay well oh lol haha omg why did"
).split())
_COMPLAINT_STEMS = {w[:-1] for w in _COMPLAINT_WORDS if w.endswith("s") and len(w) > 3}
_STYLE = [
    (re.compile(r"\btoo long\b|\btoo (verbose|wordy|much)\b|\bshorter\b|\bmore concise\b|\bbriefer\b", re.I), "Make it shorter."),
    (re.compile(r"\btoo short\b|\blonger\b|\bmore detail", re.I), "Give more detail."),
    (re.compile(r"\btoo (formal|stiff|robotic)\b", re.I), "Use a more casual tone."),
    (re.compile(r"\btoo (casual|informal)\b", re.I), "Use a more formal tone."),
    (re.compile(r"\btoo (technical|complicated|complex|hard|advanced)\b", re.I), "Make it simpler, with less jargon."),
    (re.compile(r"\btoo (vague|generic)\b", re.I), "Be more specific."),
]


_STYLE_HINTS = {h for _, h in _STYLE}


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _SENTENCE_SPLIT.split(text) if c and c.strip()]


def _strip(clause: str) -> str:
    out = clause.strip()
    if len(out) > 1 and out[0] in "\"'“" and out[-1] in "\"'”":
        out = out[1:-1]
    for _ in range(4):
        before = out
        for rx in _LEAD_RX:
            out = rx.sub("", out).strip()
        if out == before:
            break
    out = _TRAIL_RX.sub("", out).strip(" ,;:-")
    return out


def _is_bare(clause: str) -> bool:
    """Nothing beyond complaint words: says the reply is bad, not what to change."""
    if sum(1 for ch in clause if "\u3040" <= ch <= "\u9fff") >= 3:  # CJK: the word list below cannot judge it
        return False
    words = _content_words(clause)  # (stemmed the judge's way: "useless" → "useles")
    return not (words - _COMPLAINT_WORDS - _COMPLAINT_STEMS)


def _instruction(clause: str) -> str:
    text = _strip(clause)
    if not text:
        return ""
    text = re.sub(r"^(to )", "", text, flags=re.I)
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    text = re.sub(r"\?$", ".", text)
    return text


def _style_of(clause: str) -> str | None:
    """The standard wording of a clause that is only a style complaint ("this is too long")."""
    style = next((hint for rx, hint in _STYLE if rx.search(clause)), None)
    if style and len(_content_words(clause) - _COMPLAINT_WORDS - {"too", "way", "much", "bit", "little"}) <= 1:
        return style
    return None


def request_hint(next_state: str | None) -> str | None:
    """The change a push-back message asks for, as an instruction in the user's own words.

    An explicit request becomes an instruction (:func:`explicit_request_hint`); a pasted
    error becomes "Fix this error: …"; any other message that says more than "bad"
    (a correction, "I asked about my cat", a request in another language) is passed on
    in the user's words. A bare complaint gives None.
    """
    ns = " ".join((next_state or "").split())
    clauses = [c for c in _clauses(ns) if not _FILLER_CLAUSE.match(c) and not _is_bare(c)]
    hint = _with_asked_phrase(ns, explicit_request_hint(ns))
    if hint is not None and hint not in _STYLE_HINTS:
        # the reason often sits beside the request ("I'm vegetarian though, could you swap the chicken?")
        rest = [_strip(c) for c in clauses if _strip(c) and _strip(c).lower().rstrip(".") not in hint.lower()]
        return _cap(f"{hint} The user said: \"{' '.join(rest)}\"") if rest else hint
    if hint is not None:
        return hint
    if not clauses:
        return None
    said = _cap(" ".join(_strip(c) or c for c in clauses))
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
    for clause in _clauses(message):
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
    clauses = [c for c in _clauses(ns) if not _FILLER_CLAUSE.match(c)]
    style = next((hint for rx, hint in _STYLE if rx.search(ns)), None)
    if style and len(_content_words(ns) - _COMPLAINT_WORDS - {"too", "way", "much", "bit", "little"}) <= 2:
        return style  # "too long", "way too technical tbh": the standard wording says it better
    asks = [c for c in clauses if _ASK_RX.search(c) and not _is_bare(c)]
    if asks:
        parts = [_style_of(c) or _instruction(c) for c in asks[:3]]
        hint = " ".join(p for p in parts if len(p) > 2)
        if hint:
            return _cap(hint)
    if style:
        return style
    corrections = [c for c in clauses if _CORRECTION_RX.search(c) and not _is_bare(c)]
    if corrections:
        return _cap(f"Use this correction from the user: {_strip(' '.join(corrections[:2])) or ns}.")
    return None


def _cap(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_HINT_CHARS else text[: MAX_HINT_CHARS - 1].rsplit(" ", 1)[0] + "…"
