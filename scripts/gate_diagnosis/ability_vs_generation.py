"""Is an ability refusal real? Score the ability set by ranking (the gate's way) *and* by greedy
generation (16 tokens, answer contained after case/punctuation folding) for the base model and
some adapter versions of a data dir.

    python scripts/gate_diagnosis/ability_vs_generation.py DATA_DIR 2,3 ["answer:|"] > log

Writes DATA_DIR/../ability_probe.json (per-item margins, generated texts). A diagnosis tool for
docs/PERSONALIZATION.md (run history: the lowercase persona's third run), not part of the product.
"""
import json
import re
import sys
from pathlib import Path

import torch

from openclaw_local.config import load_settings
from openclaw_local.learn import ability
from openclaw_local.learn.trainable import build_trainable
from openclaw_local.learn.trainer import _render_prompt

torch.set_num_threads(1)
home = Path(sys.argv[1])
versions = sys.argv[2].split(",")
leads = sys.argv[3].split("|") if len(sys.argv) > 3 else [ability.LEAD_IN]
s = load_settings(home, {})
items = ability.load_set()
out: dict = {}


def fold(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", " ", text.casefold())


for tag in ["base"] + versions:
    t = build_trainable(s, home, adapter_dir=None if tag == "base" else home / "adapters" / f"v{int(tag):04d}")
    t.model.eval()
    for lead in leads:
        r = ability.measure(t.model, t.tokenizer, s.system_prompt, items, lead_in=lead)
        out[f"{tag}|{lead}"] = r["margins"]
        print(tag, "ranking after", repr(lead), "accuracy", round(r["accuracy"], 3), flush=True)
    ok = []
    with torch.no_grad():
        for it in items:
            msgs = [{"role": "system", "content": s.system_prompt}, {"role": "user", "content": it["question"]}]
            ids = t.tokenizer(_render_prompt(t.tokenizer, msgs), return_tensors="pt", add_special_tokens=False).input_ids
            g = t.model.generate(input_ids=ids, max_new_tokens=16, do_sample=False)
            text = t.tokenizer.decode(g[0, ids.shape[1]:], skip_special_tokens=True)
            ok.append(int(fold(it["answer"]).strip() in fold(text)))
            out.setdefault(f"{tag}|gen_text", []).append(text)
    out[f"{tag}|gen"] = ok
    print(tag, "generation contains the answer", round(sum(ok) / len(ok), 3), flush=True)
    (home.parent / "ability_probe.json").write_text(json.dumps(out))
