"""What the user can do with learned adapter versions: list, inspect, activate, roll back,
export, import, delete, and compare answers to probe prompts ("what changed").

Used by ``openclaw-local adapters …`` and by the TUI's Adapters screen (which only
talks to this object). Activation is a single SQLite transaction; a running chat's
:class:`~openclaw_local.services.learner.LearnerService` polls the active version
and hot-swaps it, so a rollback takes effect in the running chat within half a
second, or at the next start when no chat is running.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from openclaw_local.config import Settings
from openclaw_local.errors import NotFoundError, UsageError, UserError
from openclaw_local.paths import copy_file_atomic, remove_dir, resolve_model_path
from openclaw_local.services import adapter_files
from openclaw_local.store import Store
from openclaw_local.records import GGUF_NAME, AdapterVersion
from openclaw_local.store.adapters import AdapterStore

EXPORT_FORMATS = ("peft", "gguf-lora", "gguf-merged")
PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")
ROLLED_BACK = "rolled back by the user"
AUTO_ROLLED_BACK = "rolled back automatically"  # the start of the reason: push-back rose clearly under it


def rolled_back(v: AdapterVersion) -> bool:
    """Undone after it was served (by the user, or automatically), not refused by the gate."""
    return bool(v.reason) and (v.reason == ROLLED_BACK or v.reason.startswith(AUTO_ROLLED_BACK))
HELDOUT_RECENT = 16  # recent feedback samples used to gate an imported adapter


class AdapterError(UserError):
    """A refused adapter operation (unknown version, deleting the active one, ...)."""

    exit_code = 7


@dataclass
class ProbeRow:
    probe_id: int
    prompt: str
    previous: str
    selected: str


def gate_summary(v: AdapterVersion) -> str:
    """One short line of gate results, e.g.
    ``ability 52% (base 51%) · ppl -1.2% · accepted +0.031 (2) · rejected -0.010 (1)``."""
    g = v.gate or {}
    if not g:
        return "-"
    if "skipped" in g and len(g) == 1:
        return f"not gated ({g['skipped']})"
    parts = []
    if g.get("finite") is False:
        parts.append("NaN/inf")
    ab = g.get("ability") or {}
    if ab.get("accuracy") is not None:
        parts.append(f"ability {ab['accuracy'] * 100:.0f}% (base {ab['base_accuracy'] * 100:.0f}%)")
    flu = g.get("fluency") or {}
    if flu.get("delta") is not None:
        parts.append(f"fluency {flu['delta']:+.2f}")
    rep = (g.get("replies") or {}).get("new")
    if rep:
        parts.append(f"replies {rep['repetition'] * 100:.0f}% repeated, {rep['ended'] * 100:.0f}% ended")
    gen = g.get("general") or {}
    if gen.get("ratio") is not None:
        parts.append(f"ppl {(gen['ratio'] - 1) * 100:+.1f}%")
    for key in ("accepted", "rejected"):
        r = g.get(key) or {}
        if "delta" in r:
            parts.append(f"{key} {r['delta']:+.3f} ({r['n']})")
    if (g.get("feedback") or {}).get("margin") is not None:
        parts.append(f"feedback margin {g['feedback']['margin']:+.3f}")
    repair = g.get("repair") or {}
    if repair.get("tries"):
        kept = repair.get("kept_fraction", 1.0)
        parts.append(f"repaired: kept {kept * 100:.0f}% of the update" if kept < 1.0
                     else f"repair tried {len(repair['tries'])}× in vain")
    return " · ".join(parts) or "-"


def gate_refused(v: AdapterVersion) -> bool:
    """Refused by the promotion gate (not rolled back by the user)."""
    return v.status == "rejected" and not rolled_back(v) and (v.source or "trained") == "trained"


def force_hint(v: AdapterVersion) -> str | None:
    """How to serve a version the gate refused, knowingly."""
    if v.status == "rejected" and not rolled_back(v):
        return f"to serve it anyway: openclaw-local adapters activate {v.id} --force"
    return None


def refusal_notice(versions: list[AdapterVersion], at_least: int = 2) -> str | None:
    """A plain sentence when the newest ``at_least`` trained updates in a row were refused."""
    trained = [v for v in versions if (v.source or "trained") == "trained" and v.status != "candidate"]
    run = []
    for v in reversed(trained):
        if not gate_refused(v):
            break
        run.append(v)
    if len(run) < at_least:
        return None
    last = run[0]
    return (f"the last {len(run)} learning updates were refused by the promotion gate (newest v{last.id}: "
            f"{last.reason}). Your feedback is kept and retried with a smaller step; "
            f"to serve v{last.id} anyway: openclaw-local adapters activate {last.id} --force")


class AdapterService:
    def __init__(self, home: Path, settings: Settings, store: Store, *, engine_factory: Callable[[], Any] | None = None):
        self.home = home
        self.settings = settings
        self.store = store
        self.adapters = AdapterStore(store)
        self._engine_factory = engine_factory
        self._probe_engine = None

    @property
    def export_dir(self) -> Path:
        """Where the Adapters screen writes exports."""
        return self.home / "exports"

    @property
    def model_path(self) -> Path:
        return resolve_model_path(self.settings)

    # ------------------------------------------------------------------ reading
    def versions(self) -> list[AdapterVersion]:
        return self.adapters.versions()

    def active(self) -> AdapterVersion | None:
        return self.adapters.active()

    def get(self, version_id: int) -> AdapterVersion:
        try:
            return self.adapters.get(version_id)
        except KeyError:
            known = ", ".join(f"v{v.id}" for v in self.versions()) or "none yet"
            raise NotFoundError(f"there is no adapter version {version_id} (versions: {known})") from None

    def describe(self, v: AdapterVersion) -> dict[str, Any]:
        """Everything ``adapters show`` prints, as plain data."""
        return {
            "id": v.id, "status": v.status, "reason": v.reason, "parent": v.parent_id, "created_at": v.created_at,
            "activated_at": v.activated_at, "source": v.source or "trained", "samples": v.sample_ids,
            "n_samples": v.n_samples, "n_tokens": v.n_tokens, "loss": v.loss, "mean_reward": v.mean_reward,
            "train_seconds": v.train_seconds, "gate": v.gate, "gate_summary": gate_summary(v),
            "ability": (v.gate or {}).get("ability"), "force_hint": force_hint(v), "path": str(v.path), "files": v.files,
            "files_missing": self.files_missing(v),
        }

    @staticmethod
    def files_missing(v: AdapterVersion) -> str | None:
        """What of ``v``'s files is missing (a cheap look, no checksums), or None when all are there."""
        return adapter_files.verify(v, hashes=False)

    def refusal_notice(self) -> str | None:
        """Plain words when updates keep being refused, and how to accept one knowingly."""
        return refusal_notice(self.versions())

    # ---------------------------------------------------------------- activation
    def activate(self, version_id: int, *, force: bool = False) -> AdapterVersion:
        """Serve ``version_id``. Its files are verified (sha256) first, even when it is already
        active; the activation itself re-checks under SQLite's write lock that the version
        still exists with the files that were verified."""
        v = self.get(version_id)
        if v.status == "active":
            problem = adapter_files.verify(v)
            if problem is None:
                return v
            self.adapters.mark(v.id, "broken", problem)
            target = self.adapters.previous_good(v.id)
            while target is not None and adapter_files.verify(target) is not None:
                self.adapters.mark(target.id, "broken", adapter_files.verify(target))
                target = self.adapters.previous_good(target.id)
            self.adapters.activate(target.id if target else None, expect_active=None,
                                   refuse=("broken", "rejected"))
            raise AdapterError(f"v{v.id} cannot be served: {problem}; it is marked broken and "
                               f"{f'v{target.id}' if target else 'the base model'} is served instead")
        gate_rejected = v.status == "rejected" and not rolled_back(v)
        if (gate_rejected or v.status == "broken") and not force:
            raise AdapterError(f"v{v.id} is {v.status} ({v.reason or 'no reason recorded'})",
                               f"use `adapters activate {v.id} --force` to serve it anyway")
        problem = adapter_files.verify(v)
        if problem is not None:
            if v.status != "broken":
                self.adapters.mark(v.id, "broken", problem)
            raise AdapterError(f"v{v.id} cannot be served: {problem}")
        self.adapters.activate(v.id, expect_files=v.files, refuse=() if force else ("broken",))
        return self.get(v.id)

    def rollback(self, reason: str = ROLLED_BACK) -> tuple[AdapterVersion, AdapterVersion | None]:
        """Undo the active version: the previous good one (or the base model) becomes active.

        The undone version is kept as ``rejected`` with ``reason`` ("rolled back by the user").
        Returns (undone, now active or None for the base model).
        """
        current = self.active()
        if current is None:
            raise AdapterError("nothing to roll back: the base model is already served")
        target = self.adapters.previous_good(current.id)
        while target is not None and adapter_files.verify(target) is not None:
            self.adapters.mark(target.id, "broken", adapter_files.verify(target))
            target = self.adapters.previous_good(target.id)
        # under the write lock: only if v{current} is still the active one and the target still exists
        self.adapters.activate(target.id if target else None, demote=("rejected", reason),
                               expect_active=current.id, refuse=("broken",))
        return self.get(current.id), (self.get(target.id) if target else None)

    def delete(self, version_id: int) -> None:
        v = self.get(version_id)
        if v.status == "active":
            raise AdapterError(f"v{v.id} is the active adapter and cannot be deleted",
                               "roll back or activate another version first")
        # row first (re-checked under the write lock): a crash leaves an orphan dir, never a row without files
        v = self.adapters.delete(v.id)
        remove_dir(Path(v.path))

    # ------------------------------------------------------------------- export
    def export(self, version_id: int, fmt: str, out: Path, *, merged_type: str = "f16",
               progress: Callable[[str, float], None] | None = None) -> Path:
        written = self._export(version_id, fmt, out, merged_type=merged_type, progress=progress)
        home = self.home.resolve()
        if home in written.resolve().parents:  # an export into the data dir is owner-only, like the rest of it
            adapter_files.owner_only(written)
            for parent in written.resolve().parents:
                if parent == home:
                    break
                os.chmod(parent, adapter_files.DIR_MODE)
        return written

    def _export(self, version_id: int, fmt: str, out: Path, *, merged_type: str = "f16",
                progress: Callable[[str, float], None] | None = None) -> Path:
        if fmt not in EXPORT_FORMATS:
            raise UsageError(f"unknown export format {fmt!r}", f"choose one of {', '.join(EXPORT_FORMATS)}")
        v = self.get(version_id)
        problem = adapter_files.verify(v)
        if problem is not None:
            raise AdapterError(f"v{v.id} cannot be exported: {problem}")
        out = Path(out).expanduser()
        vdir = Path(v.path)
        if fmt == "peft":
            if out.exists() and (not out.is_dir() or any(out.iterdir())):
                raise UsageError(f"{out} already exists and is not an empty directory", "choose a new --out directory")
            if out.is_dir():
                out.rmdir()

            from openclaw_local.services import peft_export

            base = peft_export.base_model_of(self.model_path)

            def fill(tmp: Path) -> None:
                for name in PEFT_FILES:
                    shutil.copyfile(vdir / name, tmp / name)
                cfg = peft_export.apply_base(json.loads((tmp / "adapter_config.json").read_text()), base, self.model_path)
                (tmp / "adapter_config.json").write_text(json.dumps(cfg, indent=2))
                (tmp / "README.md").write_text(peft_export.readme(v.id, base, self.model_path, cfg))

            return adapter_files.write_dir_atomic(out, fill)
        if out.is_dir():
            raise UsageError(f"{out} is a directory", "give a file name for --out")
        if fmt == "gguf-lora":
            try:
                return copy_file_atomic(v.gguf_path, out)
            except FileNotFoundError:
                raise AdapterError(f"v{v.id} was deleted by another process during the export") from None
        from openclaw_local.learn.adapter_io import merge_into_gguf, read_lora_gguf

        if merged_type not in ("f16", "q8_0"):
            raise UsageError(f"unknown merged type {merged_type!r}", "choose f16 or q8_0")
        return merge_into_gguf(self.model_path, read_lora_gguf(v.gguf_path), out, out_type=merged_type, progress=progress)

    # ------------------------------------------------------------------- import
    def import_adapter(self, path: Path, *, activate: bool = False, force: bool = False) -> AdapterVersion:
        """Validate a PEFT dir or llama.cpp LoRA GGUF against the served base and add it as a version.

        It becomes a candidate and goes through the promotion gate like a learned version
        (against the base model as its parent): passing, it is served; refused, it is kept as
        ``rejected`` with the gate's reason (the caller says so). ``activate=True, force=True``
        serves it at once, knowingly ungated (like ``adapters activate N --force``).
        """
        from openclaw_local.learn import adapter_io as io

        path = Path(path).expanduser()
        if not path.exists():
            raise NotFoundError(f"{path} does not exist")
        base = io.base_info(self.model_path)
        lora = io.read_peft_dir(path, base) if path.is_dir() else io.read_lora_gguf(path)
        io.validate(lora, base, path.name)

        def fill(tmp: Path) -> None:
            io.write_peft_dir(lora, tmp, base, base_name=self.model_path.name)
            io.write_lora_gguf(lora, tmp / GGUF_NAME, base)

        forced = activate and force
        gate = {"skipped": "served on import without the gate (--activate --force)"} if forced else {}
        # the id is reserved in SQLite before anything is written: concurrent imports never collide
        v = adapter_files.publish_new_version(self.home, self.adapters, fill, purpose="imported", parent_id=None,
                                              sample_ids=[], metrics={"gate": gate}, activate=forced)
        if forced:
            return v
        return self.gate_version(v.id)  # finite weights are not enough (3e38 is finite): the learned versions' gate

    def gate_version(self, version_id: int) -> AdapterVersion:
        """Run the promotion gate on a candidate (torch, trainable copy), parent = the base model."""
        import time

        from openclaw_local.learn import promotion as g
        from openclaw_local.learn.trainable import build_trainable
        from openclaw_local.services.training import base_results
        from openclaw_local.store.samples import SampleStore

        v = self.get(version_id)
        started = time.monotonic()
        t = build_trainable(self.settings, self.home, adapter_dir=Path(v.path), device="cpu")
        t.model.eval()
        samples = SampleStore(self.store, default_system_prompt=self.settings.system_prompt)
        recent = samples.recent_labeled_ids(HELDOUT_RECENT)
        heldout = samples.heldout_items(recent)
        config = g.GateConfig.from_settings(self.settings)
        with t.model.disable_adapter():
            parent = g.measure(t.model, t.tokenizer, heldout, config, ppl=False)
        base = base_results(self.home, t, config, self.settings.system_prompt)
        new = g.measure(t.model, t.tokenizer, heldout, config, system_prompt=self.settings.system_prompt,
                        base_ability=base.get("ability"))
        passed, reason, results = g.decide(parent, new, base, g.lora_nonfinite(t.model), config)
        results["heldout_ids"] = recent
        results["seconds"] = round(time.monotonic() - started, 2)
        return self.adapters.promote(v.id, results, passed=passed, reason=reason)

    # ------------------------------------------------------------------- probes
    def probes(self) -> list[dict[str, Any]]:
        return self.adapters.probes()

    def add_probe(self, text: str) -> int:
        if not text.strip():
            raise UsageError("a probe prompt cannot be empty")
        return self.adapters.add_probe(text.strip())

    def edit_probe(self, probe_id: int, text: str) -> None:
        if not text.strip():
            raise UsageError("a probe prompt cannot be empty")
        self.adapters.update_probe(probe_id, text.strip())

    def delete_probe(self, probe_id: int) -> None:
        self.adapters.delete_probe(probe_id)

    def previous_of(self, version_id: int) -> int | None:
        """The version a selected one is compared with: its parent (None = the base model)."""
        return self.get(version_id).parent_id

    def probe_answer(self, version_id: int | None, probe: dict[str, Any]) -> str:
        """The version's answer to a probe (greedy, cached in SQLite per version and probe)."""
        cached = self.adapters.probe_answer(version_id, probe["id"])
        if cached is not None:
            return cached
        engine = self._engine()
        if version_id is None:
            engine.set_adapter(None)
        else:
            v = self.get(version_id)
            problem = adapter_files.verify(v, hashes=False)
            if problem is not None:
                return f"[v{v.id} cannot be loaded: {problem}]"
            engine.set_adapter(v.gguf_path, merged=v.merged_path)
        messages = [{"role": "system", "content": self.settings.system_prompt}, {"role": "user", "content": probe["text"]}]
        text = engine.complete(messages, max_tokens=min(self.settings.max_tokens, 160), temperature=0.0, seed=0)
        self.adapters.set_probe_answer(version_id, probe["id"], text)
        return text

    def compare(self, version_id: int, progress: Callable[[int, int], None] | None = None) -> list[ProbeRow]:
        """Each probe answered by the previous version (parent or base) and the selected one."""
        previous = self.previous_of(version_id)
        rows = []
        probes = self.probes()
        for i, probe in enumerate(probes):
            rows.append(ProbeRow(probe["id"], probe["text"], self.probe_answer(previous, probe),
                                 self.probe_answer(version_id, probe)))
            if progress:
                progress(i + 1, len(probes))
        return rows

    def _engine(self):
        """A small llama.cpp context of its own for probes: never disturbs the chat's adapter or cache.

        llama.cpp memory-maps the weights, so a second context on the same file shares them.
        """
        if self._probe_engine is None:
            if self._engine_factory is not None:
                self._probe_engine = self._engine_factory()
            else:
                from openclaw_local.services.container import load_engine

                self._probe_engine = load_engine(self.home, self.settings, self.model_path, n_ctx=1024, seed=0,
                                                 cpu_only=True)  # probes stay on the CPU
        return self._probe_engine

    def close(self) -> None:
        if self._probe_engine is not None and self._engine_factory is None:
            self._probe_engine.close()
        self._probe_engine = None

