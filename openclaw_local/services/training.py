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

Promotion gate (``learn/promotion.py``): the version is published as a ``candidate``
(its samples still judged), then in a second transaction made ``active`` — and its
samples marked trained — if it passes, else ``rejected`` with the measured reason.
Feedback is never thrown away: a refused update's samples stay in the pool with one
retry more and the reason recorded; the next update trains them again (merged with
whatever arrived since) at a smaller step, ``learning_rate × RETRY_STEP^retries``;
after ``MAX_GATE_RETRIES`` refusals a sample is skipped with the reason. The user may
serve a refused version anyway (``adapters activate N --force``), which marks its
samples trained then. Every update with two or more samples holds its newest fifth
(at least one) out of training as the gate's feedback slice; those samples stay
judged and are trained by the next update. The feedback check reads that slice plus the
``FEEDBACK_REFERENCE`` newest samples earlier updates trained on (what the user taught
before must not be undone), so that it nearly always holds accepted and rejected replies
to judge jointly; a first, single-sample update is checked on that sample itself
(``in_sample`` in the results). A rejected update leaves the in-memory
model stale, so the next update reloads the active version (weights and optimizer state).

Standing preferences (learn/absorption.py): a reply that had preferences in its context is
trained with the student context without them and the teacher context with them; each update
also distils every preference still in the prompt on ``prefs_distil_items`` OPD items (the
model's own greedy reply with the preference, taught to the model without it); after a served
update each preference is measured on held-out prompts and retired (``learned`` in that
version) below ``prefs_retire_kl``, or put back into the prompt when a learned one rose above
``BACK_FACTOR`` × that.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Callable, Protocol

from openclaw_local.config import Settings
from openclaw_local.paths import atomic_write_bytes
from openclaw_local.learn import repair, system_variants
from openclaw_local.services import adapter_files
from openclaw_local.services.preferences import PreferenceService, absorbed
from openclaw_local.store import Store
from openclaw_local.records import GGUF_NAME, MERGED_NAME, AdapterVersion, LearnerPhase, TrainItem
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore

ADAPTERS_DIR = adapter_files.ADAPTERS_DIR
# plain prose for the general-text KL; deliberately not the gate's corpus, so the gate still measures held-out text
REPLAY_TEXT = Path(__file__).resolve().parents[2] / "assets" / "replay_text.txt"
HOLDOUT_MIN = 2  # samples an update needs before some (a fifth, at least one) are held out for the gate
FEEDBACK_REFERENCE = 8  # earlier trained feedback samples the gate's feedback check reads next to the held-out slice
RETRY_STEP = 0.5  # learning-rate factor per earlier refusal of an update's samples
MERGE_AUTO_MAX_BYTES = 1 << 30  # serve_merged = auto: merge for model files up to this size (1 GiB)
RECENT_PROMPTS = 16  # the user's newest messages the preference distillation draws its own prompts from
log = logging.getLogger(__name__)
version_dir = adapter_files.version_dir


class Progress(Protocol):
    """Told where an update is: its phase, step of total, the loss so far, and the phase's note
    (what "preparing model" is doing now)."""

    def __call__(self, phase: LearnerPhase, step: int, total: int, loss: float | None,
                 note: str | None = None) -> None: ...


def holdout_split(ids: list[int]) -> tuple[list[int], list[int]]:
    """(train, held out): the newest fifth (at least one) is held out once there are ``HOLDOUT_MIN`` samples."""
    ids = sorted(ids)
    k = max(1, len(ids) // 5) if len(ids) >= HOLDOUT_MIN else 0
    return (ids[: len(ids) - k], ids[len(ids) - k:]) if k else (ids, [])


def base_results(home: Path, trainable, config, system_prompt: str | None = None) -> dict:
    """The base model's (adapter off) gate results, computed once per base model and cached on disk.

    ``{"ppl": case-folded general-text perplexity, "ability": ability results, "fluency": reply
    fluency, "replies": generated replies}``, keyed by
    the base model (its cached weights' directory names the GGUF file, size and mtime),
    the corpus, the ability set and the system prompt. Without ``system_prompt`` only the
    perplexity is measured (importing an adapter needs no more).
    """
    import hashlib

    from openclaw_local.learn import ability
    from openclaw_local.learn.promotion import general_text, perplexity

    text = general_text()
    # beside the base model's converted weights first (they belong to them: data dirs sharing that
    # cache measure the base once), else in the data dir when that folder is not ours to write
    caches = [trainable.base_dir / "base_gate.json", home / ADAPTERS_DIR / "base_gate.json"]
    known: dict = {}
    for cache in reversed(caches):
        try:
            known.update(json.loads(cache.read_text()))
        except (OSError, ValueError, TypeError):
            pass
    ppl_key = hashlib.sha256(f"{trainable.base_dir.name}|{config.max_tokens}|{config.window}|{text}".encode()).hexdigest()[:16]
    out: dict = {}
    keys = [("ppl", ppl_key)]
    if system_prompt is not None:
        digest = ability.set_digest(ability.load_set(), system_prompt)
        fluency = hashlib.sha256(f"{digest}|{ability.FLUENCY_PROMPT}|{ability.FLUENCY_WORDS}|"
                                 f"{ability.FLUENCY_CHUNKS}|{text}".encode()).hexdigest()[:16]
        keys += [("ability", f"{trainable.base_dir.name}|{digest}"), ("fluency", f"{trainable.base_dir.name}|{fluency}")]
        if config.replies:
            from openclaw_local.learn import reply_check

            replies = reply_check.digest(reply_check.load_prompts(), system_prompt, config.reply_tokens)
            keys.append(("replies", f"{trainable.base_dir.name}|{replies}"))
    missing = [(name, key) for name, key in keys if key not in known]
    if missing:
        with trainable.model.disable_adapter():
            for name, key in missing:
                if name == "fluency":
                    known[key] = ability.reply_fluency(trainable.model, trainable.tokenizer, system_prompt)
                elif name == "replies":
                    from openclaw_local.learn import reply_check

                    known[key] = reply_check.measure(trainable.model, trainable.tokenizer, system_prompt,
                                                     max_new_tokens=config.reply_tokens)
                elif name == "ppl":
                    known[key] = perplexity(trainable.model, trainable.tokenizer, text,
                                            max_tokens=config.max_tokens, window=config.window)
                else:
                    known[key] = ability.measure(trainable.model, trainable.tokenizer, system_prompt)
        for cache in caches:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                atomic_write_bytes(cache, json.dumps(known).encode())  # owner-only; two learners may write it at once
                break
            except OSError:
                continue
    for name, key in keys:
        out[name] = known[key]
    return out


def base_perplexity(home: Path, trainable, config) -> float:
    """The base model's case-folded general-text perplexity (cached; see :func:`base_results`)."""
    return float(base_results(home, trainable, config)["ppl"])


class Learner:
    def __init__(self, home: Path, settings: Settings, store: Store, progress: Progress | None = None):
        self.home = home
        self.settings = settings
        self.store = store
        self.samples = SampleStore(store, default_system_prompt=settings.system_prompt)
        self.adapters = AdapterStore(store)
        self.progress: Progress = progress or (lambda phase, step, total, loss, note=None: None)
        self._trainable = None
        self._optimizer = None
        self._loaded_version: int | None | str = "nothing"
        self._general_cache: list[int] | None = None

    def _served_model(self) -> Path:
        from openclaw_local.paths import resolve_model_path

        return resolve_model_path(self.settings)

    def _merge_base(self) -> Path | None:
        """The served model file to merge each version into (``serve_merged``), or None to serve a runtime LoRA."""
        mode = self.settings.serve_merged
        if mode == "off":
            return None
        base = self._served_model()
        if mode == "auto" and base.stat().st_size > MERGE_AUTO_MAX_BYTES:
            return None
        return base

    def ready_samples(self) -> list[int]:
        return self.samples.trainable_ids()

    def _ensure_loaded(self) -> None:
        from openclaw_local.learn import trainable as tr
        from openclaw_local.learn.trainer import load_optimizer_state, make_optimizer

        active = self.adapters.active()
        active_id = active.id if active else None
        if self._trainable is not None and self._loaded_version == active_id:
            return
        self.progress(LearnerPhase.LOADING, 0, 0, None)

        def report(message: str, fraction: float) -> None:
            self.progress(LearnerPhase.PREPARING_MODEL, int(fraction * 100), 100, None, note=message)

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
        from openclaw_local.learn import promotion as g
        from openclaw_local.learn.convert import peft_model_to_gguf
        from openclaw_local.learn.trainable import save_adapter
        from openclaw_local.learn.trainer import TrainConfig, train_update

        ids = sample_ids if sample_ids is not None else self.ready_samples()
        train_ids, held_ids = holdout_split(ids)
        items = self.samples.training_items(train_ids)
        if not items:
            return None
        # the feedback check runs on every update: held-out samples and earlier trained feedback, else in-sample
        reference = self.samples.recent_trained_feedback_ids(FEEDBACK_REFERENCE, exclude=ids)
        heldout = (self.samples.training_items(held_ids) if held_ids else []) + self.samples.feedback_items(reference)
        in_sample = not heldout
        heldout = heldout or items
        s = self.settings
        replayed = self.samples.replay_correction_items(s.replay_corrections, exclude=ids)
        clock = time.monotonic()
        timings: dict[str, float] = {}  # seconds per phase of this update (bench learn decomposes by them)

        def lap(phase: str) -> None:
            nonlocal clock
            now_ = time.monotonic()
            timings[phase] = round(timings.get(phase, 0.0) + now_ - clock, 2)
            clock = now_

        self._ensure_loaded()
        lap("load")
        update_no = len(self.adapters.versions())
        rehearsed = self._rehearsal(update_no)  # a different draw each update
        items = self._with_preference_teachers(items)
        # a share under other system messages (system_variants; 0 by default: docs/METHOD.md)
        items = system_variants.vary(items, s.system_variants, seed=update_no)
        replayed = system_variants.vary(replayed, s.system_variants, seed=update_no + 100_003)
        distilled = self._distil_preferences(update_no, avoid={i.prompt_messages[-1]["content"] for i in rehearsed})
        retries = self.samples.gate_retries(train_ids)
        lap("prepare")
        config = TrainConfig.from_settings(s, lr=s.learning_rate * RETRY_STEP ** retries)
        gate_config = self.gate_config
        started = time.monotonic()
        t = self._trainable
        t.model.eval()
        self.progress(LearnerPhase.GATING, 0, 0, None)
        parent_measure = g.measure(t.model, t.tokenizer, heldout, gate_config, ppl=False) if heldout else {}
        lap("parent")
        base_started = time.monotonic()
        base = base_results(self.home, t, gate_config, s.system_prompt)  # measured once per base model, then cached
        base_seconds = time.monotonic() - base_started
        lap("base")
        gate_seconds = time.monotonic() - started - base_seconds

        def on_step(step: int, total: int, loss: float) -> None:
            self.progress(LearnerPhase.TRAINING, step, total, loss)

        parent_weights = repair.snapshot(t.model)  # the parent's LoRA weights, to repair a refused candidate
        metrics = train_update(t.model, t.tokenizer, items + replayed + rehearsed + distilled, config, self._optimizer,
                               progress=on_step,
                               general_ids=self._general_ids() if config.w_general > 0 else None)
        lap("train")
        self.progress(LearnerPhase.GATING, 0, 0, metrics.loss)
        gate_started = time.monotonic()
        t.model.eval()

        def judge_candidate():
            new_measure = g.measure(t.model, t.tokenizer, heldout, gate_config, system_prompt=s.system_prompt,
                                    base_ability=base.get("ability"))
            return g.decide(parent_measure, new_measure, base, g.lora_nonfinite(t.model), gate_config)

        passed, reason, gate = judge_candidate()
        lap("gate")
        if not passed and gate.get("finite", True) and s.repair_steps:
            self.progress(LearnerPhase.REPAIRING, 0, 0, metrics.loss)
            passed, reason, gate = repair.interpolate_until_passed(
                t.model, parent_weights, judge_candidate, first=(passed, reason, gate),
                fractions=repair.fractions(s.repair_steps))
            lap("repair")
        gate["heldout_ids"] = held_ids
        gate["reference_ids"] = reference
        gate["in_sample"] = in_sample
        gate["base_seconds"] = round(base_seconds, 2)
        gate["retry"] = retries
        gate["lr"] = config.lr
        gate["seconds"] = round(gate_seconds + time.monotonic() - gate_started, 2)
        self.progress(LearnerPhase.PUBLISHING, 0, 0, metrics.loss)
        parent = self.adapters.active()
        trained_ids = sorted({item.message_id for item in items})
        summary = {
            "loss": metrics.loss, "mean_reward": metrics.mean_reward, "n_samples": len(trained_ids),
            "n_items": metrics.n_items, "n_tokens": metrics.n_tokens, "seconds": time.monotonic() - started,
            "steps": metrics.steps, "tokens_per_s": metrics.tokens_per_s, "clip_fraction": metrics.clip_fraction,
            "n_replayed": len(replayed), "n_rehearsed": len(rehearsed), "n_distilled": len(distilled),
            "general_kl": metrics.general_kl, "gate_seconds": gate["seconds"], "timings": timings,
        }

        merge_base = self._merge_base() if passed else None  # a refused version is never served

        def fill(tmp: Path) -> None:
            save_adapter(t.model, tmp, self._optimizer, extra_state=summary, atomic=False)
            peft_model_to_gguf(t.model, tmp / GGUF_NAME, architecture=t.architecture)
            if merge_base is not None:
                write_merged(tmp, merge_base)

        version = self.publish(fill, parent_id=parent.id if parent else None, sample_ids=trained_ids,
                               metrics=summary, gate=gate, passed=passed, reason=reason)
        vid = version.id
        # a rejected update must not become the base of the next one: reload the active version then
        self._loaded_version = vid if passed else "stale"
        if passed and merge_base is not None:
            adapter_files.drop_merged(self.home, keep=vid)
        if passed:
            try:
                self.measure_preferences(version)
            except Exception:  # never lose a served update over the preferences' bookkeeping
                log.exception("measuring the standing preferences on v%s failed", vid)
        return version

    # ------------------------------------------------------------ standing preferences
    def _preferences(self) -> PreferenceService:
        return PreferenceService(self.store, self.settings)

    def _with_preference_teachers(self, items: list[TrainItem]) -> list[TrainItem]:
        """A reply generated with standing preferences in its context: the student context stays
        without them (what the model is asked once they leave the prompt), the teacher context gets
        them (those still active or learned, as the reply saw them), so the OPD term teaches them."""
        from openclaw_local.learn.absorption import with_preferences

        wanted = sorted({pid for item in items for pid in item.preference_ids})
        known = self._preferences().by_ids(wanted) if wanted else {}
        out = []
        for item in items:
            texts = [known[pid].text for pid in item.preference_ids
                     if pid in known and known[pid].status in ("active", "learned")]
            out.append(dataclasses.replace(item, teacher_messages=with_preferences(item.prompt_messages, texts))
                       if texts else item)
        return out

    def _distil_preferences(self, seed: int, avoid: set[str] = frozenset()) -> list[TrainItem]:
        """``prefs_distil_items`` OPD items for the preferences still in the served prompt: the model's
        own greedy reply with one of them in its context (the user's recent prompts and general ones,
        in turn), taught to the model without it. None when preferences or the setting are off."""
        from openclaw_local.learn import absorption, rehearsal
        from openclaw_local.learn import preference_text as pt

        s = self.settings
        if not s.prefs_enabled or s.prefs_distil_items <= 0:
            return []
        active = self.adapters.active()
        prefs = self._preferences().unabsorbed(active.id if active else None)
        if not prefs:
            return []
        user = [p for p in self.samples.recent_user_prompts(RECENT_PROMPTS) if not pt.standing_instructions(p)]
        general = [p for p in rehearsal.load_prompts() if p not in avoid]
        pairs = absorption.plan([p.id for p in prefs], user, general, s.prefs_distil_items, seed)
        if not pairs:
            return []
        self.progress(LearnerPhase.DISTILLING_PREFERENCES, 0, len(pairs), None)
        by_id = {p.id: p for p in prefs}
        t = self._trainable
        contexts = [absorption.with_preferences(absorption.single_turn(s.system_prompt, prompt), [by_id[pid].text])
                    for pid, prompt in pairs]
        replies = absorption.greedy_replies(t.model, t.tokenizer, contexts)
        return [absorption.distil_item(s.system_prompt, prompt, [by_id[pid].text], text)
                for (pid, prompt), (text, _) in zip(pairs, replies) if text]

    def measure_preferences(self, version: AdapterVersion) -> list[dict]:
        """After ``version`` is served (the model in memory): each active or learned preference's KL
        (learn/absorption.retire_kl) on the held-out probe prompts, and what it decides. One in the
        prompt below ``prefs_retire_kl`` becomes ``learned`` in this version; a learned one this
        version absorbs (through its ancestors) that rose above ``BACK_FACTOR`` × the threshold is
        ``active`` again. Recorded in the version's gate results (``preferences``) with the reason."""
        from openclaw_local.learn import absorption

        s = self.settings
        threshold = s.prefs_retire_kl
        if not s.prefs_enabled or threshold <= 0:
            return []
        svc = self._preferences()
        prefs = [p for p in svc.list() if p.status in ("active", "learned")]
        if not prefs:
            return []
        parents = self.adapters.parents()
        probes = absorption.load_probe_prompts()
        t = self._trainable
        results = []
        for i, pref in enumerate(prefs):
            self.progress(LearnerPhase.MEASURING_PREFERENCES, i, len(prefs), None)
            in_context = not absorbed(pref, version.id, parents)
            kl = absorption.retire_kl(t.model, t.tokenizer, s.system_prompt, probes, [pref.text])["kl"]
            decision = absorption.decide(in_context, kl, threshold)
            entry = {"id": pref.id, "kl": round(kl, 4), "in_context": in_context, "decision": decision}
            now = svc.prefs.get(pref.id)
            if decision is not None and (now is None or now.status != pref.status or now.text != pref.text):
                entry["decision"], decision = None, None  # changed by the user meanwhile: theirs wins
            if decision == "learned":
                svc.prefs.update(pref.id, status="learned", absorbed_version=version.id)
                entry["reason"] = f"KL {kl:.3f} below {threshold:g}: left the prompt"
            elif decision == "active":
                svc.prefs.update(pref.id, status="active", absorbed_version=None)
                entry["reason"] = (f"KL {kl:.3f} rose above {absorption.BACK_FACTOR:g} × {threshold:g} "
                                   f"(learned in v{pref.absorbed_version}): back in the prompt")
            if decision is not None:
                log.info("preference %s in v%s: %s", pref.id, version.id, entry["reason"])
            results.append(entry)
        self.adapters.add_to_gate(version.id, "preferences", results)
        return results

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

    def _rehearsal_key(self) -> tuple[str, list[Path]]:
        """The answers' cache key and where they may be cached: beside the base model's converted
        weights (they belong to them; data dirs sharing that cache share these too), else in the
        data dir when that folder is not ours to write (``hf_model_dir``)."""
        from openclaw_local.learn import rehearsal

        t = self._trainable
        key = hashlib.sha256(json.dumps([t.base_dir.name, self.settings.system_prompt, rehearsal.load_prompts(),
                                         rehearsal.ANSWER_TOKENS, "text+ended"]).encode()).hexdigest()[:16]
        return key, [t.base_dir / "rehearsal_answers.json", self.home / ADAPTERS_DIR / "base_rehearsal.json"]

    def _rehearsal_answers(self) -> list[dict] | None:
        key, caches = self._rehearsal_key()
        for cache in caches:
            try:
                answers = json.loads(cache.read_text()).get(key)
            except (OSError, ValueError, AttributeError):
                answers = None
            if answers and all(isinstance(a, dict) for a in answers):
                return answers
        return None

    def _rehearsal(self, seed: int) -> list[TrainItem]:
        """This update's rehearsal items (learn/rehearsal.py). None until the base's answers are cached:
        they are made between updates (:meth:`prepare_rehearsal`), never on a user's first correction."""
        from openclaw_local.learn import rehearsal

        answers = self._rehearsal_answers() if self.settings.rehearsal_items > 0 else None
        if not answers:
            return []
        return rehearsal.items(rehearsal.load_prompts(), answers, self.settings.system_prompt,
                               self.settings.rehearsal_items, seed)

    def prepare_rehearsal(self) -> bool:
        """Generate and cache the base model's rehearsal answers if they are missing (the learner
        worker calls this when idle, after its first update). True when it generated them."""
        from openclaw_local.learn import rehearsal

        if self.settings.rehearsal_items <= 0:
            return False
        self._ensure_loaded()
        if self._rehearsal_answers():
            return False
        self.progress(LearnerPhase.PREPARING_REHEARSAL, 0, 0, None)
        answers = rehearsal.base_answers(self._trainable.model, self._trainable.tokenizer, self.settings.system_prompt,
                                         rehearsal.load_prompts())
        key, caches = self._rehearsal_key()
        for cache in caches:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                atomic_write_bytes(cache, json.dumps({key: answers}).encode())
                break
            except OSError:
                continue
        return True

    def _general_ids(self) -> list[int]:
        """Token ids of the replay corpus for the general-text KL (not the gate's corpus)."""
        if self._general_cache is None:
            text = REPLAY_TEXT.read_text(encoding="utf-8")
            self._general_cache = list(self._trainable.tokenizer(text, add_special_tokens=False)["input_ids"])
        return self._general_cache

    @property
    def gate_config(self):
        from openclaw_local.learn.promotion import GateConfig

        return GateConfig.from_settings(self.settings)


def write_merged(version_dir: Path, base: Path) -> Path:
    """The version's adapter merged into ``base`` as a q8_0 model file beside it (``MERGED_NAME``).

    Served instead of the base plus the runtime adapter (engine ``set_adapter(merged=…)``):
    same replies up to quantization, the base model's speed. Written from the adapter GGUF
    just converted, so it is exactly what the runtime LoRA would serve."""
    from openclaw_local.learn.adapter_io import merge_into_gguf, read_lora_gguf

    return merge_into_gguf(base, read_lora_gguf(version_dir / GGUF_NAME), version_dir / MERGED_NAME, out_type="q8_0")
