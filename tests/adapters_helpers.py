"""Helpers for the adapter tests: random LoRAs for a base GGUF, versions published without training."""

from __future__ import annotations

from pathlib import Path

from openclaw_local.learn.adapter_io import Lora, base_info, random_lora, write_lora_gguf, write_peft_dir  # noqa: F401 — random_lora re-exported
from openclaw_local.services import adapter_files
from openclaw_local.records import GGUF_NAME
from openclaw_local.store.adapters import AdapterStore


def write_version_files(dest: Path, lora: Lora, base_gguf: Path) -> Path:
    base = base_info(base_gguf)

    def fill(tmp: Path) -> None:
        write_peft_dir(lora, tmp, base)
        write_lora_gguf(lora, tmp / GGUF_NAME, base)

    return adapter_files.write_dir_atomic(dest, fill)


def publish(home: Path, store, lora: Lora | None, base_gguf: Path | None, *, parent: int | None = None,
            activate: bool = True, sample_ids=(), template: Path | None = None, **metrics):
    """Write a version dir (from a LoRA, or copied from ``template``) and register it."""
    import shutil

    adapters = AdapterStore(store)
    if template is not None:
        def fill(tmp: Path) -> None:
            for f in template.iterdir():
                shutil.copyfile(f, tmp / f.name)
    else:
        base = base_info(base_gguf)

        def fill(tmp: Path) -> None:
            write_peft_dir(lora, tmp, base)
            write_lora_gguf(lora, tmp / GGUF_NAME, base)
    metrics = {"loss": 0.5, "mean_reward": 0.0, "n_samples": len(sample_ids), **metrics}
    return adapter_files.publish_new_version(home, adapters, fill, purpose="trained", parent_id=parent,
                                             sample_ids=list(sample_ids), metrics=metrics, activate=activate)
