"""The personalization benchmark's verdict: which of the per-persona targets a run missed."""

from __future__ import annotations

from pathlib import Path

from openclaw_local.bench.persona_bench import full_misses, row, summarize


def _report(**kw):
    base = {"persona": "p", "baseline": 0.4, "final": 43 / 48 + 0.0042, "score_at_16": 0.8, "updates": 9,
            "updates_served": 9, "final_general_ppl_ratio": 1.02, "wall_seconds": 600.0,
            "arms": {"in_context": {"score": 0.5}, "offline_sft": {"score": 0.9}}}
    base.update(kw)
    return base


def test_targets_met_at_the_edges_despite_float_noise():
    assert full_misses(_report(final=0.1 + 0.8 - 1e-12, baseline=0.4000000000001)) == []


def test_each_miss_is_named():
    misses = full_misses(_report(baseline=0.54, final=43 / 48, score_at_16=0.68, final_general_ppl_ratio=1.06,
                                 wall_seconds=1300.0))
    assert misses == ["baseline 0.540 > 0.4", "final 0.896 < 0.9", "0.680 < 0.8 within 16",
                      "below the offline sft arm", "general ppl +6.0%", "21.7 min > 20"]


def test_rows_show_three_decimals_and_the_verdict_lists_misses():
    good, bad = _report(persona="a"), _report(persona="b", final=43 / 48, arms={})
    assert "0.896" in row(bad)[1] and "in context 0.500" in row(good)[1]
    result = summarize([good, bad], full=True, seed=0, out_root=Path("/x"))
    assert result.verdict.startswith("targets missed: b (final 0.896 < 0.9)")


def test_bench_personas_runs_each_test_persona_per_seed_with_the_feedback_asked_for(monkeypatch, tmp_path):
    import openclaw_local.sim.simulate as simulate
    from openclaw_local.bench import persona_bench

    calls = []

    def fake_run(persona, out, *, seed, **kw):
        calls.append((persona.name, seed, dict(persona.feedback), out.name))
        return {"persona": persona.name, "seed": seed, "baseline": 0.2, "final": 0.5, "score_at_16": 0.5,
                "updates": 1, "updates_served": 1, "wall_seconds": 60.0}

    monkeypatch.setattr(simulate, "run_simulation", fake_run)
    files = persona_bench.persona_files("test")
    assert len(files) >= 4 and all(p.parent.name == "test" for p in files)
    result = persona_bench.run(out_root=tmp_path, personas=files[:2], seeds=3, seed=5, words_only=True)
    assert [(c[0], c[1]) for c in calls] == [(n, s) for n in [c[0] for c in calls[::3]] for s in (5, 6, 7)]
    assert all(c[2]["complain"] == 1.0 for c in calls) and all("-words-s" in c[3] for c in calls)
    assert "seed(s) 5, 6, 7" in result.method and len(result.rows) == 6
