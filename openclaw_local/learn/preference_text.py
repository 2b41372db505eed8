"""Standing preferences from what the user writes: pure text rules, no model, no store.

- :func:`standing_instructions` finds the instructions a message sets for the future
  ("from now on answer in French" → "Answer in French."; "please never use emojis" →
  "Never use emojis."; "don't ever …" → "Never …"; "stop using X" → "Don't use X.").
  A clause that also says "this one", "this time", "here" is a one-off, not standing.
- :func:`one_off_requests` reads a push-back message as the change it asks for, one
  instruction per clause ("hmm that's way too long, and please no numbered lists" →
  ["Make it shorter.", "No numbered lists."]); stated corrections ("it's python 3") are
  facts about one reply, not preferences, and give nothing.
- :func:`same_request` says whether two instructions ask for the same thing, by the
  overlap of their stemmed content words (Jaccard) with a few synonym classes
  (shorter / concise / brief), and never across a negation ("Use emojis." ≠ "No emojis.").
- :func:`fit_budget` keeps the newest preferences that fit a token budget.

Regular expressions only: this runs on every user message in the chat process.
"""

from __future__ import annotations

import re
from typing import Sequence, TypeVar

from openclaw_local.judge.words import ASK_RX, FILLER_CLAUSE, clauses, is_bare, strip_clause, style_of
from openclaw_local.judge.words import instruction as clause_instruction

MAX_CHARS = 200
CHARS_PER_TOKEN = 4
HEADER = "The user's standing preferences:"
SIMILAR = 0.6  # Jaccard of normalised content words at or above which two instructions are the same

# markers of an instruction meant for every future reply (anywhere in the clause)
_FUTURE = re.compile(r"\b(from now on|from here on( out)?|going forward|in (the )?future|for all (future )?"
                     r"(answers|replies|responses))\b[,:]?", re.I)
# markers that must open the (stripped) clause: "always …", "never …", "don't ever …", "stop using …", "I prefer …"
_OPENERS = re.compile(r"^(always|never(?!\s+mind)|(don'?t|do not) ever|stop using|i( really)? prefer)\b", re.I)
_EVERY = re.compile(r"\b(every time|whenever) you\b|^\W*every time\b", re.I)
# "always happy to help", "never had that problem": a statement, not an instruction
_NOT_AN_ORDER = re.compile(r"^(always|never)\s+(happy|glad|nice|good|great|fun|been|was|were|is|are|so|had|have|has|did|"
                           r"do|does|knew|know|thought|said|got|get|seems?|worked|works|mind)\b", re.I)
_TRAILING_ALWAYS = re.compile(r"[,\s]+(always|from now on|going forward|in (the )?future)\W*$", re.I)
# words that make a request about this reply only
_ONE_OFF = re.compile(r"\b(this one|this time|here|for now|just this|this (answer|reply|response|once)|"
                      r"in this (one|case|answer|reply))\b", re.I)
_ONE_OFF_WORDING = [(re.compile(r"\b(just )?this (one|answer|reply|response)\b", re.I), "it"),
                    (re.compile(r"\b(just )?(this time|this once|for now|in this (one|case|answer|reply))\b|\bhere\b", re.I), "")]
_CORRECTION_HINT = re.compile(r"^(use this correction|take the user's correction|fix this error)", re.I)

_WORD = re.compile(r"[a-z0-9][a-z0-9']*")
_NEGATION = {"no", "not", "don't", "dont", "never", "avoid", "stop", "without", "less", "fewer", "none", "nothing",
             "skip", "drop", "doesn't", "isn't", "shouldn't", "neither", "nor"}
_STOP = set((
    "a an the it its it's this that these those them they their me my mine i i'm i'd you you're your yours we our us "
    "please pls plz kindly always from now on in of to for with and or but be is are was were am being been make keep "
    "give do does did just every each time future all any some more much very so too way bit little really also "
    "answer answers answering reply replies replying response responses respond message messages text output write "
    "writing written use using used when whenever if then than as at by about like can could would should will "
    "shall may might must want need prefer going forward here there what which who how thing things stuff one ones "
    "sure try okay ok thanks thank"
).split())
_SYNONYMS = {
    "short": "short", "shorter": "short", "shorten": "short", "shortened": "short", "concise": "short",
    "concisely": "short", "brief": "short", "briefer": "short", "briefly": "short", "succinct": "short",
    "terse": "short", "brevity": "short",
    "longer": "detail", "lengthier": "detail", "detail": "detail", "details": "detail", "detailed": "detail",
    "elaborate": "detail", "thorough": "detail", "depth": "detail", "in-depth": "detail",
    "simple": "simple", "simpler": "simple", "simplify": "simple", "plain": "simple", "easy": "simple",
    "easier": "simple",
    "casual": "casual", "informal": "casual", "relaxed": "casual", "chatty": "casual",
    "formal": "formal", "professional": "formal",
    "bullet": "list", "bullets": "list", "list": "list", "lists": "list", "listing": "list",
    "emoji": "emoji", "emojis": "emoji", "emoticon": "emoji", "emoticons": "emoji", "smiley": "emoji",
    "smileys": "emoji",
}

T = TypeVar("T")


def bounded(text: str, n: int = MAX_CHARS) -> str:
    """One line of at most ``n`` characters, cut at a word with an ellipsis."""
    line = " ".join((text or "").split())
    if len(line) <= n:
        return line
    cut = line[: n - 1].rsplit(" ", 1)[0]
    return (cut or line[: n - 1]) + "…"


def _stem(word: str) -> str:
    if word in _SYNONYMS:
        return _SYNONYMS[word]
    for suffix, min_len in (("ing", 6), ("ed", 5), ("s", 4)):
        if word.endswith(suffix) and len(word) >= min_len and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return _SYNONYMS.get(word, word)


def words(text: str) -> set[str]:
    """Normalised content words: lower case, stop words out, negations as one token ``no``, stemmed, synonyms merged."""
    out = set()
    text = (text or "").lower().replace("’", "'")
    text = re.sub(r"\btoo (long|verbose|wordy)\b", "shorter", text)
    text = re.sub(r"\btoo (short|brief)\b", "longer", text)
    for w in _WORD.findall(text):
        w = w.strip("'")
        if w in _NEGATION:
            out.add("no")
        elif w and w not in _STOP and len(w) > 1:
            out.add(_stem(w))
    return out


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of the two instructions' normalised content words; 0 across a negation."""
    wa, wb = words(a), words(b)
    if ("no" in wa) != ("no" in wb):
        return 0.0
    wa.discard("no")
    wb.discard("no")
    if not wa or not wb:
        return 1.0 if wa == wb and (a or "").strip().lower() == (b or "").strip().lower() else 0.0
    return len(wa & wb) / len(wa | wb)


def same_request(a: str, b: str) -> bool:
    return similarity(a, b) >= SIMILAR


def _imperative(clause: str) -> str:
    """A clause (its markers removed) as a short instruction ending in a full stop."""
    text = clause.strip(" ,;:-")
    m = re.match(r"^(don'?t|do not) ever\s+", text, re.I)
    if m:
        text = "never " + text[m.end():]
    m = re.match(r"^stop using\s+", text, re.I)
    if m:
        text = "don't use " + text[m.end():]
    m = re.match(r"^i( really)? prefer\s+(that\s+)?(you\s+|it\s+if\s+you\s+)?", text, re.I)
    if m:
        rest = text[m.end():]
        text = rest if m.group(3) else "prefer " + rest
    text = re.sub(r"^always\s+", "", text, flags=re.I)
    text = re.sub(r"^every time,\s*", "", text, flags=re.I)
    out = clause_instruction(text)
    return bounded(out) if out else ""


def _general(text: str) -> str:
    """The request without the words that tie it to one reply ("make this one shorter" → "make it shorter")."""
    for rx, repl in _ONE_OFF_WORDING:
        text = rx.sub(repl, text)
    return " ".join(text.split()).strip(" ,;:-")


def _meaningful(instruction: str) -> bool:
    ws = words(instruction)
    return bool(ws - {"no"}) and len(instruction) >= 4


def _standing_clause(clause: str) -> str | None:
    """The instruction of a clause that sets a standing preference, else None."""
    had_future = bool(_FUTURE.search(clause)) or bool(_EVERY.search(clause))
    body = _FUTURE.sub(" ", clause)
    body = _TRAILING_ALWAYS.sub("", body) if not had_future else body
    trailing_always = bool(_TRAILING_ALWAYS.search(clause))
    body = " ".join(body.split()).strip(" ,;:-")
    stripped = strip_clause(body) if body else ""
    opener = bool(_OPENERS.match(stripped)) and not _NOT_AN_ORDER.match(stripped)
    if not (had_future or opener or trailing_always):
        return None
    instruction = _imperative(_general(stripped))
    return instruction if instruction and _meaningful(instruction) else None


def standing_instructions(message: str) -> list[tuple[str, bool]]:
    """``[(instruction, one_off), ...]`` for each clause of a user message that sets a preference.

    ``one_off`` is True when the clause also says the request is about this reply only
    ("always make this one shorter"): such a request is kept only once it is repeated."""
    text = " ".join((message or "").split())
    out: list[tuple[str, bool]] = []
    for clause in clauses(text):
        if FILLER_CLAUSE.match(clause):
            continue
        instruction = _standing_clause(clause)
        if instruction and all(not same_request(instruction, seen) for seen, _ in out):
            out.append((instruction, bool(_ONE_OFF.search(clause))))
    return out


def one_off_requests(message: str) -> list[str]:
    """The changes a push-back message asks for, one instruction per clause (may be empty).

    Style complaints take the standard wording ("too long" → "Make it shorter."); a bare
    complaint ("no, wrong") or a stated fact ("it's python 3 not 2") gives nothing."""
    text = " ".join((message or "").split())
    out: list[str] = []
    for clause in (part for c in clauses(text) for part in re.split(r"(?<=[,;])\s+", c)):
        clause = clause.strip(" ,;")
        if not clause or FILLER_CLAUSE.match(clause) or is_bare(clause):
            continue
        style = style_of(clause)
        if style is None and not ASK_RX.search(clause):
            continue
        body = _general(_FUTURE.sub(" ", clause))
        instruction = style or _imperative(strip_clause(" ".join(body.split())))
        if not instruction or _CORRECTION_HINT.match(instruction) or not _meaningful(instruction):
            continue
        if all(not same_request(instruction, seen) for seen in out):
            out.append(bounded(instruction))
    return out


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def line_for(text: str) -> str:
    return f"- {text}"


def fit_budget(items: Sequence[T], text_of, budget_tokens: int) -> list[T]:
    """The newest ``items`` (given oldest first) whose block fits ``budget_tokens``, oldest first:
    when the block is over budget the oldest are dropped."""
    if budget_tokens <= 0 or not items:
        return []
    used = estimate_tokens("\n\n" + HEADER)
    kept: list[T] = []
    for item in reversed(items):
        cost = estimate_tokens("\n" + line_for(text_of(item)))
        if used + cost > budget_tokens:
            break
        kept.append(item)
        used += cost
    return list(reversed(kept))


def block(texts: Sequence[str]) -> str:
    """The text appended to the system prompt ("" when there is nothing to add)."""
    if not texts:
        return ""
    return "\n\n" + HEADER + "\n" + "\n".join(line_for(t) for t in texts)
