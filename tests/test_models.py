"""``models pull|list|use|rm`` against a real local HTTP hub (tests/hub_server.py); nothing leaves 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import tomllib
from collections import namedtuple

import pytest

from openclaw_local.cli import main
from openclaw_local.services import model_download
from openclaw_local.services.models import KNOWN
from tests.hub_server import Hub, HubServers

SMALL = KNOWN["qwen3-0.6b"]  # served with the embedded model's bytes


@pytest.fixture(scope="module")
def payload(embedded_model) -> bytes:
    return embedded_model.read_bytes()


@pytest.fixture
def hub(payload, monkeypatch):
    h = Hub(files={(SMALL.repo, SMALL.filename): payload})
    servers = HubServers(h)
    monkeypatch.setenv("HF_ENDPOINT", h.hub_url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(model_download, "RETRY_WAIT_S", 0.0)
    yield h
    servers.close()


def run(capsys, *args):
    code = main(["models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("\r")]
    lines = [line for line in lines if line.startswith("error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_pull_downloads_verifies_and_records(hub, home, payload, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")
    code, out, err = run(capsys, "pull", "qwen3-0.6b")
    assert code == 0, err
    dest = home / "models" / SMALL.filename
    assert dest.read_bytes() == payload
    record = json.loads((home / "models" / f"{SMALL.filename}.json").read_text())
    assert record["sha256"] == hashlib.sha256(payload).hexdigest() and record["repo"] == SMALL.repo
    assert not (home / "models" / f"{SMALL.filename}.part").exists()
    heads = [r for r in hub.requests if r["server"] == "hub" and r["method"] == "HEAD"]
    assert heads and heads[0]["path"] == f"/{SMALL.repo}/resolve/main/{SMALL.filename}"
    assert all("range" not in r["headers"] for r in hub.gets())
    assert heads[0]["headers"].get("authorization") == "Bearer hf_test_token_not_real"
    assert all("authorization" not in r["headers"] for r in hub.gets())  # the token stays with the hub
    assert "sha256 verified" in out and "\r" not in err  # off a terminal: no redrawn meter, no control codes
    # pulling again asks the hub but downloads nothing
    n = len(hub.gets())
    assert run(capsys, "pull", "qwen3-0.6b")[0] == 0 and len(hub.gets()) == n


def test_interrupted_download_resumes_on_the_next_run_with_range(hub, home, payload, capsys):
    hub.drop_after, hub.drops_left = 1_000_000, model_download.ATTEMPTS  # every GET of this run breaks off
    code, _, err = run(capsys, "pull", "qwen3-0.6b")
    assert code == 1
    assert "broke off" in one_error_line(err) and "run the same command again to resume" in err
    part = home / "models" / f"{SMALL.filename}.part"
    kept = part.stat().st_size
    assert kept == model_download.ATTEMPTS * 1_000_000  # each attempt in the run went on from the last
    assert not (home / "models" / SMALL.filename).exists()
    first_run = len(hub.gets())
    code, _, err = run(capsys, "pull", "qwen3-0.6b")
    assert code == 0, err
    resumed = hub.gets()[first_run]
    assert resumed["headers"]["range"] == f"bytes={kept}-"
    assert (home / "models" / SMALL.filename).read_bytes() == payload
    assert not part.exists()


def test_a_corrupted_download_is_refused_and_deleted(hub, home, capsys):
    hub.corrupt = True
    code, _, err = run(capsys, "pull", "qwen3-0.6b")
    assert code == 1
    line = one_error_line(err)
    assert "corrupt" in line and "checksum" in line
    assert list((home / "models").iterdir()) == []


def test_a_part_from_another_file_version_is_discarded(hub, home, payload, capsys):
    models = home / "models"
    models.mkdir(parents=True)
    (models / f"{SMALL.filename}.part").write_bytes(b"x" * 1000)
    (models / f"{SMALL.filename}.part.json").write_text(json.dumps({"etag": "0" * 64}))
    assert run(capsys, "pull", "qwen3-0.6b")[0] == 0
    assert "range" not in hub.gets()[0]["headers"]
    assert (models / SMALL.filename).read_bytes() == payload


def test_unknown_names_and_files_are_not_found(hub, capsys):
    code, _, err = run(capsys, "pull", "qwen9-huge")
    assert code == 8 and "no known model" in one_error_line(err)
    code, _, err = run(capsys, "pull", SMALL.repo, "nope.gguf")
    assert code == 8 and "no file 'nope.gguf'" in one_error_line(err)
    code, _, err = run(capsys, "pull", "someone/missing", "x.gguf")
    assert code == 8 and "no repository" in one_error_line(err)


def test_not_enough_disk_is_one_line_before_any_download(hub, home, monkeypatch, capsys):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 10**6, 10**6))
    code, _, err = run(capsys, "pull", "qwen3-0.6b")
    assert code == 1 and "not enough disk space" in one_error_line(err)
    assert hub.gets() == []


def test_offline_hub_is_one_line_from_the_real_entry_point(home, tmp_path):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{port}", "OPENCLAW_HOME": str(home), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "openclaw_local", "models", "pull", "qwen3-4b"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "cannot reach the model hub" in one_error_line(r.stderr)


def test_hf_hub_offline_is_one_line(home, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(capsys, "pull", "qwen3-0.6b")
    assert code == 1 and "HF_HUB_OFFLINE" in one_error_line(err)


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_list_use_rm(hub, home, embedded_model, capsys):
    config = home / "config.toml"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text("# my settings\ntemperature = 0.3  # cooler\n\n# keep this comment\n")
    assert run(capsys, "pull", "qwen3-0.6b")[0] == 0
    code, out, _ = run(capsys, "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["qwen3-0.6b"]["downloaded"] and not rows["qwen3-0.6b"]["in_use"]
    assert not rows["qwen3-4b"]["downloaded"] and rows["SmolLM2-135M-Instruct.Q4_1.gguf"]["in_use"]
    assert sum(r["recommended"] for r in rows.values()) <= 1

    code, out, err = run(capsys, "use", "qwen3-0.6b")
    assert code == 0, err
    text = config.read_text()
    assert "# my settings" in text and "# cooler" in text and "# keep this comment" in text
    data = tomllib.loads(text)
    assert data["temperature"] == 0.3 and data["model_path"] == str((home / "models" / SMALL.filename).resolve())
    code, out, _ = run(capsys, "list")
    assert any(line.startswith("* qwen3-0.6b") for line in out.splitlines()) and "recommended:" in out

    code, _, err = run(capsys, "rm", "qwen3-0.6b")
    assert code == 7 and "in use" in one_error_line(err)
    assert (home / "models" / SMALL.filename).exists()

    other = home / "models" / "other.gguf"
    shutil.copyfile(embedded_model, other)
    assert run(capsys, "use", "other")[0] == 0
    assert tomllib.loads(config.read_text())["model_path"] == str(other.resolve())
    assert config.read_text().count("model_path") == 1
    code, out, err = run(capsys, "rm", "qwen3-0.6b")
    assert code == 0, err
    assert not (home / "models" / SMALL.filename).exists()
    assert not (home / "models" / f"{SMALL.filename}.json").exists()

    code, _, err = run(capsys, "rm", "qwen3-0.6b")
    assert code == 8 and "not downloaded" in one_error_line(err)
    code, _, err = run(capsys, "use", "nothing-here")
    assert code == 8 and "no model named" in one_error_line(err)
