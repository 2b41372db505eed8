"""A short ``simulate`` run on the embedded model through the whole product loop.

Runtime (store, engine, judge worker, nice-19 learner process, hot swap) in the
run's own data dir; a persona whose every reply is corrected, so the learner has
something to train on after two interactions. Asserts the report's structure and
that at least one update was published and served.
"""

from __future__ import annotations

import json
from contextlib import closing
from types import SimpleNamespace

import pytest

from openclaw_local.sim.persona import parse_persona
from openclaw_local.sim.simulate import run_simulation
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore

PERSONA = {
    "name": "zebra-fan",
    "rules": [{"type": "must_start_with", "value": "Zebra says:"}, {"type": "max_words", "value": 12}],
    "feedback": {"correct": 1.0},
    "train_prompts": [f"Tell me one fact about the number {i}." for i in range(36)],
    "eval_prompts": ["What colour is the sky?", "Name a fruit."] + [f"Say hello to person {i}." for i in range(8)],
}


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a hang, not a busy machine: minutes of training share 2 cores with the other worker
def test_short_simulation_learns_through_the_product_loop(tmp_path, shared_trainable_cache):
    out = tmp_path / "run"
    lines: list[str] = []
    report = run_simulation(
        parse_persona(PERSONA), out, interactions=4, seed=3, eval_prompts=2,
        # the final wait returns as soon as the last update is served; its bound is only for a hung learner
        # rehearsal off: its answers are generated between updates (tests/test_learning_e2e.py covers them);
        # repair off: a refused update is given back at once (tests/test_repair.py covers repairs)
        # normal priority: under pytest-xdist the other worker's tests would starve an idle-class learner
        overrides={"learn_min_samples": 2, "max_tokens": 24, "rehearsal_items": 0, "repair_steps": 0,
                   "learner_priority": "normal"},
        final_wait_s=450,
        progress=lines.append, prepare_home=shared_trainable_cache, score_max_tokens=24, system_prompts=True,
    )
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["persona"] == report["persona"] == "zebra-fan"
    assert (out / "curve.png").stat().st_size > 1000
    for key in ("baseline", "final", "curve", "interactions", "updates", "updates_served", "wall_seconds",
                "per_rule", "judge_agreement", "arms", "reactions", "samples", "optimizer_steps"):
        assert key in on_disk, key
    assert report["interactions"] == 4 and sum(report["reactions"].values()) == 4
    assert set(report["reactions"]) <= {"correct", "praise", "next"} and report["reactions"]["correct"] >= 2
    assert set(report["per_rule"]) == {"must_start_with='Zebra says:'", "max_words=12"}
    assert all(set(v) == {"before", "after"} for v in report["per_rule"].values())
    assert report["curve"][0]["interactions"] == 0 and report["curve"][0]["version"] is None
    assert 0.0 <= report["baseline"] <= 1.0 and 0.0 <= report["final"] <= 1.0
    # re-scored under the other system messages (sim/system_prompts.py), before learning and at the end
    from openclaw_local.sim.system_prompts import MEASURE_SYSTEM_PROMPTS

    for when in ("baseline", "final"):
        scores = on_disk["by_system_prompt"][when]
        assert set(scores) == set(MEASURE_SYSTEM_PROMPTS) and all(0.0 <= v <= 1.0 for v in scores.values())
    # at least one update was published and served (the score was measured with it in the engine)
    assert report["updates_served"] >= 1 and report["served_versions"]
    assert report["final_version"] in report["served_versions"] and report["optimizer_steps"] >= 1
    # An update holds its newest fifth (at least one sample) out for the gate's feedback check, so a
    # first update of two samples trains one; the held-out sample stays judged for the next update,
    # which may or may not be served before the run ends (that depends on the machine's speed). What
    # the product guarantees: a served update trained something, and no correction is lost.
    counts = report["samples"]
    assert counts["trained"] >= 1
    assert counts["trained"] + counts["judged"] + counts["skipped"] >= report["reactions"]["correct"]
    # the arms ran on the same eval prompts
    assert set(report["arms"]) == {"in_context", "offline_sft"}
    assert report["arms"]["offline_sft"]["steps"] == report["optimizer_steps"]
    assert report["arms"]["offline_sft"]["corrections"] == report["reactions"]["correct"]
    # the run's data dir stays for inspection with the normal commands
    with closing(Store.open(out / "home")) as store:
        messages = [m for c in store.list_conversations() for m in store.messages(c.id)]
        versions = {v.id for v in AdapterStore(store).versions()}
    follow_ups = sum(report["reactions"].get(k, 0) for k in ("complain", "praise", "neutral"))
    assert sum(m.role == "user" for m in messages) == report["interactions"] + follow_ups
    assert sum(m.correction is not None for m in messages) == report["reactions"]["correct"]
    assert set(report["served_versions"]) <= versions
    assert any(line.startswith("[4/4]") for line in lines) and lines[-1].startswith("zebra-fan: baseline")
    # where the time went: the parts add up to the wall time, and the learner's phases are its updates'
    parts = on_disk["seconds"]
    assert {"start", "replies", "scoring", "waiting for the learner", "arms", "other"} <= set(parts)
    assert sum(parts.values()) == pytest.approx(on_disk["wall_seconds"], abs=1.0)
    assert on_disk["learner_seconds"]["train"] > 0 and on_disk["learner_seconds"]["gate"] > 0


def test_checkpoints_score_only_every_nth_interaction_and_always_at_the_end(tmp_path, monkeypatch):
    import openclaw_local.sim.simulate as simulate

    scored = []
    monkeypatch.setattr(simulate, "eval_point", lambda rt, *a: scored.append(a[-2]) or
                        {"interactions": a[-2], "version": rt.learner.served_version, "score": 0.5})
    rt = SimpleNamespace(learner=SimpleNamespace(served_version=None))
    run = simulate.SimRun(persona=None, out_dir=tmp_path, home=tmp_path, settings=SimpleNamespace(system_prompt=""),
                          overrides={}, seed=0, pace="learner", evals=[], user=None, prompts=[], score_max_tokens=8,
                          say=lambda line: None, score_every=4)
    run.eval_point(rt, 0)
    for i, version in enumerate([1, 1, 2, 2, 2, 2, 3], 1):  # served when interaction i+1 is about to start
        rt.learner.served_version = version
        run.eval_if_new_version(rt, i, before_next=True)
    assert scored == [0, 4]  # 1-3 and 5-7 are not checkpoints; at 4 the served v2 is new
    run.eval_if_new_version(rt, 7, final=True)
    assert scored == [0, 4, 7] and run.seconds["scoring"] >= 0
    # paced: a checkpoint is scored once, before the next interaction (after the update it made was served)
    rt.learner.served_version = 5
    run.eval_if_new_version(rt, 8)
    assert scored[-1] == 7
    rt.learner.served_version = 6
    run.eval_if_new_version(rt, 8, before_next=True)
    assert scored[-1] == 8
    run.score_every = 0  # every newly served adapter
    rt.learner.served_version = 7
    run.eval_if_new_version(rt, 9)
    assert scored[-1] == 9


def test_simulate_passes_any_setting_through_and_refuses_bad_ones_in_one_line(tmp_path, monkeypatch, capsys):
    import openclaw_local.sim.simulate as simulate
    from openclaw_local.cli import main

    seen = {}
    real_run = simulate.run_simulation
    monkeypatch.setattr(simulate, "run_simulation",
                        lambda persona, out, **kw: seen.update(kw) or {"home": out})
    assert main(["simulate", "--persona", "student", "--out", str(tmp_path / "a"), "--setting", "w_opd=0",
                 "--setting", "learn-passes=1", "--score-max-tokens", "64", "--score-every", "8"]) == 0
    assert seen["overrides"] == {"w_opd": 0.0, "learn_passes": 1} and seen["score_max_tokens"] == 64
    assert seen["score_every"] == 8
    monkeypatch.setattr(simulate, "run_simulation", real_run)  # refuses a scoring length the context cannot hold
    assert main(["simulate", "--persona", "student", "--out", str(tmp_path / "c"), "--score-max-tokens", "5000"]) == 2
    assert "more than half the run's context" in capsys.readouterr().err and not (tmp_path / "c").exists()
    monkeypatch.setattr(simulate, "run_simulation", lambda persona, out, **kw: seen.update(kw) or {"home": out})
    for bad in ("w_opd", "nope=1", "w_opd=-1"):
        assert main(["simulate", "--persona", "student", "--out", str(tmp_path / "b"), "--setting", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "b").exists()
