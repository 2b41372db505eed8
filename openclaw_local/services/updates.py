"""One learning update, end to end: judged samples → LoRA step(s) → a published adapter version.

Used by the background learner process and by ``openclaw-local learn --once``.
It keeps the trainable model in memory between updates and continues from the
active version (its weights and its optimizer state); when the active version
changed under it (a rollback), it reloads.

Publishing order, so that a crash at any point leaves SQLite and disk agreeing:
write the version directory (PEFT adapter + optimizer, atomically renamed into
place), then its llama.cpp GGUF (atomic), then one SQLite transaction that
registers the version, makes it active and marks its samples trained. A crash
before the transaction leaves an orphan directory that no row points at and the
samples still judged, so they are trained again by the next update.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from openclaw_local.config import Settings
from openclaw_local.store import Store
from openclaw_local.store.adapters import GGUF_NAME, AdapterStore, AdapterVersion
from openclaw_local.store.samples import SampleStore

ADAPTERS_DIR = "adapters"
Progress = Callable[[str, int, int, float | None], None]  # (state, step, total, loss)


def version_dir(home: Path, version_id: int) -> Path:
    return home / ADAPTERS_DIR / f"v{version_id:04d}"


class Learner:
    def __init__(self, home: Path, settings: Settings, store: Store, progress: Progress | None = None):
        self.home = home
        self.settings = settings
        self.store = store
        self.samples = SampleStore(store, default_system_prompt=settings.system_prompt)
        self.adapters = AdapterStore(store)
        self.progress = progress or (lambda state, step, total, loss: None)
        self._trainable = None
        self._optimizer = None
        self._loaded_version: int | None | str = "nothing"

    def ready_samples(self) -> list[int]:
        return self.samples.trainable_ids()

    def _ensure_loaded(self) -> None:
        from openclaw_local.learn import trainable as tr
        from openclaw_local.learn.trainer import load_optimizer_state, make_optimizer

        active = self.adapters.active()
        active_id = active.id if active else None
        if self._trainable is not None and self._loaded_version == active_id:
            return
        self.progress("loading", 0, 0, None)

        def report(message: str, fraction: float) -> None:
            self.progress(f"preparing model: {message}", int(fraction * 100), 100, None)

        adapter_dir = Path(active.path) if active else None
        self._trainable = tr.build_trainable(self.settings, self.home, adapter_dir=adapter_dir, progress=report)
        self._optimizer = make_optimizer(self._trainable.model, self.settings.learning_rate)
        if adapter_dir is not None:
            load_optimizer_state(self._optimizer, adapter_dir / tr.OPTIMIZER_FILE)
        self._loaded_version = active_id

    def update(self, sample_ids: list[int] | None = None) -> AdapterVersion | None:
        """Train on the given (default: all ready) samples and publish an active version."""
        from openclaw_local.learn.convert import peft_model_to_gguf
        from openclaw_local.learn.trainable import save_adapter
        from openclaw_local.learn.trainer import TrainConfig, train_update

        ids = sample_ids if sample_ids is not None else self.ready_samples()
        items = self.samples.training_items(ids)
        if not items:
            return None
        self._ensure_loaded()
        s = self.settings
        config = TrainConfig(lr=s.learning_rate, w_rl=s.w_rl, w_opd=s.w_opd, passes=s.learn_passes)
        started = time.monotonic()

        def on_step(step: int, total: int, loss: float) -> None:
            self.progress("training", step, total, loss)

        t = self._trainable
        metrics = train_update(t.model, t.tokenizer, items, config, self._optimizer, progress=on_step)
        self.progress("publishing", 0, 0, metrics.loss)
        parent = self.adapters.active()
        vid = self.adapters.next_id()
        vdir = version_dir(self.home, vid)
        if vdir.exists():  # an orphan from a crash before its row was written
            shutil.rmtree(vdir)
        trained_ids = sorted({item["message_id"] for item in items})
        summary = {
            "loss": metrics.loss, "mean_reward": metrics.mean_reward, "n_samples": len(trained_ids),
            "n_items": metrics.n_items, "n_tokens": metrics.n_tokens, "seconds": time.monotonic() - started,
            "steps": metrics.steps, "tokens_per_s": metrics.tokens_per_s, "clip_fraction": metrics.clip_fraction,
        }
        save_adapter(t.model, vdir, self._optimizer, extra_state=summary)
        peft_model_to_gguf(t.model, vdir / GGUF_NAME, architecture=t.architecture)
        version = self.adapters.publish(vid, vdir, parent_id=parent.id if parent else None, sample_ids=trained_ids, metrics=summary)
        self._loaded_version = vid
        return version
