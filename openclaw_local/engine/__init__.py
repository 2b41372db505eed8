"""Serving with llama.cpp. Knows nothing about SQLite or the UI."""

import os

# llama.cpp's OpenMP workers spin while they wait for each other. When the cores are
# shared (the judge, the learner, anything else on a small machine) a spinning worker
# whose partner is descheduled stalls generation for seconds: measured here with
# 2 threads under load, 2-7 tokens/s and a 15 s first token when spinning, ~47 tokens/s
# when waiting passively. Must be set before llama.cpp's OpenMP runtime starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from openclaw_local.engine.llama_engine import Engine, Generation, GenerationStats, Preempted
from openclaw_local.engine.gate import ModelGate

__all__ = ["Engine", "Generation", "GenerationStats", "ModelGate", "Preempted"]
