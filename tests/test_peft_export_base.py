"""A PEFT export names the public base model (from the GGUF's metadata) and says how to load it elsewhere."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora  # noqa: E402

from openclaw_local.cli import main  # noqa: E402
from openclaw_local.learn.base_model_id import EMBEDDED_ID, identify, public_base_model, read_metadata  # noqa: E402
from openclaw_local.store import Store  # noqa: E402


@pytest.mark.parametrize("meta,repo_id,certain", [
    ({"general.source.huggingface.repository": "Qwen/Qwen3-4B", "general.name": "x"}, "Qwen/Qwen3-4B", True),
    ({"general.source.url": "https://huggingface.co/Qwen/Qwen3-1.7B/tree/main"}, "Qwen/Qwen3-1.7B", True),
    ({"general.organization": "Qwen", "general.name": "Qwen3 4B",
      "general.base_model.0.repo_url": "https://huggingface.co/Qwen/Qwen3-4B-Base"}, "Qwen/Qwen3-4B", False),
    ({"general.base_model.count": 1, "general.base_model.0.organization": "Meta Llama",
      "general.base_model.0.name": "Llama 3.2 1B"}, None, False),  # "Meta Llama" is no repo owner
    ({"general.base_model.count": 1, "general.base_model.0.repo_url": "https://huggingface.co/org/base-7b"},
     "org/base-7b", False),
    ({"general.name": "tiny-llama"}, None, False),
    ({}, None, False),
])
def test_identify_from_metadata(meta, repo_id, certain):
    found = identify(meta)
    assert found.repo_id == repo_id and found.certain == certain and found.how


def test_embedded_gguf_metadata_and_id(embedded_model):
    meta = read_metadata(embedded_model)
    # what SmolLM2's GGUF says: organization and a long internal name, no source or base_model keys
    assert meta["general.organization"] == "HuggingFaceTB" and "general.source.url" not in meta
    assert public_base_model(embedded_model, embedded=True).repo_id == EMBEDDED_ID


def test_metadata_of_a_written_gguf(tmp_path):
    import gguf

    path = tmp_path / "meta.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_string("general.source.huggingface.repository", "someone/some-model")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    assert public_base_model(path).repo_id == "someone/some-model"
    assert public_base_model(tmp_path / "absent.gguf").repo_id is None  # unreadable: no hint, no crash


def _export(home, model: Path, tmp_path, capsys) -> tuple[dict, str]:
    store = Store.open(home)
    publish(home, store, random_lora(model, rank=2), model)
    store.close()
    out = tmp_path / "export"
    assert main(["--model", str(model), "adapters", "export", "1", "--format", "peft", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert f"base model: {cfg['base_model_name_or_path']}" in printed
    return cfg, (out / "README.md").read_text()


def test_export_on_the_embedded_model_names_its_public_id(home, embedded_model, tmp_path, capsys):
    cfg, readme = _export(home, embedded_model, tmp_path, capsys)
    assert cfg["base_model_name_or_path"] == EMBEDDED_ID
    assert f'AutoModelForCausalLM.from_pretrained("{EMBEDDED_ID}")' in readme
    assert 'PeftModel.from_pretrained(base, "path/to/this/directory")' in readme
    assert f"--lora adapter.gguf" in readme and "ADAPTER ./adapter.gguf" in readme
    assert f"FROM ./{embedded_model.name}" in readme and f"--base-model-id {EMBEDDED_ID}" in readme


def test_export_without_provenance_keeps_the_path_and_says_so(home, tiny_llama_gguf, tmp_path, capsys):
    cfg, readme = _export(home, tiny_llama_gguf, tmp_path, capsys)
    assert cfg["base_model_name_or_path"] == str(tiny_llama_gguf.resolve())
    assert "Base model: unknown" in readme and "replace it with the Hugging Face id" in readme
