"""Settings: defaults, then ``config.toml`` in the data dir, then env, then CLI flags.

Each field documents itself. Env overrides are ``OPENCLAW_<FIELD>`` (upper case),
e.g. ``OPENCLAW_TEMPERATURE=0.2``. Unknown keys in the config file are an error so
that a typo does not silently do nothing.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from openclaw_local.errors import UsageError

CONFIG_FILE = "config.toml"
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
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling cutoff"})
    max_tokens: int = field(default=512, metadata={"help": "most tokens generated per reply"})
    n_ctx: int = field(default=4096, metadata={"help": "context window in tokens"})
    threads: int = field(default_factory=_default_threads, metadata={"help": "CPU threads for llama.cpp"})
    n_gpu_layers: int = field(default=-1, metadata={"help": "layers offloaded to a GPU (ignored on a CPU build)"})
    system_prompt: str = field(default=DEFAULT_SYSTEM_PROMPT, metadata={"help": "system message for new chats"})
    thinking: bool = field(default=False, metadata={"help": "Qwen3: think before answering (/think vs /no_think)"})
    seed: int = field(default=-1, metadata={"help": "sampling seed, -1 = random"})
    # --- learning ------------------------------------------------------------
    learn: bool = field(default=True, metadata={"help": "run the background learner"})
    learn_min_samples: int = field(default=4, metadata={"help": "judged samples that trigger an update"})
    judge_votes: int = field(default=3, metadata={"help": "judge votes per sample (majority wins)"})
    judge_temperature: float = field(default=0.6, metadata={"help": "judge sampling temperature"})
    judge_model_path: str | None = field(default=None, metadata={"help": "separate judge GGUF; empty = served model"})
    judge_mode: str = field(default="auto", metadata={
        "help": "judge mode: auto (learned for models < 3B parameters, generate for bigger) | learned | rules | hybrid "
                "| generate | logprob (see docs/JUDGE.md)",
        "choices": ("auto", "learned", "rules", "hybrid", "generate", "logprob")})
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: float = field(default=32.0, metadata={"help": "LoRA alpha"})
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate for the adapter (measured: docs/PERSONALIZATION.md)"})
    learn_passes: int = field(default=2, metadata={"help": "passes over each update's samples (PPO epochs)"})
    learner_threads: int = field(default=1, metadata={"help": "torch threads used by the learner"})
    w_rl: float = field(default=1.0, metadata={"help": "weight of the binary-RL advantage"})
    w_opd: float = field(default=1.0, metadata={"help": "weight of the hindsight-distillation advantage"})
    w_sft: float = field(default=1.0, metadata={"help": "weight of plain (unclipped) imitation of corrected replies"})
    w_general: float = field(default=3.0, metadata={"help": "weight of the KL to the base model on plain general text (keeps general ability; docs/PERSONALIZATION.md)"})
    replay_corrections: int = field(default=8, metadata={"help": "earlier corrections replayed in each update (most recent first)"})
    hf_model_dir: str | None = field(default=None, metadata={"help": "optional HF directory for the trainable copy"})

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _coerce(name: str, typ: Any, value: Any) -> Any:
    kind = typ if isinstance(typ, type) else str(typ)
    try:
        if kind in (bool, "bool"):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
        if value in ("", None):
            return None
        return str(value)
    except (TypeError, ValueError):
        raise UsageError(f"setting {name!r} has an invalid value {value!r}") from None


def load_settings(home: Path, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    known = {f.name: f.type for f in fields(Settings)}
    config_path = home / CONFIG_FILE
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"config file {config_path} is not valid TOML ({exc})") from None
        for key, value in data.items():
            if key not in known:
                raise UsageError(f"config file {config_path}: unknown setting {key!r}")
            values[key] = _coerce(key, known[key], value)
    for name, typ in known.items():
        env_key = f"OPENCLAW_{name.upper()}"
        if env_key in env:
            values[name] = _coerce(name, typ, env[env_key])
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, known[name], value)
    return Settings(**values)
