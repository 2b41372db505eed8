"""Settings: defaults, then ``config.toml`` in the data dir, then env, then CLI flags.

Each field documents itself and declares what it accepts in its metadata (``choices``,
``min``, ``max``, ``min_exclusive``; see META_KEYS). Env overrides are
``OPENCLAW_<FIELD>`` (upper case), e.g. ``OPENCLAW_TEMPERATURE=0.2``. Every layer is
checked when settings load, strictly: ``max_tokens = 3.7`` is refused rather than
truncated, ``learn = 5`` is not a bool, ``"0.5"`` in TOML is text, not a number. A bad
value is one line naming the setting, the value, where it came from and what is
accepted (exit 2); ``check_settings`` collects every problem for ``doctor``. Unknown
keys in the config file are an error so that a typo does not silently do nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
import json
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from openclaw_local.errors import UsageError
from openclaw_local.judge import SETTING_MODES  # the judge table: cheap to import (no numpy, no torch)

CONFIG_FILE = "config.toml"
# A LoRA's weight delta is (alpha / r) · B A. Real LoRAs use alpha/r of about 0.5 to 4; far
# beyond this the "adapter" swamps the base weights: refused in settings and on import.
MAX_ALPHA_OVER_RANK = 64.0
DEFAULT_SYSTEM_PROMPT = "You are a helpful, concise personal assistant."


def _default_threads() -> int:
    # Half the cores (1 on a 2-core machine): the UI, the judge and the learner need the rest.
    # Measured on 2 cores: 1 thread ~141 tokens/s idle and ~72 under load; 2 threads ~150 idle
    # but ~47 under load (docs/BENCHMARKS.md).
    return max(1, min(4, (os.cpu_count() or 2) // 2))


@dataclass
class Settings:
    # --- serving -------------------------------------------------------------
    model_path: str | None = field(default=None, metadata={"help": "GGUF to serve; empty means the embedded SmolLM2-135M"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature", "min": 0.0, "max": 5.0})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling cutoff", "min_exclusive": 0.0, "max": 1.0})
    max_tokens: int = field(default=512, metadata={"help": "most tokens generated per reply", "min": 1, "max": 131072})
    n_ctx: int = field(default=4096, metadata={"help": "context window in tokens", "min": 256, "max": 1048576})
    threads: int = field(default_factory=_default_threads, metadata={"help": "CPU threads for llama.cpp", "min": 1, "max": 1024})
    n_gpu_layers: int = field(default=-1, metadata={"help": "layers offloaded to a GPU (ignored on a CPU build)", "min": -1, "max": 100000})
    cpu_extra_buffers: str = field(default="auto", metadata={
        "help": "llama.cpp extra CPU buffer types (weight repacking, e.g. AMX): auto = the start-up self-test decides",
        "choices": ("auto", "on", "off")})
    system_prompt: str = field(default=DEFAULT_SYSTEM_PROMPT, metadata={"help": "system message for new chats"})
    thinking: bool = field(default=False, metadata={"help": "Qwen3: think before answering (/think vs /no_think)"})
    seed: int = field(default=-1, metadata={"help": "sampling seed, -1 = random", "min": -1, "max": 4294967295})
    serve_queue_size: int = field(default=16, metadata={"help": "API requests that may wait for the model (more get 429 + Retry-After)", "min": 1, "max": 1024})
    # --- standing preferences ------------------------------------------------
    prefs_enabled: bool = field(default=True, metadata={
        "help": "standing preferences: instructions you gave (\"from now on …\", a request repeated) go into every reply's system context"})
    prefs_token_budget: int = field(default=160, metadata={
        "help": "most tokens of standing preferences added to the system context (oldest dropped first)", "min": 0, "max": 100000})
    prefs_confirm_endpoint: bool = field(default=True, metadata={
        "help": "preferences created through the endpoint start paused until you resume them (TUI or `prefs resume ID`)"})
    # --- learning ------------------------------------------------------------
    learn: bool = field(default=True, metadata={"help": "run the background learner"})
    learn_min_samples: int = field(default=4, metadata={"help": "judged samples that trigger an update", "min": 1, "max": 100000})
    judge_votes: int = field(default=3, metadata={"help": "judge votes per sample (majority wins)", "min": 1, "max": 99})
    judge_temperature: float = field(default=0.6, metadata={"help": "judge sampling temperature", "min": 0.0, "max": 5.0})
    judge_model_path: str | None = field(default=None, metadata={"help": "separate judge GGUF; empty = served model"})
    judge_mode: str = field(default="auto", metadata={
        "help": "judge mode: auto (learned for models < 3B parameters, generate for bigger) | "
                + " | ".join(m for m in SETTING_MODES if m != "auto") + " (see docs/JUDGE.md)",
        "choices": SETTING_MODES})
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank", "min": 1, "max": 1024})
    lora_alpha: float = field(default=32.0, metadata={"help": "LoRA alpha", "min_exclusive": 0.0, "max": 100000.0})
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate for the adapter (measured: docs/PERSONALIZATION.md)", "min_exclusive": 0.0, "max": 1.0})
    learn_passes: int = field(default=2, metadata={"help": "passes over each update's samples (PPO epochs)", "min": 1, "max": 100})
    learner_threads: int = field(default=1, metadata={"help": "torch threads used by the learner", "min": 1, "max": 1024})
    learner_priority: str = field(default="idle", metadata={
        "help": "the learner process's CPU priority: idle (Linux's idle class: only cores nothing else wants; "
                "nice 19 elsewhere), nice (nice 19), or normal (as the chat: learns sooner, slows chat while it trains)",
        "choices": ("idle", "nice", "normal")})
    learner_pause_for_chat: bool = field(default=True, metadata={
        "help": "the learner pauses (within one layer's compute) while a reply is being generated"})
    serve_merged: str = field(default="auto", metadata={
        "help": "serve each learned version as its adapter merged into the base weights (a q8_0 model file in the "
                "version's folder) instead of the base plus a runtime LoRA: on the embedded model llama.cpp's runtime "
                "LoRA costs 13-53 % of generation speed (1-2 threads). auto: for model files up to 1 GB (larger ones were not measured; the "
                "merge writes a whole model per version); on; off",
        "choices": ("auto", "on", "off")})
    w_rl: float = field(default=1.0, metadata={"help": "weight of the binary-RL advantage", "min": 0.0, "max": 1000.0})
    w_opd: float = field(default=1.0, metadata={"help": "weight of the hindsight-distillation advantage", "min": 0.0, "max": 1000.0})
    w_sft: float = field(default=1.0, metadata={"help": "weight of plain (unclipped) imitation of corrected replies", "min": 0.0, "max": 1000.0})
    w_general: float = field(default=3.0, metadata={"help": "weight of the KL to the base model on plain general text (keeps general ability; docs/PERSONALIZATION.md)", "min": 0.0, "max": 1000.0})
    replay_corrections: int = field(default=8, metadata={"help": "earlier corrections replayed in each update (most recent first)", "min": 0, "max": 10000})
    rehearsal_items: int = field(default=8, metadata={"help": "the base model's own answers to general questions imitated in each update, so learning a style does not cost general ability (0 = off; docs/METHOD.md)", "min": 0, "max": 1000})
    system_variants: float = field(default=0.0, metadata={"help": "share of the items from your conversations trained under another system message (none, or a generic client's) as well as yours (0 = only under yours, the default: on the measured persona it held under other prompts without it; docs/METHOD.md)", "min": 0.0, "max": 1.0})
    prefs_distil_items: int = field(default=4, metadata={"help": "items per update that distil the standing preferences into the adapter: the model's own reply with a preference in context, taught to the model without it (0 = off; docs/METHOD.md)", "min": 0, "max": 1000})
    prefs_retire_kl: float = field(default=0.04, metadata={"help": "a preference leaves the prompt once the served adapter without it is this close to the model with it (mean per-token KL, nats; 0 = never retire; docs/METHOD.md)", "min": 0.0, "max": 100.0})
    repair_steps: int = field(default=2, metadata={"help": "when the promotion gate refuses an update, try this many smaller steps towards it (half, a quarter, …) before giving the feedback back (0 = off; learn/repair.py)", "min": 0, "max": 6})
    learn_wait_s: float = field(default=30.0, metadata={"help": "seconds `learn --once` waits for a running chat's learner to take its request", "min": 1.0, "max": 3600.0})
    hf_model_dir: str | None = field(default=None, metadata={"help": "optional HF directory for the trainable copy"})

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------- validation
# Metadata keys a field may carry (the validator reads only these; tests reject any other key):
#   "help"          one line, always
#   "choices"       tuple of accepted strings
#   "min" / "max"   inclusive bounds of a number
#   "min_exclusive" a number the value must be strictly greater than (e.g. a learning rate > 0)
META_KEYS = ("help", "choices", "min", "max", "min_exclusive")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_INT = re.compile(r"[+-]?\d+")


class _Bad(Exception):
    """A value that is not one the setting accepts (turned into a SettingProblem)."""


@dataclass(frozen=True)
class SettingProblem:
    """One refused setting value: which setting, the value, where it came from, what is accepted."""

    name: str
    value: Any
    source: str
    accepted: str

    def line(self) -> str:
        shown = _show(self.value)
        return f"setting {self.name} has an invalid value {shown} (from {self.source}): expected {self.accepted}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


@functools.lru_cache(maxsize=None)
def _kind(name: str) -> tuple[Any, bool]:
    """(bool | int | float | str | another class, whether None is allowed) of a Settings field."""
    hint = typing.get_type_hints(Settings)[name]
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else object
    return typing.get_origin(hint) or hint, optional


def accepted(name: str) -> str:
    """What a setting accepts, in words (for error messages and docs)."""
    kind, optional = _kind(name)
    meta = SETTING_FIELDS[name].metadata
    if meta.get("choices"):
        text = "one of " + ", ".join(meta["choices"])
    elif kind is bool:
        text = "true or false"
    elif kind in (int, float):
        text = "a whole number" if kind is int else "a number"
        bounds = []
        if "min_exclusive" in meta:
            bounds.append(f"> {_num(meta['min_exclusive'])}")
        if "min" in meta:
            bounds.append(f">= {_num(meta['min'])}")
        if "max" in meta:
            bounds.append(f"<= {_num(meta['max'])}")
        text += (" " + " and ".join(bounds)) if bounds else ""
    elif kind is str:
        text = "text"
    else:
        text = f"a {getattr(kind, '__name__', 'value')} (JSON in OPENCLAW_* variables)"
    return text + (" (empty for none)" if optional else "")


def _typed(kind: type, optional: bool, value: Any, from_text: bool) -> Any:
    """The value as ``kind``; text (env, flags) is parsed, typed values (TOML) must already match."""
    if value is None:
        if optional:
            return None
        raise _Bad
    if from_text and isinstance(value, str) and kind in (bool, int, float):
        text = value.strip()
        if optional and text == "":
            return None
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise _Bad
        if kind is int:
            if not _INT.fullmatch(text):
                raise _Bad
            return int(text)
        try:
            number = float(text)
        except ValueError:
            raise _Bad from None
        if not math.isfinite(number):
            raise _Bad
        return number
    if kind is bool:
        if not isinstance(value, bool):
            raise _Bad
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad  # 3.7 is refused, not truncated to 3
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _Bad
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise _Bad
        return None if optional and value == "" else value
    # any other type (a list, say): JSON text from env/flags, and the value must be of that type
    if from_text and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Bad from None
    if isinstance(kind, type) and not isinstance(value, kind):
        raise _Bad
    return value


def check_value(name: str, value: Any, *, from_text: bool = False) -> Any:
    """``value`` as setting ``name`` accepts it, or raises _Bad (wrong type, out of range, not a choice)."""
    kind, optional = _kind(name)
    v = _typed(kind, optional, value, from_text)
    if v is None:
        return v
    meta = SETTING_FIELDS[name].metadata
    if meta.get("choices") and v not in meta["choices"]:
        raise _Bad
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return v  # bounds apply to numbers only
    if "min" in meta and v < meta["min"]:
        raise _Bad
    if "max" in meta and v > meta["max"]:
        raise _Bad
    if "min_exclusive" in meta and not v > meta["min_exclusive"]:
        raise _Bad
    return v


def _unknown(key: str) -> str:
    close = difflib.get_close_matches(key, list(SETTING_FIELDS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def misspelled_env(env: Mapping[str, str] | None = None) -> list[str]:
    """``OPENCLAW_*`` variables that are no setting but look like one (a typo does nothing silently).

    Only a hint for ``doctor``: other ``OPENCLAW_*`` variables (``OPENCLAW_HOME``, ...) are not settings.
    """
    env = os.environ if env is None else env
    known = {f"OPENCLAW_{name.upper()}" for name in SETTING_FIELDS}
    out = []
    for key in sorted(env):
        if key.startswith("OPENCLAW_") and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.85)
            if close:
                out.append(f"{key} is not a setting (did you mean {close[0]}?)")
    return out


def check_settings(home: Path, overrides: dict[str, Any] | None = None, env: Mapping[str, str] | None = None,
                   sources: Mapping[str, str] | None = None) -> tuple[Settings, list[str]]:
    """Settings from defaults, config.toml, ``OPENCLAW_*`` env and ``overrides``, and every problem found.

    Nothing stops at the first problem (``doctor`` lists them all); a refused value is
    left at what the earlier layer gave it, so the returned Settings are always usable.
    ``sources`` names where each override came from (e.g. ``{"n_ctx": "--n-ctx"}``).
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    problems: list[str] = []

    def take(name: str, value: Any, source: str, from_text: bool) -> None:
        try:
            values[name] = check_value(name, value, from_text=from_text)
        except _Bad:
            problems.append(SettingProblem(name, value, source, accepted(name)).line())

    config_path = home / CONFIG_FILE
    if config_path.exists():
        data: dict[str, Any] = {}
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"config file {config_path} is not valid TOML ({exc})")
        except OSError as exc:
            problems.append(f"config file {config_path} cannot be read ({exc.strerror})")
        for key, value in data.items():
            if key not in SETTING_FIELDS:
                problems.append(f"config file {config_path}: unknown setting {key!r}{_unknown(key)}")
            else:
                take(key, value, str(config_path), from_text=False)
    for name in SETTING_FIELDS:
        env_key = f"OPENCLAW_{name.upper()}"
        if env_key in env:
            take(name, env[env_key], env_key, from_text=True)
    for name, value in (overrides or {}).items():
        if name not in SETTING_FIELDS:
            raise KeyError(f"no setting {name!r}")  # a programming error, not the user's
        if value is not None:
            take(name, value, (sources or {}).get(name, "the command line"), from_text=True)
    settings = Settings(**values)
    if settings.lora_alpha / settings.lora_rank > MAX_ALPHA_OVER_RANK:  # the one check across two settings
        problems.append(f"settings lora_alpha = {_num(settings.lora_alpha)} and lora_rank = {settings.lora_rank} scale "
                        f"LoRA updates by {settings.lora_alpha / settings.lora_rank:g}: expected lora_alpha / lora_rank "
                        f"<= {_num(MAX_ALPHA_OVER_RANK)}")
    return settings, problems


def load_settings(home: Path, overrides: dict[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  sources: Mapping[str, str] | None = None) -> Settings:
    """Settings, or a UsageError (exit 2) naming the first bad value and how many more there are."""
    settings, problems = check_settings(home, overrides, env, sources)
    if problems:
        more = f" (and {len(problems) - 1} more: `openclaw-local doctor` lists them all)" if len(problems) > 1 else ""
        raise UsageError(problems[0] + more)
    return settings


def checked_overrides(overrides: dict[str, Any], sources: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``overrides`` parsed and checked as load_settings would (UsageError on the first bad one), typed.

    For commands that pass settings on before loading them (``simulate`` writes its run's config).
    """
    out, problems = {}, []
    for name, value in overrides.items():
        if value is None:
            continue
        try:
            out[name] = check_value(name, value, from_text=True)
        except _Bad:
            problems.append(SettingProblem(name, value, (sources or {}).get(name, "the command line"),
                                           accepted(name)).line())
    if problems:
        raise UsageError(problems[0])
    return out


SETTING_FIELDS = {f.name: f for f in fields(Settings)}
