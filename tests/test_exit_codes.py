"""One table of exit codes (errors.EXIT_CODES): README and --help are rendered from it and agree with the code."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import openclaw_local
from openclaw_local.cli import build_parser, main
from openclaw_local.errors import EXIT_CODES, NotFoundError, UserError, exit_code_table_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_table_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- exit-codes:begin[^>]*-->\n(.*?)\n<!-- exit-codes:end -->", text, re.S)
    assert m, "README.md lacks the exit-codes block"
    assert m.group(1) == exit_code_table_markdown(), "README's exit-code table differs: regenerate it from errors.py"


def test_help_shows_every_exit_code(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for code, name, meaning in EXIT_CODES:
        assert re.search(rf"^\s*{code}\s+{re.escape(name)}: {re.escape(meaning)}$", out, re.M), (code, out)
    assert "exit codes:" in build_parser().format_help()


def _all_user_errors() -> set[type]:
    for mod in pkgutil.walk_packages(openclaw_local.__path__, "openclaw_local."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    found, todo = set(), [UserError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_uses_a_documented_code():
    codes = {code for code, _, _ in EXIT_CODES}
    names = [name for _, name, _ in EXIT_CODES]
    assert len(names) == len(set(names)) and len(codes) == len(EXIT_CODES)
    for cls in _all_user_errors():
        assert cls.exit_code in codes, f"{cls.__module__}.{cls.__name__} exits {cls.exit_code}, not in EXIT_CODES"
    assert NotFoundError.exit_code == 8 and dict((c, n) for c, n, _ in EXIT_CODES)[7] == "refused"


def test_usage_mistakes_are_one_line(capsys):
    for argv in (["adapters", "show", "seven"], ["no-such-command"], ["history", "--bogus"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "--help" in lines[0], err
