"""How llama.cpp loads a model here: the load plan, and a ``Llama`` built from it.

What it knows: the two load options that can crash or fail natively on some machines
(llama.cpp's extra CPU buffer types, i.e. weight repacking such as AMX, and GPU offload)
and how to apply them to llama-cpp-python. What it does not know: how the plan was
decided (that is :mod:`openclaw_local.engine.selftest`), chat, SQLite, the UI.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoadPlan:
    """The options every llama.cpp load of one model uses on this machine."""

    extra_buffers: bool = True  # llama_model_params.use_extra_bufts (weight repacking, e.g. AMX)
    n_gpu_layers: int = 0  # -1 = all
    requested_gpu_layers: int = 0  # what the caller asked for
    source: str = "default"  # default | setting | probed | cached
    reason: str = ""  # why a fallback was chosen (empty when what was asked works)

    @property
    def fallback(self) -> bool:
        """True when the plan serves with less than was asked (buffers off by the probe, fewer GPU layers)."""
        return bool(self.reason)

    def describe(self) -> str:
        """One line for ``doctor`` and the chat notice, e.g. "extra CPU buffer types off (the probe …; cached)"."""
        parts = [f"extra CPU buffer types {'on' if self.extra_buffers else 'off'}"]
        if self.requested_gpu_layers != 0 or self.n_gpu_layers != 0:
            layers = "all" if self.n_gpu_layers == -1 else str(self.n_gpu_layers)
            parts.append(f"GPU layers {layers}" + ("" if self.n_gpu_layers == self.requested_gpu_layers
                                                   else f" (asked {self.requested_gpu_layers})"))
        why = {"default": "not tested", "setting": "setting cpu_extra_buffers", "probed": "probed now",
               "cached": "cached"}[self.source]
        if self.reason:
            why = f"{self.reason}; {why}"
        elif self.source in ("probed", "cached"):
            why = f"the probe passed; {why}"
        return f"{', '.join(parts)} ({why})"

    def notice(self) -> str:
        return f"llama.cpp self-test: {self.describe()}"


@functools.lru_cache(maxsize=1)
def _llama_without_extra_buffers() -> type:
    import llama_cpp

    class LlamaWithoutExtraBuffers(llama_cpp.Llama):
        """``llama_cpp.Llama`` that loads with ``use_extra_bufts = False``.

        ``Llama()`` has no argument for it. In llama-cpp-python 0.3.36 ``Llama.__init__``
        assigns ``self.model_params = llama_model_default_params()``, fills it in, and
        loads the model from it in the same call. This data descriptor sees that
        assignment and clears the flag before the load, without patching anything
        global (other ``Llama`` objects in the process are untouched).
        """

        @property
        def model_params(self):
            return self.__dict__["_planned_model_params"]

        @model_params.setter
        def model_params(self, params) -> None:
            params.use_extra_bufts = False
            self.__dict__["_planned_model_params"] = params

    return LlamaWithoutExtraBuffers


def open_llama(model_path: Path | str, plan: LoadPlan | None = None, **kwargs: Any):
    """A ``llama_cpp.Llama`` loaded as ``plan`` says (``None``: llama.cpp's defaults, no offload)."""
    import llama_cpp

    plan = plan or LoadPlan()
    kwargs["n_gpu_layers"] = plan.n_gpu_layers
    if plan.extra_buffers:
        return llama_cpp.Llama(model_path=str(model_path), **kwargs)
    llm = _llama_without_extra_buffers()(model_path=str(model_path), **kwargs)
    if "_planned_model_params" not in llm.__dict__ or llm.model_params.use_extra_bufts:
        # A llama-cpp-python that builds its parameters differently: refuse rather than
        # silently serve with the buffers that crashed.
        llm.close()
        raise RuntimeError("this llama-cpp-python cannot load without extra buffer types (expected 0.3.36's Llama)")
    return llm
