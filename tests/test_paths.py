"""paths.resolve_model_path / resolve_judge_model_path: the one model-path resolver."""

from __future__ import annotations

from pathlib import Path

from openclaw_local.config import Settings
from openclaw_local.paths import embedded_model_path, resolve_judge_model_path, resolve_model_path


def test_model_path_defaults_to_the_embedded_model():
    assert resolve_model_path(Settings()) == embedded_model_path()
    assert resolve_judge_model_path(Settings()) == embedded_model_path()


def test_model_paths_expand_the_home_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    s = Settings(model_path="~/m.gguf")
    assert resolve_model_path(s) == tmp_path / "m.gguf"
    assert resolve_judge_model_path(s) == tmp_path / "m.gguf"  # the judge follows the served model
    s = s.replace(judge_model_path="~/j.gguf")
    assert resolve_judge_model_path(s) == tmp_path / "j.gguf"
    assert resolve_model_path(s) == tmp_path / "m.gguf"
    assert isinstance(resolve_model_path(s), Path)
