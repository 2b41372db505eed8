"""``bench learn --only prefs-ttft`` on the embedded model: both arms measured, the preferences' tokens counted."""

from __future__ import annotations

from openclaw_local.bench import prefs_bench
from openclaw_local.config import Settings


def test_prefs_ttft_measures_both_arms_and_counts_the_preferences_tokens(embedded_model, home):
    result = prefs_bench.run(embedded_model, Settings(threads=2, n_ctx=1024), rounds=2, user_home=home)
    rows = dict(result.rows)
    assert rows["preferences in context"].startswith(f"{len(prefs_bench.PREFERENCES)} of {len(prefs_bench.PREFERENCES)},")
    tokens = int(rows["preferences in context"].split(", ")[1].split()[0])
    assert 20 < tokens <= Settings().prefs_token_budget  # all four fit the default budget
    for key in ("time to first token without preferences (median)", "time to first token with preferences (median)"):
        assert rows[key].endswith(" ms") and int(rows[key][:-3]) > 0
    assert result.verdict.startswith(("met", "missed")) and "×" in rows["ratio with / without"]
