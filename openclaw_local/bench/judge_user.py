"""Does the judge learn this user's way of talking? ``python -m openclaw_local.bench.judge_user``.

A simulated user whose push-back is British understatement and slang ("swing and a
miss, that", "bit of a dog's dinner") and whose praise is slang too ("bob on",
"tickety-boo") — none of it the cue words of the old rules — talks to a real data dir:
each of their first 20 reactions comes with a 👍 or 👎 on the reply
(``assets/judge_sim_user.jsonl``, ``"use": "gesture"``). The gestures go through the
product's own path (SQLite feedback → judge worker → judge labels → calibration refit →
judge worker picks it up). After 0, 10 and 20 gestures the learned judge scores the
same user's *other* messages (``"use": "eval"``, never labels) and the judge's dev set
``assets/judge/dev.jsonl`` (other users: the calibration must not break them).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from openclaw_local.judge.data import ASSETS as JUDGE_ASSETS
from openclaw_local.judge.data import DEV_FILE, load_labeled
from openclaw_local.judge.evaluate import summarize

ASSETS = Path(__file__).resolve().parents[2] / "assets"
USER_PATH = ASSETS / "judge_sim_user.jsonl"
STEPS = (0, 10, 20)


def _score(judge, rows: list[dict[str, Any]]) -> dict[str, Any]:
    preds, _ = judge.score_many(rows)
    return summarize([r["label"] for r in rows], preds)


def run(steps=STEPS, user_path: Path = USER_PATH) -> list[dict[str, Any]]:
    from openclaw_local.config import Settings
    from openclaw_local.services.judge_calibration import CalibrationFitter
    from openclaw_local.services.judging import JudgeWorker
    from openclaw_local.services import container
    from openclaw_local.store.samples import SampleStore

    rows = load_labeled(user_path)
    gestures = [r for r in rows if r["use"] == "gesture"]
    evals = [r for r in rows if r["use"] == "eval"]
    dev = load_labeled(JUDGE_ASSETS / DEV_FILE)
    out = []
    with tempfile.TemporaryDirectory() as home:
        store = container.open_store(Path(home))
        judge = container.build_judge(Settings(), None, "learned")
        worker = JudgeWorker(SampleStore(store), judge)
        fitter = CalibrationFitter(store, judge)
        conv = store.create_conversation("sys")
        done = 0
        for step in steps:
            for g in gestures[done:step]:  # the user talks, and rates the reply before answering it
                store.add_message(conv.id, "user", g["prompt"])
                reply = store.add_message(conv.id, "assistant", g["reply"])
                store.rate(reply.id, g["label"])
                store.add_message(conv.id, "user", g["next_state"])
                worker.notify(reply.id)
            done = step
            t0 = time.perf_counter()
            used = fitter.maybe_refit() or 0
            fit_s = time.perf_counter() - t0
            worker.refresh_calibration()
            out.append({"gestures": step, "labels_used": used, "fit_s": round(fit_s, 2),
                        "user": _score(judge, evals),
                        "dev": _score(judge, dev) if dev else None})
        store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON")
    args = ap.parse_args(argv)
    results = run()
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print("gestures  this user: accuracy  ±1 precision  decided  |  other users (dev): accuracy  ±1 precision  decided")
    for r in results:
        u, d = r["user"], r["dev"] or {}
        print(f"{r['gestures']:8d}  {u['accuracy']:19.3f}  {u['decided_precision'] or 0:12.3f}  {u['decided_fraction']:7.0%}  |"
              f"  {d.get('accuracy', 0):27.3f}  {d.get('decided_precision') or 0:12.3f}  {d.get('decided_fraction', 0):7.0%}"
              f"   (refit {r['fit_s']}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
