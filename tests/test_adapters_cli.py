"""``adapters`` CLI (list/show/activate/rollback/delete) and ``export-data`` on a real store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora
from openclaw_local.cli import main
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore


@pytest.fixture
def tiny_home(home, tiny_llama_gguf, monkeypatch):
    monkeypatch.setenv("OPENCLAW_MODEL_PATH", str(tiny_llama_gguf))
    return home


@pytest.fixture
def three_versions(tiny_home, tiny_llama_gguf):
    store = Store.open(tiny_home)
    lora = random_lora(tiny_llama_gguf)
    v1 = publish(tiny_home, store, lora, tiny_llama_gguf)
    v2 = publish(tiny_home, store, lora, tiny_llama_gguf, parent=v1.id)
    v3 = publish(tiny_home, store, lora, tiny_llama_gguf, parent=v2.id, activate=False)
    AdapterStore(store).promote(v3.id, {"general": {"ratio": 1.2}}, passed=False, reason="general-text perplexity +20.0%")
    return store


def test_list_show_activate_rollback_delete(three_versions, capsys):
    adapters = AdapterStore(three_versions)
    assert main(["adapters", "list"]) == 0
    out = capsys.readouterr().out
    assert "*v2" in out and "rejected" in out and "perplexity +20.0%" in out and "retired" in out

    assert main(["adapters", "show", "3", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "rejected" and shown["parent"] == 2 and "perplexity" in shown["reason"]

    # a rejected version needs --force; the refusal is one line with its own exit code
    assert main(["adapters", "activate", "3"]) == 7
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "Traceback" not in err
    assert main(["adapters", "activate", "v3", "--force"]) == 0
    assert adapters.active().id == 3

    # deleting the active version is refused clearly
    assert main(["adapters", "delete", "3"]) == 7
    assert "active adapter and cannot be deleted" in capsys.readouterr().err
    # rollback: v3 -> its parent v2 (v3 kept as rejected, "rolled back")
    assert main(["adapters", "rollback"]) == 0
    assert "now serving v2" in capsys.readouterr().out
    assert adapters.active().id == 2 and adapters.get(3).reason == "rolled back by the user"
    assert main(["adapters", "rollback"]) == 0
    assert adapters.active().id == 1
    assert main(["adapters", "rollback"]) == 0
    assert adapters.active() is None
    assert main(["adapters", "rollback"]) == 7  # nothing left to undo

    assert main(["adapters", "activate", "2"]) == 0
    path = adapters.get(1).path
    assert main(["adapters", "delete", "1"]) == 0
    assert not __import__("os").path.exists(path)
    assert [v.id for v in adapters.versions()] == [2, 3]
    assert adapters.get(2).parent_id is None  # re-parented to v1's parent (the base)
    # a version that does not exist is "not found" (8), not "refused" (7), for every action
    capsys.readouterr()
    for argv in (["show", "9"], ["activate", "9"], ["delete", "9"], ["export", "9", "--format", "peft", "--out", "x"]):
        assert main(["adapters", *argv]) == 8, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no adapter version 9 (versions: v2, v3)" in err


def test_activate_refuses_missing_files(three_versions, capsys):
    import shutil

    adapters = AdapterStore(three_versions)
    shutil.rmtree(adapters.get(1).path)
    assert main(["adapters", "activate", "1"]) == 7
    assert "cannot be served" in capsys.readouterr().err
    assert adapters.get(1).status == "broken" and adapters.active().id == 2


def _conversation(store, samples, prompt, reply, *, rating=None, correction=None, next_user=None):
    conv = store.create_conversation()
    store.add_message(conv.id, "user", prompt)
    r = store.add_message(conv.id, "assistant", reply)
    if rating is not None:
        store.rate(r.id, rating)
    if correction is not None:
        store.correct(r.id, correction)
    if next_user is not None:
        store.add_message(conv.id, "user", next_user)
    samples.record_next_state(r.id)
    return r


def test_export_data_formats(home, tmp_path, capsys):
    store = Store.open(home)
    samples = SampleStore(store)
    good = _conversation(store, samples, "Name a cat.", "Whiskers.", rating=1)
    bad = _conversation(store, samples, "Boil an egg?", "Use a toaster.", rating=-1)
    fixed = _conversation(store, samples, "When is the meeting?", "Monday.", correction="Tuesday at noon.")
    waiting = _conversation(store, samples, "Hi", "Hello!", next_user="thanks")
    assert samples.get(waiting.id).status == "waiting"

    def read(fmt):
        out = tmp_path / f"{fmt}.jsonl"
        assert main(["export-data", "--format", fmt, "--out", str(out)]) == 0
        return [json.loads(line) for line in out.read_text().splitlines()]

    kto = read("kto")
    assert {(r["completion"][0]["content"], r["label"]) for r in kto} == {
        ("Whiskers.", True), ("Use a toaster.", False), ("Monday.", False), ("Tuesday at noon.", True)}
    for r in kto:
        assert r["prompt"][0]["role"] == "system" and r["prompt"][-1]["role"] == "user"
        assert r["completion"][0]["role"] == "assistant" and isinstance(r["label"], bool)
    sft = read("sft")
    assert sorted(r["messages"][-1]["content"] for r in sft) == ["Tuesday at noon.", "Whiskers."]
    assert all(r["messages"][-2] == {"role": "user", "content": r["messages"][-2]["content"]} for r in sft)
    full = {r["message_id"]: r for r in read("jsonl")}
    assert set(full) == {good.id, bad.id, fixed.id, waiting.id}
    assert full[fixed.id]["reward"] == -1 and full[fixed.id]["hint"] == "Tuesday at noon."
    assert full[fixed.id]["reward_source"] == "correction" and full[waiting.id]["next_state"] == "thanks"
    assert "votes" in full[good.id] and "hint_votes" in full[good.id]
    # TRL reads the KTO rows as a conversational unpaired-preference dataset
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "kto.jsonl"), split="train")
    assert set(ds.column_names) == {"prompt", "completion", "label"}
