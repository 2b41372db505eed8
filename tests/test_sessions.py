"""Placing API requests in the stored history (services/sessions.py), on a real SQLite store."""

from __future__ import annotations

import pytest

from openclaw_local.engine.tool_calls import split_tool_calls, visible_prefix
from openclaw_local.services.sessions import ClientTurn, locate, same_reply
from openclaw_local.store import Store

REPLY = "Lighthouses guide ships at night with a rotating beam of light."


@pytest.fixture
def store(home):
    s = Store.open(home)
    yield s
    s.close()


def served(store, user: str, reply: str, *, source: str = "openai-python", model: str | None = "m.gguf"):
    conv = store.create_conversation(None, source=source)
    u = store.add_message(conv.id, "user", user)
    a = store.add_message(conv.id, "assistant", reply, model=model)
    return conv, u, a


def test_same_reply_tolerates_reflow_and_cut_but_not_other_text():
    assert same_reply(REPLY, "  " + REPLY.replace(" ", "\n ") + "\n")
    assert same_reply(REPLY, REPLY[:30])  # a client that cut the reply short
    assert not same_reply(REPLY, REPLY[:10])  # too short to be sure
    assert not same_reply(REPLY, "Lighthouses are tall towers.")
    assert same_reply("<think>hmm</think>" + REPLY, REPLY)  # thinking is never part of the comparison


def test_history_match_continues_and_names_the_next_state(store):
    conv, u, a = served(store, "What do lighthouses do?", REPLY)
    turn = ClientTurn([{"role": "system", "content": "be brief"}, {"role": "user", "content": "What do lighthouses do?"},
                       {"role": "assistant", "content": REPLY.replace(" ", "  ")}, {"role": "user", "content": "And at day?"}])
    m = locate(store, turn)
    assert m.conversation_id == conv.id and m.previous_reply == a.id and m.supersede == []
    assert m.new_messages == [{"role": "user", "content": "And at day?"}]


def test_a_first_message_always_starts_a_new_conversation(store):
    served(store, "hi", "Hello! How can I help?")
    m = locate(store, ClientTurn([{"role": "user", "content": "hi"}], source="llm"))
    assert store.get_conversation(m.conversation_id).source == "llm"
    assert len(store.list_conversations()) == 2 and m.previous_reply is None


def test_identical_histories_in_two_conversations_join_neither(store):
    c1, _, _ = served(store, "hi", "Hello! How can I help?")
    c2, _, _ = served(store, "hi", "Hello! How can I help?")
    m = locate(store, ClientTurn([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
                                  {"role": "user", "content": "my secret"}]))
    assert m.conversation_id not in (c1.id, c2.id) and m.previous_reply is None
    # once one of them has moved on, the one still waiting is the only candidate
    store.add_message(c1.id, "user", "something else")
    m2 = locate(store, ClientTurn([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
                                   {"role": "user", "content": "more"}]))
    assert m2.conversation_id in (c1.id, c2.id)


def test_regenerate_supersedes_what_followed(store):
    conv, u, a = served(store, "Tell me about lighthouses.", REPLY)
    u2 = store.add_message(conv.id, "user", "Shorter")
    b = store.add_message(conv.id, "assistant", "Beams at night.", model="m.gguf")
    turn = ClientTurn([{"role": "user", "content": "Tell me about lighthouses."}, {"role": "assistant", "content": REPLY},
                       {"role": "user", "content": "Shorter"}])
    m = locate(store, turn)
    assert m.conversation_id == conv.id and m.supersede == [u2.id, b.id] and m.previous_reply == a.id


def test_earlier_thread_must_match_too(store):
    served(store, "Question one", REPLY)
    m = locate(store, ClientTurn([{"role": "user", "content": "A different question"}, {"role": "assistant", "content": REPLY},
                                  {"role": "user", "content": "next"}]))
    assert len(store.list_conversations()) == 2 and m.previous_reply is None
    assert [x["role"] for x in m.new_messages] == ["user", "assistant", "user"]


def test_session_key_places_requests_and_client_replies_are_not_next_states(store):
    first = locate(store, ClientTurn([{"role": "user", "content": "hello"}, {"role": "assistant", "content": "from elsewhere"},
                                      {"role": "user", "content": "go on"}], session_key="session:s1"))
    conv = store.get_conversation(first.conversation_id)
    assert conv.session_key == "session:s1" and len(first.new_messages) == 3
    for msg in first.new_messages:
        store.add_message(conv.id, msg["role"], msg["content"])  # the assistant one has no model: not ours
    store.add_message(conv.id, "assistant", "our reply", model="m.gguf")
    again = locate(store, ClientTurn([{"role": "user", "content": "only the newest"}], session_key="session:s1"))
    assert again.conversation_id == conv.id and again.new_messages == [{"role": "user", "content": "only the newest"}]
    assert again.previous_reply == store.messages(conv.id)[-1].id


def test_tool_calls_parsed_in_openai_shape():
    text = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    content, calls = split_tool_calls(text)
    assert content == "Let me check." and calls[0]["type"] == "function"
    assert calls[0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert split_tool_calls("<tool_call>not json</tool_call>") == ("<tool_call>not json</tool_call>", [])
    assert visible_prefix("Sure <tool_c") == "Sure " and visible_prefix("a <tool_call>{") == "a "


def test_tools_reach_a_chat_template_that_renders_them(engine):
    """A template that knows tools (as Qwen3's does) gets them; the embedded SmolLM2 template does not."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = ("{% if tools %}<tools>{% for t in tools %}{{ t.function | tojson }}{% endfor %}</tools>{% endif %}"
                "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    assert not engine.template_knows_tools
    original = engine._formatter
    engine._formatter = Jinja2ChatFormatter(template=template, eos_token="", bos_token="")
    try:
        prompt = engine.format_prompt([{"role": "user", "content": "weather?"}], tools=tools)
        assert '<tools>{"name": "get_weather"' in prompt and prompt.endswith("<|user|>weather?<|assistant|>")
        assert "<tools>" not in engine.format_prompt([{"role": "user", "content": "weather?"}])
    finally:
        engine._formatter = original
