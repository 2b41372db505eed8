"""The endpoint in-process: ``chat --serve``'s composition (the chat and the endpoint on one
Runtime, one model), and Qwen3-shaped output (thinking, tool calls) through the real HTTP
server with a scripted engine standing in for a Qwen3 model (the embedded model is not one).
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import httpx
import pytest

from openclaw_local.config import Settings
from openclaw_local.endpoint.server import BackgroundServer, make_server
from openclaw_local.engine.llama_engine import Generation
from openclaw_local.services.chat import ChatService
from openclaw_local.store import Store
from tests.endpoint_helpers import free_port


def wait_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_chat_and_endpoint_share_one_runtime(home, quick_settings):
    from openclaw_local.services.runtime import Runtime

    with Runtime.open(home, quick_settings.replace(learn=False), lock_instance=True) as rt:
        rt.start_background()
        port = free_port()
        server = BackgroundServer(make_server(rt, "127.0.0.1", port, None, quiet=True)).start()
        try:
            base = f"http://127.0.0.1:{port}"
            wait_up(base)
            conv = rt.chat.new_conversation()
            tui = rt.chat.send(conv.id, "hello from the terminal", lambda event: None)
            r = httpx.post(f"{base}/v1/chat/completions", timeout=60,
                           json={"model": "x", "max_tokens": 8, "messages": [{"role": "user", "content": "hello from an app"}]})
            assert r.status_code == 200
            api_conv = int(r.json()["metadata"]["conversation_id"])
        finally:
            server.stop()
        assert rt.store.get_conversation(conv.id).source is None and tui.content
        assert rt.store.get_conversation(api_conv).source == "python-httpx"
        assert rt.store.messages(api_conv)[1].model == rt.engine.model_name  # the same engine answered both


class ScriptedQwen3:
    """Stands in for a Qwen3 engine: streams a fixed thinking block, text and a tool call."""

    model_name = "Qwen3-scripted.gguf"
    n_ctx = 4096
    template_knows_tools = True

    def __init__(self, text: str):
        self.text = text
        self.seen: list[list[dict]] = []

    def generate(self, messages, **kwargs) -> Generation:
        self.seen.append(messages)
        gen = Generation(_pieces=iter(()))
        pieces = [self.text[i:i + 4] for i in range(0, len(self.text), 4)]

        def run():
            for p in pieces:
                gen.stats.completion_tokens += 1
                yield p
            gen.stats.finish_reason = "stop"
            gen.stats.prompt_tokens = 10

        gen._pieces = run()
        return gen


@pytest.fixture
def scripted(home):
    store = Store.open(home)
    engine = ScriptedQwen3('<think>The user wants weather.</think>Checking.\n<tool_call>\n'
                           '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>')
    settings = Settings(learn=False)
    chat = ChatService(store, engine, settings)
    rt = SimpleNamespace(engine=engine, chat=chat, settings=settings, learner=SimpleNamespace(served_version=None),
                         adapters=None)
    port = free_port()
    server = BackgroundServer(make_server(rt, "127.0.0.1", port, None, quiet=True)).start()
    base = f"http://127.0.0.1:{port}"
    wait_up(base)
    yield SimpleNamespace(base=base, store=store, engine=engine)
    server.stop()
    store.close()


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def test_thinking_is_reasoning_content_and_tool_calls_are_openai_shaped(scripted):
    body = {"model": "x", "tools": TOOLS, "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    r = httpx.post(f"{scripted.base}/v1/chat/completions", json=body, timeout=30).json()
    choice = r["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    msg = choice["message"]
    assert msg["reasoning_content"] == "The user wants weather." and msg["content"] == "Checking."
    call = msg["tool_calls"][0]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather" and json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    stored = scripted.store.get_message(int(r["metadata"]["message_id"]))
    assert stored.thinking == "The user wants weather." and stored.tool_info["tool_calls"][0]["function"]["name"] == "get_weather"


def test_streamed_thinking_and_tool_calls(scripted):
    body = {"model": "x", "stream": True, "tools": TOOLS, "messages": [{"role": "user", "content": "Weather in Rome?"}]}
    with httpx.stream("POST", f"{scripted.base}/v1/chat/completions", json=body, timeout=30) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ") and line != "data: [DONE]"]
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "The user wants weather."
    content = "".join(d.get("content") or "" for d in deltas)
    assert content.strip() == "Checking." and "<tool_call>" not in content  # the raw tag is never streamed
    calls = [c for d in deltas for c in d.get("tool_calls", [])]
    assert calls[0]["index"] == 0 and calls[0]["function"]["name"] == "get_weather"
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_thinking_is_never_fed_back(scripted):
    history = [{"role": "user", "content": "hi"},
               {"role": "assistant", "content": "<think>secret plan</think>Hello!", "reasoning_content": "secret plan"},
               {"role": "user", "content": "and?"}]
    httpx.post(f"{scripted.base}/v1/chat/completions", json={"model": "x", "messages": history}, timeout=30)
    sent = scripted.engine.seen[-1]
    assert all("secret plan" not in json.dumps(m) for m in sent)
    assert sent[2] == {"role": "assistant", "content": "Hello!"}


def test_later_system_messages_reach_the_model_but_not_the_thread(scripted):
    msgs = [{"role": "user", "content": "hi"}, {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "hello?"}]
    r = httpx.post(f"{scripted.base}/v1/chat/completions", json={"model": "x", "messages": msgs}, timeout=30).json()
    sent = scripted.engine.seen[-1]
    assert sent[0]["role"] == "system" and {"role": "system", "content": "Answer in French."} in sent[1:]
    stored = scripted.store.messages(int(r["metadata"]["conversation_id"]))
    assert [m.role for m in stored] == ["user", "user", "assistant"]
