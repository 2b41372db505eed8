"""Append-only, numbered schema migrations, applied every time the database opens.

Never edit or reorder a migration once released: add a new one. The schema
version of a database is the number of migrations applied to it; a database that
has migrations this build does not know was written by a newer version and is
refused rather than altered.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("openclaw")


@migrations(name="m001_chat")
def m001_chat(db: Database) -> None:
    db["conversations"].create(
        {"id": int, "title": str, "system_prompt": str, "created_at": str, "updated_at": str},
        pk="id",
    )
    db["messages"].create(
        {
            "id": int,
            "conversation_id": int,
            "role": str,  # system | user | assistant
            "content": str,  # the text fed back as context (thinking excluded)
            "thinking": str,  # Qwen3 <think> block, shown dimmed, never fed back
            "created_at": str,
            "model": str,  # file name of the model that produced an assistant message
            "adapter_version": int,  # adapter version that produced it (NULL = base)
            "settings": str,  # JSON of generation settings
            "interrupted": int,
            "superseded": int,  # 1 when regenerated: kept, but not part of the thread
            "n_tokens": int,
            "tokens_per_s": float,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
        defaults={"interrupted": 0, "superseded": 0, "content": "", "thinking": ""},
        not_null={"conversation_id", "role", "created_at"},
    )
    db["messages"].create_index(["conversation_id", "id"])
    db["feedback"].create(
        {
            "id": int,
            "message_id": int,
            "kind": str,  # rating | correction
            "value": int,  # +1 / -1 for ratings
            "text": str,  # corrected text
            "original": str,  # the reply as it was when corrected
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("message_id", "messages", "id")],
    )
    db["feedback"].create_index(["message_id"])
    db["messages"].enable_fts(["content"], create_triggers=True, tokenize="porter")


@migrations(name="m002_learning")
def m002_learning(db: Database) -> None:
    db["samples"].create(
        {
            "message_id": int,  # the assistant reply this sample trains
            "status": str,  # waiting | judged | trained | skipped
            "reason": str,  # why skipped
            "next_state": str,  # the user's following message, if any
            "reward": int,  # final evaluative score: +1, -1, 0
            "reward_source": str,  # rating | correction | judge
            "votes": str,  # JSON list of judge votes
            "hint": str,  # directive signal (judge hint or correction text)
            "hint_votes": str,  # JSON list of hint-judge outputs
            "correction": str,  # corrected text, a known-good reply for the prompt
            "created_at": str,
            "judged_at": str,
            "trained_version": int,
        },
        pk="message_id",
        foreign_keys=[("message_id", "messages", "id")],
        defaults={"status": "waiting"},
    )
    db["samples"].create_index(["status"])
    db["adapter_versions"].create(
        {
            "id": int,
            "parent_id": int,
            "created_at": str,
            "path": str,  # directory with the PEFT adapter, optimizer state and GGUF
            "status": str,  # candidate | active | rejected | retired | broken
            "reason": str,
            "sample_ids": str,  # JSON list of message ids trained on
            "loss": float,
            "mean_reward": float,
            "n_samples": int,
            "n_tokens": int,
            "train_seconds": float,
            "gate": str,  # JSON gate results
        },
        pk="id",
    )


@migrations(name="m003_judge")
def m003_judge(db: Database) -> None:
    # The judge's own score is kept apart from the final reward (which an explicit
    # rating or correction overrides), so judge accuracy against ratings can be measured.
    db["samples"].add_column("judge_reward", int)
    db["samples"].add_column("judge_mode", str)  # generate | logprob | rules | hybrid
    db["samples"].add_column("prompt", str)  # the user message the reply answered
    db["samples"].add_column("updated_at", str)


@migrations(name="m004_learner")
def m004_learner(db: Database) -> None:
    # One row (id=1) the background learner keeps current, read by the chat's status bar.
    db["learner_state"].create(
        {
            "id": int,
            "state": str,  # idle | loading | training | publishing | error | stopped
            "detail": str,
            "step": int,
            "total": int,
            "loss": float,  # of the last finished update
            "mean_reward": float,
            "last_version": int,
            "pid": int,
            "error": str,
            "updated_at": str,
        },
        pk="id",
    )
    # On-demand updates ("learn now"): the chat or the CLI inserts, the learner takes.
    db["learn_requests"].create({"id": int, "created_at": str, "taken_at": str, "done_at": str, "result": str}, pk="id")


@migrations(name="m005_adapter_history")
def m005_adapter_history(db: Database) -> None:
    # What a version is made of on disk (file name -> sha256, checked on start), where it
    # came from (trained | imported), and when it was last made active.
    db["adapter_versions"].add_column("files", str)  # JSON {name: sha256}
    db["adapter_versions"].add_column("source", str)
    db["adapter_versions"].add_column("activated_at", str)
    # "What changed": user-editable probe prompts, and each version's cached answers to them.
    db["probe_prompts"].create({"id": int, "text": str, "created_at": str}, pk="id")
    db["probe_answers"].create(
        {"version_id": int, "probe_id": int, "text": str, "created_at": str},
        pk=("version_id", "probe_id"),
    )
    db["probe_prompts"].insert_all(
        [{"text": text, "created_at": "1970-01-01T00:00:00.000+00:00"} for text in DEFAULT_PROBES]
    )


DEFAULT_PROBES = (
    "Introduce yourself in two sentences.",
    "Give me three tips for a productive morning.",
    "Explain what a database index is to a beginner.",
)


@migrations(name="m006_adapter_reservations")
def m006_adapter_reservations(db: Database) -> None:
    # A version id is taken here, in one write transaction, before any file of it is
    # written, so two writers (imports, the learner) can never pick the same id or
    # directory. Rows are kept after the version is published (status done) so that
    # an id is never handed out twice, even after its version is deleted.
    db["adapter_reservations"].create(
        {
            "id": int,
            "pid": int,  # the writing process; a dead pid means the write was abandoned
            "purpose": str,  # trained | imported
            "status": str,  # writing | done | abandoned
            "created_at": str,
        },
        pk="id",
    )
    # existing versions count as reserved, so new ids continue after them
    db.execute(
        "insert into adapter_reservations (id, pid, purpose, status, created_at) "
        "select id, null, coalesce(source, 'trained'), 'done', created_at from adapter_versions"
    )


@migrations(name="m007_judge_labels")
def m007_judge_labels(db: Database) -> None:
    # This user's labels for the judge: a 👍/👎 or a correction on a reply labels the user's
    # following message (+1 / -1), and an overruled verdict is a label too. One row per reply.
    db["judge_labels"].create(
        {
            "message_id": int,  # the assistant reply whose next message is labeled
            "prompt": str,
            "reply": str,
            "next_state": str,  # the user's following message: what the judge reads
            "label": int,  # +1 / 0 / -1
            "source": str,  # rating | correction | overrule
            "created_at": str,
        },
        pk="message_id",
    )
    # The per-user calibration of the learned judge, refitted by the learner as labels come in.
    db["judge_calibration"].create(
        {"id": int, "params": bytes, "n_labels": int, "last_label_at": str, "fitted_at": str}, pk="id"
    )


@migrations(name="m008_gate_retries")
def m008_gate_retries(db: Database) -> None:
    # A sample whose update the promotion gate refused goes back to 'judged' and is retried;
    # these record how many times that happened and the last refusal's reason, so retries
    # stay bounded and the user can see why feedback has not been learned yet.
    db["samples"].add_column("gate_retries", int)
    db["samples"].add_column("gate_refusal", str)


@migrations(name="m009_conversation_source")
def m009_conversation_source(db: Database) -> None:
    # Conversations that arrive through the OpenAI-compatible endpoint: which client sent
    # them (NULL = the terminal chat), and the session id the client named, if any.
    db["conversations"].add_column("source", str)  # e.g. "openai-python", "llm", "open-webui"
    db["conversations"].add_column("session_key", str)  # "session:<X-Session-Id>" / "openwebui:<chat id>"
    db["conversations"].create_index(["session_key"])
    # Tool use from API clients: an assistant turn's tool_calls, a tool result's tool_call_id (JSON).
    db["messages"].add_column("tool_info", str)


@migrations(name="m010_reply_versions")
def m010_reply_versions(db: Database) -> None:
    # Regenerating keeps the old reply as another version of the same answer: every version
    # (the first one too) points at the first one's id; NULL = never regenerated. The shown
    # version is the one not superseded.
    db["messages"].add_column("reply_group", int)
    db["messages"].create_index(["reply_group"])


@migrations(name="m011_preferences")
def m011_preferences(db: Database) -> None:
    # Standing preferences: instructions put into the system context of every following reply.
    # status: active | paused | learned | candidate (a one-off request seen once, not kept yet).
    db["preferences"].create(
        {
            "id": int,
            "text": str,  # the instruction, at most 200 characters
            "status": str,
            "source_message_id": int,  # the user message it came from (NULL: added by hand)
            "source_text": str,  # a bounded excerpt of that message
            "origin": str,  # tui | cli | endpoint:<client> | judge
            "created_at": str,
            "updated_at": str,
            "times_seen": int,
            "needs_confirmation": int,  # came through the endpoint and waits for the user to activate it
            "absorbed_version": int,  # the adapter version that absorbed it (NULL: not yet)
            "last_message_id": int,  # the last user message counted in times_seen (each message counts once)
        },
        pk="id",
        defaults={"times_seen": 1, "needs_confirmation": 0, "status": "active"},
        not_null={"text", "status", "origin", "created_at", "updated_at"},
    )
    db["preferences"].create_index(["status", "created_at"])


@migrations(name="m012_relative_paths")
def m012_relative_paths(db: Database) -> None:
    # Adapter version paths were absolute, so a copied data dir deleted and served the original's
    # files and a moved one lost them. They become relative to the data dir (the directory of this
    # database file): the store resolves them against wherever the data dir is now. A path that
    # lies under the data dir becomes relative; so does one outside it whose version directory
    # (adapters/vNNNN) is present in this data dir (the dir was copied or moved before this
    # upgrade). Any other path (elsewhere, or missing) is kept as it is.
    import os
    from pathlib import Path

    files = [row[2] for row in db.execute("PRAGMA database_list").fetchall() if row[1] == "main"]
    if not files or not files[0] or not db["adapter_versions"].exists():
        return  # an in-memory database has no data dir
    home = os.path.realpath(Path(files[0]).parent)
    for row in list(db.query("select id, path from adapter_versions")):
        stored = row["path"]
        if not stored or not os.path.isabs(stored):
            continue
        real = os.path.realpath(stored)
        if os.path.commonpath([home, real]) == home and real != home:
            new = Path(os.path.relpath(real, home)).as_posix()
        else:
            own = Path("adapters") / f"v{row['id']:04d}"
            if Path(stored).name != own.name or not (Path(home) / own).is_dir():
                continue
            new = own.as_posix()
        db.execute("update adapter_versions set path = ? where id = ?", [new, row["id"]])
