"""The collected learning signals in formats a bigger training stack reads unchanged.

- ``kto``: TRL's unpaired-preference rows, conversational form:
  ``{"prompt": [messages…], "completion": [{"role": "assistant", "content": …}], "label": bool}``.
  One row per reply with reward ±1 (label = reward > 0) and one ``label: true`` row per
  user correction (the corrected text is a known-good answer). ``KTOTrainer`` takes
  these directly (``datasets.load_dataset("json", data_files=FILE)``).
- ``sft``: ``{"messages": [system, user, …, assistant]}`` rows for ``SFTTrainer``,
  from corrected replies (the corrected text) and replies the user rated up.
- ``judge-labels``: this user's labels for the judge (``prompt``, ``reply``, ``next_state``,
  ``label``, ``source``: rating | correction | overrule), the lines the learned judge's
  calibration is fitted on — the same schema as ``assets/prm_*.jsonl``.
- ``jsonl``: everything known about every sample: prompt messages, reply, final
  reward and where it came from, the judge's own score and votes, hint and hint
  votes, correction, next state, status and the adapter version that trained it.

Prompt messages are the system prompt and the thread before the reply, as the
model saw it (earlier corrections applied).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from openclaw_local.paths import atomic_output
from openclaw_local.store import Store
from openclaw_local.store.judge_labels import JudgeLabelStore
from openclaw_local.records import Message, Sample
from openclaw_local.store.samples import SampleStore

FORMATS = ("kto", "sft", "jsonl", "judge-labels")


def _samples(samples: SampleStore, statuses: tuple[str, ...] | None) -> Iterator[tuple[Sample, Message]]:
    for row in samples.all():
        if statuses is not None and row.status not in statuses:
            continue
        msg = samples.store.find_message(row.message_id)
        if msg is not None:
            yield row, msg


def _superseded(msg: Message) -> dict[str, Any]:
    """Rows of a replaced (regenerated) reply say so: the user asked for another answer."""
    return {"superseded": True} if msg.superseded else {}


def kto_rows(samples: SampleStore) -> Iterator[dict[str, Any]]:
    for row, msg in _samples(samples, ("judged", "trained")):
        prompt = samples.prompt_messages(row.message_id)
        if row.reward in (-1, 1) and msg.content.strip():
            yield {"prompt": prompt, "completion": [{"role": "assistant", "content": msg.content}],
                   "label": row.reward == 1, **_superseded(msg)}
        if row.correction and row.correction.strip():
            yield {"prompt": prompt, "completion": [{"role": "assistant", "content": row.correction}], "label": True}


def sft_rows(samples: SampleStore) -> Iterator[dict[str, Any]]:
    for row, msg in _samples(samples, ("judged", "trained")):
        prompt = samples.prompt_messages(row.message_id)
        if row.correction and row.correction.strip():
            yield {"messages": prompt + [{"role": "assistant", "content": row.correction}]}
        elif row.reward == 1 and row.reward_source == "rating" and msg.content.strip():
            yield {"messages": prompt + [{"role": "assistant", "content": msg.content}], **_superseded(msg)}


def full_rows(samples: SampleStore) -> Iterator[dict[str, Any]]:
    for row, msg in _samples(samples, None):
        yield {
            "message_id": row.message_id, "conversation_id": msg.conversation_id,
            "prompt_messages": samples.prompt_messages(row.message_id), "reply": msg.content,
            "thinking": msg.thinking or None, "model": msg.model, "adapter_version": msg.adapter_version,
            "status": row.status, "skip_reason": row.reason, "next_state": row.next_state,
            "reward": row.reward, "reward_source": row.reward_source, "judge_reward": row.judge_reward,
            "judge_mode": row.judge_mode, "votes": row.votes, "hint": row.hint,
            "hint_votes": row.hint_votes, "correction": row.correction, "trained_version": row.trained_version,
            "created_at": msg.created_at, "judged_at": row.judged_at,
            "superseded": msg.superseded, "reply_group": msg.reply_group,
        }


def judge_label_rows(samples: SampleStore) -> Iterator[dict[str, Any]]:
    for row in JudgeLabelStore(samples.store).all():
        yield {"message_id": row["message_id"], "prompt": row["prompt"], "reply": row["reply"],
               "next_state": row["next_state"], "label": row["label"], "source": row["source"],
               "created_at": row["created_at"]}


def export_data(store: Store, fmt: str, out: Path | None, *, system_prompt: str | None = None) -> int:
    """Write rows of ``fmt`` as JSONL to ``out`` (None = stdout, via the returned count only). Returns rows written."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    kwargs = {"default_system_prompt": system_prompt} if system_prompt else {}
    samples = SampleStore(store, **kwargs)
    rows = {"kto": kto_rows, "sft": sft_rows, "jsonl": full_rows, "judge-labels": judge_label_rows}[fmt](samples)
    if out is None:
        import sys

        n = 0
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
        return n
    n = 0
    # the one rule for output files: an existing directory, no directory as the file, atomic, exit 4 if refused
    with atomic_output(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n
