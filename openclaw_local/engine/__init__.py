"""Serving with llama.cpp. Knows nothing about SQLite or the UI."""

from openclaw_local.engine.llama_engine import Engine, Generation, GenerationStats, Preempted
from openclaw_local.engine.gate import ModelGate

__all__ = ["Engine", "Generation", "GenerationStats", "ModelGate", "Preempted"]
