"""What a PEFT export says about itself: the public base model to load it on, and how.

``adapters export N --format peft`` writes ``adapter_config.json`` whose
``base_model_name_or_path`` names the public model id when the served GGUF says
where it came from (see :mod:`openclaw_local.learn.base_model_id`), and a README
that shows how to load the adapter on another machine with transformers + peft,
with llama.cpp (``--lora``) and with Ollama (``ADAPTER``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openclaw_local.learn.base_model_id import BaseModelId, public_base_model
from openclaw_local.paths import embedded_model_path


def base_model_of(model_path: Path) -> BaseModelId:
    try:
        embedded = Path(model_path).resolve() == embedded_model_path().resolve()
    except OSError:
        embedded = False
    return public_base_model(model_path, embedded=embedded)


def apply_base(cfg: dict[str, Any], base: BaseModelId, model_path: Path) -> dict[str, Any]:
    """The adapter config with ``base_model_name_or_path`` = the public id, else the local GGUF path."""
    cfg = dict(cfg)
    cfg["base_model_name_or_path"] = base.repo_id or str(Path(model_path).resolve())
    return cfg


def readme(version_id: int, base: BaseModelId, model_path: Path, cfg: dict[str, Any]) -> str:
    gguf_name = Path(model_path).name
    rid = base.repo_id or "<the Hugging Face id of the model your GGUF was converted from>"
    if base.repo_id and base.certain:
        base_line = f"Base model: **`{base.repo_id}`** ({base.how})."
    elif base.repo_id:
        base_line = (f"Base model: **`{base.repo_id}`**, {base.how}. Check that this is the model `{gguf_name}` "
                     "was converted from before loading; if not, change `base_model_name_or_path` in "
                     "adapter_config.json.")
    else:
        base_line = (f"Base model: unknown ({base.how}), so `base_model_name_or_path` in adapter_config.json is the "
                     f"local path `{Path(model_path).resolve()}` of the machine that exported it. On another machine, "
                     f"replace it with the Hugging Face id of the model `{gguf_name}` was converted from.")
    return f"""# openclaw-local adapter v{version_id}

A LoRA adapter in PEFT format (rank {cfg.get('r')}, alpha {cfg.get('lora_alpha')}, modules
{', '.join(cfg.get('target_modules') or []) or '-'}), learned by openclaw-local while serving `{gguf_name}`.

{base_line}

It was trained against the weights of that (possibly quantized) GGUF; on the full-precision
model it behaves nearly, not exactly, the same.

## transformers + peft

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel

base = AutoModelForCausalLM.from_pretrained("{rid}")
tokenizer = AutoTokenizer.from_pretrained("{rid}")
model = PeftModel.from_pretrained(base, "path/to/this/directory")
```

## llama.cpp

Get the adapter as a llama.cpp LoRA GGUF, either from openclaw-local:

    openclaw-local adapters export {version_id} --format gguf-lora --out adapter.gguf

or from this directory with llama.cpp's converter:

    python convert_lora_to_gguf.py --base-model-id {rid} path/to/this/directory --outfile adapter.gguf

then serve it on the same GGUF openclaw-local used:

    llama-cli -m {gguf_name} --lora adapter.gguf
    llama-server -m {gguf_name} --lora adapter.gguf

## Ollama

A `Modelfile` next to both files:

    FROM ./{gguf_name}
    ADAPTER ./adapter.gguf

then `ollama create my-assistant -f Modelfile` and `ollama run my-assistant`.
(Or export a standalone model: `openclaw-local adapters export {version_id} --format gguf-merged --out merged.gguf`.)
"""
