"""Everything a running chat needs, opened in order and closed in reverse.

``Runtime.open`` takes the data dir and settings and builds: the instance lock,
the store, the serving engine, the chat service, and (when learning is on) the
background judge and learner. The CLI and the benchmarks both build one.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from openclaw_local.config import Settings
from openclaw_local.engine import Engine, ModelGate
from openclaw_local.paths import embedded_model_path
from openclaw_local.services.chat import ChatService
from openclaw_local.store import Store
from openclaw_local.store.db import InstanceLock


class Runtime:
    def __init__(self, home: Path, settings: Settings):
        self.home = home
        self.settings = settings
        self._stack = ExitStack()
        self.store: Store
        self.engine: Engine
        self.chat: ChatService
        self._ui_notify: Callable[[object], None] = lambda event: None

    @classmethod
    def open(cls, home: Path, settings: Settings, *, lock_instance: bool = False) -> "Runtime":
        rt = cls(home, settings)
        try:
            rt._open(lock_instance)
        except BaseException:
            rt.close()
            raise
        return rt

    def _open(self, lock_instance: bool) -> None:
        s = self.settings
        if lock_instance:
            lock = InstanceLock(self.home).acquire()
            self._stack.callback(lock.release)
        self.store = Store.open(self.home)
        self._stack.callback(self.store.close)
        model = Path(s.model_path).expanduser() if s.model_path else embedded_model_path()
        self.gate = ModelGate()
        self.engine = Engine(model, n_ctx=s.n_ctx, threads=s.threads, n_gpu_layers=s.n_gpu_layers, seed=s.seed, gate=self.gate)
        self._stack.callback(self.engine.close)
        self.chat = ChatService(self.store, self.engine, s, adapter_version=self.active_adapter_version)

    def active_adapter_version(self) -> int | None:
        return None

    def status(self) -> dict[str, Any]:
        """Fields for the status bar, polled by the UI."""
        version = self.active_adapter_version()
        return {"adapter": f"v{version}" if version else "none"}

    def attach_ui(self, notify: Any) -> None:
        """Give background services a way to tell the UI about judgments and swaps."""
        self._ui = notify

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
