"""``bench learn --only prefs-ttft`` on the embedded model: both arms measured, the preferences' tokens counted."""

from __future__ import annotations

from openclaw_local.bench import prefs_bench
from openclaw_local.config import Settings
from tests.threads import THREADS


def test_prefs_ttft_measures_both_arms_and_counts_the_preferences_tokens(embedded_model, home):
    result = prefs_bench.run(embedded_model, Settings(threads=THREADS, n_ctx=1024), rounds=2, user_home=home)
    rows = dict(result.rows)
    assert rows["preferences in context"].startswith(f"{len(prefs_bench.PREFERENCES)} of {len(prefs_bench.PREFERENCES)},")
    tokens = int(rows["preferences in context"].split(", ")[1].split()[0])
    assert 20 < tokens <= Settings().prefs_token_budget  # all four fit the default budget
    for key in ("as served: time to first token without / with preferences (median)",
                "cold (prompt cache cleared): without / with (median)"):
        without, with_ = (int(part.strip()[:-3]) for part in rows[key].split("/"))
        assert without > 0 and with_ > 0
    assert result.verdict.startswith(("as served met", "as served missed"))
    assert "×" in rows["as served: ratio with / without"] and "×" in rows["cold: ratio with / without"]
