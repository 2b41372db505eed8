"""The Textual UI driven by Pilot, on the real embedded model and a real SQLite store."""

from __future__ import annotations

import threading
import time

import pytest

from openclaw_local.config import Settings
from openclaw_local.engine import Engine
from openclaw_local.paths import embedded_model_path
from openclaw_local.services.chat import ChatService
from openclaw_local.store import Store
from openclaw_local.ui import OpenClawApp, build_app
from openclaw_local.ui.help_screen import HelpScreen
from openclaw_local.ui.keys import KEY_NAMES
from openclaw_local.ui.widgets import ChatInput, ChatView, CorrectionEditor, MessageView

SIZE = (120, 40)


@pytest.fixture(scope="module")
def engine():
    # One llama.cpp thread: on a small shared machine (2 cores, the Textual loop in the
    # same process, other test runs beside it) llama.cpp's spinning thread pool with
    # threads=2 can stall for tens of seconds per prompt; one thread never does.
    from openclaw_local.config import Settings
    from openclaw_local.engine.selftest import plan_for

    plan = plan_for(None, Settings(threads=1), embedded_model_path(), n_gpu_layers=0)  # as the product loads it here
    eng = Engine(embedded_model_path(), n_ctx=1024, threads=1, plan=plan)
    yield eng
    eng.close()


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


@pytest.fixture
def make_app(store, engine):
    def make(max_tokens: int = 24, **kwargs) -> OpenClawApp:
        chat = ChatService(store, engine, Settings(max_tokens=max_tokens, n_ctx=1024, temperature=0.0))
        return build_app(chat, engine.model_name, **kwargs)

    return make


async def wait_for(pilot, condition, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")


async def wait_reply(pilot, app: OpenClawApp, n_replies: int, timeout: float = 120.0) -> MessageView:
    """Wait until the chat shows n finished replies and no worker is running."""

    def done() -> bool:
        replies = app.chat_view.replies
        return not app.streaming and len(replies) >= n_replies and not replies[-1].streaming

    await wait_for(pilot, done, timeout, f"{n_replies} finished replies")
    await pilot.pause()
    return app.chat_view.replies[-1]


async def send(pilot, app: OpenClawApp, text: str) -> None:
    app.chat_input.focus()
    app.chat_input.load_text(text)
    await pilot.press("enter")


def rows(store: Store, sql: str, params=()) -> list[dict]:
    return list(store.db.query(sql, params))


async def test_send_streams_reply_to_screen_and_sqlite(make_app, store, monkeypatch):
    app = make_app()
    deltas: list[str] = []
    original = ChatView.update_stream

    def spy(self, message_id, reply, thinking):
        deltas.append(reply)
        original(self, message_id, reply, thinking)

    monkeypatch.setattr(ChatView, "update_stream", spy)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, app, "Hello! What is your name?")
        view = await wait_reply(pilot, app, 1)

        msgs = rows(store, "select * from messages order by id")
        assert [m["role"] for m in msgs] == ["user", "assistant"]
        assert msgs[0]["content"] == "Hello! What is your name?"
        reply = msgs[1]
        assert reply["content"].strip() and reply["interrupted"] == 0 and reply["n_tokens"] > 0
        # screen: the user's message and the reply as stored, rendered as Markdown
        views = app.chat_view.views
        assert views[0].body_text == "Hello! What is your name?"
        assert view.message.id == reply["id"]
        assert view.body_text == reply["content"]
        assert "interrupted" not in view.header_text()
        assert deltas and reply["content"].startswith(deltas[0][:1])  # streamed live, then finished
        assert app.chat_input.text == ""
        # the sidebar is titled from the first message; the status bar shows speed and model
        assert app.sidebar.titles == ["Hello! What is your name?"]
        status = app.status_bar.plain_text()
        assert app.chat.engine.model_name.removesuffix(".gguf") in status and "adapter: none" in status and "tok/s" in status
        assert "— tok/s" not in status

        # a service thread can post a judgment for a reply
        t = threading.Thread(target=app.post_judgment, args=(reply["id"], "✓", "answers the question"))
        t.start()
        t.join()
        await wait_for(pilot, lambda: "judge ✓" in view.header_text(), 5, "judgment mark")


async def test_empty_message_is_ignored(make_app, store):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await send(pilot, app, "   \n  ")
        await pilot.pause(0.3)
        assert not app.streaming
        assert app.chat_view.views == []
        assert app.chat_input.text == "   \n  "  # kept, not sent
        assert rows(store, "select count(*) n from messages")[0]["n"] == 0
        # ctrl+j inserts a newline instead of sending
        app.chat_input.load_text("line one")
        app.chat_input.move_cursor(app.chat_input.document.end)
        await pilot.press("ctrl+j", "x")
        assert app.chat_input.text == "line one\nx"
        assert rows(store, "select count(*) n from messages")[0]["n"] == 0


async def test_rate_toggles_mark_and_writes_feedback(make_app, store):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, app, "Say hi")
        view = await wait_reply(pilot, app, 1)
        await pilot.press("escape")  # message box -> reply mode (the chat pane)
        assert isinstance(app.focused, ChatView)
        assert view.has_class("-selected")

        await pilot.press("+")
        assert "👍" in view.header_text()
        assert app.focused is app.chat_input  # reply mode lasts one command
        await pilot.press("escape", "+")  # same again: cleared
        assert "👍" not in view.header_text()
        await pilot.press("escape", "-")
        assert "👎" in view.header_text() and "👍" not in view.header_text()

        fb = rows(store, "select * from feedback order by id")
        assert [(f["message_id"], f["kind"], f["value"]) for f in fb] == [
            (view.message.id, "rating", 1),
            (view.message.id, "rating", 0),
            (view.message.id, "rating", -1),
        ]
        assert app.chat.messages(app.conversation_id)[-1].rating == -1


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
async def test_correct_reply_inline(make_app, store):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, app, "What is the capital of France?")
        view = await wait_reply(pilot, app, 1)
        original = view.body_text
        app.chat_view.focus()
        await pilot.press("e")
        editor = app.query_one(CorrectionEditor)
        assert app.focused is editor and editor.text == original
        editor.clear()
        await pilot.press(*"Paris.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not app.query(CorrectionEditor), 5, "editor to close")

        assert view.body_text == "Paris."
        assert view.original_text == original
        assert "corrected" in view.header_text()
        assert app.focused is app.chat_input  # saved: typing goes to the message box again
        fb = rows(store, "select * from feedback")
        assert len(fb) == 1
        assert (fb[0]["message_id"], fb[0]["kind"], fb[0]["text"], fb[0]["original"]) == (
            view.message.id, "correction", "Paris.", original,
        )
        stored = rows(store, "select content from messages where id = ?", [view.message.id])[0]
        assert stored["content"] == original  # the original reply is kept

        # esc in the editor cancels without writing
        await pilot.press("escape", "e")
        assert app.query_one(CorrectionEditor).text == "Paris."
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.query(CorrectionEditor), 5, "editor to close")
        assert len(rows(store, "select * from feedback")) == 1
        assert view.body_text == "Paris."


async def test_regenerate_supersedes_old_reply(make_app, store):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, app, "Tell me a fact.")
        old = await wait_reply(pilot, app, 1)
        old_id = old.message.id
        app.chat_view.focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: app.chat_view.view_for(old_id) is None, 5, "old reply to go")
        new = await wait_reply(pilot, app, 1)

        assert new.message.id != old_id
        assert len(app.chat_view.replies) == 1 and len(app.chat_view.views) == 2
        assert new.body_text == rows(store, "select content from messages where id = ?", [new.message.id])[0]["content"]
        db = {r["id"]: r for r in rows(store, "select * from messages where role = 'assistant'")}
        assert db[old_id]["superseded"] == 1
        assert db[new.message.id]["superseded"] == 0 and db[new.message.id]["interrupted"] == 0
        assert [m.id for m in app.chat.messages(app.conversation_id) if m.role == "assistant"] == [new.message.id]


async def test_ctrl_n_new_conversation(make_app, store):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        first = app.conversation_id
        await pilot.press("ctrl+n")  # the open chat is empty: no second empty chat
        assert app.conversation_id == first
        assert rows(store, "select count(*) n from conversations")[0]["n"] == 1

        await send(pilot, app, "Remember the word apple.")
        await wait_reply(pilot, app, 1)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.conversation_id != first, 5, "new conversation")

        convs = rows(store, "select * from conversations order by id")
        assert [c["id"] for c in convs] == [first, app.conversation_id]
        assert rows(store, "select count(*) n from messages where conversation_id = ?", [app.conversation_id])[0]["n"] == 0
        assert app.chat_view.views == []
        assert app.sidebar.titles == ["New chat", "Remember the word apple."]
        assert app.sidebar.current_id == app.conversation_id
        assert isinstance(app.focused, ChatInput)


async def test_search_filters_sidebar_and_opens_match(make_app, store):
    # two older chats written directly; startup opens the newest
    for text, reply in [("I like bananas", "Bananas are great."), ("Plan a trip to Rome", "Visit the Colosseum.")]:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", text)
        store.add_message(conv.id, "assistant", reply)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.sidebar.titles == ["Plan a trip to Rome", "I like bananas"]
        assert app.chat_view.views[-1].body_text == "Visit the Colosseum."

        await pilot.press("ctrl+f")
        assert app.focused is app.sidebar.search
        await pilot.press(*"banana")
        await wait_for(pilot, lambda: app.sidebar.titles == ["I like bananas"], 5, "filtered sidebar")
        assert [c.title for c in app.chat.conversations(search="banana")] == ["I like bananas"]
        await pilot.press("enter")  # opens the first match
        await wait_for(pilot, lambda: app.chat_view.views and app.chat_view.views[-1].body_text == "Bananas are great.", 5, "match")
        bananas = rows(store, "select id from conversations where title = 'I like bananas'")[0]["id"]
        assert app.conversation_id == bananas

        # "/" from the chat pane focuses search; clearing it shows everything again
        app.chat_view.focus()
        await pilot.press("/")
        assert app.focused is app.sidebar.search
        app.sidebar.search.value = ""
        await wait_for(pilot, lambda: len(app.sidebar.titles) == 2, 5, "unfiltered sidebar")
        await pilot.press("escape")  # back to the message box
        assert isinstance(app.focused, ChatInput)


async def test_escape_mid_reply_keeps_partial_marked_interrupted(make_app, store):
    app = make_app(max_tokens=400)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, app, "Write a very long story about a dragon who learns to cook.")
        await wait_for(
            pilot,
            lambda: app.chat_view.replies and app.chat_view.replies[-1].body_text.strip(),
            30,
            "the reply to start",
        )
        assert app.streaming and "streaming" in app.chat_view.replies[-1].header_text()
        await pilot.press("escape")
        view = await wait_reply(pilot, app, 1)

        assert "interrupted" in view.header_text()
        reply = rows(store, "select * from messages where role = 'assistant'")
        assert len(reply) == 1
        assert reply[0]["interrupted"] == 1
        assert reply[0]["content"].strip() and reply[0]["n_tokens"] < 400
        assert view.body_text == reply[0]["content"]


async def test_ctrl_c_stops_reply(make_app, store):
    app = make_app(max_tokens=400)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, app, "Write a very long story about a dragon who learns to cook.")
        await wait_for(pilot, lambda: app.chat_view.replies, 120, "the reply to start")
        await pilot.press("ctrl+c")
        view = await wait_reply(pilot, app, 1)
        assert "interrupted" in view.header_text()
        assert rows(store, "select interrupted from messages where role = 'assistant'")[0]["interrupted"] == 1
        assert app.is_running  # ctrl+c never quits


async def test_help_screen_and_status_provider(make_app, store):
    state = {"waiting": 3, "judging": True, "step": "3/8", "loss": 0.4213, "reward": 0.5, "adapter": "v3"}
    app = make_app(status_provider=lambda: dict(state))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = app.status_bar.plain_text(width=200)  # 120 columns shortens it (tests/test_ui_status.py)
        for piece in ("adapter: v3", "3 waiting", "judging", "step 3/8", "loss 0.421", "reward 0.5"):
            assert piece in status
        state.pop("adapter")
        state["judging"] = False
        await wait_for(pilot, lambda: "adapter: none" in app.status_bar.plain_text(), 3, "status poll")
        assert "judging" not in app.status_bar.plain_text()
        # A pushed update wins until the provider speaks for that key again, so the
        # provider stops reporting the step first (otherwise the next poll restores 3/8).
        state.pop("step")
        await wait_for(pilot, lambda: "step 3/8" not in app.status_bar.plain_text(), 3, "step dropped")
        app.post_learning_update(step="4/8")
        await wait_for(pilot, lambda: "step 4/8" in app.status_bar.plain_text(), 3, "learning update")
        await pilot.pause(0.6)  # a poll after the push leaves it alone
        assert "step 4/8" in app.status_bar.plain_text()

        await pilot.press("?")  # typed into the message box, not help
        assert app.chat_input.text == "?" and not isinstance(app.screen, HelpScreen)
        app.chat_input.clear()
        app.chat_view.focus()
        await pilot.press("?")
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(str(app.screen.query_one("#help").content).split())  # descriptions wrap
        for cls in (OpenClawApp, ChatInput, ChatView, CorrectionEditor):  # generated from the bindings
            for binding in cls.BINDINGS:
                for key in binding.key.split(","):
                    assert KEY_NAMES.get(key, key) in shown
                assert " ".join((binding.tooltip or binding.description).split()) in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        # nothing was written beyond the startup conversation
        assert rows(store, "select count(*) n from conversations")[0]["n"] == 1
        assert rows(store, "select count(*) n from messages")[0]["n"] == 0


async def test_thinking_is_collapsible_and_dim(make_app, store):
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "Is 7 prime?")
    store.add_message(conv.id, "assistant", "Yes, 7 is prime.", thinking="7 has no divisors but 1 and itself.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.chat_view.replies[-1]
        assert view.thinking_shown == "7 has no divisors but 1 and itself."
        assert view.body_text == "Yes, 7 is prime."
        box = view.query_one(".thinking-box")
        assert box.collapsed and "thinking" in str(box.title)
        app.chat_view.focus()
        await pilot.press("t")
        assert not box.collapsed
        await pilot.press("escape", "t")  # t was reply mode's one command; esc returns to it
        assert box.collapsed
        assert rows(store, "select thinking from messages where role = 'assistant'")[0]["thinking"].startswith("7 has")


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
async def test_context_cut_notice_is_shown(make_app, store):
    app = make_app()
    notices: list[str] = []
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        original = app.notify

        def spy(message, *args, **kwargs):
            notices.append(str(message))
            return original(message, *args, **kwargs)

        app.notify = spy
        await send(pilot, app, "Summarise this. " + "The quick brown fox jumps over the lazy dog. " * 200)
        view = await wait_reply(pilot, app, 1)
        shown = [str(w.content) for w in app.chat_view.query(".notice")]
        assert shown and "cut" in shown[0] and "context window" in shown[0]
        assert any("cut" in n for n in notices)
        reply = rows(store, "select * from messages where role = 'assistant'")[0]
        assert reply["interrupted"] == 0 and view.body_text == reply["content"]


async def test_generation_error_is_shown_and_app_keeps_running(make_app, store, monkeypatch):
    def boom(self, conversation_id, emit, cancel):
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(ChatService, "_reply", boom)
    app = make_app()
    notices: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        original = app.notify
        app.notify = lambda message, *a, **k: (notices.append(str(message)), original(message, *a, **k))[1]
        await send(pilot, app, "Hello?")
        await wait_for(pilot, lambda: any("fell over" in n for n in notices) and not app.streaming, 10, "error")
        assert app.is_running
        assert [v.body_text for v in app.chat_view.views] == ["Hello?"]
        assert [(r["role"], r["content"]) for r in rows(store, "select * from messages")] == [("user", "Hello?")]


async def test_learn_now_key_and_stored_judgments(make_app, store):
    from openclaw_local.store.samples import SampleStore

    conv = store.create_conversation(system_prompt="sys")
    store.add_message(conv.id, "user", "Say something nice.")
    reply = store.add_message(conv.id, "assistant", "You are great.")
    store.rate(reply.id, 1)
    SampleStore(store).record_next_state(reply.id)  # an explicit rating: judged +1 at once
    asked = []
    app = make_app(on_learn_now=lambda: asked.append(True), open_conversation=conv.id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.chat_view.view_for(reply.id)
        assert view.judgment == "✓"
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert asked == [True]
