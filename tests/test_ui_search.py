"""Search in the sidebar: snippets with the match, esc clears, nothing typed is dropped."""

from __future__ import annotations

import pytest

from openclaw_local.store import Store
from openclaw_local.ui.widgets.sidebar import ConversationItem, snippet_plain
from tests.ui_helpers import make_fake_app, seed_chat, wait_for

SIZE = (120, 36)


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    seed_chat(s, [("I like bananas", "Bananas are rich in potassium and great before a run.")])
    seed_chat(s, [("Plan a trip to Rome", "Visit the Colosseum early in the morning.")])
    seed_chat(s, [("What should I cook?", "Try a risotto with mushrooms.")])
    yield s
    s.close()


def snippets(app) -> list[str]:
    return [snippet_plain(i.snippet or "") for i in app.sidebar.list_view.query(ConversationItem)]


async def test_results_show_a_snippet_with_the_match(store):
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+f", *"potass")
        await wait_for(pilot, lambda: app.sidebar.titles == ["I like bananas"], 5, "filtered")
        assert "potassium" in snippets(app)[0]
        markup = str(app.sidebar.list_view.query_one(".snippet").content)
        assert "potassium" in markup and len(snippets(app)[0]) < 120
        assert app.sidebar.snippets and "\x01potassium\x02" in next(iter(app.sidebar.snippets.values()))


async def test_escape_clears_the_filter_and_returns_to_the_box(store):
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+f", *"rome")
        await wait_for(pilot, lambda: app.sidebar.titles == ["Plan a trip to Rome"], 5, "filtered")
        await pilot.press("escape")
        assert app.sidebar.search.value == ""
        assert len(app.sidebar.titles) == 3 and snippets(app) == ["", "", ""]
        assert app.focused is app.chat_input


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
async def test_no_input_dropped_after_clearing(store):
    app = make_fake_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+f", *"banana")
        await pilot.press(*["backspace"] * 6)
        await pilot.press(*"risot")  # typed at once, while the cleared list is being rebuilt
        assert app.sidebar.search.value == "risot"
        await wait_for(pilot, lambda: app.sidebar.titles == ["What should I cook?"], 5, "filtered after clearing")
        # and again through esc: clear, reopen, type straight away
        await pilot.press("escape", "ctrl+f", *"colos")
        assert app.sidebar.search.value == "colos"
        await wait_for(pilot, lambda: app.sidebar.titles == ["Plan a trip to Rome"], 5, "filtered after esc")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat_view.replies and "Colosseum" in app.chat_view.replies[-1].body_text, 5, "opened")
        assert app.focused is app.chat_input
