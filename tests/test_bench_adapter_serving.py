"""``bench chat --adapter-serving`` on the embedded model: the three arms measured, through the CLI's path."""

from __future__ import annotations

from openclaw_local.bench import chat_bench
from openclaw_local.config import Settings
from tests.threads import THREADS


def test_adapter_serving_measures_base_runtime_lora_and_merged(embedded_model):
    result = chat_bench.run_adapter_serving(embedded_model, Settings(threads=THREADS, n_ctx=512), rounds=1,
                                            max_tokens=8)
    rows = dict(result.rows)
    for arm in ("base", "runtime LoRA", "merged q8_0"):
        assert float(rows[f"{arm}: generation tokens/s"]) > 0
        assert rows[f"{arm}: time to first token"].endswith(" ms")
    assert float(rows["ratio merged / base tokens/s"]) > 0 and float(rows["ratio runtime LoRA / base tokens/s"]) > 0
    assert rows["merging one version (learner side, once per version)"].endswith(" MB")
    assert result.verdict.startswith("runtime LoRA ")
