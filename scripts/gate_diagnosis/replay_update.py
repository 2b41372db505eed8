"""Replay one learning update of a simulated run offline, with variants, and score the ability set.

    python scripts/gate_diagnosis/replay_update.py DATA_DIR PARENT_VERSION SAMPLE_IDS REPLAYED_IDS VARIANT...

e.g. ``... runs/lowercase-full-s0/home 2 20,28,30 6,12 default lr=0.0005 w_rl=0 fresh_adam``.
Variants: ``default``, ``lr=X``, ``w_rl=X``, ``w_general=X``, ``fresh_adam`` (Adam state not
continued from the parent). Works on a copy of the data dir's database (samples the gate
skipped are set back to judged there), starts from the parent adapter and its optimizer state
as the learner does. A diagnosis tool for docs/PERSONALIZATION.md, not part of the product.
"""
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import torch

from openclaw_local.config import load_settings
from openclaw_local.learn import ability
from openclaw_local.learn import trainable as tr
from openclaw_local.learn.trainer import TrainConfig, load_optimizer_state, make_optimizer, train_update
from openclaw_local.services.container import open_store
from openclaw_local.services.training import REPLAY_TEXT
from openclaw_local.store.samples import SampleStore

torch.set_num_threads(1)
src, parent = Path(sys.argv[1]), int(sys.argv[2])
sample_ids = [int(x) for x in sys.argv[3].split(",")]
replayed_ids = {int(x) for x in sys.argv[4].split(",") if x}
variants = sys.argv[5:] or ["default"]
tmp = Path(tempfile.mkdtemp())
for name in ("openclaw.db", "openclaw.db-wal", "config.toml"):
    if (src / name).exists():
        shutil.copy(src / name, tmp / name)
(tmp / "trainable").symlink_to(src / "trainable")
con = sqlite3.connect(tmp / "openclaw.db")
con.execute(f"update samples set status='judged' where message_id in ({','.join('?' * len(sample_ids))})", sample_ids)
con.commit()
con.close()
s = load_settings(tmp, {})
samples = SampleStore(open_store(tmp), default_system_prompt=s.system_prompt)
items = samples.training_items(sample_ids)
items += [i for i in samples.replay_correction_items(50) if i.message_id in replayed_ids]
print(len(items), "items:", [(i.kind, i.reward, i.has_hint) for i in items], flush=True)
parent_dir = src / "adapters" / f"v{parent:04d}"
for variant in variants:
    overrides = {}
    if "=" in variant:
        key, value = variant.split("=")
        overrides[key] = float(value)
    t = tr.build_trainable(s, tmp, adapter_dir=parent_dir)
    general = list(t.tokenizer(REPLAY_TEXT.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"])
    optimizer = make_optimizer(t.model, overrides.get("lr", s.learning_rate))
    if variant != "fresh_adam":
        load_optimizer_state(optimizer, parent_dir / tr.OPTIMIZER_FILE)
    config = TrainConfig.from_settings(s, **overrides)
    t0 = time.time()
    metrics = train_update(t.model, t.tokenizer, items, config, optimizer,
                           general_ids=general if config.w_general > 0 else None)
    t.model.eval()
    r = ability.measure(t.model, t.tokenizer, s.system_prompt)
    print(variant, "steps", metrics.steps, "train s", round(time.time() - t0), "ability", round(r["accuracy"], 3),
          "mean margin", round(r["margin"], 3), flush=True)
