"""Settings -> TrainConfig / GateConfig: one mapping each, and nothing forgotten on either side.

Adding a loss weight means: a field in TrainConfig, a setting in config.Settings and one line in
``trainer.SETTING_FOR_FIELD``. These tests fail when one of the three is missing.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

from openclaw_local.config import Settings
from openclaw_local.learn import promotion, trainer
from openclaw_local.learn.promotion import GateConfig
from openclaw_local.learn.trainer import TrainConfig

# Learning settings (the "learning" section of Settings, from `learn` on) that feed something
# other than the training update, with what they feed. A new learning setting must either reach
# a TrainConfig field (trainer.SETTING_FOR_FIELD) or be listed here with its consumer.
NOT_TRAIN_CONFIG = {
    "learn": "whether the learner worker runs (services/runtime.py)",
    "learn_min_samples": "when an update starts (services/learner_worker.py)",
    "judge_votes": "the judge",
    "judge_temperature": "the judge",
    "judge_model_path": "the judge's engine",
    "judge_mode": "the judge",
    "lora_rank": "the adapter's shape (learn/trainable.py)",
    "lora_alpha": "the adapter's shape (learn/trainable.py)",
    "learner_threads": "torch threads of the learner process",
    "learner_pause_for_chat": "whether the learner process pauses while chat generates (services/chat_activity.py)",
    "learner_priority": "the learner process's CPU scheduling (services/cpu_priority.py)",
    "serve_merged": "what a published version serves with (services/training.py)",
    "replay_corrections": "which items an update trains on (services/training.py)",
    "rehearsal_items": "which items an update trains on (services/training.py, learn/rehearsal.py)",
    "prefs_distil_items": "which items an update trains on (services/training.py, learn/absorption.py)",
    "system_variants": "under which system messages an update trains (services/training.py, learn/system_variants.py)",
    "prefs_retire_kl": "when a standing preference leaves the prompt (services/training.py, learn/absorption.py)",
    "repair_steps": "how a refused update is repaired (services/training.py, learn/repair.py)",
    "hf_model_dir": "where the trainable copy comes from (learn/trainable.py)",
    "learn_wait_s": "how long `learn --once` waits for a running chat's learner (cli/learn.py)",
}


def _learning_settings() -> list[str]:
    names = [f.name for f in fields(Settings)]
    return names[names.index("learn"):]


@pytest.mark.parametrize("module, config", [(trainer, TrainConfig), (promotion, GateConfig)])
def test_every_config_field_has_a_setting_or_is_internal(module, config):
    names = {f.name for f in fields(config)}
    mapped, internal = set(module.SETTING_FOR_FIELD), set(module.INTERNAL_FIELDS)
    assert not mapped & internal, f"both mapped and internal: {mapped & internal}"
    assert names - mapped - internal == set(), f"{config.__name__} fields with no setting and not listed internal"
    assert (mapped | internal) - names == set(), f"listed names that are not {config.__name__} fields"
    settings = {f.name for f in fields(Settings)}
    assert set(module.SETTING_FOR_FIELD.values()) <= settings, "mapped from a setting that does not exist"


def test_every_learning_setting_reaches_the_train_config_or_says_where_it_goes():
    fed = set(trainer.SETTING_FOR_FIELD.values()) | set(promotion.SETTING_FOR_FIELD.values())
    orphans = [n for n in _learning_settings() if n not in fed and n not in NOT_TRAIN_CONFIG]
    assert orphans == [], f"learning settings that reach no TrainConfig/GateConfig field: {orphans}"
    assert set(NOT_TRAIN_CONFIG) <= set(_learning_settings()), "stale names in NOT_TRAIN_CONFIG"
    assert not set(NOT_TRAIN_CONFIG) & fed, "a setting both mapped and listed as not mapped"


def test_from_settings_carries_each_mapped_value():
    # distinct non-default values, so a swapped or dropped mapping shows
    changes = {}
    for i, (field_name, setting) in enumerate(trainer.SETTING_FOR_FIELD.items()):
        default = getattr(Settings(), setting)
        changes[setting] = type(default)(default + 7 + i)
    settings = Settings().replace(**changes)
    cfg = TrainConfig.from_settings(settings)
    for field_name, setting in trainer.SETTING_FOR_FIELD.items():
        assert getattr(cfg, field_name) == changes[setting], field_name
    internal_defaults = TrainConfig()
    for name in trainer.INTERNAL_FIELDS:
        assert getattr(cfg, name) == getattr(internal_defaults, name)
    assert TrainConfig.from_settings(settings, passes=9).passes == 9
    with pytest.raises(TypeError):
        TrainConfig.from_settings(settings, no_such_field=1)


def test_gate_config_from_settings_is_the_measured_default():
    assert GateConfig.from_settings(Settings()) == GateConfig()
