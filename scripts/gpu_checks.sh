#!/usr/bin/env bash
# The CUDA checks, as one command, for a machine with an NVIDIA GPU (after ./install.sh):
#
#   bash scripts/gpu_checks.sh [OUT_DIR]        # default OUT_DIR: gpu-checks/
#
# 0. llama.cpp loaded on the GPU after each import order (llama.cpp first, the product's, numpy first,
#    torch first), each in a fresh process, with the C++/OpenMP/CUDA runtimes each order bound;
# 1. the CUDA-only tests (QLoRA update on an NF4 base, export to GGUF);
# 2. peak GPU memory of one QLoRA update of the served model, next to learn/memory.py's rule;
# 3. `bench learn` with the learner on CUDA and the chat on the same GPU: update time, gate time,
#    hot swap, chat tokens/s while training vs idle, time to first token, correction -> served;
#    nvidia-smi samples the GPU's memory in use meanwhile (both processes together).
# Every step writes its output under OUT_DIR; a failing step does not stop the next one.
# PYTHON overrides the interpreter (default .venv/bin/python); SKIP="name ..." skips steps by name.
set -u
OUT=${1:-gpu-checks}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
export OPENCLAW_HOME=${OPENCLAW_HOME:-$(mktemp -d)}
status=0
step() {  # step NAME CMD...: run, keep its output, remember a failure
  local name=$1; shift
  case " ${SKIP:-} " in *" $name "*) echo "== $name: skipped"; return;; esac
  echo "== $name: $*"
  "$@" >"$OUT/$name.txt" 2>&1 || { echo "   failed (exit $?)"; status=1; }
  tail -n 15 "$OUT/$name.txt"
}
step gpu bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
  $PY -c 'import torch, llama_cpp; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"gpu offload\", llama_cpp.llama_supports_gpu_offload())'"
step load_order "$PY" scripts/load_order_check.py --gpu-layers -1
step pytest_cuda "$PY" -m pytest -q -m cuda tests/test_learn_cuda.py -p no:cacheprovider
step train_memory_cuda "$PY" -m openclaw_local.bench.train_memory --device cuda
step doctor "$PY" -m openclaw_local doctor
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 >"$OUT/gpu_memory_mib.csv" 2>/dev/null &
sampler=$!
step bench_learn "$PY" -m openclaw_local bench learn --rounds 6 --write "$OUT/bench_learn_cuda.md"
kill $sampler 2>/dev/null
sort -n "$OUT/gpu_memory_mib.csv" | tail -n 1 | sed 's/^/peak GPU memory in use during bench learn (MiB): /' | tee "$OUT/gpu_memory_peak.txt"
exit $status
