"""One composition root: engines, judges, load plans and stores are built in services/container.py only."""

from __future__ import annotations

import ast
from pathlib import Path

import openclaw_local
from openclaw_local.judge import JUDGES
from tests.source_tree import modules

ROOT = Path(openclaw_local.__file__).parent
COMPOSITION_ROOT = "services/container.py"
# call -> why only the root may make it
BUILT_ONLY_IN_ROOT = {
    "Engine": "a llama.cpp engine (model path, load plan, context size)",
    "Judge": "a judge configured from the settings",
    "make_judge": "a judge configured from the settings",
    **{cls.__name__: "a judge configured from the settings" for cls in JUDGES.values()},
    "plan_for": "the load plan (use container.load_plan)",
    "Store.open": "the data dir's store (use container.open_store)",
}


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        return f"{owner}.{func.attr}" if owner == "Store" else func.attr
    return ""


def constructions_outside_root(root: Path) -> list[str]:
    found = []
    for rel, tree in modules(root, skip={COMPOSITION_ROOT}):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) in BUILT_ONLY_IN_ROOT:
                name = _call_name(node)
                found.append(f"{rel}:{node.lineno} {name}(): {BUILT_ONLY_IN_ROOT[name]}")
    return found


def test_engines_judges_plans_and_stores_are_built_only_in_the_composition_root():
    found = constructions_outside_root(ROOT)
    assert not found, "build these through openclaw_local.services.container:\n" + "\n".join(found)


def test_the_check_sees_a_direct_construction(tmp_path):
    """The check above can fail: a module that builds an Engine, a Judge or a Store itself is reported."""
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "container.py").write_text("Engine('m', plan=p)\n")  # the root may
    (tmp_path / "rogue.py").write_text(
        "from x import Engine, Judge, Store\n"
        "e = Engine('m', plan=p)\nj = Judge(e)\ns = Store.open(h)\nq = selftest.plan_for(h, s, m)\n")
    found = constructions_outside_root(tmp_path)
    assert [f.split(" ")[0] for f in found] == ["rogue.py:2", "rogue.py:3", "rogue.py:4", "rogue.py:5"]


def test_the_root_builds_what_the_commands_used_to(monkeypatch, tmp_path):
    """Judge engines: none for the model-free modes; CPU-only for background work unless told."""
    from openclaw_local.config import Settings
    from openclaw_local.services import container

    loads = []
    monkeypatch.setattr(container, "load_engine", lambda home, s, model=None, **kw: loads.append((model, kw)) or "engine")
    s = Settings(judge_mode="rules", n_ctx=4096)
    assert container.judge_mode(s) == "rules"
    assert container.load_judge_engine(tmp_path, s, "rules") is None
    assert container.load_judge_engine(tmp_path, s, "learned") is None
    assert loads == []
    assert container.load_judge_engine(tmp_path, s.replace(judge_model_path="~/j.gguf"), "generate") == "engine"
    model, kw = loads[0]
    assert model == Path("~/j.gguf").expanduser()
    assert kw["n_ctx"] == container.JUDGE_N_CTX and kw["cpu_only"] is True
    judge = container.build_judge(s.replace(judge_votes=5), None, "rules", seed=3)
    assert (judge.mode, judge.votes, judge.seed) == ("rules", 5, 3)


def test_auto_judge_mode_sizes_the_judge_model_at_its_expanded_path(monkeypatch):
    """``judge_model_path = "~/j.gguf"`` is looked at in the home directory, like every model path."""
    from openclaw_local.config import Settings
    from openclaw_local.engine import model_size
    from openclaw_local.services import container

    seen = []
    monkeypatch.setattr(model_size, "parameter_count", lambda path: seen.append(str(path)) or 8_000_000_000)
    container.judge_mode(Settings(judge_mode="auto", judge_model_path="~/j.gguf"))
    assert seen == [str(Path("~/j.gguf").expanduser())]
