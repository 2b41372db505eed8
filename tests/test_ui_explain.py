"""The judge's marks explained in place: words next to ✓/✗, a legend, and i for the full story."""

from __future__ import annotations

import json

import pytest

from openclaw_local.services.reply_detail import explain_reply
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore
from openclaw_local.ui.reply_detail_screen import ReplyDetailScreen
from tests.ui_helpers import make_fake_app, wait_for

SIZE = (120, 36)


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def judged_chat(store: Store):
    """A reply served by adapter v2, pushed back on in the next message, judged ✗ by 2 of 3 votes, trained into v3."""
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "Give me a pasta recipe.")
    reply = store.add_message(conv.id, "assistant", "Boil pasta. Add sauce.", adapter_version=2, model="m.gguf")
    store.add_message(conv.id, "user", "No, I wanted it without tomatoes.")
    samples = SampleStore(store)
    samples.record_next_state(reply.id)
    votes = [{"raw": "-1", "vote": -1}, {"raw": "-1", "vote": -1}, {"raw": "1", "vote": 1}]
    assert samples.record_judgement(reply.id, next_state="No, I wanted it without tomatoes.", judge_reward=-1, votes=votes,
                                    hint="Leave out tomatoes.", hint_votes=[], mode="generate")
    return conv.id, reply.id


def test_explain_reply_says_what_the_judge_read_and_whether_it_was_used(store):
    _, rid = judged_chat(store)
    text = "\n".join(explain_reply(store, rid))
    assert "adapter v2" in text
    assert "without tomatoes" in text  # what it read
    assert "pushed back" in text and "2 of 3 votes agree" in text
    assert "Leave out tomatoes." in text
    assert "Not used in an update yet" in text
    store.db["adapter_versions"].insert({"id": 3, "created_at": "2026-01-02T03:04:00", "path": "/x", "status": "active",
                                         "sample_ids": json.dumps([rid]), "gate": "{}"})
    # what the learner's publish does to its samples (the version row above has a fixed date)
    store.db.execute("update samples set status = 'trained', trained_version = 3 where message_id = ?", [rid])
    text = "\n".join(explain_reply(store, rid))
    assert "adapter v3 learned from it on 2026-01-02 03:04 (now active)" in text
    assert AdapterStore(store).get(3).status == "active"


def test_unjudged_and_corrected_replies(store):
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "hi")
    r = store.add_message(conv.id, "assistant", "Hello.")
    assert "Not judged yet" in "\n".join(explain_reply(store, r.id))
    store.correct(r.id, "Hi! How can I help?")
    SampleStore(store).record_next_state(r.id)
    text = "\n".join(explain_reply(store, r.id))
    assert "You corrected it" in text and "your correction" in text and "base model" in text


async def test_marks_in_words_legend_and_i_opens_the_detail(store):
    cid, rid = judged_chat(store)
    app = make_fake_app(store, open_conversation=cid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.chat_view.view_for(rid)
        assert "judge ✗ pushed back" in view.header_text()
        assert "✓ accepted" in str(app.chat_view.border_subtitle)
        await pilot.press("escape", "i")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyDetailScreen), 3, "detail screen")
        assert "2 of 3 votes agree" in app.screen.text
        await pilot.press("escape")
        assert not isinstance(app.screen, ReplyDetailScreen) and app.focused is app.chat_input


async def test_correction_is_not_repeated_as_a_judge_hint(store):
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "capital?")
    r = store.add_message(conv.id, "assistant", "Lyon")
    store.correct(r.id, "Paris")
    SampleStore(store).record_next_state(r.id)
    app = make_fake_app(store, open_conversation=conv.id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.chat_view.view_for(r.id)
        assert "judge ✗" in view.header_text()
        assert not view.query_one(".hint").has_class("-shown")
