"""Concepts defined once: the verdict marks (openclaw_local/verdicts.py) and think-tag handling
(openclaw_local/thinking.py), shared by the store, the engine, the trainer and the front-ends."""

from __future__ import annotations

import ast
from pathlib import Path

import openclaw_local
from openclaw_local import verdicts
from openclaw_local.thinking import split_thinking, strip_thinking
from tests.source_tree import modules

ROOT = Path(openclaw_local.__file__).parent
MARKS = {verdicts.ACCEPTED, verdicts.PUSHED_BACK, verdicts.UNCLEAR}


def mark_tables(root: Path) -> list[str]:
    """Dict literals outside verdicts.py with a bare verdict mark as a key or value: a second table."""
    found = []
    for rel, tree in modules(root, skip={"verdicts.py"}):
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                consts = [n.value for n in (*node.keys, *node.values) if isinstance(n, ast.Constant)]
                if MARKS & {c for c in consts if isinstance(c, str)}:
                    found.append(f"{rel}:{node.lineno}")
    return found


def test_the_verdict_marks_are_one_table():
    assert not mark_tables(ROOT), "use openclaw_local.verdicts:\n" + "\n".join(mark_tables(ROOT))


def test_the_check_sees_a_second_table(tmp_path):
    (tmp_path / "verdicts.py").write_text('MARKS = {1: "✓", -1: "✗"}\n')
    (tmp_path / "view.py").write_text('LABELS = {1: "✓ accepted"}\nMARKS = {1: "✓", -1: "✗"}\n')
    assert mark_tables(tmp_path) == ["view.py:2"]


def test_marks_and_words():
    assert [verdicts.mark(r) for r in (1, -1, 0, None)] == ["✓", "✗", "·", "·"]
    assert set(verdicts.WORDS) == MARKS


def test_strip_and_split_agree_on_a_finished_reply():
    """What the engine shows as the reply is what the trainer trains on."""
    for text in ("<think>\nplan\n</think>\n\nHello.", "Hello.", "<think></think>Hi there"):
        assert strip_thinking(text) == split_thinking(text)[1].strip()
    assert strip_thinking("A <think>x</think>B <think>unfinished") == "A B"  # blocks anywhere, as stored text may have
