"""Bad inputs (eval-prm lines, imported adapters, missing versions and paths): one clear line, a documented exit code, nothing written or lost."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora  # noqa: E402
from dir_hash import tree_digest  # noqa: E402

from openclaw_local.cli import main  # noqa: E402
from openclaw_local.store import Store  # noqa: E402
from openclaw_local.store.adapters import AdapterStore  # noqa: E402

GOOD_LINE = {"reply": "Paris is the capital.", "next_state": "thanks, perfect", "label": 1}


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------ eval-prm
@pytest.mark.parametrize("bad_line,words", [
    ({**GOOD_LINE, "prompt": 5}, '"prompt" must be text or absent (found number 5)'),
    ([1, 2], "must be a JSON object, not array [1, 2]"),
    ("just text", "must be a JSON object, not text"),
    ({**GOOD_LINE, "label": True}, '"label" must be 1, 0 or -1 (found True)'),
    ({**GOOD_LINE, "label": 1.0}, '"label" must be 1, 0 or -1'),
    ({**GOOD_LINE, "reply": None}, '"reply" must be text (found nothing)'),
])
def test_eval_prm_bad_lines_name_file_and_line(tmp_path, capsys, bad_line, words):
    path = tmp_path / "labeled.jsonl"
    path.write_text(json.dumps(GOOD_LINE) + "\n" + json.dumps(bad_line) + "\n")
    assert main(["eval-prm", str(path)]) == 6
    line = one_error_line(capsys.readouterr().err)
    assert f"{path}:2: " in line and words in line


@pytest.mark.parametrize("limit", ["-1", "0", "two"])
def test_eval_prm_limit_must_be_positive(tmp_path, capsys, limit):
    path = tmp_path / "labeled.jsonl"
    path.write_text(json.dumps(GOOD_LINE) + "\n")
    assert main(["eval-prm", str(path), "--limit", limit]) == 2
    assert "--limit: expected a whole number >= 1" in one_error_line(capsys.readouterr().err)


def test_eval_prm_limit_counts_lines(tmp_path, capsys):
    path = tmp_path / "labeled.jsonl"
    path.write_text("".join(json.dumps({**GOOD_LINE, "reply": f"r{i}"}) + "\n" for i in range(3)))
    assert main(["eval-prm", str(path), "--limit", "2", "--mode", "rules"]) == 0
    assert f"{path}: 2 lines" in capsys.readouterr().out


def test_eval_prm_missing_file_is_not_found(tmp_path, capsys):
    assert main(["eval-prm", str(tmp_path / "absent.jsonl")]) == 8
    assert "labeled file not found" in one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ adapters
@pytest.fixture
def tiny_home(home, tiny_llama_gguf, monkeypatch):
    monkeypatch.setenv("OPENCLAW_MODEL_PATH", str(tiny_llama_gguf))
    return home


@pytest.fixture
def peft_dir(tiny_home, tiny_llama_gguf, tmp_path):
    """One published version (v1, active) and a valid PEFT dir of another LoRA to import."""
    from openclaw_local.learn.adapter_io import base_info, write_peft_dir

    store = Store.open(tiny_home)
    publish(tiny_home, store, random_lora(tiny_llama_gguf), tiny_llama_gguf)
    store.close()
    return write_peft_dir(random_lora(tiny_llama_gguf, rank=4, seed=5), tmp_path / "peft", base_info(tiny_llama_gguf))


def _set_config(peft: Path, **changes) -> None:
    cfg = json.loads((peft / "adapter_config.json").read_text())
    for k, v in changes.items():
        if v is ...:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    (peft / "adapter_config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize("changes,words", [
    ({"lora_alpha": "sixteen"}, "lora_alpha must be a number, not 'sixteen'"),
    ({"lora_alpha": -1e30}, "lora_alpha must be a positive finite number, not -1e+30"),
    ({"lora_alpha": 0}, "lora_alpha must be a positive finite number"),
    ({"lora_alpha": 1e30}, "more than 64"),
    ({"lora_alpha": True}, "lora_alpha must be a number, not True"),
    ({"lora_alpha": ...}, "does not describe a LoRA adapter"),
    ({"r": 8}, '"r" is 8 but the tensors have rank 4'),
    ({"r": "4"}, '"r" must be a whole number >= 1'),
    ({"use_dora": "yes"}, '"use_dora" must be true or false'),
    ({"fan_in_fan_out": True}, "fan_in_fan_out"),
    ({"alpha_pattern": {"q_proj": 64}}, "alpha_pattern is not supported"),
    ({"bias": "all"}, "bias 'all' is not supported"),
    ({"peft_type": 7}, "does not describe a LoRA adapter"),
])
def test_import_checks_config_values(peft_dir, tiny_home, capsys, changes, words):
    _set_config(peft_dir, **changes)
    before = tree_digest(tiny_home)
    assert main(["adapters", "import", str(peft_dir), "--activate"]) == 6
    assert words in one_error_line(capsys.readouterr().err)
    assert tree_digest(tiny_home) == before


def test_import_of_a_gguf_lora_checks_alpha(peft_dir, tiny_home, tiny_llama_gguf, tmp_path, capsys):
    from openclaw_local.learn.adapter_io import base_info, write_lora_gguf

    lora = random_lora(tiny_llama_gguf, rank=4)
    lora.alpha = -1e30
    bad = write_lora_gguf(lora, tmp_path / "neg.gguf", base_info(tiny_llama_gguf))
    before = tree_digest(tiny_home)
    assert main(["adapters", "import", str(bad), "--activate"]) == 6
    assert "alpha must be a positive finite number" in one_error_line(capsys.readouterr().err)
    assert tree_digest(tiny_home) == before


def test_disk_full_during_import_cleans_up(peft_dir, tiny_home, monkeypatch, capsys):
    from openclaw_local.learn import adapter_io

    real = adapter_io.lora_tensors_to_gguf

    def fill_the_disk(tensors, out, **kw):
        Path(out).write_bytes(b"GGUF" + b"\0" * 4096)  # a partial file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(out))

    monkeypatch.setattr(adapter_io, "lora_tensors_to_gguf", fill_the_disk)
    store = Store.open(tiny_home)
    before_versions = [(v.id, v.status) for v in AdapterStore(store).versions()]
    before_files = {k for k in tree_digest(tiny_home / "adapters")}
    assert main(["adapters", "import", str(peft_dir), "--activate", "--force"]) == 4
    line = one_error_line(capsys.readouterr().err)
    assert "No space left on device" in line and "cannot write" in line
    assert [(v.id, v.status) for v in AdapterStore(store).versions()] == before_versions
    assert {k for k in tree_digest(tiny_home / "adapters")} == before_files  # no partial version left behind
    monkeypatch.setattr(adapter_io, "lora_tensors_to_gguf", real)
    assert main(["adapters", "import", str(peft_dir), "--activate", "--force"]) == 0  # with space again, it works
    # the failed write's id stays used (ids are never handed out twice); the new version is the newest one
    active = AdapterStore(store).active()
    assert [v.id for v in AdapterStore(store).versions()] == sorted([vid for vid, _ in before_versions] + [active.id])
    assert active.id > max([vid for vid, _ in before_versions], default=0)
    store.close()


def test_export_into_a_missing_directory(peft_dir, tiny_home, tmp_path, capsys):
    for fmt, name in (("peft", "out"), ("gguf-lora", "out.gguf")):
        target = tmp_path / "no" / "such" / name
        assert main(["adapters", "export", "1", "--format", fmt, "--out", str(target)]) == 4  # cannot write
        assert f"the directory {target.parent} for --out does not exist" in one_error_line(capsys.readouterr().err)
        assert not (tmp_path / "no").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["adapters", "export", "1", "--format", "gguf-lora", "--out", str(blocker / "a.gguf")]) == 4
    assert "is not a directory" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["show", "7"], ["activate", "7"], ["delete", "7"],
                                  ["export", "7", "--format", "gguf-lora", "--out", "x.gguf"]])
def test_missing_version_is_not_found(peft_dir, tiny_home, capsys, argv):
    before = tree_digest(tiny_home)
    assert main(["adapters", *argv]) == 8
    assert "there is no adapter version 7 (versions: v1)" in one_error_line(capsys.readouterr().err)
    assert tree_digest(tiny_home) == before
