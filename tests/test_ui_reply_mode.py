"""Reply mode never eats typed text, and j overrules the judge's verdict (Pilot, fake engine, real SQLite)."""

from __future__ import annotations

import pytest

from openclaw_local.services.reply_detail import explain_reply
from openclaw_local.store import Store
from openclaw_local.store.judge_labels import JudgeLabelStore
from openclaw_local.store.samples import SampleStore
from openclaw_local.ui.help_screen import HelpScreen
from openclaw_local.ui.overrule_screen import OverruleScreen
from openclaw_local.ui.reply_detail_screen import ReplyDetailScreen
from openclaw_local.ui.widgets import CorrectionEditor
from tests.ui_helpers import make_fake_app, seed_chat, wait_for

SIZE = (120, 36)


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def ratings(store: Store) -> list[tuple[int, int]]:
    return [(r["message_id"], r["value"]) for r in store.db.query("select * from feedback where kind = 'rating' order by id")]


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
async def test_a_sentence_typed_after_a_reply_command_is_text(store):
    seed_chat(store, [("hi", "Hello there."), ("and?", "Second reply.")])
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first, last = app.chat_view.replies
        await pilot.press("up")
        assert app.focused is app.chat_view
        assert app.chat_input.has_class("-away") and "REPLY MODE" in str(app.chat_input.border_title)
        await pilot.press("plus")  # one command ...
        assert ratings(store) == [(last.message.id, 1)]
        await pilot.press(*"every time I ask", "space", *"roughly")  # ... then e, r, i, t, o, - are text
        assert app.focused is app.chat_input and app.chat_input.text == "every time I ask roughly"
        assert not app.query(CorrectionEditor) and not app.streaming and ratings(store) == [(last.message.id, 1)]
        assert not app.chat_input.has_class("-away") and "REPLY MODE" not in str(app.chat_input.border_title)
        # navigating keeps reply mode; the one command then still acts on the picked reply
        app.chat_input.clear()
        await pilot.press("escape", "up", "minus", *"ok")
        assert ratings(store)[-1] == (first.message.id, -1) and app.chat_input.text == "ok"
        # a toggle is one command too
        app.chat_input.clear()
        await pilot.press("escape", "t", *"the")
        assert app.focused is app.chat_input and app.chat_input.text == "the"


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
async def test_after_correcting_or_reading_why_typing_goes_to_the_box(store):
    seed_chat(store, [("capital of France?", "Lyon.")])
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape", "e")
        editor = app.query_one(CorrectionEditor)
        editor.clear()
        await pilot.press(*"Paris.", "ctrl+s")
        await wait_for(pilot, lambda: not app.query(CorrectionEditor), 5, "editor to close")
        await pilot.press(*"every")
        assert app.chat_input.text == "every" and not app.query(CorrectionEditor)
        app.chat_input.clear()
        await pilot.press("escape", "e", "escape")  # cancelled
        await wait_for(pilot, lambda: not app.query(CorrectionEditor), 5, "editor to close")
        await pilot.press(*"right")
        assert app.focused is app.chat_input and app.chat_input.text == "right"
        app.chat_input.clear()
        await pilot.press("escape", "i")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyDetailScreen), 3, "detail screen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ReplyDetailScreen), 3, "detail closed")
        await pilot.press(*"indeed?")
        assert app.chat_input.text == "indeed?" and not isinstance(app.screen, (ReplyDetailScreen, HelpScreen))
        # a click inside the correction editor keeps typing there
        app.chat_input.clear()
        await pilot.press("escape", "e")
        editor = app.query_one(CorrectionEditor)
        await pilot.click(editor, offset=(3, 1))
        await pilot.pause()
        await pilot.press(*"xy")
        assert app.focused is editor and "xy" in editor.text and app.chat_input.text == ""
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.query(CorrectionEditor), 5, "editor to close")
        # deleting the chat is one command too: answering "no" returns to typing
        await pilot.press("escape", "delete")
        await wait_for(pilot, lambda: app.screen is not app.screen_stack[0], 3, "confirm screen")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0], 3, "confirm closed")
        await pilot.press(*"no")
        assert app.focused is app.chat_input and app.chat_input.text == "no"


async def test_clicking_a_reply_selects_it_and_typing_stays_in_the_box(store):
    seed_chat(store, [("hi", "Hello there."), ("and?", "Second reply.")])
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first, last = app.chat_view.replies
        assert last.has_class("-selected")
        await pilot.click(first)
        await pilot.pause()
        assert first.has_class("-selected") and not last.has_class("-selected")
        await wait_for(pilot, lambda: app.focused is app.chat_input, 3, "focus back in the box")
        await pilot.press(*"every")
        assert app.chat_input.text == "every" and not app.query(CorrectionEditor)
        # ↑ from the box then acts on the clicked reply
        app.chat_input.clear()
        await pilot.press("up", "plus")
        assert ratings(store) == [(first.message.id, 1)]


def judged(store: Store, reply_text: str, next_text: str, verdict: int) -> tuple[int, int]:
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "Recipe for pancakes?")
    reply = store.add_message(conv.id, "assistant", reply_text)
    store.add_message(conv.id, "user", next_text)
    samples = SampleStore(store)
    samples.record_next_state(reply.id)
    assert samples.record_judgement(reply.id, next_state=next_text, judge_reward=verdict, votes=[verdict] * 3,
                                    hint=None, hint_votes=[], mode="learned")
    return conv.id, reply.id


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
async def test_j_overrules_the_judge_and_the_mark_shows_it(store):
    cid, rid = judged(store, "Flour, eggs, milk.", "lol sure, whatever", 1)
    app = make_fake_app(store, open_conversation=cid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.chat_view.view_for(rid)
        assert "judge ✓ accepted" in view.header_text()
        await pilot.press("escape", "j")
        await wait_for(pilot, lambda: isinstance(app.screen, OverruleScreen), 3, "verdict picker")
        assert app.screen.judge == 1 and app.screen.current == 1
        await pilot.press("minus")
        await wait_for(pilot, lambda: not isinstance(app.screen, OverruleScreen), 3, "picker closed")
        row = SampleStore(store).get(rid)
        assert (row.reward, row.reward_source, row.status) == (-1, "overrule", "judged")
        assert JudgeLabelStore(store).get(rid)["label"] == -1
        assert "judge overruled: ✗ pushed back" in view.header_text()
        assert any("you overruled the judge" in line for line in explain_reply(store, rid))
        await pilot.press(*"ok")  # the picker was the one command: typing is text again
        assert app.focused is app.chat_input and app.chat_input.text == "ok"
        # again: the picker shows the user's verdict; "can't tell" keeps its mark after a reload
        app.chat_input.clear()
        await pilot.press("escape", "j")
        await wait_for(pilot, lambda: isinstance(app.screen, OverruleScreen), 3, "verdict picker")
        assert app.screen.current == -1
        await pilot.press("0")
        await wait_for(pilot, lambda: not isinstance(app.screen, OverruleScreen), 3, "picker closed")
        assert SampleStore(store).get(rid).status == "skipped"  # can't tell: not trained on
        await app.open_conversation(cid)
        assert "judge overruled: · unclear" in app.chat_view.view_for(rid).header_text()
        # esc in the picker keeps the verdict
        await pilot.press("escape", "j")
        await wait_for(pilot, lambda: isinstance(app.screen, OverruleScreen), 3, "verdict picker")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OverruleScreen), 3, "picker closed")
        assert SampleStore(store).get(rid).reward == 0 and app.focused is app.chat_input


async def test_j_refuses_where_there_is_no_verdict_to_overrule(store):
    cid, rid = judged(store, "Flour, eggs, milk.", "thanks!", 1)
    store.rate(rid, -1)
    SampleStore(store).record_next_state(rid)
    unjudged = seed_chat(store, [("hi", "Hello.")])
    app = make_fake_app(store, open_conversation=cid)
    notices: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        original = app.notify
        app.notify = lambda message, *a, **k: (notices.append(str(message)), original(message, *a, **k))[1]
        await pilot.pause()
        await pilot.press("escape", "j")
        await pilot.pause()
        assert not isinstance(app.screen, OverruleScreen) and "You rated this reply" in notices[-1]
        assert SampleStore(store).get(rid).reward_source == "rating"
        assert app.focused is app.chat_input
        await app.open_conversation(unjudged)
        await pilot.press("escape", "j")
        await pilot.pause()
        assert not isinstance(app.screen, OverruleScreen) and "has not read your next message" in notices[-1]


async def test_j_on_a_trained_reply_teaches_the_judge_only(store):
    cid, rid = judged(store, "Flour, eggs, milk.", "perfect, thanks", -1)
    store.db.execute("update samples set status = 'trained', trained_version = 1 where message_id = ?", [rid])
    app = make_fake_app(store, open_conversation=cid)
    notices: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        original = app.notify
        app.notify = lambda message, *a, **k: (notices.append(str(message)), original(message, *a, **k))[1]
        await pilot.pause()
        await pilot.press("escape", "j")
        await wait_for(pilot, lambda: isinstance(app.screen, OverruleScreen), 3, "verdict picker")
        assert "teaches the judge only" in str(app.screen.query_one("#question").render())
        await pilot.press("plus")
        await wait_for(pilot, lambda: not isinstance(app.screen, OverruleScreen), 3, "picker closed")
        row = SampleStore(store).get(rid)
        assert (row.status, row.reward, row.reward_source) == ("trained", -1, "judge")  # what trained stays
        assert JudgeLabelStore(store).get(rid)["label"] == 1  # the judge learns the user's reading
        assert "can no longer change" in notices[-1]
        assert "judge ✗ pushed back" in app.chat_view.view_for(rid).header_text()
