"""``python -m openclaw_local.ui``: print every key; ``--readme README.md`` rewrites the README's key table."""

from __future__ import annotations

import sys
from pathlib import Path

from openclaw_local.ui.app import key_places
from openclaw_local.ui.keys import help_text, rewrite_readme

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--readme":
        print("rewritten" if rewrite_readme(Path(sys.argv[2]), key_places()) else "up to date")
    else:
        print(help_text(key_places()))
