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


def test_sequential_first_half_and_early_verdicts():
    items = ab.load_set()
    first = ab.stage_one(items)
    assert abs(len(first) - len(items) / 2) <= 4  # every other item of each kind
    kinds = {k: sum(1 for i in items if i["kind"] == k) for k in {i["kind"] for i in items}}
    for k, n in kinds.items():
        assert sum(1 for i in first if items[i]["kind"] == k) == (n + 1) // 2
    margins = [1.0 if i % 3 else -1.0 for i in range(len(items))]  # a base: two of three right
    half = ab.stage_one(items, margins)
    right = sum(1 for m in margins if m > 0)
    assert abs(sum(1 for i in half if margins[i] > 0) - right / 2) <= 4  # half the base's right answers
    n, limit = 114, 0.06  # the whole-set rule: at most 6.84 net items lost
    base = [1.0] * 40 + [-1.0] * 17
    assert ab.early_verdict(base, base, n, limit) == "pass"  # nothing changed on the first half
    one_lost = [-0.1] + base[1:]
    assert ab.early_verdict(base, one_lost, n, limit) == "pass"  # 2 ± 4.2 projected (3 sd): inside
    two_lost = [-0.1] * 2 + base[2:]
    assert ab.early_verdict(base, two_lost, n, limit) is None  # 4 ± 5.2: could cross 6.84, score the rest
    gained = [-0.1] + base[1:40] + [0.1] * 2 + base[42:]
    assert ab.early_verdict(base, gained, n, limit) == "pass"  # −2 ± 5.2: inside
    many_lost = [-0.1] * 12 + base[12:]
    assert ab.early_verdict(base, many_lost, n, limit) == "refuse"  # 24 ± 10.6: outside
    churn = [-0.1] * 3 + base[3:40] + [0.1] * 3 + base[43:]
    assert ab.early_verdict(base, churn, n, limit) is None  # net 0 but 6 discordant items: too noisy to stop
    # the simulated-run version that a 2-sd rule passed on its first half and the whole set refused
    assert ab.early_verdict(base, churn, n, limit, z=2.0) == "pass"


def test_sequential_result_equals_whole_set_when_it_scores_both_halves(tiny_hf_dirs):
    from openclaw_local.learn.trainable import attach_lora, load_base_model, load_tokenizer

    model = attach_lora(load_base_model(tiny_hf_dirs["llama"], torch.device("cpu")), rank=2, alpha=4).eval()
    tok = load_tokenizer(tiny_hf_dirs["llama"])
    items = ab.load_set()[::6]
    whole = ab.measure(model, tok, SYSTEM, items)
    # 19 items: even an unchanged first half leaves ±3 items, more than the 6 % limit (1.1 items)
    seq = ab.measure_sequential(model, tok, SYSTEM, whole, 0.06, items)
    assert seq["stage"] == 2 and seq["margins"] == pytest.approx(whole["margins"], abs=1e-4)
    same = ab.measure_sequential(model, tok, SYSTEM, whole, 0.2, items)  # a 3.8-item limit: settled early
    assert same["stage"] == 1 and same["early"] == "pass" and same["indices"] == ab.stage_one(items, whole["margins"])
    c = ab.compare(whole, same)
    assert c["n"] == len(same["indices"]) and c["lost"] == c["gained"] == 0 and c["stage"] == 1
