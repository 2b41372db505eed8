"""Checkable persona rules: a deterministic ``check`` and ``repair`` per rule type.

A persona's taste is a list of rules; a reply's score is the fraction of rules it
passes. Text comparisons are case-insensitive. Every function here is pure.

Rule types (``{"type": ..., "value": ...}``):

``no_markdown``       breaks on ``**``/``__`` emphasis, a heading (``#`` at line start), a
                      list item (a line starting with ``-``, ``*``, ``+`` or ``N.``/``N)``
                      followed by a space) or a code fence. A hyphen inside a sentence or
                      "3. " in the middle of a line is not a list item.
                      Repair: remove the markers, join list items into plain sentences.
``max_words`` (int)   breaks above N words. Repair: cut at the last sentence end within N
                      words, else hard-cut at N.
``min_words`` (int)   breaks below N words. Not repairable (complaint only).
``lowercase``         breaks on any uppercase letter. Repair: lowercase everything.
``forbid_phrases``    (list) breaks if any phrase occurs. Repair: drop sentences containing one.
``must_start_with``   (str) the stripped reply must start with it. Repair: prepend it and a space.
``must_end_with``     (str) the stripped reply must end with it. Repair: append it on a new line.
``must_include_any``  (list) one must occur as whole words. Repair: prepend the first + ", ".
``max_sentences`` (int) breaks above N sentences (a sentence ends at ``.``, ``!`` or ``?`` followed
                      by a space, or at a line end). Repair: keep the first N.
``no_exclamation``    breaks on any ``!``. Repair: each ``!`` becomes ``.`` (``¡`` is dropped).
``no_digits``         breaks on any digit: numbers written as words. Repair: whole numbers up to
                      999,999 become English words; longer runs of digits are spelled out digit by digit.
``uppercase``         breaks on any lowercase letter. Repair: uppercase everything.
``ends_with_question`` (str) the stripped reply must end with a question mark: the user wants to be
                      asked something back. Repair: append the value (a question) on a new line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

RULE_TYPES = (
    "no_markdown", "max_words", "min_words", "lowercase", "forbid_phrases",
    "must_start_with", "must_end_with", "must_include_any",
    "max_sentences", "no_exclamation", "no_digits", "uppercase", "ends_with_question",
)
VALUE_KIND = {  # what "value" must be for each type (None: no value)
    "no_markdown": None, "lowercase": None, "no_exclamation": None, "no_digits": None, "uppercase": None,
    "max_words": "int", "min_words": "int", "max_sentences": "int",
    "forbid_phrases": "list", "must_include_any": "list",
    "must_start_with": "str", "must_end_with": "str", "ends_with_question": "str",
}
# repairs are applied in this order: structure first, then content, then length, then the fixed ends,
# then the characters (case, digits, marks) of whatever is left
REPAIR_ORDER = ("no_markdown", "forbid_phrases", "must_include_any", "must_start_with", "max_sentences", "max_words",
                "must_end_with", "ends_with_question", "no_digits", "no_exclamation", "lowercase", "uppercase",
                "min_words")

_EMPHASIS = re.compile(r"\*\*|__")
_HEADING = re.compile(r"^[ \t]*#{1,6}(?=\s|$)", re.M)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+(?=\S)", re.M)
_FENCE = re.compile(r"^[ \t]*(```|~~~)", re.M)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Rule:
    type: str
    value: Any = None

    @property
    def key(self) -> str:
        """A short readable name, e.g. ``max_words=60`` or ``must_start_with='Hi'``."""
        if self.value is None:
            return self.type
        if isinstance(self.value, (list, tuple)):
            return f"{self.type}={'|'.join(self.value)}"
        return f"{self.type}={self.value!r}" if isinstance(self.value, str) else f"{self.type}={self.value}"

    def check(self, text: str) -> bool:
        return CHECKS[self.type](text or "", self.value)

    def repair(self, text: str) -> str:
        return REPAIRS[self.type](text or "", self.value)

    @property
    def repairable(self) -> bool:
        return self.type != "min_words"


# ----------------------------------------------------------------------------- helpers
def words(text: str) -> list[str]:
    return text.split()


def _phrase_rx(phrase: str) -> re.Pattern:
    """Case-insensitive, and whole-word at an edge that is a word character."""
    p = re.escape(phrase.strip())
    left = r"(?<!\w)" if phrase.strip()[:1].isalnum() else ""
    right = r"(?!\w)" if phrase.strip()[-1:].isalnum() else ""
    return re.compile(left + p + right, re.I)


def split_sentences(line: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", line.strip()) if s]


def sentences(text: str) -> list[str]:
    """Every sentence of every non-empty line (a line end also ends a sentence)."""
    return [s for line in text.splitlines() for s in split_sentences(line)]


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """0 ≤ n < 1,000,000 in English words: 42 → "forty-two", 1905 → "one thousand nine hundred five"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + " hundred" + (" " + number_words(n % 100) if n % 100 else "")
    return number_words(n // 1000) + " thousand" + (" " + number_words(n % 1000) if n % 1000 else "")


def _tidy(text: str) -> str:
    lines = [ln.rstrip() for ln in text.strip().splitlines()]
    out: list[str] = []
    for ln in lines:
        if not ln.strip() and (not out or not out[-1].strip()):
            continue  # no leading or doubled blank lines
        out.append(ln)
    return "\n".join(out).strip()


# ------------------------------------------------------------------------------ checks
def _no_markdown(text: str, _v: Any) -> bool:
    return not (_EMPHASIS.search(text) or _HEADING.search(text) or _LIST_ITEM.search(text) or _FENCE.search(text))


def _max_words(text: str, n: int) -> bool:
    return len(words(text)) <= n


def _min_words(text: str, n: int) -> bool:
    return len(words(text)) >= n


def _lowercase(text: str, _v: Any) -> bool:
    return not any(c.isupper() for c in text)


def _forbid(text: str, phrases: Sequence[str]) -> bool:
    return not any(_phrase_rx(p).search(text) for p in phrases)


def _starts(text: str, prefix: str) -> bool:
    return text.strip().lower().startswith(prefix.strip().lower())


def _ends(text: str, suffix: str) -> bool:
    return text.strip().lower().endswith(suffix.strip().lower())


def _includes(text: str, options: Sequence[str]) -> bool:
    return any(_phrase_rx(o).search(text) for o in options)


def _max_sentences(text: str, n: int) -> bool:
    return len(sentences(text)) <= n


def _no_exclamation(text: str, _v: Any) -> bool:
    return "!" not in text and "¡" not in text


def _no_digits(text: str, _v: Any) -> bool:
    return not any(c.isdigit() for c in text)


def _uppercase(text: str, _v: Any) -> bool:
    return not any(c.islower() for c in text)


def _ends_with_question(text: str, _question: str) -> bool:
    return text.strip().rstrip("\"')]»").endswith("?")


CHECKS = {
    "no_markdown": _no_markdown, "max_words": _max_words, "min_words": _min_words, "lowercase": _lowercase,
    "forbid_phrases": _forbid, "must_start_with": _starts, "must_end_with": _ends, "must_include_any": _includes,
    "max_sentences": _max_sentences, "no_exclamation": _no_exclamation, "no_digits": _no_digits,
    "uppercase": _uppercase, "ends_with_question": _ends_with_question,
}


# ----------------------------------------------------------------------------- repairs
def _as_sentence(s: str) -> str:
    s = s.strip()
    if s and s[-1] not in ".!?:;":
        s += "."
    return s


def _fix_markdown(text: str, _v: Any) -> str:
    out: list[str] = []
    in_list = False
    for line in text.splitlines():
        if _FENCE.match(line):
            continue  # drop fence lines, keep the code as plain lines
        line = _EMPHASIS.sub("", line)
        line = _HEADING.sub("", line).strip() if _HEADING.match(line) else line
        m = _LIST_ITEM.match(line)
        if m:
            item = _as_sentence(line[m.end():])
            if out and out[-1].strip():
                # join to the intro line (a trailing colon becomes a full stop) or the previous item
                prev = out[-1].rstrip()
                if not in_list and prev.endswith(":"):
                    prev = prev[:-1].rstrip() + "."
                out[-1] = f"{prev} {item}" if in_list or prev[-1:] in ".!?" else f"{_as_sentence(prev)} {item}"
            else:
                out.append(item)
            in_list = True
            continue
        in_list = False
        out.append(line)
    return _tidy("\n".join(out))


def _fix_max_words(text: str, n: int) -> str:
    spans = list(_WORD.finditer(text))
    if len(spans) <= n:
        return text.strip()
    prefix = text[: spans[n - 1].end()] if n > 0 else ""
    ends = list(_SENTENCE_END.finditer(prefix))
    if ends:
        return prefix[: ends[-1].end()].strip()
    return prefix.strip()


def _fix_lowercase(text: str, _v: Any) -> str:
    return text.lower()


def _fix_forbid(text: str, phrases: Sequence[str]) -> str:
    rxs = [_phrase_rx(p) for p in phrases]
    out = []
    for line in text.splitlines():
        if not line.strip():
            out.append("")
            continue
        kept = [s for s in split_sentences(line) if not any(rx.search(s) for rx in rxs)]
        if kept:
            out.append(" ".join(kept))
    return _tidy("\n".join(out))


def _fix_start(text: str, prefix: str) -> str:
    return f"{prefix.strip()} {text.strip()}".strip()


def _fix_end(text: str, suffix: str) -> str:
    return f"{text.strip()}\n{suffix.strip()}".strip()


def _fix_include(text: str, options: Sequence[str]) -> str:
    return f"{options[0].strip()}, {text.strip()}"


def _fix_max_sentences(text: str, n: int) -> str:
    kept, out = 0, []
    for line in text.splitlines():
        line_sentences = split_sentences(line)
        if not line_sentences:
            out.append("")
            continue
        take = line_sentences[: max(0, n - kept)]
        kept += len(take)
        if take:
            out.append(" ".join(take))
        if kept >= n:
            break
    return _tidy("\n".join(out))


def _fix_exclamation(text: str, _v: Any) -> str:
    return text.replace("¡", "").replace("!", ".")


def _fix_digits(text: str, _v: Any) -> str:
    def spell(m: re.Match) -> str:
        digits = m.group(0).replace(",", "")
        if len(digits) <= 6:
            return number_words(int(digits))
        return " ".join(_ONES[int(d)] for d in digits)

    text = re.sub(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+", spell, text)
    return "".join(c for c in text if not c.isdigit())  # other digit scripts: dropped


def _fix_uppercase(text: str, _v: Any) -> str:
    return text.upper()


def _fix_question(text: str, question: str) -> str:
    return f"{text.strip()}\n{question.strip()}".strip()


def _no_fix(text: str, _v: Any) -> str:
    return text


REPAIRS = {
    "no_markdown": _fix_markdown, "max_words": _fix_max_words, "min_words": _no_fix, "lowercase": _fix_lowercase,
    "forbid_phrases": _fix_forbid, "must_start_with": _fix_start, "must_end_with": _fix_end,
    "must_include_any": _fix_include, "max_sentences": _fix_max_sentences, "no_exclamation": _fix_exclamation,
    "no_digits": _fix_digits, "uppercase": _fix_uppercase, "ends_with_question": _fix_question,
}


# ---------------------------------------------------------------------------- the list
# rules a reply stopped by the token limit cannot have kept: it did not end, so it did not
# end with the sign-off, and its length is unknown (only that it ran past the limit)
FAILED_WHEN_CUT = ("max_words", "must_end_with", "max_sentences", "ends_with_question")


def check_all(text: str, rules: Sequence[Rule], *, cut: bool = False) -> list[bool]:
    """Per rule, passed or not. ``cut``: the reply was stopped by the token limit, so the
    rules in ``FAILED_WHEN_CUT`` fail whatever the cut text shows."""
    return [False if cut and r.type in FAILED_WHEN_CUT else r.check(text) for r in rules]


def score(text: str, rules: Sequence[Rule]) -> float:
    """Rules passed / rules."""
    return sum(check_all(text, rules)) / len(rules) if rules else 1.0


def broken(text: str, rules: Sequence[Rule]) -> list[Rule]:
    return [r for r in rules if not r.check(text)]


def repair(text: str, rules: Sequence[Rule]) -> str:
    """The reply repaired by every broken rule (canonical order, re-checked up to 3 rounds).

    ``max_words`` leaves room for a required ending so that the two can both pass.
    Unrepairable rules (``min_words``) stay broken.
    """
    end_words = sum(len(words(r.value)) for r in rules if r.type in ("must_end_with", "ends_with_question"))
    end_sentences = sum(len(sentences(r.value)) for r in rules if r.type == "ends_with_question")
    for _ in range(3):
        bad = [r for r in broken(text, rules) if r.repairable]
        if not bad:
            break
        for t in REPAIR_ORDER:
            for r in bad:
                if r.type != t or r.check(text):
                    continue
                if t == "max_words":
                    text = _fix_max_words(text, max(1, r.value - end_words))
                elif t == "max_sentences":
                    text = _fix_max_sentences(text, max(1, r.value - end_sentences))
                else:
                    text = r.repair(text)
    return text.strip()
