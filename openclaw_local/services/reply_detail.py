"""Why a reply got its ✓ / ✗: everything the learner knows about one assistant reply, in sentences.

Read from the store only: the reply (which model and adapter version served it),
its feedback, its learning sample (what the judge read in the next message, its
votes and so its confidence, the hint it will train with, whether an update used
it) and the adapter version that trained on it. The UI shows :func:`explain_reply`
as it is; the CLI could too.
"""

from __future__ import annotations

from typing import Any

from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.preferences import PreferenceStore
from openclaw_local.store.samples import SampleStore

VERDICT_WORDS = {1: "accepted (✓): the reply will be reinforced", -1: "pushed back (✗): the reply will be discouraged",
                 0: "could not tell (·): not trained on"}
LEGEND = "✓ you accepted the reply · ✗ you pushed back · · can't tell — the learner trains on ✓ and ✗"


def _short(text: str | None, n: int = 160) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= n else line[: n - 1] + "…"


def confidence(votes: list[Any] | None, reward: int | None) -> tuple[int, int] | None:
    """(votes agreeing with the verdict, votes cast), or None when the judge did not vote."""
    values = [v.get("vote") if isinstance(v, dict) else v for v in (votes or [])]
    values = [v for v in values if v in (-1, 0, 1)]
    if not values or reward is None:
        return None
    return sum(1 for v in values if v == reward), len(values)


def explain_reply(store: Store, message_id: int) -> list[str]:
    """Plain sentences about one reply, most important first."""
    msg = store.get_message(message_id)
    if msg.role != "assistant":
        return ["Only assistant replies are judged and learned from."]
    lines: list[str] = []
    served = f"adapter v{msg.adapter_version}" if msg.adapter_version is not None else "the base model (no adapter)"
    lines.append(f"Served by {served}{f' on {msg.model}' if msg.model else ''}, {msg.created_at[:16].replace('T', ' ')}.")
    lines += preferences_lines(store, msg.settings.get("preferences") or [])
    if msg.rating:
        lines.append(f"You rated it {'👍' if msg.rating > 0 else '👎'}: your rating decides its reward, not the judge.")
    if msg.correction is not None:
        lines.append(f"You corrected it: the learner trains toward your text (“{_short(msg.correction, 80)}”).")
    sample = SampleStore(store).get(message_id)
    if sample is None:
        lines.append("Not judged yet: the learner waits for your next message, a rating or a correction.")
        return lines
    if sample.next_state:
        lines.append(f"The judge read your next message: “{_short(sample.next_state, 120)}”.")
    status = sample.status
    if status == "waiting":
        lines.append("The judge has not scored it yet.")
    judge_reward = sample.judge_reward
    if judge_reward is not None:
        agree = confidence(sample.votes, judge_reward)
        mode = f" ({sample.judge_mode})" if sample.judge_mode else ""
        conf = f", {agree[0]} of {agree[1]} votes agree" if agree else ""
        lines.append(f"Judge verdict{mode}: {VERDICT_WORDS.get(judge_reward, judge_reward)}{conf}.")
    source = sample.reward_source
    if sample.reward is not None and source:
        by = {"rating": "your rating", "correction": "your correction", "judge": "the judge",
              "overrule": "you (you overruled the judge)"}.get(source, source)
        lines.append(f"Reward used for training: {sample.reward:+d}, from {by}.")
    hint = sample.hint
    if hint and source == "correction":
        lines.append("Hint it will train with: your correction (above).")
    elif hint:
        lines.append(f"Hint it will train with (the judge's reading of what you wanted): “{_short(hint)}”.")
    else:
        lines.append("No hint: only the ✓/✗ reward is used.")
    if status == "trained" and sample.trained_version is not None:
        v = sample.trained_version
        when = ""
        try:
            version = AdapterStore(store).get(v)
            when = f" on {version.created_at[:16].replace('T', ' ')} (now {version.status})"
        except Exception:  # noqa: BLE001 — a deleted version still names its number
            pass
        lines.append(f"Used in an update: adapter v{v} learned from it{when}.")
    elif status == "judged":
        lines.append("Not used in an update yet: it waits for the next one (ctrl+l learns now).")
    elif status == "skipped":
        lines.append(f"Not used for training: {sample.reason or 'skipped'}.")
    return lines


def preferences_lines(store: Store, ids: list[int]) -> list[str]:
    """Which standing preferences were in the reply's system context (by id; a deleted one says so)."""
    if not ids:
        return []
    known = PreferenceStore(store).by_ids([int(i) for i in ids])
    shown = [f"#{i} “{_short(known[i].text, 80)}”" if i in known else f"#{i} (deleted since)" for i in ids]
    return [f"Your standing preferences in its context: {'; '.join(shown)}."]
