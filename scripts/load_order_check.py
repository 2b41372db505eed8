"""Load llama.cpp after each import order the product (or a user's machine) may use, each in a fresh process.

    .venv/bin/python scripts/load_order_check.py [--model GGUF] [--gpu-layers N] [--orders a,b,...] [--json]

On one CUDA machine llama.cpp crashed (SIGSEGV while loading the vocabulary) whenever numpy or torch
had been imported before it, and worked when it was imported first. Every process of the product
imports numpy early (sqlite-utils imports it, and the store imports sqlite-utils), so this order
matters. For each order, a child process imports the modules in that order, loads the model, decodes
a few tokens, and lists the native runtime libraries it ended up with — which libstdc++, which OpenMP
runtime(s), which CUDA runtime — read from /proc/self/maps. A crash is a result, not a failure of the
script: the table says which orders crash and which copies of the libraries each order bound.

Exit code: 0 when every order loaded, 1 when any order failed (the table says which).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ORDERS = {
    "llama-first": ["llama_cpp"],
    "product": ["openclaw_local.store", "llama_cpp"],  # the store (sqlite-utils → numpy), then the engine
    "numpy-first": ["numpy", "llama_cpp"],
    "torch-first": ["torch", "llama_cpp"],
}
# the shared libraries whose copies matter: C++ runtime, OpenMP runtimes, CUDA runtime and BLAS
WATCHED = ("libstdc++", "libgomp", "libiomp", "libomp", "libcudart", "libcublas", "libggml", "libllama")
CHILD = r"""
import importlib, json, sys
for name in sys.argv[2].split(","):
    importlib.import_module(name)
from openclaw_local.engine.load_plan import LoadPlan, open_llama
llm = open_llama(sys.argv[1], LoadPlan(extra_buffers=False, n_gpu_layers=int(sys.argv[3])), n_ctx=256,
                 n_threads=1, n_threads_batch=1, verbose=False)
llm.eval(llm.tokenize(b"The lighthouse keeper counted the ships.", add_bos=True))
watched = sys.argv[4].split(",")
libs = sorted({line.split()[-1] for line in open("/proc/self/maps")
               if line.split()[-1].startswith("/") and any(w in line.split()[-1].rsplit("/", 1)[-1] for w in watched)})
print("LOAD-ORDER " + json.dumps({"ok": True, "libs": libs}), flush=True)
"""


def check(model: Path, modules: list[str], gpu_layers: int, timeout_s: float = 300.0) -> dict:
    """One order in a fresh interpreter: {"ok", "libs"} or {"ok": False, "reason"}."""
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(model), ",".join(modules), str(gpu_layers),
                               ",".join(WATCHED)], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"ok": False, "reason": f"no answer within {timeout_s:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("LOAD-ORDER "):
            return json.loads(line[len("LOAD-ORDER "):])
    if proc.returncode < 0:
        return {"ok": False, "reason": f"killed by signal {-proc.returncode}"}
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"ok": False, "reason": f"exit {proc.returncode}: {tail[:200]}"}


def _short(path: str) -> str:
    """A library's path without the machine's own folders: ``site-packages/torch/lib/libgomp.so.1``."""
    return "site-packages/" + path.split("site-packages/", 1)[1] if "site-packages/" in path else path


def table(results: dict[str, dict]) -> str:
    lines = ["| import order | result | native libraries bound |", "|---|---|---|"]
    for name, r in results.items():
        libs = "<br>".join(_short(p) for p in r.get("libs", []) if "/llama_cpp/lib/" not in p) or "—"
        lines.append(f"| {name} ({' → '.join(ORDERS[name])}) | {'loaded' if r['ok'] else r['reason']} | {libs} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a GGUF file (default: the embedded model)")
    ap.add_argument("--gpu-layers", type=int, default=0, help="layers offloaded to the GPU (-1: all)")
    ap.add_argument("--orders", default=",".join(ORDERS), help=f"which orders, comma-separated (of {', '.join(ORDERS)})")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.orders.split(",") if n.strip()]
    unknown = [n for n in names if n not in ORDERS]
    if unknown:
        print(f"error: unknown order {unknown[0]!r} (known: {', '.join(ORDERS)})", file=sys.stderr)
        return 2
    if args.model:
        model = Path(args.model)
    else:
        from openclaw_local.paths import embedded_model_path

        model = embedded_model_path()
    results = {name: check(model, ORDERS[name], args.gpu_layers) for name in names}
    print(json.dumps(results, indent=1) if args.json else table(results))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
