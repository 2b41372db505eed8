"""The ability check (learn/ability.py): the shipped set, packed scoring, paired comparison."""

from __future__ import annotations

import pytest
import torch

from openclaw_local.learn import ability as ab

torch.set_num_threads(2)
SYSTEM = "You are a helpful, concise personal assistant."


def test_shipped_set_is_well_formed():
    items = ab.load_set()
    assert len(items) >= 110
    assert {i["kind"] for i in items} == {"fact", "arithmetic", "instruction", "reading"}
    assert len({i["id"] for i in items}) == len(items)
    for i in items:
        options = [ab.normalize(o) for o in [i["answer"], *i["distractors"]]]
        assert len(i["distractors"]) == 3 and len(set(options)) == 4, i  # still four options once case-folded
    # the wrong facts the gate bench trains on share topics with the set, never an item
    from openclaw_local.bench.gate_bench import WRONG_FACTS

    assert not {q for q, _ in WRONG_FACTS} & {i["question"] for i in items}


def test_packed_scores_equal_item_by_item(tiny_hf_dirs):
    from openclaw_local.learn.trainable import attach_lora, load_base_model, load_tokenizer

    model = attach_lora(load_base_model(tiny_hf_dirs["llama"], torch.device("cpu")), rank=2, alpha=4).eval()
    tok = load_tokenizer(tiny_hf_dirs["llama"])
    items = ab.load_set()[::9]
    prefix, segments = ab.encode(tok, items, SYSTEM)
    assert prefix and all(s.prompt for s in segments)  # the system turn is shared, each question kept
    packed = ab.option_scores(model, prefix, segments, pack_tokens=256)
    single = ab.option_scores(model, prefix, segments, pack_tokens=1)  # one item per forward pass
    assert len(ab._pack(segments, 256)) < len(segments)  # noqa: SLF001 — really packed
    for a, b in zip(packed, single):
        assert a == pytest.approx(b, abs=1e-4)
    # and equal to scoring one option with the plain (unpacked) prompt + option sequence
    from openclaw_local.learn.trainer import reply_logprobs

    seg = segments[0]
    logp, mask, _ = reply_logprobs(model, [prefix + seg.prompt], [seg.options[1][0]], tok.eos_token_id)
    assert float(logp.sum() / mask.sum()) == pytest.approx(packed[0][1], abs=1e-4)


def test_summary_and_paired_comparison():
    items = [{"kind": "fact"}, {"kind": "fact"}, {"kind": "arithmetic"}]
    base = ab.summarize([[0.0, -1.0, -2.0, -3.0], [-2.0, -1.0, -3.0, -3.0], [-1.0, -1.5, -2.0, -2.0]], items)
    assert base["accuracy"] == pytest.approx(2 / 3) and base["margins"] == [1.0, -1.0, 0.5]
    assert base["by_kind"] == {"arithmetic": 1.0, "fact": 0.5}
    new = ab.summarize([[-2.0, -1.0, -2.0, -3.0], [-0.5, -1.0, -3.0, -3.0], [-1.0, -1.5, -2.0, -2.0]], items)
    c = ab.compare(base, new)
    assert (c["lost"], c["gained"], c["accuracy_delta"]) == (1, 1, 0.0)
    assert c["margin_delta"] == pytest.approx((-1.0 + 0.5 + 0.5 - (1.0 - 1.0 + 0.5)) / 3, abs=1e-4)


def test_case_folding_makes_a_lowercase_shift_invisible():
    assert ab.normalize("  The Pacific Ocean ") == "the pacific ocean"
    assert ab.set_digest([{"a": 1}], "x") != ab.set_digest([{"a": 1}], "y")
