"""How long ``backup`` and ``restore`` take on a data dir of a given size.

    .venv/bin/python scripts/bench_backup.py [--messages 1000] [--versions 5] [--rank 16]

Builds a throwaway data dir: ``--messages`` messages (half user, half assistant, a rating on
every fifth reply) and ``--versions`` adapter versions for the embedded model, published without
training: a random rank-``--rank`` LoRA on every projection of every layer (PEFT safetensors and
llama.cpp GGUF) plus an optimizer-state file twice the size of the adapter, as Adam keeps (random
bytes: gzip cannot shrink them, the worst case). Then times ``openclaw-local backup`` and
``openclaw-local restore --into`` in this process and prints one line per step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def build(home: Path, messages: int, versions: int, rank: int) -> int:
    from openclaw_local.learn.adapter_io import Lora, base_info, write_lora_gguf, write_peft_dir
    from openclaw_local.paths import embedded_model_path
    from openclaw_local.records import GGUF_NAME
    from openclaw_local.services import adapter_files
    from openclaw_local.services.container import open_store
    from openclaw_local.store.adapters import AdapterStore

    home.mkdir(parents=True, mode=0o700)
    store = open_store(home)
    per_conv = 10
    for c in range((messages + per_conv - 1) // per_conv):
        conv = store.create_conversation()
        for i in range(per_conv // 2):
            store.add_message(conv.id, "user", f"question {c}.{i}: how do I plan a productive morning? " * 3)
            reply = store.add_message(conv.id, "assistant", f"answer {c}.{i}: start with the hardest task. " * 8)
            if i % 5 == 0:
                store.rate(reply.id, 1)
    model = embedded_model_path()
    base = base_info(model)
    rng = np.random.default_rng(0)
    projs = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    adapters = AdapterStore(store)
    parent = None
    for _ in range(versions):
        pairs = {}
        for layer in range(base.n_layer):
            for proj in projs:
                out_dim, in_dim = base.shapes[f"blk.{layer}.{proj}.weight"]
                pairs[(layer, proj)] = ((rng.standard_normal((rank, in_dim)) * 0.02).astype(np.float32),
                                        (rng.standard_normal((out_dim, rank)) * 0.02).astype(np.float32))
        lora = Lora(base.architecture, float(2 * rank), rank, pairs)

        def fill(tmp: Path) -> None:
            write_peft_dir(lora, tmp, base)
            write_lora_gguf(lora, tmp / GGUF_NAME, base)
            size = (tmp / "adapter_model.safetensors").stat().st_size
            (tmp / "optimizer.pt").write_bytes(os.urandom(2 * size))

        v = adapter_files.publish_new_version(home, adapters, fill, purpose="trained", parent_id=parent,
                                              sample_ids=[], metrics={"loss": 0.5, "mean_reward": 0.0})
        parent = v.id
    n = sum(1 for conv in store.list_conversations(limit=100_000) for _ in store.messages(conv.id))
    store.close()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--versions", type=int, default=5)
    ap.add_argument("--rank", type=int, default=16)
    args = ap.parse_args()
    from openclaw_local.cli import main as cli

    root = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        home = root / "home"
        n = build(home, args.messages, args.versions, args.rank)
        size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
        print(f"data dir: {n} messages, {args.versions} adapter versions (rank {args.rank}), {size / 1e6:.1f} MB")
        os.environ["OPENCLAW_HOME"] = str(home)
        archive = root / "backup.tar.gz"
        t = time.perf_counter()
        assert cli(["backup", str(archive)]) == 0
        backup_s = time.perf_counter() - t
        t = time.perf_counter()
        assert cli(["restore", str(archive), "--into", str(root / "restored")]) == 0
        restore_s = time.perf_counter() - t
        print(f"backup: {backup_s:.2f} s, archive {archive.stat().st_size / 1e6:.1f} MB; restore: {restore_s:.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
