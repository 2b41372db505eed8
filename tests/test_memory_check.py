"""The learner estimates the memory of its trainable copy before building it; too big = one line, no OOM."""

from __future__ import annotations

from openclaw_local.config import Settings
from openclaw_local.services import memory_check
from openclaw_local.services.learner_worker import _memory_note


def test_estimate_from_the_gguf(embedded_model):
    params = memory_check.gguf_params(embedded_model)
    assert 100e6 < params < 200e6  # SmolLM2-135M
    cpu = memory_check.learning_fits(embedded_model, cuda=False, free=64 * 10**9)
    assert cpu.fits and cpu.where == "RAM" and cpu.need_bytes == int(params * 4 * 1.3 + 1e9)
    gpu = memory_check.learning_fits(embedded_model, cuda=True, free=10**9)
    assert not gpu.fits and gpu.where == "GPU memory" and "does not fit" in gpu.sentence("m.gguf")


def test_worker_pauses_learning_with_one_line_when_it_does_not_fit(embedded_model, monkeypatch):
    monkeypatch.setattr(memory_check, "free_ram", lambda: 200 * 10**6)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    note = _memory_note(Settings())
    assert note is not None and "\n" not in note
    assert "needs ~" in note and "0.2 GB is free" in note and "the chat keeps working" in note
    monkeypatch.setattr(memory_check, "free_ram", lambda: 64 * 10**9)
    assert _memory_note(Settings()) is None
