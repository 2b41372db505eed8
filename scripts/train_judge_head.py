"""Train the learned judge's head on assets/judge/ (train files, dev) and write assets/judge_head.npz + .json.

    .venv/bin/python scripts/train_judge_head.py [--cache FILE.npz] [--out PATH.npz]

Every choice is made on the dev set (openclaw_local/judge/train.py); the test set is never read.
``--cache`` keeps the encoder's embeddings between runs (faster re-runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from openclaw_local.judge import head as lj
from openclaw_local.judge.data import ASSETS
from openclaw_local.judge.train import summary, train, write_head


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", default=str(ASSETS), help="folder with the training and dev files")
    ap.add_argument("--out", default=str(lj.HEAD_PATH), help="where the head goes (.npz; a .json report beside it)")
    ap.add_argument("--cache", help="keep the encoder's embeddings in this .npz between runs")
    args = ap.parse_args(argv)
    encoder = lj.Encoder(memo_max=1_000_000)  # all cores, every text kept: training encodes ~9,000 texts
    if args.cache and Path(args.cache).is_file():
        with np.load(args.cache, allow_pickle=False) as z:
            encoder.memo.update(zip(z["texts"].tolist(), z["vectors"]))
    head, report = train(Path(args.assets), encoder=encoder)
    if args.cache:
        texts = list(encoder.memo)
        np.savez(args.cache, texts=np.array(texts), vectors=np.stack([encoder.memo[t] for t in texts]))
    out = write_head(head, report, args.out)
    print(summary(report))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
