"""llama.cpp loads after every import order the product uses, each in a fresh process (scripts/load_order_check.py).

The serving process imports the store (sqlite-utils, which imports numpy) before llama.cpp; the
learner imports torch. Torch bundles its own ``libgomp.so.1``: imported first, that copy is the
one llama.cpp's ggml binds (the soname is taken), which is why the serving process must never
import torch (tests/test_serving_process_torch_free.py) — a crash class seen on one CUDA machine
came with exactly these orders.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import load_order_check as loc  # noqa: E402


def test_llama_cpp_loads_after_the_product_order_and_says_which_runtimes_it_bound(embedded_model):
    results = {name: loc.check(embedded_model, loc.ORDERS[name], gpu_layers=0) for name in ("llama-first", "product")}
    for name, r in results.items():
        assert r["ok"], (name, r)
        assert any("libstdc++" in p for p in r["libs"]), r  # the C++ runtime it ended up with is named
    # the product order binds the same C++ and OpenMP runtimes as importing llama.cpp first
    runtimes = [{p for p in r["libs"] if "libstdc++" in p or "libgomp" in p} for r in results.values()]
    assert runtimes[0] == runtimes[1]
    assert "| product (openclaw_local.store → llama_cpp) | loaded |" in loc.table(results)


def test_a_crashing_order_is_a_result_not_an_exception(embedded_model, monkeypatch):
    monkeypatch.setattr(loc, "CHILD", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    r = loc.check(embedded_model, ["numpy"], gpu_layers=0)
    assert r == {"ok": False, "reason": "killed by signal 11"}
    assert "killed by signal 11" in loc.table({"numpy-first": r})
