"""``history`` and ``export-chats``: read the stored conversations without opening the chat;
``history delete ID`` / ``history delete --all`` erase them (and say which adapters learned from them)."""

from __future__ import annotations

import argparse
import json
import sys

from openclaw_local.cli.common import id_type, open_store
from openclaw_local.errors import UsageError
from openclaw_local.store import Store


def register(sub) -> None:
    p = sub.add_parser("history", help="list conversations (or search messages); history delete ID|--all erases")
    p.add_argument("action", nargs="?", choices=["list", "delete"], default="list",
                   help="list (default) or delete: erase a conversation for good (its messages, ratings, "
                        "corrections, learning samples)")
    p.add_argument("conversation", nargs="?", type=id_type("conversation"), metavar="ID", help="the conversation to delete (see history)")
    p.add_argument("--all", action="store_true", help="with delete: every conversation")
    p.add_argument("--search", metavar="Q", help="full-text search over messages")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_history)
    e = sub.add_parser("export-chats", help="write every conversation as JSONL (OpenAI-style messages)")
    e.add_argument("--out", required=True, metavar="FILE.jsonl", help="output file ('-' for stdout)")
    e.set_defaults(func=run_export)


def run_history(args: argparse.Namespace) -> int:
    if getattr(args, "action", "list") == "delete":
        return run_delete(args)
    if getattr(args, "conversation", None) is not None or getattr(args, "all", False):
        raise UsageError("an ID or --all only goes with delete", "openclaw-local history delete ID")
    store = open_store(args)
    if args.search:
        hits = store.search_messages(args.search)
        if args.json:
            print(json.dumps([{"conversation_id": m.conversation_id, "message_id": m.id, "role": m.role, "content": m.shown_text, "created_at": m.created_at} for m in hits], indent=2))
        else:
            for m in hits:
                snippet = " ".join(m.shown_text.split())[:100]
                print(f"#{m.conversation_id:<5} {m.created_at[:16]}  {m.role:<9} {snippet}")
            if not hits:
                print("no messages match", file=sys.stderr)
        return 0
    convs = store.list_conversations()
    if args.json:
        print(json.dumps([conversation_record(store, c.id) for c in convs], indent=2))
    else:
        for c in convs:
            n = len(store.messages(c.id))
            via = f"  [{c.source}]" if c.source else ""  # came in through the endpoint, from this client
            print(f"#{c.id:<5} {c.updated_at[:16]}  {n:>3} msgs  {c.title}{via}")
        if not convs:
            print("no conversations yet", file=sys.stderr)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from openclaw_local.services.forget import forget, forget_all

    if args.all == (args.conversation is not None):
        raise UsageError("say which conversation to delete", "openclaw-local history delete ID, or history delete --all")
    store = open_store(args)
    report = forget_all(store) if args.all else forget(store, [args.conversation])
    if args.json:
        print(json.dumps({"deleted": report.conversation_ids, "learned_by": report.learned_by,
                          "checkpointed": report.checkpointed}))
    else:
        print(report.sentence())
    return 0


def conversation_record(store: Store, conversation_id: int) -> dict:
    """One conversation as OpenAI-style messages, with ratings and corrections attached."""
    conv = store.get_conversation(conversation_id)
    messages = [{"role": "system", "content": conv.system_prompt}] if conv.system_prompt else []
    for m in store.messages(conversation_id):
        entry: dict = {"role": m.role, "content": m.content}
        entry.update({k: v for k, v in m.tool_info.items() if k in ("tool_calls", "tool_call_id", "name")})
        if m.role == "assistant":
            if m.thinking:
                entry["reasoning_content"] = m.thinking
            entry["metadata"] = {
                "message_id": m.id,
                "model": m.model,
                "adapter_version": m.adapter_version,
                "interrupted": m.interrupted,
                "rating": m.rating,
                "correction": m.correction,
                "created_at": m.created_at,
            }
            if m.versions > 1:  # regenerated: the replaced versions, marked superseded, with their own ratings
                entry["metadata"]["version"] = f"{m.version}/{m.versions}"
                entry["metadata"]["other_versions"] = [
                    {"message_id": o.id, "content": o.content, "rating": o.rating, "correction": o.correction,
                     "superseded": True}
                    for o in store.reply_versions(m.id) if o.id != m.id
                ]
        messages.append(entry)
    record = {"id": conv.id, "title": conv.title, "created_at": conv.created_at, "messages": messages}
    if conv.source:
        record["source"] = conv.source  # the API client it came from (absent: the terminal chat)
    return record


def run_export(args: argparse.Namespace) -> int:
    store = open_store(args)
    lines = [json.dumps(conversation_record(store, c.id), ensure_ascii=False) for c in reversed(store.list_conversations(limit=10**9))]
    text = "".join(line + "\n" for line in lines)
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    from openclaw_local.paths import write_output

    out = write_output(args.out, text.encode("utf-8"))  # checked, atomic; refused: exit 4
    print(f"exported {len(lines)} conversation(s) to {out}", file=sys.stderr)
    return 0
