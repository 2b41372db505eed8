"""The promotion gate: decision rules, and Learner.update publishing candidate -> active | rejected."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from openclaw_local.config import Settings
from openclaw_local.learn import promotion as g
from openclaw_local.services.training import HOLDOUT_MIN, Learner, holdout_split
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore
from tests.threads import THREADS

torch.set_num_threads(THREADS)  # one per xdist worker on a shared machine (tests/threads.py)


def _ability(margins):
    return {"n": len(margins), "accuracy": sum(m > 0 for m in margins) / len(margins),
            "margin": sum(margins) / len(margins), "margins": margins}


def test_decide_rules():
    parent = {"accepted": [-2.0, -3.0], "rejected": [-1.0]}
    base = {"ppl": 10.0, "ability": _ability([0.5] * 15 + [-0.5] * 5)}
    good = {"accepted": [-1.5, -2.5], "rejected": [-1.2], "ppl": 10.2, "ability": _ability([0.45] * 15 + [-0.5] * 5)}
    ok, reason, res = g.decide(parent, good, base, [])
    assert ok and reason is None and res["general"]["ratio"] == pytest.approx(1.02)
    assert res["ability"]["accuracy_delta"] == 0 and res["ability"]["ok"]
    # general perplexity is information unless the model is broken
    ok, _, res = g.decide(parent, dict(good, ppl=12.0), base, [])
    assert ok and res["general"]["ratio"] == pytest.approx(1.2)
    ok, reason, _ = g.decide(parent, dict(good, ppl=16.0), base, [])
    assert not ok and "perplexity +60.0%" in reason
    # ability: two of twenty items lost is 10 points, over the limit (6)
    ok, reason, res = g.decide(parent, dict(good, ability=_ability([0.5] * 13 + [-0.5] * 7)), base, [])
    assert not ok and "fewer general questions" in reason and res["ability"]["lost"] == 2
    ok, _, res = g.decide(parent, dict(good, ability=_ability([0.2] * 15 + [-0.8] * 5)), base, [])
    assert ok and res["ability"]["margin_delta"] == pytest.approx(-0.3)  # margin alone: information
    ok, reason, _ = g.decide(parent, dict(good, ability=_ability([0.5] * 15 + [-5.0] * 5)), base, [])
    assert not ok and "less sure" in reason
    # fluency: prose vs the same words shuffled, in the reply position
    flu = {"fluency": {"contrast": 2.9, "ppl": 100.0}}
    ok, _, res = g.decide(parent, dict(good, fluency={"contrast": 2.8, "ppl": 130.0}), {**base, **flu}, [])
    assert ok and res["fluency"]["delta"] == pytest.approx(-0.1) and res["fluency"]["reply_ppl_ratio"] == 1.3
    ok, reason, _ = g.decide(parent, dict(good, fluency={"contrast": 2.2, "ppl": 100.0}), {**base, **flu}, [])
    assert not ok and "word order" in reason
    # feedback, judged jointly: margin = Δ accepted − Δ rejected (parent: accepted −2.5, rejected −1.0)
    ok, _, res = g.decide(parent, dict(good, accepted=[-3.0, -3.5], rejected=[-1.85]), base, [])
    assert ok and res["feedback"]["margin"] == pytest.approx(0.1)  # a style shift moves both alike: passes
    ok, reason, res = g.decide(parent, dict(good, accepted=[-2.8, -3.0], rejected=[-0.6]), base, [])
    assert not ok and "turned against your feedback" in reason and res["feedback"]["margin"] == pytest.approx(-0.8)
    ok, _, res = g.decide(parent, dict(good, accepted=[-2.45, -2.85], rejected=[-1.0]), base, [])
    assert ok and res["feedback"]["margin"] == pytest.approx(-0.15)  # within the measured noise
    # one kind only: reported, refuses only a broken model
    one = {"accepted": [-2.0, -3.0]}
    ok, _, res = g.decide(one, dict(good, accepted=[-2.5, -3.5], rejected=[]), base, [])
    assert ok and res["feedback"]["one_sided"] == "accepted" and res["rejected"]["skipped"]
    ok, reason, _ = g.decide(one, dict(good, accepted=[-4.0, -4.0], rejected=[]), base, [])
    assert not ok and "much less likely" in reason
    ok, reason, _ = g.decide(parent, dict(good, ppl=float("nan")), base, ["x.lora_A"])
    assert not ok and "NaN" in reason
    ok, _, res = g.decide({}, {"accepted": [], "rejected": [], "ppl": 10.0}, 10.0, [])
    assert ok and res["accepted"]["skipped"]
    assert holdout_split([1]) == ([1], [])
    assert holdout_split([1, 2, 3, 4]) == ([1, 2, 3], [4])
    assert holdout_split(list(range(10))) == (list(range(8)), [8, 9]) and HOLDOUT_MIN == 2


def test_nonfinite_and_perplexity_on_tiny_model(tiny_hf_dirs):
    from openclaw_local.learn.trainable import attach_lora, load_base_model, load_tokenizer

    model = attach_lora(load_base_model(tiny_hf_dirs["llama"], torch.device("cpu")), rank=2, alpha=4)
    tok = load_tokenizer(tiny_hf_dirs["llama"])
    assert g.lora_nonfinite(model) == []
    ppl = g.perplexity(model, tok, g.general_text(), max_tokens=200)
    assert math.isfinite(ppl) and ppl > 1
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "lora_B" in n)[0, 0] = float("inf")
    assert len(g.lora_nonfinite(model)) == 1


def _feedback(store, samples, n):
    ids = []
    for i in range(n):
        conv = store.create_conversation()
        store.add_message(conv.id, "user", f"Question number {i}: what is a good name for a pet?")
        r = store.add_message(conv.id, "assistant", f"A good name is Rex number {i}.")
        if i % 2:
            store.correct(r.id, f"Call it Whiskers, number {i}.")
        else:
            store.rate(r.id, -1 if i % 4 == 0 else 1)
        samples.record_next_state(r.id)
        ids.append(r.id)
    return ids


@pytest.mark.slow
def test_learner_gates_each_update(home, tiny_llama_gguf, shared_trainable_cache, monkeypatch):
    shared_trainable_cache(home)
    settings = Settings(model_path=str(tiny_llama_gguf), lora_rank=4, lora_alpha=8, learning_rate=1e-3, learn_passes=1)
    store = Store.open(home)
    samples = SampleStore(store, default_system_prompt=settings.system_prompt)
    adapters = AdapterStore(store)
    ids = _feedback(store, samples, 6)
    learner = Learner(home, settings, store)

    v1 = learner.update(ids)  # 6 samples: the newest one is held out for the gate
    # no rehearsal on the first update unless the base's answers were cached before (another data dir
    # sharing this base's converted weights); the worker makes them when idle, once
    first = json.loads((Path(v1.path) / "trainer_state.json").read_text())["n_rehearsed"]
    made = learner.prepare_rehearsal()
    assert (first == 0) is made and not learner.prepare_rehearsal()
    gate = v1.gate
    print(f"\ntiny update v1: {v1.status} {v1.reason} gate={gate}")
    assert gate["heldout_ids"] == [ids[-1]] and ids[-1] not in v1.sample_ids
    assert samples.get(ids[-1]).status == "judged"  # trained by a later update
    assert "general" in gate and gate["finite"] is True
    assert gate["accepted"].get("n") or gate["accepted"].get("skipped")
    assert v1.status == ("active" if gate["passed"] else "rejected")
    assert (v1.files or {}).keys() >= {"adapter.gguf", "adapter_model.safetensors"}

    # a gate that nothing passes: the version is kept as rejected with the measured reason
    monkeypatch.setattr(Learner, "gate_config", property(lambda self: g.GateConfig(max_ppl_ratio=0.5)))
    before = adapters.active()
    more = _feedback(store, samples, 2)
    v2 = learner.update(more)
    assert v2.status == "rejected" and "general-text perplexity" in v2.reason
    # before giving up it tried the update at half and a quarter of its step (learn/repair.py)
    tried = v2.gate["repair"]["tries"]
    assert [t["fraction"] for t in tried] == [0.5, 0.25] and not any(t["passed"] for t in tried)
    # v2 replayed the corrections v1 trained on (ids 1 and 3) without claiming them as its own samples
    state = json.loads((Path(v2.path) / "trainer_state.json").read_text())
    assert state["n_replayed"] == 2 and state["general_kl"] > 0
    # and rehearsed the base model's own answers to general questions (learn/rehearsal.py), from a cache
    assert state["n_rehearsed"] == settings.rehearsal_items == 8
    answers = json.loads((learner._trainable.base_dir / "rehearsal_answers.json").read_text())
    (cached,) = answers.values()
    assert len(cached) == 16 and all(isinstance(a["text"], str) and isinstance(a["ended"], bool) for a in cached)
    assert v2.sample_ids == [more[0]] and v2.gate["heldout_ids"] == [more[1]]
    # the feedback check also read what earlier updates trained on, newest first (v1's samples, if it was served)
    trained = sorted((i for i in ids if samples.get(i).status == "trained"), reverse=True)
    assert v2.gate["reference_ids"] == trained[:8] and not v2.gate["in_sample"]
    if trained:  # corrections and ratings among them: accepted and rejected replies, judged jointly
        assert "margin" in v2.gate["feedback"]
    assert samples.get(ids[1]).trained_version == v1.id
    # nothing is marked trained by a refused update: its sample is back in the pool, one retry more
    row = samples.get(more[0])
    assert row.status == "judged" and row.gate_retries == 1 and "perplexity" in row.gate_refusal
    assert adapters.active() == before  # nothing activated silently
    assert learner._loaded_version == "stale"  # next update reloads the active version (weights + optimizer)
    # retried with a smaller step; after MAX_GATE_RETRIES refusals the sample is skipped with the reason
    from openclaw_local.store.adapters import MAX_GATE_RETRIES

    lrs = [v2.gate["lr"]]
    for _ in range(MAX_GATE_RETRIES - 1):
        lrs.append(learner.update(more).gate["lr"])
    assert lrs == [settings.learning_rate * 0.5 ** k for k in range(MAX_GATE_RETRIES)]
    row = samples.get(more[0])
    assert row.status == "skipped" and f"refused by the promotion gate {MAX_GATE_RETRIES} times" in row.reason
    from openclaw_local.services.adapters import AdapterService

    svc = AdapterService(home, settings, store)
    notice = svc.refusal_notice()
    assert notice and f"last {MAX_GATE_RETRIES} learning updates were refused" in notice and "--force" in notice
    assert "--force" in (svc.describe(v2)["force_hint"] or "")
    with pytest.raises(Exception, match="--force"):
        svc.activate(v2.id)
    newest = adapters.versions()[-1]
    assert svc.activate(newest.id, force=True).status == "active"
    assert samples.get(more[0]).status == "skipped"  # served knowingly; a skipped sample stays skipped
    assert svc.refusal_notice() is None
    learner._ensure_loaded()  # continues from the (forced) active version
    assert learner._loaded_version == newest.id
