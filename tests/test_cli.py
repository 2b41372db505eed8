"""The command line through its real entry point: output, exit codes, no tracebacks."""

import json
import os
import subprocess
import sys

import pytest

from openclaw_local.store import Store


def cli(*args, home=None, env_extra=None, timeout=120):
    env = dict(os.environ)
    if home is not None:
        env["OPENCLAW_HOME"] = str(home)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "openclaw_local", *args], capture_output=True, text=True, env=env, timeout=timeout)


def assert_clean_error(result, code, pattern):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], result.stderr


@pytest.fixture
def populated(home):
    store = Store.open(home)
    conv = store.create_conversation(system_prompt="Be brief.")
    store.add_message(conv.id, "user", "What is the tallest mountain?")
    reply = store.add_message(conv.id, "assistant", "K2.", model="m.gguf")
    store.rate(reply.id, -1)
    store.correct(reply.id, "Mount Everest.")
    store.close()
    return home


def test_history_lists_and_searches(populated):
    out = cli("history", home=populated)
    assert out.returncode == 0 and "What is the tallest mountain?" in out.stdout
    found = cli("history", "--search", "tallest", "--json", home=populated)
    rows = json.loads(found.stdout)
    assert rows[0]["content"] == "What is the tallest mountain?"
    listed = json.loads(cli("history", "--json", home=populated).stdout)
    assert listed[0]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_export_chats_writes_openai_messages_with_feedback(populated, tmp_path):
    out = tmp_path / "chats.jsonl"
    result = cli("export-chats", "--out", str(out), home=populated)
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1
    conv = json.loads(lines[0])
    assistant = conv["messages"][-1]
    assert assistant["role"] == "assistant" and assistant["content"] == "K2."
    assert assistant["metadata"]["rating"] == -1 and assistant["metadata"]["correction"] == "Mount Everest."


def test_export_to_unwritable_path(populated, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_clean_error(cli("export-chats", "--out", str(blocker / "out.jsonl"), home=populated), 4, "cannot write")


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_doctor(home):
    result = cli("doctor", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    for key in ("llama-cpp-python", "llama.cpp backend", "CUDA", "model", "data dir", "database"):
        assert key in result.stdout
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in result.stdout and "schema" in result.stdout
    lines = result.stdout.splitlines()
    assert any(line.startswith("recommended model") and ("qwen3-" in line or "none of the known" in line) for line in lines)
    assert any(line.startswith("learning memory") and ("fits:" in line or "learning paused" in line) for line in lines)
    expected = "SCHED_IDLE" if hasattr(os, "SCHED_IDLE") else "nice 19"
    assert any(line.startswith("learner CPU priority") and expected in line for line in lines)


def test_missing_model(home, tmp_path):
    assert_clean_error(cli("--model", str(tmp_path / "missing.gguf"), home=home), 8, "model file not found")


def test_not_a_gguf_model(home, tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_text("hello")
    assert_clean_error(cli("chat", "--model", str(bad), home=home), 3, "not a GGUF")


def test_truncated_model(home, tmp_path, embedded_model):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(embedded_model.read_bytes()[: 3_000_000])
    assert_clean_error(cli("--model", str(cut), home=home), 3, "truncated")


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_clean_error(cli("history", home=blocker / "data"), 4, "not writable")


def test_database_from_a_newer_version(home):
    import sqlite3

    Store.open(home).close()
    conn = sqlite3.connect(home / "openclaw.db")
    conn.execute("insert into _sqlite_migrations (migration_set, name, applied_at) values ('openclaw', 'm999_future', 'x')")
    conn.commit()
    conn.close()
    assert_clean_error(cli("history", home=home), 5, "newer openclaw-local")


def test_second_instance_is_refused(home):
    from openclaw_local.store.db import InstanceLock

    lock = InstanceLock(home).acquire()
    try:
        assert_clean_error(cli("chat", home=home), 5, "another openclaw-local")
    finally:
        lock.release()


def test_bad_config_file(home):
    (home / "config.toml").write_text("temperatur = 0.5\n")
    assert_clean_error(cli("history", home=home), 2, "unknown setting 'temperatur'")
    (home / "config.toml").write_text("temperature = [\n")
    assert_clean_error(cli("history", home=home), 2, "not valid TOML")


def test_bad_env_value(home):
    assert_clean_error(cli("chat", home=home, env_extra={"OPENCLAW_N_CTX": "lots"}), 2, "invalid value")
