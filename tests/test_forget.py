"""Delete and forget: the text leaves the database file and its WAL; adapters that learned are named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_local.services.forget import forget
from openclaw_local.store import Store
from openclaw_local.store.db import DB_FILE
from openclaw_local.store.samples import SampleStore

SECRET = "Zanzibar-quokka-7731 is my bank PIN"
REPLY_SECRET = "Noted the quokka PIN Zanzibar"


def raw_bytes(home: Path) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    out = b""
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{home / DB_FILE}{suffix}")
        if p.exists():
            out += p.read_bytes()
    return out


def make_history(store: Store) -> tuple[int, int]:
    """A secret chat (rated, corrected, judged, trained into v3) and a chat to keep."""
    secret = store.create_conversation()
    store.add_message(secret.id, "user", SECRET)
    reply = store.add_message(secret.id, "assistant", "")
    for i in range(5):  # streamed: the reply row is rewritten as it grows
        store.update_message(reply.id, content=REPLY_SECRET[: 6 * (i + 1)])
    store.update_message(reply.id, content=REPLY_SECRET + " " + "x" * 3000)  # long: overflow pages
    store.rate(reply.id, -1)
    store.correct(reply.id, "I will not store PINs (Zanzibar).")
    store.add_message(secret.id, "user", "quokka again")
    SampleStore(store).record_next_state(reply.id)
    store.db["adapter_versions"].insert({"id": 3, "created_at": "2026-01-01T00:00:00", "path": "/x", "status": "active",
                                         "sample_ids": json.dumps([reply.id]), "gate": "{}"})
    # what the learner's publish does to its samples (the version row above has a fixed date)
    store.db.execute("update samples set status = 'trained', trained_version = 3 where message_id = ?", [reply.id])
    keep = store.create_conversation()
    store.add_message(keep.id, "user", "Keep this one about tulips")
    store.add_message(keep.id, "assistant", "Tulips it is.")
    return secret.id, keep.id


def test_deleted_chat_leaves_no_trace_in_db_or_wal(tmp_path):
    store = Store.open(tmp_path)
    secret, keep = make_history(store)
    assert b"Zanzibar" in raw_bytes(tmp_path)  # the search below can find it
    report = forget(store, [secret])
    assert report.learned_by == [3] and report.checkpointed
    assert "v3 learned from this chat" in report.sentence()
    data = raw_bytes(tmp_path)
    for needle in (b"Zanzibar", b"quokka", b"bank PIN", b"Noted the"):
        assert needle not in data, needle
    assert b"tulips" in data  # the other chat is untouched
    assert [c.id for c in store.list_conversations()] == [keep]
    assert store.list_conversations(search="quokka") == []
    assert store.db.execute("select count(*) from messages where conversation_id = ?", [secret]).fetchone()[0] == 0
    for table in ("feedback", "samples"):  # nothing left about messages that are gone
        orphans = store.db.execute(f"select count(*) from {table} where message_id not in (select id from messages)")
        assert orphans.fetchone()[0] == 0, table
    store.close()


def test_missing_conversation_is_not_found(tmp_path):
    from openclaw_local.errors import NotFoundError

    store = Store.open(tmp_path)
    with pytest.raises(NotFoundError) as err:
        forget(store, [42])
    assert err.value.exit_code == 8
    store.close()


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "OPENCLAW_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "openclaw_local", "history", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_cli_history_delete(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    store = Store.open(home)
    secret, keep = make_history(store)
    store.close()
    missing = cli(home, "delete", "999")
    assert missing.returncode == 8 and missing.stderr.startswith("error: there is no conversation #999")
    assert "Traceback" not in missing.stderr
    assert cli(home, "delete").returncode == 2
    out = cli(home, "delete", str(secret))
    assert out.returncode == 0, out.stderr
    assert "Deleted 1 chat" in out.stdout and "v3 learned from this chat" in out.stdout
    assert b"Zanzibar" not in raw_bytes(home)
    out = cli(home, "delete", "--all", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["deleted"] == [keep]
    assert b"tulips" not in raw_bytes(home).lower()
    assert "no conversations yet" in cli(home).stderr


async def test_tui_delete_asks_names_learned_versions_and_erases(tmp_path):
    from openclaw_local.ui.confirm_screen import ConfirmScreen
    from tests.ui_helpers import make_fake_app, wait_for

    store = Store.open(tmp_path)
    secret, keep = make_history(store)
    app = make_fake_app(store, open_conversation=secret)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("escape", "delete")  # reply mode: del asks first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 3, "confirmation")
        assert "v3 learned from this chat" in app.screen.question
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert store.get_conversation(secret)  # kept
        assert app.focused is app.chat_input  # a reply-mode command ends back in the message box
        # from the sidebar this time (box -> chat -> sidebar), and yes
        await pilot.press("tab", "tab")
        assert app.focused is app.sidebar.list_view
        app.sidebar.list_view.index = app.sidebar.titles.index(store.get_conversation(secret).title)
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 3, "confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.conversation_id == keep, 5, "the kept chat opened")
        assert [c.id for c in store.list_conversations()] == [keep]
        assert app.sidebar.titles == ["Keep this one about tulips"]
        assert app.focused is app.chat_input
    assert b"Zanzibar" not in raw_bytes(tmp_path)
    store.close()
