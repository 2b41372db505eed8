"""SVG snapshots of the main screens at 80×24 and 160×45 (pytest-textual-snapshot), driven by Pilot.

Fake engine, stored conversations with fixed text, so the pictures only change when the
layout does. After an intended UI change: ``pytest tests/test_ui_snapshots.py --snapshot-update``
and look at the SVGs under tests/__snapshots__/.
"""

from __future__ import annotations

import json

import pytest

from openclaw_local.config import Settings
from openclaw_local.services.adapters import AdapterService
from openclaw_local.store import Store
from openclaw_local.store.samples import SampleStore
from tests.ui_helpers import make_fake_app

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 45), id="160x45")]


@pytest.fixture
def app(tmp_path):
    store = Store.open(tmp_path)
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "Plan a weekend in Rome for two, on foot.")
    r1 = store.add_message(conv.id, "assistant", "**Day 1:** the Colosseum, the Forum, dinner in Monti.\n\n"
                           "**Day 2:** the Vatican early, then Trastevere.", adapter_version=1).id
    store.add_message(conv.id, "user", "No museums please, we like walking.")
    r2 = store.add_message(conv.id, "assistant", "Then walk the Aventine, the Tiber banks and the Appian Way.",
                           adapter_version=1).id
    store.rate(r2, 1)
    samples = SampleStore(store)
    samples.record_next_state(r1)
    samples.record_judgement(r1, next_state="No museums please, we like walking.", judge_reward=-1,
                             votes=[{"vote": -1}, {"vote": -1}], hint="Suggest walks, not museums.", hint_votes=[],
                             mode="rules")
    samples.record_next_state(r2)
    other = store.create_conversation()
    store.add_message(other.id, "user", "What is a database index?")
    store.add_message(other.id, "assistant", "A sorted lookup structure that makes finding rows fast.")
    store.db["conversations"].update(conv.id, {"updated_at": "2099-01-01T00:00:00"})  # opens first
    for vid, status, reason, gate in [
        (1, "active", None, {"finite": True, "general": {"ratio": 1.014, "max_ratio": 1.05, "ok": True},
                             "accepted": {"n": 2, "delta": 0.031, "ok": True}}),
        (2, "rejected", "general-text perplexity +8.0% vs base (limit +5%)",
         {"finite": True, "general": {"ratio": 1.08, "max_ratio": 1.05, "ok": False}}),
    ]:
        store.db["adapter_versions"].insert({"id": vid, "parent_id": vid - 1 or None, "created_at": f"2026-01-0{vid}T10:00:00",
                                             "path": str(tmp_path), "status": status, "reason": reason,
                                             "sample_ids": json.dumps([r1, r2]), "loss": 0.41, "mean_reward": 0.5,
                                             "n_samples": 2, "n_tokens": 120, "train_seconds": 3.5, "gate": json.dumps(gate)})
    application = make_fake_app(store, status_provider=lambda: {"learner": "idle", "adapter": "v1", "waiting": 1,
                                                                 "judging": 0, "loss": 0.41},
                                adapter_service=AdapterService(tmp_path, Settings(), store))
    yield application
    store.close()


async def steady(pilot) -> None:
    pilot.app.chat_input.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_chat_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=steady)


@pytest.mark.parametrize("size", SIZES)
def test_chat_reply_mode(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=steady, press=["escape", "up"])


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=steady, press=["f1"])


@pytest.mark.parametrize("size", SIZES)
def test_correction_editor(snap_compare, app, size):
    async def editor(pilot):
        await steady(pilot)
        await pilot.press("escape", "e")
        # the chat log scrolls the editor into view after it mounts: let that finish, however busy the machine
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        pilot.app.focused.cursor_blink = False

    assert snap_compare(app, terminal_size=size, run_before=editor)


@pytest.mark.parametrize("size", SIZES)
def test_adapters_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=steady, press=["ctrl+a", "_"])
