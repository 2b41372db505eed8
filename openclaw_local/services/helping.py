""""Is it helping me?": how the user's replies went under each adapter version, and what
the gate found, in plain words.

Per version (and the base model): the share of judged replies the user accepted vs
pushed back (explicit: a rating, a correction, a regenerate; judged: the judge's reading
of the next message), corrections per 10 replies, and a sparkline over versions in
order (that is, over time). Gate results become sentences ("general text 1.4 % less
likely than the base model — within the 5 % limit"), statuses say who decided
("refused by the gate" vs "rolled back by you"), samples are short excerpts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import math

from openclaw_local.services.adapters import AUTO_ROLLED_BACK, ROLLED_BACK
from openclaw_local.store import Store
from openclaw_local.records import AdapterVersion

SPARK = "▁▂▃▄▅▆▇█"


@dataclass
class Outcome:
    version: int | None  # None = the base model
    replies: int
    accepted_explicit: int
    accepted_judged: int
    pushed_explicit: int
    pushed_judged: int
    corrected: int
    first_at: str = ""
    last_at: str = ""

    @property
    def label(self) -> str:
        return f"v{self.version}" if self.version is not None else "base"

    @property
    def accepted(self) -> int:
        return self.accepted_explicit + self.accepted_judged

    @property
    def pushed(self) -> int:
        return self.pushed_explicit + self.pushed_judged

    @property
    def judged(self) -> int:
        return self.accepted + self.pushed

    @property
    def accepted_share(self) -> float | None:
        """Accepted among replies with a verdict (None when none has one yet)."""
        return self.accepted / self.judged if self.judged else None

    @property
    def corrections_per_10(self) -> float:
        return 10 * self.corrected / self.replies if self.replies else 0.0

    def sentence(self) -> str:
        if not self.replies:
            return f"{self.label}: no replies yet"
        if not self.judged:
            return f"{self.label}: {_n(self.replies, 'reply', 'replies')}, none judged yet"
        return (f"{self.label}: {self.accepted_share:.0%} accepted ({self.accepted_explicit} by you, "
                f"{self.accepted_judged} judged) · {self.pushed / self.judged:.0%} pushed back "
                f"({self.pushed_explicit} by you, {self.pushed_judged} judged) · "
                f"{self.corrections_per_10:.1f} corrections per 10 replies · {_n(self.replies, 'reply', 'replies')}")

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "replies": self.replies, "accepted_explicit": self.accepted_explicit,
                "accepted_judged": self.accepted_judged, "pushed_explicit": self.pushed_explicit,
                "pushed_judged": self.pushed_judged, "corrected": self.corrected,
                "accepted_share": self.accepted_share, "corrections_per_10": round(self.corrections_per_10, 2)}


def _n(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def outcomes(store: Store) -> list[Outcome]:
    """One Outcome per version that served replies (base first, then versions in order)."""
    rows = [Outcome(**r) for r in store.reply_outcomes()]
    return sorted(rows, key=lambda o: -1 if o.version is None else o.version)


def sparkline(values: list[float | None]) -> str:
    """Shares (0..1) as block characters; a version without verdicts is a space."""
    return "".join(" " if v is None else SPARK[min(len(SPARK) - 1, int(v * len(SPARK)))] for v in values)


def trend(rows: list[Outcome]) -> str:
    """'accepted per version: base ▃ v1 ▅ v2 ▇' in one line."""
    if not rows:
        return "No replies yet: nothing to compare."
    spark = sparkline([o.accepted_share for o in rows])
    return f"accepted share, base → newest: {spark}  ({' '.join(o.label for o in rows)})"


def status_words(v: AdapterVersion) -> str:
    """Who decided: the gate, the user, or the learner."""
    if v.status == "rejected":
        if v.reason == ROLLED_BACK:
            return "rolled back by you"
        return "rolled back automatically" if (v.reason or "").startswith(AUTO_ROLLED_BACK) else "refused by the gate"
    return {"active": "served now", "retired": "served before", "candidate": "being checked",
            "broken": "broken (files missing or changed)"}.get(v.status, v.status)


def gate_sentences(v: AdapterVersion) -> list[str]:
    """The gate's results as sentences; [] when the version was not gated."""
    g = v.gate or {}
    if not g:
        return []
    if "skipped" in g and len(g) == 1:
        return [f"Not checked by the gate ({g['skipped']})."]
    out = []
    if g.get("finite") is False:
        out.append("Some weights are NaN or infinite: it would produce garbage.")
    ab = g.get("ability") or {}
    if ab.get("accuracy") is not None:
        limit = ab.get("max_accuracy_drop", 0.06) * 100
        verdict = f"within the {limit:.0f}-point limit" if ab.get("ok", True) else f"more than the {limit:.0f}-point limit lost"
        out.append(f"Ability: it answers {ab['accuracy'] * 100:.0f} % of {ab.get('n', '?')} general questions right "
                   f"(base model {ab['base_accuracy'] * 100:.0f} %) — {verdict}.")
    flu = g.get("fluency") or {}
    if flu.get("delta") is not None:
        ok = flu.get("ok", True)
        out.append(f"Word order in its replies: {flu['delta']:+.2f} nats/token vs the base model — "
                   f"{'fine' if ok else 'its replies lose word order'}.")
    gen = g.get("general") or {}
    if gen.get("ratio") is not None:
        pct = (gen["ratio"] - 1) * 100
        limit = (gen.get("max_ratio", 1.05) - 1) * 100
        how = f"{abs(pct):.1f} % {'less' if pct >= 0 else 'more'} likely than with the base model"
        verdict = f"within the {limit:.0f} % limit" if gen.get("ok", pct <= limit) else f"over the {limit:.0f} % limit"
        out.append(f"General text {how} — {verdict}.")
    for key, noun in (("accepted", "replies you accepted"), ("rejected", "replies you pushed back on")):
        r = g.get(key) or {}
        if r.get("skipped"):
            out.append(f"No held-out {noun} to check ({r['skipped']}).")
        elif "delta" in r:
            moved = "more" if r["delta"] > 0 else "less" if r["delta"] < 0 else "no more or less"
            out.append(f"It made {r['n']} {noun} {moved} likely ({r['delta']:+.3f} log-prob per token).")
    fb = g.get("feedback") or {}
    if fb.get("margin") is not None:
        verdict = "fine" if fb.get("ok", True) else "it turned against your feedback"
        out.append(f"Together: it prefers what you accepted over what you pushed back on by {fb['margin']:+.3f} "
                   f"log-prob per token more than the version before — {verdict} (limit {fb.get('min_margin', 0):+.2f}).")
    elif fb.get("one_sided"):
        verdict = "fine" if fb.get("ok", True) else "beyond what a working model does"
        out.append(f"Only {fb['one_sided']} replies to check, so only a large move could refuse it — {verdict}.")
    return out


def sample_excerpts(store: Store, v: AdapterVersion, n: int = 3, width: int = 70) -> list[str]:
    """A few of the replies it trained on, as short quoted excerpts."""
    out = []
    for mid in v.sample_ids[:n]:
        try:
            msg = store.get_message(mid)
        except KeyError:
            out.append(f"#{mid} (deleted)")
            continue
        text = " ".join(msg.shown_text.split())
        out.append(f"“{text if len(text) <= width else text[: width - 1] + '…'}”")
    if len(v.sample_ids) > n:
        out.append(f"… and {len(v.sample_ids) - n} more")
    return out


# --- served, then undone: push-back that rose clearly under a version ------------------------
# "Clearly": a one-sided two-proportion z-test at p < 0.01 on the replies with a verdict, each
# side with at least PUSHBACK_MIN_JUDGED of them, and a rise of at least PUSHBACK_MIN_RISE in
# the push-back share — a version is not undone on one bad afternoon of a handful of replies.
PUSHBACK_MIN_JUDGED = 8
PUSHBACK_Z = 2.326  # one-sided p < 0.01
PUSHBACK_MIN_RISE = 0.2


def pushback_rose(parent: Outcome | None, child: Outcome | None) -> str | None:
    """Why ``child`` (the version served now) is clearly worse than ``parent`` (what it replaced,
    None = nothing yet measured), in one sentence; None when it is not."""
    if parent is None or child is None or min(parent.judged, child.judged) < PUSHBACK_MIN_JUDGED:
        return None
    p0, p1 = parent.pushed / parent.judged, child.pushed / child.judged
    pooled = (parent.pushed + child.pushed) / (parent.judged + child.judged)
    se = math.sqrt(pooled * (1 - pooled) * (1 / parent.judged + 1 / child.judged))
    if p1 - p0 < PUSHBACK_MIN_RISE or se == 0 or (p1 - p0) / se < PUSHBACK_Z:
        return None
    return (f"you pushed back on {child.pushed} of {child.judged} replies under {child.label} "
            f"({p1 * 100:.0f}%) vs {parent.pushed} of {parent.judged} under {parent.label} ({p0 * 100:.0f}%)")


def rollback_if_pushed_back(store: Store, service) -> str | None:
    """Undo the served version when the user's push-back rose clearly under it (``pushback_rose``)
    against the version it replaced; returns the sentence that says so, or None.

    ``service``: the :class:`~openclaw_local.services.adapters.AdapterService` of the data dir."""
    active = service.active()
    if active is None:
        return None
    by_version = {o.version: o for o in outcomes(store)}
    why = pushback_rose(by_version.get(active.parent_id), by_version.get(active.id))
    if why is None:
        return None
    undone, now = service.rollback(reason=f"{AUTO_ROLLED_BACK}: {why}")
    return f"v{undone.id} was rolled back automatically ({why}); now serving {f'v{now.id}' if now else 'the base model'}"
