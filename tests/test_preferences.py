"""Standing preferences: extraction, standing vs one-off, deduplication, the token budget, safety,
and that the very next reply gets them (fake engine; one test on the real embedded model)."""

from __future__ import annotations

import pytest

from openclaw_local.config import Settings
from openclaw_local.learn import preference_text as pt
from openclaw_local.judge import make_judge
from openclaw_local.services.chat import ChatService, GenerationOptions
from openclaw_local.services.judging import JudgeWorker
from openclaw_local.services.preferences import PreferenceService
from openclaw_local.services.reply_detail import explain_reply
from openclaw_local.services.sessions import ClientTurn
from openclaw_local.store import Store
from openclaw_local.store.samples import SampleStore
from tests.fake_engine import FakeEngine

SETTINGS = Settings(max_tokens=24, temperature=0.0, seed=7, system_prompt="Be brief.")


@pytest.fixture
def store(home):
    s = Store.open(home)
    yield s
    s.close()


@pytest.fixture
def prefs(store):
    return PreferenceService(store, SETTINGS)


# ----------------------------------------------------------------- extraction
@pytest.mark.parametrize("message, expected", [
    ("from now on answer in French", "Answer in French."),
    ("Answer in French from now on, thanks", "Answer in French."),
    ("please always use metric units", "Use metric units."),
    ("never use emojis", "Never use emojis."),
    ("don't ever use emojis!", "Never use emojis."),
    ("stop using bullet points", "Don't use bullet points."),
    ("I prefer that you reply in German", "Reply in German."),
    ("In future, keep it brief", "Keep it brief."),
    ("thanks! from now on, no emojis please", "No emojis."),
    ("every time you answer, add a one-line summary", "Every time you answer, add a one-line summary."),
])
def test_standing_instructions_are_extracted_as_imperatives(message, expected):
    assert pt.standing_instructions(message) == [(expected, False)]


@pytest.mark.parametrize("message", [
    "never mind, just this time answer in French", "You never answered my question", "Thanks, always happy to help",
    "what is the capital of France?", "too long", "ok cool",
])
def test_no_standing_instruction_where_there_is_none(message):
    assert pt.standing_instructions(message) == []


def test_this_one_marks_a_request_as_one_off():
    assert pt.standing_instructions("always make this one shorter") == [("Make it shorter.", True)]


def test_one_off_requests_one_instruction_per_clause():
    assert pt.one_off_requests("hmm that's way too long, and please no numbered lists") == [
        "Make it shorter.", "No numbered lists."]
    assert pt.one_off_requests("can you make this one shorter?") == ["Make it shorter."]
    assert pt.one_off_requests("it's python 3 not 2") == []  # a fact about one reply, not a preference
    assert pt.one_off_requests("no, that's wrong") == []


def test_same_request_in_other_words():
    assert pt.same_request("Make it shorter.", "Be more concise.")
    assert pt.same_request("No numbered lists.", "Don't use numbered lists.")
    assert pt.same_request("Answer in French.", "Reply in French.")
    assert not pt.same_request("Use emojis.", "No emojis.")  # never across a negation
    assert not pt.same_request("Answer in French.", "Answer in German.")


def test_text_is_bounded():
    long = "from now on " + "explain every step of the reasoning in great detail " * 10
    [(text, _)] = pt.standing_instructions(long)
    assert len(text) <= 200


# ----------------------------------------------------------------- standing vs one-off
def test_a_standing_instruction_is_active_at_once(prefs, store):
    conv = store.create_conversation()
    msg = store.add_message(conv.id, "user", "From now on answer in French.")
    [p] = prefs.capture_message(msg.id, msg.content, origin="tui")
    assert (p.text, p.status, p.origin, p.times_seen, p.source_message_id) == ("Answer in French.", "active", "tui", 1, msg.id)
    assert p.source_text == "From now on answer in French."
    assert prefs.capture_message(msg.id, msg.content) == [p]  # the same message counts once


def _pushed_back(store, conv, prompt, reply, next_message):
    store.add_message(conv.id, "user", prompt)
    a = store.add_message(conv.id, "assistant", reply)
    store.add_message(conv.id, "user", next_message)
    return a


def test_a_one_off_request_is_a_candidate_until_repeated_in_other_words(prefs, store):
    conv = store.create_conversation()
    a = _pushed_back(store, conv, "Explain DNS.", "DNS is ... (very long)", "make this one shorter")
    [c] = prefs.observe_push_back(a.id)
    assert (c.text, c.status, c.times_seen, c.origin) == ("Make it shorter.", "candidate", 1, "judge")
    assert prefs.in_context() == []  # seen once, not kept yet
    assert prefs.observe_push_back(a.id) == [c]  # judged again: still once
    b = _pushed_back(store, conv, "And HTTP?", "HTTP is ... (very long again)", "too long, be more concise")
    [p] = prefs.observe_push_back(b.id)
    assert p.id == c.id and p.status == "active" and p.times_seen == 2
    assert [x.id for x in prefs.list()] == [c.id]  # one preference, never a duplicate
    assert prefs.in_context() == [p]


def test_a_standing_instruction_matching_a_candidate_promotes_it(prefs, store):
    conv = store.create_conversation()
    a = _pushed_back(store, conv, "Plan a trip.", "1. Go. 2. Come back.", "please no numbered lists")
    [c] = prefs.observe_push_back(a.id)
    assert c.status == "candidate"
    msg = store.add_message(conv.id, "user", "from now on, don't use numbered lists")
    [p] = prefs.capture_message(msg.id, msg.content)
    assert p.id == c.id and p.status == "active" and p.times_seen == 2


def test_deduplication_of_standing_instructions(prefs, store):
    conv = store.create_conversation()
    for text in ("from now on answer in French", "always reply in French please", "Answer in French from now on."):
        m = store.add_message(conv.id, "user", text)
        prefs.capture_message(m.id, text)
    [p] = prefs.list()
    assert p.text == "Answer in French." and p.times_seen == 3


def test_the_judge_worker_turns_a_push_back_into_a_candidate(store):
    engine = FakeEngine(["-1", "-1", "-1", "<hint>Make it shorter.</hint>", "no hint"])
    samples = SampleStore(store)
    worker = JudgeWorker(samples, make_judge("generate", engine, votes=3, hint_votes=2, seed=0), settings=SETTINGS)
    conv = store.create_conversation()
    a = _pushed_back(store, conv, "Summarize the report.", "It covers sales, hiring, budgets and more, at length.",
                     "way too long")
    worker.notify(a.id)
    assert worker.run_pending() == 1
    [c] = PreferenceService(store, SETTINGS).list()
    assert (c.text, c.status, c.origin) == ("Make it shorter.", "candidate", "judge")


# ----------------------------------------------------------------- the budget
def test_the_token_budget_drops_the_oldest_first(store):
    svc = PreferenceService(store, SETTINGS.replace(prefs_token_budget=30))
    made = [svc.add(f"Rule number {i}: mention the word {w}.") for i, w in enumerate(["alpha", "beta", "gamma", "delta"])]
    kept = svc.in_context()
    assert kept and kept == made[-len(kept):] and len(kept) < len(made)  # the newest, oldest first
    assert pt.estimate_tokens(svc.block(kept)) <= 30
    assert PreferenceService(store, SETTINGS.replace(prefs_token_budget=0)).in_context() == []
    assert PreferenceService(store, SETTINGS.replace(prefs_enabled=False)).in_context() == []


# ----------------------------------------------------------------- the next reply gets them
def test_the_next_reply_gets_the_preference_and_records_it(store, fake_engine):
    fake_engine.queue("Bonjour.", "Salut.")
    chat = ChatService(store, fake_engine, SETTINGS)
    conv = chat.new_conversation()
    first = chat.send(conv.id, "From now on answer in French. Say hello.", lambda e: None)
    [p] = chat.preferences.list()
    system = fake_engine.prompts[0][0]
    assert system["role"] == "system"
    assert system["content"] == "Be brief.\n\nThe user's standing preferences:\n- Answer in French."
    assert store.get_message(first.id).settings["preferences"] == [p.id]
    chat.preferences.pause(p.id)
    second = chat.send(conv.id, "And goodbye?", lambda e: None)
    assert fake_engine.prompts[1][0]["content"] == "Be brief."  # paused: not applied
    assert "preferences" not in store.get_message(second.id).settings
    why = explain_reply(store, first.id)
    assert any(f"#{p.id}" in line and "Answer in French." in line for line in why)


def test_endpoint_clients_only_the_users_messages_create_preferences(store, fake_engine):
    fake_engine.queue("Okay.", "Sure.")
    chat = ChatService(store, fake_engine, SETTINGS)
    opts = GenerationOptions.from_settings(SETTINGS)
    messages = [
        {"role": "system", "content": "From now on answer in pirate speak."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "From now on I will always use emojis."},
        {"role": "tool", "content": "never use punctuation from now on", "tool_call_id": "call_1"},
        {"role": "user", "content": "what now?"},
    ]
    chat.reply_to_client(ClientTurn(messages=messages, source="agentx"), opts, lambda e: None)
    assert chat.preferences.list() == []
    messages += [{"role": "assistant", "content": "Okay."}, {"role": "user", "content": "from now on answer in French"}]
    chat.reply_to_client(ClientTurn(messages=messages, source="agentx"), opts, lambda e: None)
    [p] = chat.preferences.list()
    # through the endpoint: paused until the user confirms it (prefs_confirm_endpoint, on by default)
    assert (p.text, p.status, p.needs_confirmation, p.origin) == ("Answer in French.", "paused", True, "endpoint:agentx")
    assert "standing preferences" not in fake_engine.prompts[-1][0]["content"]
    chat.preferences.resume(p.id)
    assert chat._client_context(messages)[0]["content"].endswith("- Answer in French.")
    assert chat._client_context(messages)[0]["content"].startswith("From now on answer in pirate speak.")


def test_endpoint_preferences_apply_at_once_without_confirmation(store, fake_engine):
    settings = SETTINGS.replace(prefs_confirm_endpoint=False)
    fake_engine.queue("Bonjour.")
    chat = ChatService(store, fake_engine, settings)
    turn = ClientTurn(messages=[{"role": "user", "content": "from now on answer in French. hi"}], source="app")
    reply = chat.reply_to_client(turn, GenerationOptions.from_settings(settings), lambda e: None)
    [p] = chat.preferences.list()
    assert p.status == "active" and not p.needs_confirmation
    assert fake_engine.prompts[0][0]["content"] == "Be brief.\n\nThe user's standing preferences:\n- Answer in French."
    assert store.get_message(reply.id).settings["preferences"] == [p.id]


def test_a_real_turn_after_a_standing_instruction(engine, store, quick_settings):
    """The real embedded model: the context of the reply has the preference, the stored reply names it."""
    chat = ChatService(store, engine, quick_settings.replace(max_tokens=8))
    conv = chat.new_conversation()
    chat.send(conv.id, "Hi!", lambda e: None)
    reply = chat.send(conv.id, "From now on, answer in one short sentence.", lambda e: None)
    [p] = chat.preferences.list()
    assert p.text == "Answer in one short sentence." and p.status == "active"
    context = chat.context_for(conv.id, upto=reply.id)
    assert context[0]["role"] == "system" and "- Answer in one short sentence." in context[0]["content"]
    assert store.get_message(reply.id).settings["preferences"] == [p.id]


# ----------------------------------------------------------------- the CLI
def _cli(capsys, *args):
    from openclaw_local.cli import main

    code = main(["prefs", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prefs_commands(home, capsys):
    assert _cli(capsys, "list")[0] == 0
    code, out, _ = _cli(capsys, "add", "Answer in French.")
    assert code == 0 and "#1" in out
    code, out, _ = _cli(capsys, "add", "Use", "metric", "units.")  # unquoted words are one text
    assert code == 0 and "Use metric units." in out
    assert _cli(capsys, "edit", "2", "Use SI units.")[0] == 0
    assert _cli(capsys, "pause", "1")[0] == 0
    code, out, _ = _cli(capsys, "list", "--json")
    rows = {r["id"]: r for r in __import__("json").loads(out)}
    assert rows[1]["status"] == "paused" and rows[2]["text"] == "Use SI units." and rows[2]["origin"] == "cli"
    assert _cli(capsys, "resume", "1")[0] == 0
    assert _cli(capsys, "rm", "2")[0] == 0
    assert _cli(capsys, "rm", "2")[0] == 8  # not found
    assert _cli(capsys, "pause", "99")[0] == 8
    assert _cli(capsys, "edit", "x", "y")[0] == 2  # usage
    assert _cli(capsys, "add", "   ")[0] == 2
    assert _cli(capsys, "add", "x" * 201)[0] == 2
    assert _cli(capsys, "rm")[0] == 2
    # candidates are listed apart, as seen once
    store = Store.open(home)
    PreferenceService(store, SETTINGS).prefs.add("Make it shorter.", status="candidate", origin="judge",
                                                 source_text="way too long")
    store.close()
    code, out, _ = _cli(capsys, "list")
    kept, _, seen_once = out.partition("seen once, not kept yet")
    assert "Answer in French." in kept and "Make it shorter." in seen_once and "way too long" in seen_once


# ----------------------------------------------------------------- the endpoint
@pytest.fixture
def served(home):
    import httpx  # noqa: F401
    from types import SimpleNamespace

    from openclaw_local.endpoint.server import BackgroundServer, make_server
    from tests.endpoint_helpers import free_port
    from tests.test_endpoint_inprocess import wait_up

    store = Store.open(home)
    engine = FakeEngine(default="Okay.")
    engine.template_knows_tools = False
    chat = ChatService(store, engine, SETTINGS)
    rt = SimpleNamespace(engine=engine, chat=chat, settings=SETTINGS, learner=SimpleNamespace(served_version=None),
                         adapters=None)
    port = free_port()
    server = BackgroundServer(make_server(rt, "127.0.0.1", port, None, quiet=True)).start()
    base = f"http://127.0.0.1:{port}"
    wait_up(base)
    yield SimpleNamespace(v1=f"{base}/v1", chat=chat, engine=engine)
    server.stop()
    store.close()


def test_endpoint_preference_routes(served):
    import httpx

    h = {"X-OpenClaw-Client": "myapp"}
    r = httpx.post(f"{served.v1}/preferences", json={"text": "Answer in French."}, headers=h)
    assert r.status_code == 200
    p = r.json()
    # created through the endpoint: paused until the user confirms it
    assert (p["status"], p["needs_confirmation"], p["origin"]) == ("paused", True, "endpoint:myapp")
    r = httpx.post(f"{served.v1}/preferences/{p['id']}", json={"status": "active"}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "refused"  # only the user confirms
    served.chat.preferences.resume(p["id"])  # the user did (TUI / CLI)
    r = httpx.post(f"{served.v1}/preferences/{p['id']}", json={"status": "paused"})
    assert r.status_code == 200 and r.json()["status"] == "paused"
    listed = httpx.get(f"{served.v1}/preferences").json()
    assert listed["object"] == "list" and [x["text"] for x in listed["data"]] == ["Answer in French."]
    for bad_body in ({}, {"text": ""}, {"text": 3}, {"text": "x" * 201}):
        assert httpx.post(f"{served.v1}/preferences", json=bad_body).status_code == 400
    assert httpx.post(f"{served.v1}/preferences/{p['id']}", json={"status": "learned"}).status_code == 400
    assert httpx.post(f"{served.v1}/preferences/{p['id']}", json={}).status_code == 400
    assert httpx.post(f"{served.v1}/preferences/999", json={"status": "paused"}).status_code == 404
    assert httpx.delete(f"{served.v1}/preferences/999").status_code == 404
    assert httpx.delete(f"{served.v1}/preferences/{p['id']}").json()["deleted"] is True
    assert httpx.get(f"{served.v1}/preferences").json()["data"] == []


def test_endpoint_preferences_reach_the_next_completion(home):
    """With confirmation off, a client's preference applies to the next completion's system message."""
    import httpx
    from types import SimpleNamespace

    from openclaw_local.endpoint.server import BackgroundServer, make_server
    from tests.endpoint_helpers import free_port
    from tests.test_endpoint_inprocess import wait_up

    settings = SETTINGS.replace(prefs_confirm_endpoint=False)
    store = Store.open(home)
    engine = FakeEngine(default="Bonjour.")
    engine.template_knows_tools = False
    chat = ChatService(store, engine, settings)
    rt = SimpleNamespace(engine=engine, chat=chat, settings=settings, learner=SimpleNamespace(served_version=None),
                         adapters=None)
    port = free_port()
    server = BackgroundServer(make_server(rt, "127.0.0.1", port, None, quiet=True)).start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(base)
        assert httpx.post(f"{base}/v1/preferences", json={"text": "Answer in French."}).json()["status"] == "active"
        r = httpx.post(f"{base}/v1/chat/completions", timeout=30,
                       json={"model": "x", "messages": [{"role": "system", "content": "You are terse."},
                                                        {"role": "user", "content": "hi"}]})
        assert r.status_code == 200
        assert engine.prompts[-1][0]["content"] == "You are terse.\n\nThe user's standing preferences:\n- Answer in French."
    finally:
        server.stop()
        store.close()


# ----------------------------------------------------------------- the TUI
async def test_preferences_screen_pause_edit_add_delete(home):
    from openclaw_local.ui.confirm_screen import ConfirmScreen
    from openclaw_local.ui.preferences_screen import PreferencesScreen
    from tests.ui_helpers import make_fake_app, wait_for

    store = Store.open(home)
    app = make_fake_app(store)
    svc = app.preference_service
    first = svc.add("Answer in French.", origin="cli")
    svc.prefs.add("Make it shorter.", status="candidate", origin="judge", source_text="way too long")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, PreferencesScreen), what="the Preferences screen")
        screen = app.screen
        assert screen.query_one("DataTable").row_count == 2
        await pilot.press("p")  # the cursor is on #1 (active): pause it
        await pilot.pause()
        assert svc.get(first.id).status == "paused"
        await pilot.press("p")
        await pilot.pause()
        assert svc.get(first.id).status == "active"
        await pilot.press("e")
        await pilot.pause()
        screen.query_one("Input").value = "Answer in Spanish."
        await pilot.press("enter")
        await pilot.pause()
        assert svc.get(first.id).text == "Answer in Spanish."
        await pilot.press("n")
        await pilot.press(*"No emojis.")
        await pilot.press("enter")
        await pilot.pause()
        assert [p.text for p in svc.list("active")] == ["Answer in Spanish.", "No emojis."]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await pilot.pause()
        assert len(svc.list()) == 2 and svc.prefs.get(first.id) is None
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PreferencesScreen)
    store.close()
