"""paths.resolve_model_path / resolve_judge_model_path: the one model-path resolver."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_atomic_path_replaces_whole_or_not_at_all(tmp_path):
    from openclaw_local.paths import atomic_path, atomic_write_bytes

    target = tmp_path / "out.jsonl"
    atomic_write_bytes(target, b"old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp, open(tmp, "w") as fh:
            fh.write("half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("new\n")
        assert target.read_text() == "old\n"  # readers see the old file until the block ends
    assert target.read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_atomic_dir_swaps_the_directory_whole_or_not_at_all(tmp_path):
    from openclaw_local.paths import atomic_dir

    target = tmp_path / "v1"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("first")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "b.txt").write_text("second")
            raise RuntimeError("crash mid-write")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v1"]  # no temporary or .old directory left


def test_atomic_dir_keeps_or_refuses_an_existing_directory(tmp_path):
    """``keep``: the first writer wins; ``fail``: FileExistsError, even over an empty directory."""
    from openclaw_local.paths import atomic_dir, remove_dir

    target = tmp_path / "cache"
    with atomic_dir(target, if_exists="keep") as tmp:
        (tmp / "a.txt").write_text("first")
    with atomic_dir(target, if_exists="keep") as tmp:
        (tmp / "a.txt").write_text("second")
    assert (target / "a.txt").read_text() == "first"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileExistsError):
        with atomic_dir(empty, if_exists="fail") as tmp:
            (tmp / "b.txt").write_text("new")
    assert list(empty.iterdir()) == []
    remove_dir(target)
    remove_dir(target)  # already gone: nothing to do
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no temporaries left
