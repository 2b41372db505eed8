"""One atomic-write helper: only openclaw_local/paths.py renames files into place or fsyncs them.

Every other module writes through ``atomic_path`` / ``atomic_dir`` / ``atomic_write_bytes`` /
``copy_file_atomic`` / ``move_into_place`` / ``remove_dir``, so "temp file + fsync + rename"
exists once and a fix to it (a missing directory fsync, a temp name the sweeper cannot read)
reaches every writer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import openclaw_local
from tests.source_tree import modules

ROOT = Path(openclaw_local.__file__).parent
HELPER_MODULE = "paths.py"
OS_CALLS = {"replace", "rename", "renames", "fsync", "fdatasync"}  # os.<name>(...)
METHOD_CALLS = {"rename"}  # <path>.rename(...) (Path.replace cannot be told from str.replace)


def direct_writes(root: Path) -> list[str]:
    found = []
    for rel, tree in modules(root, skip={HELPER_MODULE}):
        from_os = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "os"
                   for a in n.names if a.name in OS_CALLS}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute):
                on_os = isinstance(func.value, ast.Name) and func.value.id == "os"
                if (on_os and func.attr in OS_CALLS) or (not on_os and func.attr in METHOD_CALLS):
                    found.append(f"{rel}:{node.lineno} .{func.attr}()")
            elif isinstance(func, ast.Name) and func.id in from_os:
                found.append(f"{rel}:{node.lineno} {func.id}()")
    return found


def test_only_paths_renames_or_fsyncs():
    found = direct_writes(ROOT)
    assert not found, "write through the helpers in openclaw_local/paths.py:\n" + "\n".join(found)


def test_the_check_sees_a_hand_rolled_writer(tmp_path):
    (tmp_path / "paths.py").write_text("import os\nos.replace(a, b)\n")  # the helper module may
    (tmp_path / "rogue.py").write_text(
        "import os\nfrom os import fsync as sync\n"
        "os.fsync(fd)\nos.replace(tmp, out)\ntmp.rename(out)\nsync(fd)\ntext.replace('a', 'b')\n")
    assert [f.split(" ")[0] for f in direct_writes(tmp_path)] == [
        "rogue.py:3", "rogue.py:4", "rogue.py:5", "rogue.py:6"]
