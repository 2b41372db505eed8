"""``doctor``'s GPU rows: "no CUDA GPU" here, and with a faked CUDA probe the fit by learn/memory.py's rule."""

from __future__ import annotations

import pytest

from openclaw_local.cli import doctor, main

GIB = 1024 ** 3


def _rows(capsys) -> dict[str, str]:
    """doctor's rows by key, wrapped continuation lines joined back."""
    rows: dict[str, str] = {}
    key = None
    for line in capsys.readouterr().out.splitlines():
        if line.startswith(" ") and key:
            rows[key] += " " + line.strip()
        else:
            key, _, value = line.partition("  ")
            key = key.strip()
            rows[key] = value.strip()
    return rows


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_doctor_says_no_cuda_gpu_in_one_line(home, monkeypatch, capsys):
    monkeypatch.setattr(doctor, "gpu_probe", lambda: None)
    assert main(["doctor"]) == 0
    rows = _rows(capsys)
    assert rows["CUDA"].startswith("no CUDA GPU") and "GPU fit" not in rows


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
@pytest.mark.parametrize("total_gib, verdict", [(24, "fits"), (0.25, "does not fit")])
def test_doctor_shows_the_gpu_and_whether_serving_plus_qlora_fit(home, monkeypatch, capsys, total_gib, verdict):
    gpu = doctor.Gpu("NVIDIA GeForce RTX 4090", int(total_gib * GIB), int(total_gib * GIB * 0.9), "torch")
    monkeypatch.setattr(doctor, "gpu_probe", lambda: gpu)
    assert main(["doctor"]) == 0
    rows = _rows(capsys)
    assert rows["CUDA"].startswith("NVIDIA GeForce RTX 4090: ") and "GB total" in rows["CUDA"] and "GB free" in rows["CUDA"]
    fit = rows["GPU fit"]
    print(f"\nGPU fit ({total_gib} GiB): {fit}")
    assert fit.startswith(f"{verdict}: serving (n_ctx 4096)") and "QLoRA update (NF4, rank 16)" in fit


def test_nvidia_smi_is_read_when_torch_sees_no_cuda(monkeypatch):
    import subprocess

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(doctor.shutil, "which", lambda name: "/usr/bin/nvidia-smi" if name == "nvidia-smi" else None)
    monkeypatch.setattr(doctor.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, stdout="NVIDIA H100 80GB HBM3, 81559, 80000\n"))
    gpu = doctor.gpu_probe()
    assert gpu == doctor.Gpu("NVIDIA H100 80GB HBM3", 81559 * 2**20, 80000 * 2**20, "nvidia-smi")
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    assert doctor.gpu_probe() is None
    assert doctor.gpu_line(None).startswith("no CUDA GPU")
