"""SQLite storage for conversations, feedback and learning state.

Knows nothing about llama.cpp, torch or the UI.
"""

from openclaw_local.store.db import Store, SCHEMA_VERSION

__all__ = ["Store", "SCHEMA_VERSION"]
