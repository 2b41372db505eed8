"""The llama.cpp start-up self-test: a crashing probe child, the fallback, the cache, the GPU ladder.

The crash is injected (``OCL_SELFTEST_FAULT=segv`` makes the probe child kill itself with
SIGSEGV when extra buffer types are on, which is what the AMX bug looks like); everything
else is real: child processes, llama.cpp, the embedded model, chat through the runtime.
"""

from __future__ import annotations

import itertools
import os
import stat
import subprocess
import sys

import pytest

from openclaw_local.config import Settings
from openclaw_local.engine import selftest
from openclaw_local.engine.selftest import CACHE_FILE, FAULT_ENV, ProbeResult, decide, plan_for, run_probe
from openclaw_local.errors import ModelError


def _chat_once(home, settings):
    from openclaw_local.services.events import ReplyDelta
    from openclaw_local.services.runtime import Runtime

    deltas = []
    with Runtime.open(home, settings) as rt:
        conv = rt.chat.new_conversation()
        msg = rt.chat.send(conv.id, "Name one colour of the sky.", lambda e: deltas.append(e) if isinstance(e, ReplyDelta) else None)
        plan, notices = rt.engine.plan, list(rt.notices)
        flag = rt.engine.llm.model_params.use_extra_bufts
    return msg, deltas, plan, notices, flag


@pytest.mark.real_selftest
def test_crashing_probe_falls_back_chat_works_and_the_decision_is_cached(home, monkeypatch, quick_settings):
    monkeypatch.setenv(FAULT_ENV, "segv")
    settings = quick_settings.replace(learn=False)
    msg, deltas, plan, notices, flag = _chat_once(home, settings)
    assert plan.extra_buffers is False and plan.source == "probed"
    assert "crashed with SIGSEGV" in plan.reason
    assert flag is False  # the live llama.cpp model really loaded without extra buffer types
    assert msg.content.strip() and deltas and msg.n_tokens > 1  # real generation, streamed
    assert notices == ["llama.cpp self-test: extra CPU buffer types off "
                       "(the probe with buffers on crashed with SIGSEGV; probed now)"]
    cache = home / CACHE_FILE
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600

    def no_probe(*a, **k):
        raise AssertionError("the second start must not probe again")

    monkeypatch.setattr(selftest, "run_probe", no_probe)
    msg2, _, plan2, notices2, flag2 = _chat_once(home, settings)
    assert plan2.extra_buffers is False and plan2.source == "cached" and "SIGSEGV" in plan2.reason
    assert flag2 is False and msg2.content.strip()
    assert notices2 == []  # said once, when decided


@pytest.mark.real_selftest
def test_healthy_probe_keeps_extra_buffers(home, embedded_model):
    plan = decide(home, embedded_model, mode="auto")
    assert plan.extra_buffers is True and plan.source == "probed" and not plan.fallback
    assert decide(home, embedded_model, mode="auto").source == "cached"


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
@pytest.mark.real_selftest
def test_probe_reports_crash_failure_and_timeout(embedded_model):
    crash = run_probe(embedded_model, extra_buffers=True, n_gpu_layers=0, fault="segv")
    assert not crash.ok and crash.crashed and crash.reason == "crashed with SIGSEGV"
    assert run_probe(embedded_model, extra_buffers=False, n_gpu_layers=0, fault="segv").ok
    failed = run_probe(embedded_model, extra_buffers=False, n_gpu_layers=0, fault="error")
    assert not failed.ok and not failed.crashed and "injected probe failure" in failed.reason
    hung = run_probe(embedded_model, extra_buffers=False, n_gpu_layers=0, fault="hang", timeout_s=2)
    assert not hung.ok and hung.crashed and hung.reason == "timed out after 2 s"


@pytest.mark.real_selftest
def test_crash_in_every_configuration_is_one_clear_error(home, embedded_model, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "segv-always")
    with pytest.raises(ModelError, match="crashed on .* in every way tried"):
        decide(home, embedded_model, mode="auto")
    assert not (home / CACHE_FILE).exists()  # nothing remembered: the next start tries again


def test_extra_buffers_off_reaches_llama_cpp(embedded_model):
    """llama.cpp itself sees the flag: with it off, it never considers the CPU_REPACK buffer type."""
    script = ("import sys\nfrom openclaw_local.engine.load_plan import LoadPlan, open_llama\n"
              f"llm = open_llama({str(embedded_model)!r}, LoadPlan(extra_buffers=sys.argv[1] == 'on'), n_ctx=128, verbose=True)\n"
              "llm.close()\n")
    logs = {}
    for arm in ("on", "off"):
        out = subprocess.run([sys.executable, "-c", script, arm], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        assert out.returncode == 0, out.stderr[-2000:]
        logs[arm] = out.stderr
    assert "CPU_REPACK" in logs["on"] and "CPU_REPACK" not in logs["off"]


def _fake_probe(fails):
    calls = []

    def probe(model_path, *, extra_buffers, n_gpu_layers, threads=1):
        calls.append((n_gpu_layers, extra_buffers))
        if fails(n_gpu_layers, extra_buffers):
            return ProbeResult(False, "failed: out of GPU memory" if n_gpu_layers else "crashed with SIGSEGV", crashed=not n_gpu_layers)
        return ProbeResult(True)

    return probe, calls


def test_failing_gpu_offload_falls_back_to_fewer_layers_then_cpu(home, embedded_model, monkeypatch):
    import llama_cpp

    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)
    probe, calls = _fake_probe(lambda layers, extra: layers == -1)  # all 30 layers do not fit
    plan = decide(home, embedded_model, mode="auto", n_gpu_layers=-1, probe=probe)
    assert (plan.n_gpu_layers, plan.extra_buffers) == (15, True)
    assert calls == [(-1, True), (-1, False), (15, True)]
    assert "GPU layers 15 (asked -1)" in plan.describe() and "out of GPU memory" in plan.reason

    probe, calls = _fake_probe(lambda layers, extra: layers != 0)  # a driver mismatch: no offload at all
    plan = decide(home, embedded_model, mode="off", n_gpu_layers=-1, probe=probe)
    assert (plan.n_gpu_layers, plan.extra_buffers) == (0, False) and calls[-1] == (0, False)


def test_cache_is_redone_when_the_fingerprint_changes(home, embedded_model, monkeypatch):
    probe, calls = _fake_probe(lambda layers, extra: extra)
    assert decide(home, embedded_model, probe=probe).extra_buffers is False
    assert decide(home, embedded_model, probe=probe).source == "cached" and len(calls) == 2
    monkeypatch.setattr(selftest, "_cpu_flags", lambda: "fpu sse2 amx_tile amx_int8")  # another CPU
    assert decide(home, embedded_model, probe=probe).source == "probed" and len(calls) == 4
    import llama_cpp

    monkeypatch.setattr(llama_cpp, "__version__", "0.3.99")  # another llama.cpp
    assert decide(home, embedded_model, probe=probe).source == "probed" and len(calls) == 6
    (home / CACHE_FILE).write_text("{not json")  # a damaged cache is probed again, never an error
    assert decide(home, embedded_model, probe=probe).source == "probed"


def test_setting_on_or_off_needs_no_probe(home, embedded_model):
    def no_probe(*a, **k):
        raise AssertionError("nothing to decide")

    for mode, extra in (("on", True), ("off", False)):
        plan = plan_for(home, Settings(cpu_extra_buffers=mode, n_gpu_layers=0), embedded_model, probe=no_probe)
        assert plan.extra_buffers is extra and plan.source == "setting"
        assert plan.describe() == f"extra CPU buffer types {mode} (setting cpu_extra_buffers)"


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
@pytest.mark.real_selftest
def test_doctor_states_the_decision_and_why(home, monkeypatch, capsys):
    from openclaw_local.cli import main

    monkeypatch.setenv(FAULT_ENV, "segv")
    lines = []
    for _ in range(2):
        assert main(["doctor"]) == 0
        out = capsys.readouterr().out.splitlines()
        start = next(i for i, line in enumerate(out) if line.startswith("llama.cpp self-test"))
        # doctor wraps long values onto indented continuation lines: join them back
        rows = [out[start]] + [line for line in itertools.takewhile(lambda x: x.startswith(" "), out[start + 1:])]
        lines.append(" ".join(part.strip() for part in rows))
    assert " ".join(lines[0].split()[2:]) == "extra CPU buffer types off (the probe with buffers on crashed with SIGSEGV; probed now)"
    assert lines[1].endswith("crashed with SIGSEGV; cached)"), lines[1]


def test_every_llama_cpp_load_in_the_product_follows_the_plan():
    """No Engine without a plan, no Llama except through load_plan.open_llama (a new caller can't forget)."""
    import ast
    from pathlib import Path

    import openclaw_local

    root = Path(openclaw_local.__file__).parent
    missing = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            where = f"{path.relative_to(root)}:{node.lineno}"
            if name == "Engine" and not any(k.arg == "plan" for k in node.keywords):
                missing.append(f"{where} Engine() without plan=")
            if name == "Llama" and path.name != "load_plan.py":
                missing.append(f"{where} Llama() outside load_plan.open_llama")
            if name == "open_llama" and path.name != "llama_engine.py" and len(node.args) < 2:
                missing.append(f"{where} open_llama() without a plan")
    assert not missing, missing
