"""The focus model: typing goes to the message box, reply mode acts on replies, tab order,
help on F1 / ? and the generated key documentation. Fake engine, real SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_local.store import Store
from openclaw_local.ui.app import OpenClawApp
from openclaw_local.ui.help_screen import HelpScreen
from openclaw_local.ui.app import key_places
from openclaw_local.ui.keys import KEY_NAMES, bound_keys, help_text, readme_block, readme_table, sections
from openclaw_local.ui.widgets import ChatInput, ChatView, ConversationSidebar, CorrectionEditor
from tests.ui_helpers import make_fake_app, seed_chat, wait_for, wait_idle

SIZE = (120, 36)
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def feedback(store: Store) -> list[tuple]:
    return [(r["message_id"], r["kind"], r["value"]) for r in store.db.query("select * from feedback order by id")]


async def test_typing_goes_to_message_box_and_commands_do_not(store):
    seed_chat(store, [("hi", "Hello there."), ("and?", "Second reply.")])
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is app.chat_input
        await pilot.press(*"e+r-?")  # command keys typed in the box are text
        assert app.chat_input.text == "e+r-?"
        assert not isinstance(app.screen, HelpScreen) and feedback(store) == []
        assert not app.query(CorrectionEditor)


async def test_reply_mode_rates_the_selected_reply_and_typing_leaves_it(store):
    seed_chat(store, [("hi", "Hello there."), ("and?", "Second reply.")])
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first, last = app.chat_view.replies
        await pilot.press("up")  # first line of an empty box: reply mode
        assert app.focused is app.chat_view and "REPLY MODE" in str(app.chat_view.border_title)
        assert last.has_class("-selected")
        await pilot.press("up", "plus")
        assert first.has_class("-selected") and "👍" in first.header_text()
        assert feedback(store) == [(first.message.id, "rating", 1)]
        # a letter that is no command goes back to the box, and is typed there
        await pilot.press("h", "i")
        assert app.focused is app.chat_input and app.chat_input.text == "hi"
        assert "REPLY MODE" not in str(app.chat_view.border_title)
        # ↑ in a multi-line box moves the cursor first; only the first line leaves
        app.chat_input.load_text("one\ntwo")
        app.chat_input.move_cursor((1, 1))
        await pilot.press("up")
        assert app.focused is app.chat_input and app.chat_input.cursor_location[0] == 0
        await pilot.press("up")
        assert app.focused is app.chat_view
        await pilot.press("enter")  # enter: back to typing, nothing sent
        assert app.focused is app.chat_input and app.chat_input.text == "one\ntwo"


async def test_escape_toggles_reply_mode_and_correct_from_it(store):
    seed_chat(store, [("capital of France?", "Lyon.")])
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        assert app.focused is app.chat_view
        await pilot.press("escape")
        assert app.focused is app.chat_input
        await pilot.press("escape", "e")
        editor = app.query_one(CorrectionEditor)
        assert app.focused is editor
        editor.clear()
        await pilot.press(*"Paris.", "ctrl+s")
        await wait_for(pilot, lambda: not app.query(CorrectionEditor), 5, "editor to close")
        assert app.chat_view.replies[0].body_text == "Paris."
        assert [k for _, k, _ in feedback(store)] == ["correction"]


async def test_send_then_regenerate_from_reply_mode(store):
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hello", "enter")
        view = await wait_idle(pilot, app, 1)
        assert view.body_text == "Reply number 1: a short answer."
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.chat_view.replies and "number 2" in app.chat_view.replies[-1].body_text, 5, "regenerated")


async def test_tab_cycles_box_chat_sidebar(store):
    seed_chat(store, [("hi", "Hello there.")])
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        order = []
        for _ in range(3):
            await pilot.press("tab")
            order.append(app.focused)
        assert order == [app.chat_view, app.sidebar.list_view, app.chat_input]
        await pilot.press("shift+tab")
        assert app.focused is app.sidebar.list_view
        # typing in the sidebar list goes to the message box too
        await pilot.press("x")
        assert app.focused is app.chat_input and app.chat_input.text == "x"


async def test_help_on_f1_and_question_mark_when_not_typing(store):
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(str(app.screen.query_one("#help").content).split())  # descriptions wrap
        await pilot.press("f1")  # F1 again closes it
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1", "escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "question_mark")  # reply mode: ? is help
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)

    # the help lists every key every place binds, with its description
    for where, cls in [("Anywhere", OpenClawApp), ("Message box", ChatInput), ("Reply mode", ChatView),
                       ("Correction editor", CorrectionEditor), ("Sidebar", ConversationSidebar)]:
        assert where in shown
        for binding in cls.BINDINGS:
            for key in binding.key.split(","):
                assert KEY_NAMES.get(key, key) in shown, (cls.__name__, key)
            assert " ".join((binding.tooltip or binding.description).split()) in shown
    assert bound_keys(OpenClawApp) >= {"f1", "question_mark", "ctrl+n", "ctrl+f", "slash", "escape", "tab", "ctrl+q"}
    assert help_text(key_places()) == help_text(key_places())  # deterministic


async def test_footer_shows_keys_for_what_has_focus(store):
    from textual.widgets import Footer

    seed_chat(store, [("hi", "Hello there.")])
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = app.query_one(Footer)

        def shown() -> set[str]:
            return {b.binding.description for b in app.active_bindings.values() if b.binding.show}

        assert footer.display and {"Send", "Reply mode", "Help"} <= shown()
        await pilot.press("escape")
        await pilot.pause()
        assert {"👍", "Correct", "Regenerate", "Type"} <= shown() and "Send" not in shown()


def test_readme_key_table_is_generated_from_bindings():
    block = readme_block(README.read_text(encoding="utf-8"))
    assert block is not None, "README lost its generated keys block"
    assert block == readme_table(key_places()), "README keys are stale: run python -m openclaw_local.ui --readme README.md"
    for _, rows in sections(key_places()):
        for keys, _ in rows:
            assert f"`{keys}`" in block


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
async def test_more_key_paths(store):
    """shift+tab from the box, / from reply mode, ↓, o, ctrl+a and back, ctrl+n, ctrl+l without a learner."""
    from openclaw_local.ui.adapters_screen import AdaptersScreen
    from openclaw_local.config import Settings
    from openclaw_local.services.adapters import AdapterService

    conv = store.create_conversation()
    store.add_message(conv.id, "user", "capital?")
    r1 = store.add_message(conv.id, "assistant", "Lyon")
    store.correct(r1.id, "Paris")
    store.add_message(conv.id, "user", "and Spain?")
    store.add_message(conv.id, "assistant", "Madrid")
    app = make_fake_app(store, open_conversation=conv.id, adapter_service=AdapterService(store.path.parent, Settings(), store))
    notices: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        original = app.notify
        app.notify = lambda message, *a, **k: (notices.append(str(message)), original(message, *a, **k))[1]
        await pilot.pause()
        await pilot.press("shift+tab")
        assert app.focused is app.sidebar.list_view
        await pilot.press("escape")  # back home
        assert app.focused is app.chat_input
        await pilot.press("escape", "slash")
        assert app.focused is app.sidebar.search
        await pilot.press("escape", "escape", "up", "up", "o")
        first = app.chat_view.replies[0]
        assert first.has_class("-selected") and first.original_text == "Lyon"
        box = first.query_one(".original-box")
        assert not box.collapsed
        assert app.focused is app.chat_input  # o was reply mode's one command: typing is back in the box
        await pilot.press("escape", "down")  # esc returns to the selected reply, ↓ moves on
        assert app.chat_view.replies[1].has_class("-selected")
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, AdaptersScreen), 3, "adapters screen")
        await pilot.press("escape")
        assert not isinstance(app.screen, AdaptersScreen)
        await pilot.press("ctrl+l")
        assert any("Learning is off" in n for n in notices)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.conversation_id != conv.id, 3, "new chat")
        assert app.focused is app.chat_input and app.chat_view.replies == []


async def test_escape_stops_a_streaming_reply_and_keys_wait(store):
    from tests.fake_engine import FakeEngine

    app = make_fake_app(store, FakeEngine(["word " * 200], piece_delay_s=0.02))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: app.streaming and app.chat_view.replies, 5, "streaming")
        await pilot.press("escape")
        view = await wait_idle(pilot, app, 1)
        assert "interrupted" in view.header_text()
        assert store.get_message(view.message.id).interrupted
