"""`bench learn --only ttft-judging`: a real run on the embedded model (short; the default judge only,
the `generate` arm runs the same loop and costs a minute of votes)."""

from __future__ import annotations

import pytest

import re

from openclaw_local.bench import learn_bench


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_ttft_while_judging_reports_the_default_judge_with_its_ratio(embedded_model, quick_settings):
    s = quick_settings.replace(judge_mode="rules")
    result = learn_bench.run_ttft_judging(embedded_model, s, rounds=1, judges=(None,), max_queue=3)
    rows = dict(result.rows)
    ratios = {k: float(v) for k, v in rows.items() if k.startswith("ratio judging/idle")}
    assert list(ratios) == ["ratio judging/idle, rules judge (the default; target ≤ 1.1)"]
    assert all(r > 0 for r in ratios.values())
    assert re.fullmatch(r"\d+ ms", rows["judge latency per sample (rules judge, queue of 4, median)"])
    assert re.fullmatch(r"\d+ ms", rows["time to first token with rules-judge work queued (3 replies)"])
    assert result.verdict.startswith("TTFT while the rules judge works")
