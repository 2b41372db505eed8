"""Bad inputs a tester found, each closed: one ``error:`` line, the documented exit code, no traceback.

The CLI runs in-process (``openclaw_local.cli.main``); the endpoint runs in-process on a
:class:`~tests.fake_engine.FakeEngine` (a real uvicorn server where the socket matters).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from dir_hash import tree_digest  # noqa: E402

from openclaw_local.cli import main  # noqa: E402
from openclaw_local.store import Store  # noqa: E402

HUGE = "99999999999999999999999"


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def populated(home):
    """A data dir with one conversation and one reply."""
    store = Store.open(home)
    conv = store.create_conversation("hello")
    store.add_message(conv.id, "user", "hello")
    store.add_message(conv.id, "assistant", "hi there", model="m")
    store.close()
    return home


# ------------------------------------------------------------------ ids and ports
ID_COMMANDS = [["adapters", "show"], ["adapters", "activate"], ["adapters", "delete"],
               ["adapters", "export", "{id}", "--format", "gguf-lora", "--out", "x.gguf"], ["history", "delete"]]


@pytest.mark.parametrize("command", ID_COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("bad", [HUGE, "-1", "0", "seven", "1.5", "v-3", "٣", "9223372036854775808"])
def test_every_id_argument_is_checked_at_parse_time(home, capsys, command, bad):
    argv = [bad if a == "{id}" else a for a in command] + ([] if "{id}" in command else [bad])
    before = tree_digest(home)
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "id" in line and "9223372036854775807" in line
    assert tree_digest(home) == before  # refused at parse time: nothing opened


def test_largest_row_id_is_a_valid_id_that_names_nothing(home, capsys):
    assert main(["adapters", "show", str(2**63 - 1)]) == 8
    assert "no adapter version" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", [["serve"], ["chat", "--serve"]])
@pytest.mark.parametrize("bad", ["70000", "-1", "0", "http", "65536", "1e3"])
def test_ports_are_checked_in_one_place(home, capsys, command, bad):
    assert main([*command, "--port", bad]) == 2
    assert "port" in one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ doctor, OPENCLAW_HOME
def test_doctor_reports_a_missing_model(home, tmp_path, capsys):
    missing = tmp_path / "nonexistent.gguf"
    assert main(["--model", str(missing), "doctor"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "UnboundLocalError" not in out + err
    model_rows = [line for line in out.splitlines() if line.startswith("model ")]
    assert model_rows and "PROBLEM" in model_rows[0] and "nonexistent.gguf" in out
    assert "recommended model" in out and "database" in out  # the rest of the report still runs


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_openclaw_home_is_refused(monkeypatch, tmp_path, capsys, value):
    monkeypatch.setenv("OPENCLAW_HOME", value)
    monkeypatch.setenv("HOME", str(tmp_path))  # the default data dir would be under here
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert main(["history"]) == 2
    assert "OPENCLAW_HOME is set but empty" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "xdg").exists()


# ------------------------------------------------------------------ output files: one policy
OUTPUT_COMMANDS = {
    "export-data": lambda out: ["export-data", "--format", "kto", "--out", out],
    "export-chats": lambda out: ["export-chats", "--out", out],
    "report": lambda out: ["report", "--out", out],
    "adapters export": lambda out: ["adapters", "export", "1", "--format", "gguf-lora", "--out", out],
}


def _out_name(command: str) -> str:
    return {"report": "r.png", "adapters export": "a.gguf"}.get(command, "x.jsonl")


@pytest.mark.parametrize("command", list(OUTPUT_COMMANDS))
def test_output_into_a_missing_directory_is_refused_not_created(populated, tmp_path, capsys, command):
    target = tmp_path / "no" / "such" / _out_name(command)
    assert main(OUTPUT_COMMANDS[command](str(target))) == 4
    line = one_error_line(capsys.readouterr().err)
    assert "cannot write" in line and f"the directory {target.parent} for --out does not exist" in line
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", list(OUTPUT_COMMANDS))
def test_output_onto_a_directory_is_refused(populated, tmp_path, capsys, command):
    target = tmp_path / "a-dir"
    target.mkdir()
    assert main(OUTPUT_COMMANDS[command](str(target))) == 4
    assert "it is a directory" in one_error_line(capsys.readouterr().err)
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("command", ["export-data", "export-chats", "report"])
def test_output_where_no_file_can_be_made(populated, capsys, command):
    assert main(OUTPUT_COMMANDS[command]("/proc/openclaw-test-" + _out_name(command))) == 4
    assert "cannot write /proc/" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["export-data", "export-chats", "report"])
@pytest.mark.parametrize("err", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_refused_writes_exit_4_and_leave_the_old_file(populated, tmp_path, capsys, monkeypatch, command, err):
    from openclaw_local import paths

    target = tmp_path / _out_name(command)
    target.write_bytes(b"old")

    def refuse(src, dst):
        raise OSError(err, os.strerror(err), str(dst))

    monkeypatch.setattr(paths, "move_into_place", refuse)
    assert main(OUTPUT_COMMANDS[command](str(target))) == 4
    assert os.strerror(err) in one_error_line(capsys.readouterr().err)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_report_refuses_an_unsupported_image_format(populated, tmp_path, capsys):
    for name in ("r.txt", "r"):
        assert main(["report", "--out", str(tmp_path / name)]) == 2
        line = one_error_line(capsys.readouterr().err)
        assert ".png" in line and ".svg" in line and ".pdf" in line
    assert main(["report", "--out", str(tmp_path / "r.SVG")]) == 0
    assert (tmp_path / "r.SVG").read_bytes().lstrip().startswith(b"<?xml")


# ------------------------------------------------------------------ simulate: names, atomic report
def _persona_with_undecodable_name(tmp_path: Path) -> Path:
    from openclaw_local.sim.persona import PERSONAS_DIR

    raw = os.path.join(os.fsencode(tmp_path), b"p\xff.json")
    with open(raw, "wb") as fh:
        fh.write((PERSONAS_DIR / "student.json").read_bytes())
    return Path(os.fsdecode(raw))


def test_simulate_with_an_undecodable_persona_name(home, tmp_path, capsys, monkeypatch):
    from openclaw_local.cli import simulate as sim_cli
    from openclaw_local.sim import simulate

    persona_path = _persona_with_undecodable_name(tmp_path)
    out = tmp_path / "run"

    def fake_run(persona, out_dir, **kw):  # the real loop's last step, on a minimal report
        report = {"persona": persona.name, "persona_file": simulate.shown(persona.path), "seed": 0,
                  "interactions": 1, "curve": [{"interactions": 0, "score": 0.5}], "arms": {}, "home": str(out_dir)}
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        simulate.write_report(report, Path(out_dir))
        return report

    monkeypatch.setattr(simulate, "run_simulation", fake_run)
    assert sim_cli.run  # the command imports run_simulation when it runs
    assert main(["simulate", "--persona", str(persona_path), "--out", str(out), "--no-arms"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["persona_file"].endswith("p\\xff.json")
    assert (out / "curve.png").stat().st_size > 0


def test_simulate_report_is_written_atomically(tmp_path, monkeypatch):
    from openclaw_local import paths
    from openclaw_local.errors import DataDirError
    from openclaw_local.sim.simulate import write_report

    (tmp_path / "report.json").write_text('{"old": true}')
    report = {"persona": "p", "persona_file": os.fsdecode(b"p\xff.json"), "seed": 0, "interactions": 1,
              "curve": [{"interactions": 0, "score": 0.5}], "arms": {}}

    def crash(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(paths, "move_into_place", crash)
    with pytest.raises(DataDirError):
        write_report(report, tmp_path)
    assert json.loads((tmp_path / "report.json").read_text()) == {"old": True}  # never left empty
    monkeypatch.undo()
    write_report(report, tmp_path)  # the lone surrogate is written as a JSON escape, not a crash
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["persona_file"] == report["persona_file"]


def test_simulate_refuses_a_missing_out_parent_before_the_run(home, tmp_path, capsys, monkeypatch):
    from openclaw_local.sim import simulate

    monkeypatch.setattr(simulate, "run_simulation", lambda *a, **k: pytest.fail("the run started"))
    assert main(["simulate", "--persona", "student", "--out", str(tmp_path / "no" / "run")]) == 4
    assert "does not exist" in one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ learn --once next to serve --no-learn
@pytest.mark.parametrize("front_end", ["serve", "chat"])
def test_learn_once_next_to_a_front_end_without_learner_is_refused(home, capsys, monkeypatch, front_end):
    from openclaw_local.cli import learn
    from openclaw_local.paths import ensure_user_dir
    from openclaw_local.store.db import InstanceLock

    monkeypatch.setattr(learn, "NO_LEARNER_GRACE_S", 0.3)
    monkeypatch.setattr(learn, "POLL_S", 0.05)
    ensure_user_dir(home)
    Store.open(home).close()
    lock = InstanceLock(home, front_end).acquire()  # a serve (or chat) started with --no-learn
    try:
        assert main(["learn", "--once"]) == 7
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "\033[" not in err and "\r" not in err  # not a terminal: no control codes
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"openclaw-local {front_end} running on this data dir" in last
    assert f"pid {os.getpid()}" in last


def test_second_front_end_is_told_which_one_runs(home, capsys):
    from openclaw_local.paths import ensure_user_dir
    from openclaw_local.store.db import InstanceLock

    ensure_user_dir(home)
    lock = InstanceLock(home, "serve").acquire()
    try:
        assert main(["chat"]) == 5
    finally:
        lock.release()
    assert "another openclaw-local serve (pid" in one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ the endpoint
@pytest.fixture
def api(home, monkeypatch):
    """The real endpoint (uvicorn on 127.0.0.1) over a FakeEngine, a real store and a real ChatService."""
    from openclaw_local.config import Settings
    from openclaw_local.endpoint.server import BackgroundServer, make_server
    from openclaw_local.paths import ensure_user_dir
    from openclaw_local.services.chat import ChatService
    from tests.endpoint_helpers import free_port
    from tests.fake_engine import FakeEngine

    ensure_user_dir(home)
    store = Store.open(home)
    engine = FakeEngine(default="a fake reply {n}", n_ctx=256)
    engine.template_knows_tools = False  # like SmolLM2: tools are not rendered
    settings = Settings(learn=False)
    chat = ChatService(store, engine, settings)
    rt = SimpleNamespace(engine=engine, chat=chat, settings=settings, store=store,
                         learner=SimpleNamespace(served_version=None, serve_active=lambda: None), adapters=None)

    def start(api_key=None):
        port = free_port()
        server = BackgroundServer(make_server(rt, "127.0.0.1", port, api_key, quiet=True)).start()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        servers.append(server)
        return SimpleNamespace(base=base, port=port, v1=f"{base}/v1", store=store, engine=engine)

    servers: list = []
    yield start
    for server in servers:
        server.stop()
    store.close()


def error_of(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if code is not None:
        assert err["code"] == code, err
    return err


def ask(content: str, **extra) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def test_deeply_nested_body_is_a_400(api):
    srv = api()
    for body in (b"[" * 100_000, b'{"messages": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                 b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}"):
        r = httpx.post(f"{srv.v1}/chat/completions", content=body, headers={"content-type": "application/json"}, timeout=30)
        assert "nested too deeply" in error_of(r, 400, "invalid_json")["message"]
    # tool call arguments nested deep inside a JSON string are left as text, not parsed into a RecursionError
    deep_args = "[" * 100_000
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": deep_args}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}, {"role": "user", "content": "and?"}]}
    r = httpx.post(f"{srv.v1}/chat/completions", json=body, timeout=30)
    assert r.status_code == 200, r.text
    # a sane body with some nesting still works
    assert httpx.post(f"{srv.v1}/chat/completions", json=ask("hi", tools=[{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "object"}}}}}}]),
        timeout=30).status_code == 200


def test_prompt_longer_than_the_context_is_refused_before_any_work(api):
    srv = api()
    for content in ("x" * 3_000_000, " ".join(["word"] * 400)):  # the char bound; the tokenizer (256-token context)
        t0 = time.monotonic()
        r = httpx.post(f"{srv.v1}/chat/completions", json=ask(content), timeout=30)
        err = error_of(r, 400, "context_length_exceeded")
        assert "256 tokens" in err["message"] and err["param"] == "messages" and time.monotonic() - t0 < 25  # no 50 s of generation
    r = httpx.post(f"{srv.v1}/chat/completions", json=ask(" ".join(["word"] * 200), max_tokens=100), timeout=30)
    assert "plus 100 for the reply" in error_of(r, 400, "context_length_exceeded")["message"]
    assert srv.store.list_conversations() == [] and srv.engine.calls == []  # nothing stored, the model never asked
    # a long history is still fine: older turns are dropped to fit, only the newest message must fit
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": " ".join(["old"] * 60)} for i in range(9)]
    r = httpx.post(f"{srv.v1}/chat/completions", json={"model": "m", "messages": history}, timeout=30)
    assert r.status_code == 200, r.text


def test_huge_ids_over_http_are_not_found(api):
    srv = api()
    for path in (f"/adapters/{HUGE}/activate", "/adapters/v9223372036854775808/activate", "/adapters/0/activate",
                 f"/adapters/{'9' * 5000}/activate"):
        error_of(httpx.post(f"{srv.v1}{path}", timeout=10), 404, "not_found")
    r = httpx.post(f"{srv.v1}/feedback", json={"id": f"chatcmpl-oc-{HUGE}", "rating": 1}, timeout=10)
    error_of(r, 404, "not_found")
    r = httpx.post(f"{srv.v1}/feedback", json={"id": "chatcmpl-oc-" + "1" * 10_000, "rating": 1}, timeout=10)
    error_of(r, 404, "not_found")


def _raw_request(port: int, head: bytes, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + body)
    return sock


SLOW_HEAD = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 100000\r\n\r\n")


def test_a_body_that_never_arrives_times_out(api, monkeypatch):
    from openclaw_local.endpoint import app

    monkeypatch.setattr(app, "BODY_TIMEOUT_S", 0.5)
    srv = api()
    sock = _raw_request(srv.port, SLOW_HEAD, b'{"model":')  # 9 bytes of 100,000
    t0 = time.monotonic()
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"body_timeout" in data and time.monotonic() - t0 < 25  # answered, and the connection closed
    assert srv.store.list_conversations() == []


def test_slow_connections_are_bounded(api, monkeypatch):
    from openclaw_local.endpoint import server

    monkeypatch.setattr(server, "MAX_CONNECTIONS", 4)
    srv = api()
    slow = []
    for _ in range(3):  # uvicorn counts open connections, this one included: 3 slow ones fill 4
        slow.append(_raw_request(srv.port, SLOW_HEAD, b"{"))
        time.sleep(0.2)
    try:
        r = httpx.get(f"{srv.base}/healthz", timeout=10)
        assert r.status_code == 503  # beyond the bound: turned away at once, not left hanging
        slow[0].settimeout(0.3)
        with pytest.raises(socket.timeout):
            slow[0].recv(100)  # the slow ones are still waiting for their body (until BODY_TIMEOUT_S)
    finally:
        for s in slow:
            s.close()
    deadline = time.monotonic() + 10
    while httpx.get(f"{srv.base}/healthz", timeout=10).status_code != 200:  # and back once they are gone
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_storage_failure_is_a_503_and_leaves_no_empty_conversation(api, monkeypatch):
    from openclaw_local.errors import DatabaseError

    srv = api()
    real = srv.store.add_message

    def failing(conversation_id, role, *a, **kw):
        if role == "assistant":
            raise DatabaseError(f"database {srv.store.path} cannot be written (attempt to write a readonly database)")
        return real(conversation_id, role, *a, **kw)

    monkeypatch.setattr(srv.store, "add_message", failing)
    for stream in (False, True):
        r = httpx.post(f"{srv.v1}/chat/completions", json=ask("hello there", stream=stream), timeout=30)
        err = error_of(r, 503, "storage_unavailable")
        assert err["type"] == "server_error" and "cannot be written" in err["message"]
    assert srv.store.list_conversations() == []
    monkeypatch.undo()
    assert httpx.post(f"{srv.v1}/chat/completions", json=ask("hello there"), timeout=30).status_code == 200


def test_bearer_scheme_is_case_insensitive_and_keys_are_stripped(api):
    srv = api(api_key="k3y")
    body = ask("hi")
    for header in ("Bearer k3y", "bearer k3y", "BEARER  k3y", "bEaReR k3y"):
        r = httpx.post(f"{srv.v1}/chat/completions", json=body, headers={"Authorization": header}, timeout=30)
        assert r.status_code == 200, (header, r.text)
    for header in ("Bearer", "Basic k3y", "Bearer k3y2", "k3y", "Bearerk3y"):
        r = httpx.post(f"{srv.v1}/chat/completions", json=body, headers={"Authorization": header}, timeout=30)
        error_of(r, 401, "invalid_api_key")


@pytest.mark.parametrize("how", ["env", "flag"])
@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_blank_api_key_is_refused(home, monkeypatch, capsys, how, blank):
    from openclaw_local.endpoint.server import resolve_api_key

    argv = ["serve", "--port", "8765"]
    if how == "env":
        monkeypatch.setenv("OPENCLAW_API_KEY", blank)
    else:
        argv += [f"--api-key={blank}"]
    assert main(argv) == 2
    assert "blank" in one_error_line(capsys.readouterr().err)
    monkeypatch.setenv("OPENCLAW_API_KEY", "  secret\n")
    assert resolve_api_key("0.0.0.0", None) == "secret"


# ------------------------------------------------------------------ adapters import: the promotion gate
@pytest.fixture
def gated_home(home, tiny_llama_gguf, shared_trainable_cache, monkeypatch, tmp_path):
    """The tiny llama as the served model, v1 published and active, and a damaged LoRA to import:
    every weight is 3e38 — finite, so a finiteness check passes it, but its products overflow."""
    import numpy as np

    from openclaw_local.learn.adapter_io import base_info, write_peft_dir
    from tests.adapters_helpers import publish, random_lora

    monkeypatch.setenv("OPENCLAW_MODEL_PATH", str(tiny_llama_gguf))
    shared_trainable_cache(home)
    store = Store.open(home)
    publish(home, store, random_lora(tiny_llama_gguf), tiny_llama_gguf)
    store.close()
    damaged = random_lora(tiny_llama_gguf, rank=2, seed=3)
    damaged.pairs = {k: (np.full_like(a, 3e38), np.full_like(b, 3e38)) for k, (a, b) in damaged.pairs.items()}
    peft = write_peft_dir(damaged, tmp_path / "damaged", base_info(tiny_llama_gguf))
    return SimpleNamespace(home=home, peft=peft)


def test_import_goes_through_the_promotion_gate(gated_home, capsys):
    from openclaw_local.store.adapters import AdapterStore

    def versions():
        store = Store.open(gated_home.home)
        try:
            return [(v.id, v.status) for v in AdapterStore(store).versions()]
        finally:
            store.close()

    t0 = time.monotonic()
    assert main(["adapters", "import", str(gated_home.peft), "--activate"]) == 7
    line = one_error_line(capsys.readouterr().err)  # one line: no progress bars when stderr is not a terminal
    print(f"\nimport through the gate: {time.monotonic() - t0:.1f} s")
    assert "imported as v2, but the promotion gate refused it" in line and "adapters activate 2 --force" in line
    assert "perplexity" in line  # the gate's own reason
    assert versions() == [(1, "active"), (2, "rejected")]  # recorded as rejected, v1 still served
    assert main(["adapters", "import", str(gated_home.peft), "--force"]) == 2  # --force only with --activate
    capsys.readouterr()
    assert main(["adapters", "import", str(gated_home.peft), "--activate", "--force"]) == 0  # knowingly, ungated
    assert "imported as v3: active (forced, not gated)" in capsys.readouterr().out
    assert versions() == [(1, "retired"), (2, "rejected"), (3, "active")]
