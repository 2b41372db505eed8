"""Standing preferences absorbed into the adapter, then retired from the prompt: the version-chain
rule, the teacher/student contexts of the training items, the retire decision, and the KL measure
end to end on a real model."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from openclaw_local.config import Settings
from openclaw_local.learn import absorption
from openclaw_local.learn import preference_text as pt
from openclaw_local.records import Preference
from openclaw_local.services import adapter_files
from openclaw_local.services.chat import ChatService
from openclaw_local.services.preferences import PreferenceService, absorbed, unabsorbed
from openclaw_local.services.training import Learner
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore
from tests.fake_engine import FakeEngine

SETTINGS = Settings(max_tokens=24, temperature=0.0, seed=7, system_prompt="Be brief.")
FRENCH = "Answer in French."


@pytest.fixture
def store(home):
    s = Store.open(home)
    yield s
    s.close()


def _pref(pid: int, status: str, version: int | None = None) -> Preference:
    return Preference(id=pid, text=f"pref {pid}", status=status, created_at="t", updated_at="t", origin="cli",
                      absorbed_version=version)


def _version(home: Path, store: Store, parent: int | None, activate: bool = True) -> int:
    def fill(tmp: Path) -> None:
        (tmp / "adapter_config.json").write_text("{}")

    return adapter_files.publish_new_version(home, AdapterStore(store), fill, purpose="trained", parent_id=parent,
                                             sample_ids=[], metrics={}, activate=activate).id


# ----------------------------------------------------------------- the version chain
def test_a_learned_preference_is_absorbed_only_by_its_version_and_descendants():
    parents = {1: None, 2: 1, 3: 2, 4: 1}  # v4 was trained from v1: another branch
    learned = _pref(7, "learned", version=2)
    assert absorbed(learned, 2, parents) and absorbed(learned, 3, parents)  # served v3, parent v2: retired
    assert not absorbed(learned, 1, parents)  # rolled back to v1: back in the context
    assert not absorbed(learned, 4, parents)  # a later version trained from elsewhere
    assert not absorbed(learned, None, parents)  # the base model served
    assert not absorbed(_pref(8, "active"), 3, parents) and not absorbed(_pref(9, "learned", None), 3, parents)
    assert absorbed(learned, 5, {5: 5, 2: None}) is False  # a broken cycle ends the walk
    prefs = [_pref(1, "active"), learned, _pref(3, "paused"), _pref(4, "candidate")]
    assert [p.id for p in unabsorbed(prefs, 3, parents)] == [1]
    assert [p.id for p in unabsorbed(prefs, 1, parents)] == [1, 7]


def test_the_chat_context_follows_the_served_version_rollback_needs_no_bookkeeping(home, store):
    v1 = _version(home, store, None)
    v2 = _version(home, store, v1)
    v3 = _version(home, store, v2)
    svc = PreferenceService(store, SETTINGS)  # the served version: the store's active one
    keep = svc.add("Keep it short.")
    french = svc.add(FRENCH)
    svc.prefs.update(french.id, status="learned", absorbed_version=v2)
    assert AdapterStore(store).active().id == v3
    assert [p.text for p in svc.in_context()] == ["Keep it short."]
    AdapterStore(store).activate(v1)  # a rollback to v1
    assert [p.text for p in svc.in_context()] == ["Keep it short.", FRENCH]
    AdapterStore(store).activate(v3)
    assert [p.text for p in svc.in_context()] == ["Keep it short."]
    # the chat asks for the version it really serves (the learner service's served_version)
    served = {"v": v1}
    chat = ChatService(store, FakeEngine(), SETTINGS, adapter_version=lambda: served["v"])
    assert pt.HEADER in chat.context_for(store.create_conversation().id)[0]["content"]
    assert FRENCH in chat.context_for(store.create_conversation().id)[0]["content"]
    served["v"] = v3
    assert FRENCH not in chat.context_for(store.create_conversation().id)[0]["content"]
    # listed as learned, and `prefs resume` puts it back in the prompt for good
    assert svc.get(french.id).status == "learned" and svc.get(french.id).absorbed_version == v2
    resumed = svc.resume(french.id)
    assert resumed.status == "active" and resumed.absorbed_version is None
    assert [p.text for p in svc.in_context()] == ["Keep it short.", FRENCH]
    assert keep.id != french.id


def test_prefs_list_says_learned_in_vN_and_resume_reactivates(home, store, capsys):
    from openclaw_local.cli import main

    v1 = _version(home, store, None)
    v2 = _version(home, store, v1)
    pid = PreferenceService(store, SETTINGS).add(FRENCH).id
    PreferenceService(store, SETTINGS).prefs.update(pid, status="learned", absorbed_version=v2)
    assert main(["prefs", "list"]) == 0
    assert f"learned in v{v2}" in capsys.readouterr().out
    AdapterStore(store).activate(v1)
    assert main(["prefs", "list"]) == 0
    assert "in the prompt again" in capsys.readouterr().out
    assert main(["prefs", "resume", str(pid)]) == 0
    assert PreferenceService(store, SETTINGS).get(pid).status == "active"


# ----------------------------------------------------------------- the retire decision
@pytest.mark.parametrize("in_context, kl, expected", [
    (True, 0.05, "learned"),  # in the prompt and close enough: retired
    (True, 0.10, None),  # not below the threshold
    (True, 0.50, None),
    (False, 0.12, None),  # absorbed, a little worse: kept out (hysteresis)
    (False, 0.15, None),  # exactly 1.5 × the threshold: not above it
    (False, 0.16, "active"),  # absorbed but lost: back in the prompt
    (False, 0.01, None),
])
def test_the_retire_decision_is_a_function_of_the_measured_kl(in_context, kl, expected):
    assert absorption.decide(in_context, kl, 0.10) == expected


def test_a_zero_threshold_never_retires():
    assert absorption.decide(True, 0.0, 0.0) is None and absorption.decide(False, 9.0, 0.0) is None


# ----------------------------------------------------------------- teacher and student contexts
def test_a_reply_made_with_preferences_trains_without_them_as_student_and_with_them_as_teacher(home, store):
    svc = PreferenceService(store, SETTINGS)
    french = svc.add(FRENCH)
    paused = svc.add("Use metric units.")
    chat = ChatService(store, FakeEngine(default="Bonjour."), SETTINGS, preferences=svc)
    conv = chat.new_conversation()
    first = chat.send(conv.id, "hello there", lambda e: None)
    svc.pause(paused.id)  # paused since: not taught
    second = chat.send(conv.id, "what is a kettle?", lambda e: None)
    chat.correct(first.id, "Bonjour !")
    chat.rate(second.id, 1)
    samples = SampleStore(store, default_system_prompt=SETTINGS.system_prompt)
    for reply in (first, second):
        samples.record_next_state(reply.id)
    assert samples.preference_ids(first.id) == [french.id, paused.id]

    learner = Learner(home, SETTINGS, store)
    items = learner._with_preference_teachers(samples.training_items([first.id, second.id]))
    replies = [i for i in items if i.kind == "reply"]
    assert len(replies) == 2
    for item in items:
        student = item.prompt_messages
        assert all(pt.HEADER not in m["content"] and FRENCH not in m["content"] for m in student)
        assert student[0] == {"role": "system", "content": "Be brief."}
    for item in replies:
        teacher = item.teacher_messages
        assert teacher[0]["content"] == "Be brief." + pt.block([FRENCH])  # the paused one is not taught
        assert teacher[1:] == item.prompt_messages[1:]
    correction = next(i for i in items if i.kind == "correction")
    assert correction.teacher_messages is None  # the user's own text: imitated, not distilled


def test_trainer_scores_the_student_without_and_the_teacher_with_the_preference(tiny_hf_dirs):
    from openclaw_local.learn.trainable import load_tokenizer
    from openclaw_local.learn.trainer import encode_item

    tokenizer = load_tokenizer(next(iter(tiny_hf_dirs.values())))
    item = absorption.distil_item("Be brief.", "How do I boil an egg?", [FRENCH], "Faites bouillir l'eau.")
    assert item.reward is None and not item.has_hint and item.has_teacher and not item.is_correction
    enc = encode_item(tokenizer, item)
    student, teacher = tokenizer.decode(enc.prompt_ids), tokenizer.decode(enc.teacher_prompt_ids)
    assert FRENCH not in student and pt.HEADER not in student and "boil an egg" in student
    assert FRENCH in teacher and pt.HEADER in teacher and "boil an egg" in teacher
    hinted = encode_item(tokenizer, dataclasses.replace(item, hint="Be formal."))
    assert "Be formal." in tokenizer.decode(hinted.teacher_prompt_ids) and FRENCH in tokenizer.decode(hinted.teacher_prompt_ids)
    assert "Be formal." not in tokenizer.decode(hinted.prompt_ids)


def test_the_distillation_plan_takes_turns_and_stays_within_its_count():
    pairs = absorption.plan([1, 2], ["mine a", "mine b"], ["general a", "general b", "general c"], 4, seed=3)
    assert len(pairs) == 4 and {p for p, _ in pairs} == {1, 2}
    assert sum(1 for _, q in pairs if q.startswith("mine")) == 2  # the user's own prompts and general ones in turn
    assert len({q for _, q in pairs}) == 4  # no prompt twice
    assert absorption.plan([1], [], ["g"], 4, seed=0) == [(1, "g")]  # never more than there are prompts
    assert absorption.plan([1], ["a"], ["g"], 0, seed=0) == [] and absorption.plan([], ["a"], ["g"], 4, seed=0) == []
    assert absorption.plan([1], ["a"], ["g"], 2, seed=1) == absorption.plan([1], ["a"], ["g"], 2, seed=1)
    probes = set(absorption.load_probe_prompts())
    from openclaw_local.learn import ability, rehearsal

    assert len(probes) == 4 and not probes & set(rehearsal.load_prompts())  # held out from the distillation
    assert not {p.casefold() for p in probes} & {i["question"].casefold() for i in ability.load_set()}


# ----------------------------------------------------------------- the learner, on a tiny model
def _tiny_learner(home, store, tiny_hf_dirs, **settings):
    import torch

    from openclaw_local.learn.trainable import attach_lora, load_base_model, load_tokenizer

    model_dir = tiny_hf_dirs["llama"]
    torch.manual_seed(0)
    model = attach_lora(load_base_model(model_dir, torch.device("cpu"), False), rank=4, alpha=8)
    learner = Learner(home, SETTINGS.replace(**settings), store)
    learner._trainable = SimpleNamespace(model=model, tokenizer=load_tokenizer(model_dir))
    return learner


def test_the_learner_distils_each_preference_still_in_the_prompt(home, store, tiny_hf_dirs, monkeypatch):
    v1 = _version(home, store, None)
    svc = PreferenceService(store, SETTINGS)
    french = svc.add(FRENCH)
    svc.add("Stay polite.")
    store.add_message(store.create_conversation().id, "user", "how do I fix a flat tyre?")
    learned = svc.add("Use metric units.")
    svc.prefs.update(learned.id, status="learned", absorbed_version=v1)  # absorbed by the served v1: not distilled
    learner = _tiny_learner(home, store, tiny_hf_dirs, prefs_distil_items=3)
    greedy = absorption.greedy_replies
    monkeypatch.setattr(absorption, "greedy_replies", lambda m, t, c, max_new_tokens=8: greedy(m, t, c, 8))  # fast
    items = learner._distil_preferences(seed=1)
    assert 1 <= len(items) <= 3
    assert sum(1 for i in items if i.prompt_messages[-1]["content"] == "how do I fix a flat tyre?") <= 2
    for item in items:
        assert item.kind == absorption.KIND and item.reward is None and item.reply
        assert all(pt.HEADER not in m["content"] for m in item.prompt_messages)
        assert pt.HEADER in item.teacher_messages[0]["content"]
        assert "Use metric units." not in item.teacher_messages[0]["content"]
    taught = {next(p for p in (FRENCH, "Stay polite.") if p in i.teacher_messages[0]["content"]) for i in items}
    assert taught == {FRENCH, "Stay polite."} or len(items) < 2  # each preference in turn
    assert french.id in {p.id for p in svc.unabsorbed()}
    assert _tiny_learner(home, store, tiny_hf_dirs, prefs_distil_items=0)._distil_preferences(seed=1) == []


def test_after_a_served_update_preferences_are_retired_and_come_back(home, store, tiny_hf_dirs, monkeypatch):
    v1 = _version(home, store, None)
    v2 = _version(home, store, v1)
    svc = PreferenceService(store, SETTINGS)
    pid = svc.add(FRENCH).id
    measured = {"kl": 0.01}
    monkeypatch.setattr(absorption, "retire_kl", lambda *a, **k: {"kl": measured["kl"]})
    learner = _tiny_learner(home, store, tiny_hf_dirs, prefs_retire_kl=0.1)
    out = learner.measure_preferences(AdapterStore(store).get(v2))
    assert out[0]["decision"] == "learned"
    assert svc.get(pid).status == "learned" and svc.get(pid).absorbed_version == v2
    assert svc.in_context() == []
    v3 = _version(home, store, v2)
    measured["kl"] = 0.2  # the adapter lost it
    out = learner.measure_preferences(AdapterStore(store).get(v3))
    assert out[0]["decision"] == "active" and "rose above 1.5" in out[0]["reason"]
    assert svc.get(pid).status == "active" and svc.get(pid).absorbed_version is None
    assert AdapterStore(store).get(v3).gate["preferences"][0]["decision"] == "active"  # recorded why
    assert [p.id for p in svc.in_context()] == [pid]


# ----------------------------------------------------------------- the measure, end to end
def test_the_retire_kl_end_to_end_on_a_real_model(tiny_hf_dirs):
    import torch

    from openclaw_local.learn.trainable import attach_lora, load_base_model, load_tokenizer

    model_dir = tiny_hf_dirs["llama"]
    torch.manual_seed(0)
    model = attach_lora(load_base_model(model_dir, torch.device("cpu"), False), rank=4, alpha=8)
    tokenizer = load_tokenizer(model_dir)
    prompts = absorption.load_probe_prompts()[:2]
    with_french = absorption.retire_kl(model, tokenizer, "You are helpful.", prompts, [FRENCH], max_new_tokens=8)
    assert len(with_french["per_prompt"]) == 2 and with_french["kl"] > 0  # the block changes the distribution
    assert with_french["kl"] == pytest.approx(sum(with_french["per_prompt"]) / 2)
    assert model.training  # left as it was
    nothing = absorption.retire_kl(model, tokenizer, "You are helpful.", prompts, [], max_new_tokens=8)
    assert nothing["kl"] == pytest.approx(0.0, abs=1e-6)  # the same context on both sides
    # one left-padded batch gives each context's own greedy reply
    contexts = [absorption.single_turn("You are helpful.", p) for p in prompts]
    batched = absorption.greedy_replies(model, tokenizer, contexts, 6)
    assert [ids for _, ids in batched] == [absorption.greedy_replies(model, tokenizer, [c], 6)[0][1] for c in contexts]
