import os
import sqlite3
import stat
import threading

import pytest

from openclaw_local.errors import DatabaseError, DataDirError
from openclaw_local.store import SCHEMA_VERSION, Store
from openclaw_local.store.db import DB_FILE, InstanceLock
from openclaw_local.store.migrations import migrations
from sqlite_utils import Database


def test_fresh_database_is_private_wal_and_current(home):
    store = Store.open(home)
    assert store.schema_version() == SCHEMA_VERSION
    mode = stat.S_IMODE(os.stat(home / DB_FILE).st_mode)
    assert mode == 0o600
    assert store.conn.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_messages_feedback_and_titles(home):
    store = Store.open(home)
    conv = store.create_conversation(system_prompt="sys")
    assert conv.title == "New chat"
    store.add_message(conv.id, "user", "How do I bake bread at home without a mixer?")
    reply = store.add_message(conv.id, "assistant", "Knead by hand.", model="m.gguf", adapter_version=3, settings={"temperature": 0.5})
    assert store.get_conversation(conv.id).title == "How do I bake bread at home without a mixer?"
    store.rate(reply.id, -1)
    store.rate(reply.id, 1)
    store.correct(reply.id, "Knead by hand for ten minutes.")
    msg = store.get_message(reply.id)
    assert msg.rating == 1 and msg.correction == "Knead by hand for ten minutes."
    assert msg.content == "Knead by hand." and msg.shown_text == "Knead by hand for ten minutes."
    assert msg.adapter_version == 3 and msg.settings == {"temperature": 0.5}
    kinds = [(f.kind, f.value, f.original) for f in store.feedback(reply.id)]
    assert kinds == [("rating", -1, None), ("rating", 1, None), ("correction", None, "Knead by hand.")]


def test_full_text_search_and_conversation_order(home):
    store = Store.open(home)
    a = store.create_conversation()
    store.add_message(a.id, "user", "tell me about sourdough starters")
    b = store.create_conversation()
    store.add_message(b.id, "user", "plan a trip to Lisbon")
    assert [c.id for c in store.list_conversations()] == [b.id, a.id]
    assert [c.id for c in store.list_conversations(search="sourdough")] == [a.id]
    assert [m.content for m in store.search_messages("lisb")] == ["plan a trip to Lisbon"]
    # user text is never FTS syntax
    assert store.search_messages('"unbalanced AND (') == []


def test_superseded_messages_are_hidden_but_kept(home):
    store = Store.open(home)
    c = store.create_conversation()
    store.add_message(c.id, "user", "hi")
    old = store.add_message(c.id, "assistant", "hello")
    store.update_message(old.id, superseded=True)
    assert [m.role for m in store.messages(c.id)] == ["user"]
    assert len(store.messages(c.id, include_superseded=True)) == 2


@pytest.mark.parametrize("applied", range(1, SCHEMA_VERSION))
def test_upgrade_from_every_earlier_schema(home, applied):
    names = [m.name for m in migrations._migrations]
    db = Database(sqlite3.connect(home / DB_FILE))
    migrations.apply(db, stop_before=names[applied])
    assert len(migrations.applied(db)) == applied
    db["conversations"].insert({"id": 1, "title": "old chat", "created_at": "t", "updated_at": "t"})
    db["messages"].insert({"conversation_id": 1, "role": "user", "content": "kept across upgrades", "created_at": "t"})
    db.conn.close()
    store = Store.open(home)
    assert store.schema_version() == SCHEMA_VERSION
    assert store.list_conversations()[0].title == "old chat"
    assert store.search_messages("upgrades")[0].content == "kept across upgrades"


def test_newer_schema_is_refused_and_left_untouched(home):
    Store.open(home).close()
    db = Database(sqlite3.connect(home / DB_FILE))
    db["_sqlite_migrations"].insert({"migration_set": "openclaw", "name": "m999_from_the_future", "applied_at": "x"})
    db.conn.close()
    before = (home / DB_FILE).read_bytes()
    with pytest.raises(DatabaseError, match="newer openclaw-local"):
        Store.open(home)
    assert (home / DB_FILE).read_bytes() == before


def test_corrupt_database_gets_a_clear_error(home):
    (home / DB_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="corrupt"):
        Store.open(home)


def test_instance_lock_refuses_a_second_app(home):
    first = InstanceLock(home).acquire()
    with pytest.raises(DatabaseError, match="another openclaw-local"):
        InstanceLock(home).acquire()
    first.release()
    InstanceLock(home).acquire().release()


def test_database_locked_by_another_process(home, monkeypatch):
    monkeypatch.setattr("openclaw_local.store.db.BUSY_TIMEOUT_S", 0.2)  # the product waits longer
    Store.open(home).close()
    holder = sqlite3.connect(home / DB_FILE)
    holder.execute("begin exclusive")
    try:
        with pytest.raises(DatabaseError, match="locked"):
            store = Store.open(home)
            store.create_conversation()
    finally:
        holder.rollback()
        holder.close()


def test_a_write_that_reads_first_waits_for_another_process_instead_of_failing(home):
    """The chat reads then writes (``Table.update`` reads the row) while the learner commits: a
    deferred transaction's stale snapshot would fail at once with "database is locked"."""
    chat, learner = Store.open(home), Store.open(home)
    cid = chat.create_conversation().id
    stored = threading.Event()

    def learner_writes():
        learner.add_message(cid, "user", "from the learner's process")
        stored.set()

    other = threading.Thread(target=learner_writes)
    with chat._tx() as db:
        db.execute("select count(*) from messages").fetchall()  # the snapshot is taken here
        other.start()
        # the other write waits for this transaction's lock: it cannot have landed meanwhile
        assert not stored.wait(0.3)
        db.execute("update conversations set title = 'renamed' where id = ?", [cid])
    other.join(timeout=30)
    assert stored.is_set()
    assert chat.get_conversation(cid).title == "renamed"
    assert [m.content for m in chat.messages(cid)] == ["from the learner's process"]
    chat.close(), learner.close()


def test_nested_transactions_are_savepoints(home):
    store = Store.open(home)
    cid = store.create_conversation().id
    with store._tx():
        with pytest.raises(RuntimeError):
            with store._tx() as db:
                db.execute("update conversations set title = 'inner' where id = ?", [cid])
                raise RuntimeError("inner fails")
        store.add_message(cid, "user", "outer keeps going")
    assert store.get_conversation(cid).title != "inner"
    assert [m.content for m in store.messages(cid)] == ["outer keeps going"]
    store.close()


def test_unwritable_data_dir(tmp_path):
    from openclaw_local.paths import ensure_user_dir

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DataDirError, match="not writable"):
        ensure_user_dir(blocker / "data")
