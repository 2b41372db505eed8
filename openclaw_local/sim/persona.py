"""Persona files (JSON, format below) and the simulated user that plays one.

A persona is a list of checkable rules (:mod:`openclaw_local.sim.rules`), the
complaints, praise and neutral messages the user says, the probabilities of how
they react to a reply that breaks a rule, and disjoint train / eval prompts.

People do not repeat one sentence, so every message is a *pool* of phrasings the
user samples from (with its seeded RNG): ``complaints`` maps a rule type to a
string or a list of strings (a string is a pool of one, the original format),
``praise`` and ``neutral`` are lists. A pool of one is used as is, without
drawing from the RNG, so a persona in the original format replays exactly as before.

The simulated user (:class:`SimulatedUser`, seeded RNG) reacts to a reply:

- breaks no rule → ``praise`` (a praise message, 50 %) or else, with a ``neutral`` pool,
  ``neutral`` (a message that says nothing about the reply: "ok", "hm, interesting",
  25 %) or ``next`` (simply the next prompt, the rest); without one, ``next`` (50 %);
- breaks at least one rule → one of ``feedback``:
  ``correct`` — an inline correction: the reply repaired by every broken rule;
  ``complain`` — a complaint from the pool of one broken rule (chosen at random) as the next message;
  ``rate`` — thumbs down.
  A correction that would change nothing or leave nothing (only ``min_words`` broken,
  or every sentence dropped) becomes a complaint: a person cannot "correct" that.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openclaw_local.errors import NotFoundError, UserError
from openclaw_local.sim.rules import RULE_TYPES, VALUE_KIND, Rule, broken, repair

MIN_TRAIN, MIN_EVAL = 36, 10
REACTIONS = ("correct", "complain", "rate")
DEFAULT_PRAISE = ["thanks, perfect", "great, that's what I needed"]
PERSONAS_DIR = Path(__file__).resolve().parents[2] / "assets" / "personas"


class PersonaError(UserError):
    """A persona file is missing, not JSON, or does not follow the format."""

    exit_code = 6


def default_complaint(rule: Rule) -> str:
    """A complaint for every rule type, worded so a person would say it (and the judge hears push-back)."""
    t, v = rule.type, rule.value
    if t == "no_markdown":
        return "please just write normally, no bullet points, headings or bold"
    if t == "max_words":
        return f"that's too long, keep it under {v} words please"
    if t == "min_words":
        return f"that's too short, give me more detail, at least {v} words"
    if t == "lowercase":
        return "please don't use capital letters, write everything in lowercase"
    if t == "forbid_phrases":
        return f"please don't say things like \"{v[0]}\", it sounds robotic"
    if t == "must_start_with":
        return f"you forgot to start with \"{v}\", please always start your reply with that"
    if t == "must_end_with":
        return f"you forgot to end with \"{v}\", please always end your reply with that"
    if t == "must_include_any":
        return f"you didn't say \"{v[0]}\" or anything like it, please include that"
    if t == "max_sentences":
        return f"too many sentences, {v} at most please"
    if t == "no_exclamation":
        return "please drop the exclamation marks, it reads like shouting"
    if t == "no_digits":
        return "please write numbers out in words, no digits"
    if t == "uppercase":
        return "please write everything in capital letters"
    if t == "ends_with_question":
        return "please end by asking me something back"
    raise ValueError(t)


@dataclass
class Persona:
    name: str
    description: str
    system_prompt: str | None
    rules: list[Rule]
    complaints: dict[str, list[str]]  # rule type → pool of phrasings (≥ 1)
    praise: list[str]
    feedback: dict[str, float]
    train_prompts: list[str]
    eval_prompts: list[str]
    path: Path | None = None
    neutral: list[str] = field(default_factory=list)

    def complaint_pool(self, rule: Rule) -> list[str]:
        """Every phrasing of the complaint about ``rule`` (the default complaint if the file has none)."""
        return self.complaints.get(rule.type) or [default_complaint(rule)]

    def complaint(self, rule: Rule, rng: random.Random | None = None) -> str:
        """One complaint about ``rule``: drawn with ``rng``, or the first phrasing without one."""
        return sample(self.complaint_pool(rule), rng)

    def with_feedback(self, feedback: dict[str, float]) -> "Persona":
        data = dict(self.__dict__)
        data["feedback"] = _feedback(feedback, str(self.path or self.name))
        return Persona(**data)


def sample(pool: list[str], rng: random.Random | None) -> str:
    """One phrasing from a pool; a pool of one (or no RNG) takes no draw, so old seeded runs replay unchanged."""
    if rng is None or len(pool) == 1:
        return pool[0]
    return rng.choice(pool)


def _pool(raw: Any, where: str, what: str) -> list[str]:
    """A string (a pool of one) or a non-empty list of non-empty strings, stripped; duplicates dropped."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) and x.strip() for x in raw):
        raise _fail(where, f"{what} must be a non-empty string or a non-empty list of non-empty strings")
    return list(dict.fromkeys(x.strip() for x in raw))


def _fail(where: str, message: str) -> PersonaError:
    return PersonaError(f"persona {where}: {message}")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _rule(raw: Any, i: int, where: str) -> Rule:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise _fail(where, f"rule {i + 1} must be an object with a \"type\"")
    t = raw["type"]
    if t not in RULE_TYPES:
        raise _fail(where, f"rule {i + 1} has unknown type {t!r} (known: {', '.join(RULE_TYPES)})")
    kind, v = VALUE_KIND[t], raw.get("value")
    extra = set(raw) - {"type", "value"}
    if extra:
        raise _fail(where, f"rule {i + 1} ({t}) has unknown key(s) {', '.join(sorted(extra))}")
    if kind is None:
        if v is not None:
            raise _fail(where, f"rule {i + 1} ({t}) takes no value")
        return Rule(t)
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _fail(where, f"rule {i + 1} ({t}) needs a positive integer \"value\"")
        return Rule(t, v)
    if kind == "str":
        if not isinstance(v, str) or not v.strip():
            raise _fail(where, f"rule {i + 1} ({t}) needs a non-empty string \"value\"")
        return Rule(t, v.strip())
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x.strip() for x in v):
        raise _fail(where, f"rule {i + 1} ({t}) needs a non-empty list of non-empty strings as \"value\"")
    return Rule(t, tuple(x.strip() for x in v))


def _feedback(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(where, "\"feedback\" must be an object like {\"correct\": 0.4, \"complain\": 0.4, \"rate\": 0.2}")
    out = {}
    for k, v in raw.items():
        if k not in REACTIONS:
            raise _fail(where, f"unknown feedback kind {k!r} (use correct, complain, rate)")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise _fail(where, f"feedback probability {k!r} must be a number between 0 and 1")
        out[k] = float(v)
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise _fail(where, f"feedback probabilities must add up to 1 (they add up to {total:g})")
    return {k: out.get(k, 0.0) for k in REACTIONS}


def _prompts(data: dict, key: str, minimum: int, where: str) -> list[str]:
    v = data.get(key)
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise _fail(where, f"\"{key}\" must be a list of non-empty strings")
    seen = set()
    for x in v:
        if _norm(x) in seen:
            raise _fail(where, f"\"{key}\" has a duplicate: {x.strip()[:60]!r}")
        seen.add(_norm(x))
    if len(v) < minimum:
        raise _fail(where, f"needs at least {minimum} {key} (has {len(v)})")
    return [x.strip() for x in v]


def parse_persona(data: Any, where: str = "<data>") -> Persona:
    if not isinstance(data, dict):
        raise _fail(where, "must be a JSON object")
    known = {"name", "description", "system_prompt", "rules", "complaints", "praise", "neutral", "feedback",
             "train_prompts", "eval_prompts"}
    unknown = set(data) - known
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(sorted(unknown))}")
    for req in ("name", "rules", "feedback", "train_prompts", "eval_prompts"):
        if req not in data:
            raise _fail(where, f"missing field \"{req}\"")
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise _fail(where, "\"name\" must be a non-empty string")
    sp = data.get("system_prompt")
    if sp is not None and (not isinstance(sp, str) or not sp.strip()):
        raise _fail(where, "\"system_prompt\" must be a non-empty string or null")
    raw_rules = data["rules"]
    if not isinstance(raw_rules, list) or not raw_rules:
        raise _fail(where, "\"rules\" must be a non-empty list")
    rules = [_rule(r, i, where) for i, r in enumerate(raw_rules)]
    complaints = data.get("complaints") or {}
    if not isinstance(complaints, dict):
        raise _fail(where, "\"complaints\" must be an object mapping rule types to text")
    pools: dict[str, list[str]] = {}
    for k, v in complaints.items():
        if k not in RULE_TYPES:
            raise _fail(where, f"complaint for unknown rule type {k!r}")
        pools[k] = _pool(v, where, f"complaint for {k!r}")
    praise = data.get("praise")
    if praise is None:
        praise = list(DEFAULT_PRAISE)
    if not isinstance(praise, list) or not praise or not all(isinstance(p, str) and p.strip() for p in praise):
        raise _fail(where, "\"praise\" must be a non-empty list of strings")
    neutral = data.get("neutral")
    if neutral is not None and (not isinstance(neutral, list) or not neutral):
        raise _fail(where, "\"neutral\" must be a non-empty list of strings (or left out)")
    neutral = _pool(neutral, where, "\"neutral\"") if neutral is not None else []
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise _fail(where, "\"description\" must be a string")
    train = _prompts(data, "train_prompts", MIN_TRAIN, where)
    evals = _prompts(data, "eval_prompts", MIN_EVAL, where)
    overlap = {_norm(x) for x in train} & {_norm(x) for x in evals}
    if overlap:
        raise _fail(where, f"train and eval prompts overlap ({len(overlap)} shared, e.g. {sorted(overlap)[0][:60]!r})")
    return Persona(name=name.strip(), description=description, system_prompt=sp, rules=rules,
                   complaints=pools, praise=[p.strip() for p in praise],
                   feedback=_feedback(data["feedback"], where), train_prompts=train, eval_prompts=evals,
                   neutral=neutral)


def resolve_persona_path(name_or_path: str | Path) -> Path:
    """A path, or the name of a shipped persona (``student`` → assets/personas/student.json)."""
    p = Path(name_or_path).expanduser()
    if p.exists():
        return p
    shipped = PERSONAS_DIR / f"{name_or_path}.json"
    return shipped if shipped.exists() else p


def load_persona(path: str | Path) -> Persona:
    p = resolve_persona_path(path)
    if not p.is_file():
        raise NotFoundError(f"persona file not found: {p}",
                           f"shipped personas: {', '.join(x.stem for x in shipped_personas()) or 'none'}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise PersonaError(f"persona {p}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PersonaError(f"persona {p}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    persona = parse_persona(data, str(p))
    persona.path = p
    return persona


def shipped_personas() -> list[Path]:
    return sorted(PERSONAS_DIR.glob("*.json")) if PERSONAS_DIR.is_dir() else []


# ---------------------------------------------------------------------------- the user
@dataclass
class Reaction:
    kind: str  # "correct" | "complain" | "rate" | "praise" | "neutral" | "next"
    text: str | None  # correction text, complaint, praise or neutral message; None for rate / next
    broken: list[str] = field(default_factory=list)  # keys of the broken rules
    score: float = 1.0

    @property
    def true_reward(self) -> int:
        """The user's true verdict on the reply: +1 if it broke no rule, else -1."""
        return -1 if self.broken else 1


class SimulatedUser:
    def __init__(self, persona: Persona, seed: int = 0):
        self.persona = persona
        self.rng = random.Random(seed)

    def prompts(self, n: int) -> list[str]:
        """``n`` train prompts: the list shuffled (seeded), cycled if n exceeds it."""
        pool = list(self.persona.train_prompts)
        out: list[str] = []
        while len(out) < n:
            self.rng.shuffle(pool)
            out.extend(pool)
        return out[:n]

    def react(self, reply: str) -> Reaction:
        rules = self.persona.rules
        bad = broken(reply, rules)
        sc = (len(rules) - len(bad)) / len(rules)
        keys = [r.key for r in bad]
        if not bad:
            if self.rng.random() < 0.5:
                return Reaction("praise", self.rng.choice(self.persona.praise), keys, sc)
            if self.persona.neutral and self.rng.random() < 0.5:
                return Reaction("neutral", sample(self.persona.neutral, self.rng), keys, sc)
            return Reaction("next", None, keys, sc)
        fb = self.persona.feedback
        kinds = [k for k in REACTIONS if fb.get(k, 0) > 0]
        kind = self.rng.choices(kinds, weights=[fb[k] for k in kinds])[0]
        if kind == "correct":
            fixed = repair(reply, rules)
            if fixed.strip() and fixed.strip() != reply.strip():
                return Reaction("correct", fixed, keys, sc)
            kind = "complain"
        if kind == "complain":
            return Reaction("complain", self.persona.complaint(self.rng.choice(bad), self.rng), keys, sc)
        return Reaction("rate", None, keys, sc)
