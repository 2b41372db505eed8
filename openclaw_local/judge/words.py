"""Words and clauses of a user's message: the helpers the cue rules, the hints, the learned
judge's features and the standing preferences share. Pure functions and compiled patterns, no
internal imports (the bottom of the judge package)."""

from __future__ import annotations

import re

WORD = re.compile(r"[a-z0-9']+")
STOP = set(
    "a an the and or but if of to in on at for with from by is are was were be been am do does did "
    "i you he she it we they me my your our their this that these those there here what which who whom "
    "how when where why can could would should will shall may might must please just so very really "
    "about as into than then too also not no yes ok okay hi hey pls".split()
)


def clip(text: str | None, n: int) -> str:
    """``text`` on one line, at most ``n`` characters (an ellipsis marks a cut)."""
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def content_words(text: str | None) -> set[str]:
    """Lowercase words minus stop words, a plural "s" cut ("useless" → "useles")."""
    words = {w.strip("'") for w in WORD.findall((text or "").lower())}
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if w and w not in STOP and len(w) > 1}


def overlap(a: set[str], b: set[str]) -> float:
    """Shared words as a share of the smaller set (0 when either is empty)."""
    return len(a & b) / max(1, min(len(a), len(b))) if a and b else 0.0


# ----------------------------------------------------------------------------- clauses
SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+|\s*\n+\s*|\s+[-–—]\s+|(?<=[,;:])\s+(?=(?:but|though|however|just|can|could|would|pls|please|and)\b)", re.I)
# praise / thanks / fillers that carry no instruction (a whole clause made of them is dropped)
FILLER_CLAUSE = re.compile(
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
ASK_RX = re.compile(
    r"\b(can|could|would|will) (you|u)\b|\b(please|pls|plz)\b|\bnext time\b|\binstead\b|\bi'?d (like|prefer|love)\b|"
    r"\b(i|we) (need|want)\b|\bshould\b|\b(don'?t|do not|stop|avoid|no more|without|skip|drop|leave out)\b|"
    r"\b(too|way too) \w+|\b(shorter|longer|simpler|clearer|more|less|fewer)\b|\b(make|keep) (it|this|that|them)\b|"
    r"^\W*(just |only |now )?(add|use|give|make|write|show|explain|include|remove|cut|shorten|simplify|rewrite|redo|put|say|change|fix|"
    r"list|tell|answer|focus|mention|cite|translate|format|split|number|sort|compare|keep|be|write|start|end|stick)\b",
    re.I,
)
# words that say "bad" without saying what to change
COMPLAINT_WORDS = set((
    "wrong incorrect bad useless terrible awful meh nope nah no not right true correct helpful help sense "
    "nonsense garbage rubbish wtf ugh seriously really hmm huh what again answer reply response thing "
    "that this it is isn't wasn't doesn't didn't work works working great job quite exactly that's thats it's "
    "its stupid dumb lame missed point that' it' what' completely totally absolutely utterly "
    "even all whatever come ok okay well oh lol haha omg why did"
).split())
_COMPLAINT_STEMS = {w[:-1] for w in COMPLAINT_WORDS if w.endswith("s") and len(w) > 3}
# a clause that is only a style complaint, and its standard wording
STYLE = [
    (re.compile(r"\btoo long\b|\btoo (verbose|wordy|much)\b|\bshorter\b|\bmore concise\b|\bbriefer\b", re.I), "Make it shorter."),
    (re.compile(r"\btoo short\b|\blonger\b|\bmore detail", re.I), "Give more detail."),
    (re.compile(r"\btoo (formal|stiff|robotic)\b", re.I), "Use a more casual tone."),
    (re.compile(r"\btoo (casual|informal)\b", re.I), "Use a more formal tone."),
    (re.compile(r"\btoo (technical|complicated|complex|hard|advanced)\b", re.I), "Make it simpler, with less jargon."),
    (re.compile(r"\btoo (vague|generic)\b", re.I), "Be more specific."),
]
STYLE_FILLER = {"too", "way", "much", "bit", "little"}  # words a style complaint may add ("way too long")


def clauses(text: str) -> list[str]:
    """A message cut into clauses (sentences, and ", but …" / ", can you …" parts)."""
    return [c.strip() for c in SENTENCE_SPLIT.split(text) if c and c.strip()]


def strip_clause(clause: str) -> str:
    """A clause without its quotes, leading politeness ("could you please") and trailing filler."""
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


def is_bare(clause: str) -> bool:
    """Nothing beyond complaint words: says the reply is bad, not what to change."""
    if sum(1 for ch in clause if "\u3040" <= ch <= "\u9fff") >= 3:  # CJK: the word list below cannot judge it
        return False
    words = content_words(clause)  # (stemmed: "useless" → "useles")
    return not (words - COMPLAINT_WORDS - _COMPLAINT_STEMS)


def instruction(clause: str) -> str:
    """A request clause as an instruction: "could you add sources?" → "Add sources."."""
    text = strip_clause(clause)
    if not text:
        return ""
    text = re.sub(r"^(to )", "", text, flags=re.I)
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    text = re.sub(r"\?$", ".", text)
    return text


def style_of(clause: str) -> str | None:
    """The standard wording of a clause that is only a style complaint ("this is too long")."""
    style = next((hint for rx, hint in STYLE if rx.search(clause)), None)
    if style and len(content_words(clause) - COMPLAINT_WORDS - STYLE_FILLER) <= 1:
        return style
    return None
