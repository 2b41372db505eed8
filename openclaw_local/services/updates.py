"""One learning update, end to end: judged samples → LoRA step(s) → a published adapter version.

Used by the background learner process and by ``openclaw-local learn --once``.
It keeps the trainable model in memory between updates and continues from the
active version (its weights and its optimizer state); when the active version
changed under it (a rollback), it reloads.

Publishing order, so that a crash at any point leaves SQLite and disk agreeing,
and so that ``adapters import`` running at the same time cannot collide with it:
reserve the version id in SQLite (``adapter_reservations``), write the version
directory (PEFT adapter + optimizer + llama.cpp GGUF) into a temporary sibling and
rename it into place without replacing anything, then one SQLite transaction that
closes the reservation, registers the version and marks its samples trained. A
crash before that transaction leaves an abandoned reservation (and perhaps a
directory no row points at), both cleaned up later, and the samples still judged,
so they are trained again by the next update.

Promotion gate (``learn/gate.py``): the version is published as a ``candidate``,
then in a second transaction made ``active`` if it passes, else ``rejected`` with
the measured reason (its samples stay marked trained by it, so a bad batch is not
retried forever; the user may force-activate it). When an update has at least
``HOLDOUT_MIN`` samples, its newest fifth is held out of training and used as the
gate's feedback slice; those samples stay judged and are trained by the next update.
A rejected update leaves the in-memory model stale, so the next update reloads the
active version (weights and optimizer state).
"""

from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path
from typing import Callable

from openclaw_local.config import Settings
from openclaw_local.services import adapter_files
from openclaw_local.store import Store
from openclaw_local.store.adapters import GGUF_NAME, AdapterStore, AdapterVersion
from openclaw_local.store.samples import SampleStore

ADAPTERS_DIR = adapter_files.ADAPTERS_DIR
# plain prose for the general-text KL; deliberately not the gate's corpus, so the gate still measures held-out text
REPLAY_TEXT = Path(__file__).resolve().parents[2] / "assets" / "replay_text.txt"
HOLDOUT_MIN = 5  # samples an update needs before a fifth of them is held out for the gate
Progress = Callable[[str, int, int, float | None], None]  # (state, step, total, loss)
version_dir = adapter_files.version_dir


def holdout_split(ids: list[int]) -> tuple[list[int], list[int]]:
    """(train, held out): the newest fifth is held out once there are ``HOLDOUT_MIN`` samples."""
    ids = sorted(ids)
    k = len(ids) // 5 if len(ids) >= HOLDOUT_MIN else 0
    return (ids[: len(ids) - k], ids[len(ids) - k:]) if k else (ids, [])


def base_perplexity(home: Path, trainable, config) -> float:
    """The base model's general-text perplexity (adapter off), cached on disk per base and corpus."""
    import hashlib

    from openclaw_local.learn.gate import general_text, perplexity

    text = general_text()
    key = hashlib.sha256(f"{trainable.base_dir.name}|{config.max_tokens}|{config.window}|{text}".encode()).hexdigest()[:16]
    cache = home / ADAPTERS_DIR / "base_ppl.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return float(known[key])
    with trainable.model.disable_adapter():
        ppl = perplexity(trainable.model, trainable.tokenizer, text, max_tokens=config.max_tokens, window=config.window)
    known[key] = ppl
    cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")  # per process: two learners may write it at once
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(known))
    tmp.replace(cache)
    return ppl


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
        self._general_cache: list[int] | None = None

    def _served_model(self) -> Path:
        from openclaw_local.paths import embedded_model_path

        return Path(self.settings.model_path).expanduser() if self.settings.model_path else embedded_model_path()

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
        if active is not None and adapter_files.base_mismatch(active, self._served_model()):
            adapter_dir = None  # trained on another base model: start a new adapter for this one
        # drop the old copy first: two in memory at once is what an out-of-memory kill looks like
        self._trainable = self._optimizer = None
        gc.collect()
        self._trainable = tr.build_trainable(self.settings, self.home, adapter_dir=adapter_dir, progress=report)
        self._optimizer = make_optimizer(self._trainable.model, self.settings.learning_rate)
        if adapter_dir is not None:
            load_optimizer_state(self._optimizer, adapter_dir / tr.OPTIMIZER_FILE)
        self._loaded_version = active_id

    def update(self, sample_ids: list[int] | None = None) -> AdapterVersion | None:
        """Train on the given (default: all ready) samples, publish a candidate, gate it.

        Returns the new version: ``active`` if it passed the gate, else ``rejected``.
        """
        from openclaw_local.learn import gate as g
        from openclaw_local.learn.convert import peft_model_to_gguf
        from openclaw_local.learn.trainable import save_adapter
        from openclaw_local.learn.trainer import TrainConfig, train_update

        ids = sample_ids if sample_ids is not None else self.ready_samples()
        train_ids, held_ids = holdout_split(ids)
        items = self.samples.training_items(train_ids)
        if not items:
            return None
        heldout = self.samples.training_items(held_ids)
        s = self.settings
        replayed = self.samples.replay_correction_items(s.replay_corrections, exclude=ids)
        self._ensure_loaded()
        config = TrainConfig.from_settings(s)
        gate_config = self.gate_config
        started = time.monotonic()
        t = self._trainable
        t.model.eval()
        self.progress("gating", 0, 0, None)
        parent_measure = g.measure(t.model, t.tokenizer, heldout, gate_config, ppl=False) if heldout else {}
        base_ppl = base_perplexity(self.home, t, gate_config)
        gate_seconds = time.monotonic() - started

        def on_step(step: int, total: int, loss: float) -> None:
            self.progress("training", step, total, loss)

        metrics = train_update(t.model, t.tokenizer, items + replayed, config, self._optimizer, progress=on_step,
                               general_ids=self._general_ids() if config.w_general > 0 else None)
        self.progress("gating", 0, 0, metrics.loss)
        gate_started = time.monotonic()
        t.model.eval()
        new_measure = g.measure(t.model, t.tokenizer, heldout, gate_config)
        passed, reason, gate = g.decide(parent_measure, new_measure, base_ppl, g.lora_nonfinite(t.model), gate_config)
        gate["heldout_ids"] = held_ids
        gate["seconds"] = round(gate_seconds + time.monotonic() - gate_started, 2)
        self.progress("publishing", 0, 0, metrics.loss)
        parent = self.adapters.active()
        trained_ids = sorted({item["message_id"] for item in items})
        summary = {
            "loss": metrics.loss, "mean_reward": metrics.mean_reward, "n_samples": len(trained_ids),
            "n_items": metrics.n_items, "n_tokens": metrics.n_tokens, "seconds": time.monotonic() - started,
            "steps": metrics.steps, "tokens_per_s": metrics.tokens_per_s, "clip_fraction": metrics.clip_fraction,
            "n_replayed": len(replayed), "general_kl": metrics.general_kl,
        }

        def fill(tmp: Path) -> None:
            save_adapter(t.model, tmp, self._optimizer, extra_state=summary, atomic=False)
            peft_model_to_gguf(t.model, tmp / GGUF_NAME, architecture=t.architecture)

        version = self.publish(fill, parent_id=parent.id if parent else None, sample_ids=trained_ids,
                               metrics=summary, gate=gate, passed=passed, reason=reason)
        vid = version.id
        # a rejected update must not become the base of the next one: reload the active version then
        self._loaded_version = vid if passed else "stale"
        return version

    def publish(self, fill: Callable[[Path], None], *, parent_id: int | None, sample_ids: list[int],
                metrics: dict, gate: dict, passed: bool, reason: str | None) -> AdapterVersion:
        """Publish an update's files (written by ``fill(dir)``) as a candidate, then apply the gate's verdict.

        The id is reserved in SQLite before any file is written, so this is safe while
        ``adapters import`` or another writer publishes at the same time.
        """
        version = adapter_files.publish_new_version(self.home, self.adapters, fill, purpose="trained",
                                                    parent_id=parent_id, sample_ids=sample_ids, metrics=metrics,
                                                    activate=False)
        return self.adapters.promote(version.id, gate, passed=passed, reason=reason)

    def _general_ids(self) -> list[int]:
        """Token ids of the replay corpus for the general-text KL (not the gate's corpus)."""
        if self._general_cache is None:
            text = REPLAY_TEXT.read_text(encoding="utf-8")
            self._general_cache = list(self._trainable.tokenizer(text, add_special_tokens=False)["input_ids"])
        return self._general_cache

    @property
    def gate_config(self):
        from openclaw_local.learn.gate import GateConfig

        return GateConfig.from_settings(self.settings)
