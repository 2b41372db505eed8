"""The status bar fits: fields shorten, then drop, least important first; the learner's phase stays."""

from __future__ import annotations

import pytest

from openclaw_local.store import Store
from openclaw_local.ui.widgets.status_bar import SEPARATOR, fit_fields
from tests.ui_helpers import make_fake_app, wait_for

FULL = {"model": "Qwen3-4B-Instruct-2507-Q4_K_M.gguf", "learner": "training", "step": "3/8", "adapter": "v12",
        "tokens_per_s": 41.7, "waiting": 5, "judging": 2, "loss": 0.4213, "reward": 0.5, "streaming": True}


def line(values, width):
    return SEPARATOR.join(text for _, text in fit_fields(values, width))


def test_wide_shows_everything_long():
    text = line(FULL, 200)
    for piece in ("Qwen3-4B-Instruct-2507-Q4_K_M", "learner: training step 3/8", "adapter: v12", "42 tok/s",
                  "5 waiting", "judging 2", "loss 0.421", "reward 0.5", "● generating (esc stops)"):
        assert piece in text
    assert len(text) <= 200


@pytest.mark.parametrize("width", [160, 120, 100, 80, 60, 40, 24])
def test_every_width_fits_and_keeps_the_phase(width):
    text = line(FULL, width)
    assert len(text) <= width, text
    assert "training" in text or "train" in text
    # more room never shows less
    assert len(fit_fields(FULL, width)) <= len(fit_fields(FULL, width + 40))


def test_80_columns_shortens_before_dropping():
    text = line(FULL, 78)
    kept = {fl.key for fl, _ in fit_fields(FULL, 78)}
    assert {"learner", "streaming", "model", "adapter", "tokens_per_s"} <= kept, text
    assert "3/8" in text  # the step survives with the phase


def test_least_important_goes_first():
    widths = range(200, 10, -4)
    dropped_order = []
    for w in widths:
        kept = {fl.key for fl, _ in fit_fields(FULL, w)}
        for key in FULL:
            if key in ("step",):
                continue
            if key not in kept and key not in dropped_order:
                dropped_order.append(key)
    assert dropped_order[:2] == ["reward", "loss"]
    assert "learner" not in dropped_order


async def test_status_bar_in_app_at_80_columns(tmp_path):
    store = Store.open(tmp_path)
    state = dict(FULL)
    state.pop("model")
    state.pop("streaming")
    app = make_fake_app(store, status_provider=lambda: dict(state))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "training" in app.status_bar.plain_text(), 3, "status poll")
        text = app.status_bar.plain_text()
        assert len(text) <= 78 and "adapter" in text or "v12" in text
        state["learner"] = "idle"
        state.pop("step")
        await wait_for(pilot, lambda: "idle" in app.status_bar.plain_text(), 3, "phase change")
    store.close()
