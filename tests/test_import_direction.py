"""Imports go one way: front-ends -> services -> {store, engine, learn} -> judge ... -> {config, paths, errors};
the typed records (``records.py``) are a leaf every layer may use. Imports inside functions count
like any other: a lower layer has no entry points (``main()``) of its own.

And no two modules import each other, directly or round a loop (:func:`import_cycles`)."""

from __future__ import annotations

import ast
from pathlib import Path

import openclaw_local

ROOT = Path(openclaw_local.__file__).parent
FRONT_ENDS = {"cli", "ui", "endpoint", "sim", "bench", "__main__"}
# package -> what it may import (besides itself)
# leaf modules with no internal imports (shared vocabulary): every layer may use them
LEAVES = {"verdicts", "thinking", "records"}
ALLOWED = {
    **{name: None for name in FRONT_ENDS},  # anything
    "services": {"store", "engine", "learn", "judge", "config", "paths", "errors", *LEAVES},
    "store": {"config", "paths", "errors", *LEAVES},
    "engine": {"config", "paths", "errors", *LEAVES},
    "learn": {"judge", "config", "paths", "errors", *LEAVES},  # judge: the word/clause helpers (preference_text)
    "config": {"judge", "paths", "errors"},  # judge: the judge_mode setting's choices come from the judge table
    "judge": {"paths", "errors", *LEAVES},
    "paths": {"errors"},
    "errors": set(),
    **{name: set() for name in LEAVES},
}


def _package(path: Path, root: Path) -> str:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["openclaw_local", *parts])


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The ``openclaw_local.…`` names an import statement names (``from a import b`` → ``a`` and ``a.b``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "openclaw_local"]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: resolve against this module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    if base.split(".")[0] != "openclaw_local":
        return []
    return [base] + [f"{base}.{a.name}" for a in node.names]


def upward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        pkg = _package(path, root)
        allowed = ALLOWED.get(pkg, set())
        if allowed is None:
            continue
        module = _module_name(path, root)
        for node in sorted((n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, (ast.Import, ast.ImportFrom))),
                           key=lambda n: n.lineno):
            names = _imported(node, module, path.name == "__init__.py")
            targets = {n.split(".")[1] for n in names[:1] if "." in n}  # the imported module's top package
            for target in sorted(targets):
                if target != pkg and target not in allowed:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {pkg} imports {target}")
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (statically, anywhere in it: functions included).

    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``. Importing
    ``a.b.c`` also runs ``a/b/__init__.py``; that implicit edge is not counted (Python allows a package's
    ``__init__`` to import its own submodules, which import each other)."""
    files = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text())):
            names = _imported(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                base, subs = names[:1], names[1:]
                hits = [n for n in subs if n in files]
                if len(hits) < len(subs) and base and base[0] in files:
                    hits.append(base[0])  # some names are attributes of the module itself
                edges.update(hits)
            else:
                edges.update(n for n in names if n in files)
        edges.discard(module)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative, so a deep graph cannot hit the recursion limit
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    group.append(top)
                    if top == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(groups)


def test_imports_go_one_way():
    found = upward_imports(ROOT)
    assert not found, "\n".join(found)


def test_the_check_sees_an_upward_import(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "x.py").write_text(
        "from openclaw_local.services.chat import ChatService\n"
        "def main():\n    from openclaw_local.services import container\n"  # main() is no exception
        "import openclaw_local.ui.app\n")
    assert upward_imports(tmp_path) == ["store/x.py:1 store imports services", "store/x.py:3 store imports services",
                                        "store/x.py:4 store imports ui"]


def test_no_module_imports_itself_round_a_loop():
    cycles = import_cycles(import_graph(ROOT))
    assert not cycles, "modules that import each other (directly or round a loop):\n" + "\n".join(
        " <-> ".join(group) for group in cycles)


def test_the_cycle_check_sees_a_loop_through_a_function(tmp_path):
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "__init__.py").write_text("from openclaw_local.ui.app import App\n")  # not a loop
    (tmp_path / "ui" / "app.py").write_text("from openclaw_local.ui import help\n")
    (tmp_path / "ui" / "help.py").write_text("from openclaw_local.ui.keys import text\n")
    (tmp_path / "ui" / "keys.py").write_text("def text():\n    from openclaw_local.ui.app import App\n")
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("import openclaw_local.a\n")
    assert import_cycles(import_graph(tmp_path)) == [
        ["openclaw_local.a", "openclaw_local.b"],
        ["openclaw_local.ui.app", "openclaw_local.ui.help", "openclaw_local.ui.keys"],
    ]


def test_records_are_a_leaf():
    tree = ast.parse((ROOT / "records.py").read_text())
    internal = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("openclaw_local")]
    internal += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name.startswith("openclaw_local")]
    assert internal == []
