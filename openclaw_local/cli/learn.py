"""``learn --once``: judge what waits and run one update now.

With a chat open on the same data dir, the request goes to its background
learner (which then hot-swaps the result into the chat); otherwise the update
runs here, in this process, at low priority.
"""

from __future__ import annotations

import argparse
import sys
import time

from openclaw_local.cli.common import home_dir, settings_from
from openclaw_local.errors import DatabaseError, UsageError


def register(sub) -> None:
    p = sub.add_parser("learn", help="judge waiting replies and run one learning update now")
    p.add_argument("--once", action="store_true", help="one update, then exit (the only mode for now)")
    p.set_defaults(func=run)


def _line(text: str) -> None:
    sys.stderr.write(f"\r\033[K{text}")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    if not args.once:
        raise UsageError("say `openclaw-local learn --once` (the chat runs the continuous learner itself)")
    from openclaw_local.store import Store
    from openclaw_local.store.adapters import AdapterStore
    from openclaw_local.store.db import InstanceLock

    home = home_dir()
    settings = settings_from(args, home)
    try:
        lock = InstanceLock(home).acquire()
    except DatabaseError:
        return _ask_running_chat(AdapterStore(Store.open(home)))
    try:
        return _learn_here(home, settings)
    finally:
        lock.release()


def _ask_running_chat(adapters) -> int:
    request = adapters.request_update()
    print("a chat is running on this data dir: asked its learner to update now", file=sys.stderr)
    while True:
        row = adapters.request(request)
        if row["done_at"]:
            _line("")
            print(row["result"])
            return 0 if not (row["result"] or "").startswith("error") else 1
        st = adapters.state()
        _line(f"learner: {st.get('state')} {st.get('step') or ''}/{st.get('total') or ''}")
        time.sleep(0.5)


def _learn_here(home, settings) -> int:
    import os

    from openclaw_local.engine import Engine
    from openclaw_local.paths import embedded_model_path
    from openclaw_local.services.judging import JudgeWorker, judge_mode_for, needs_engine
    from openclaw_local.services.updates import Learner
    from openclaw_local.store import Store
    from openclaw_local.store.samples import SampleStore

    try:
        os.nice(10)
    except OSError:
        pass
    store = Store.open(home)
    samples = SampleStore(store, default_system_prompt=settings.system_prompt)
    samples.record_all()
    waiting = samples.counts()["waiting"]
    if waiting:
        judge_engine = None
        model = settings.judge_model_path or settings.model_path or embedded_model_path()
        judge_mode = judge_mode_for(settings, str(model))
        if needs_engine(judge_mode):
            judge_engine = Engine(model, n_ctx=min(2048, settings.n_ctx), threads=settings.threads)
        worker = JudgeWorker(samples, judge_engine, settings=settings, mode=judge_mode)
        print(f"judging {waiting} repl{'y' if waiting == 1 else 'ies'}…", file=sys.stderr)
        worker.run_pending()
        if judge_engine is not None:
            judge_engine.close()

    def progress(state: str, step: int, total: int, loss) -> None:
        suffix = f" {step}/{total}" if total else ""
        loss_text = f" loss {loss:.4f}" if loss is not None else ""
        _line(f"{state}{suffix}{loss_text}")

    learner = Learner(home, settings, store, progress=progress)
    ready = learner.ready_samples()
    if not ready:
        print("nothing to learn yet: rate, correct or reply to some answers first", file=sys.stderr)
        return 0
    version = learner.update(ready)
    _line("")
    if version is None:
        print("nothing to learn: no usable samples", file=sys.stderr)
        return 0
    print(f"published adapter v{version.id}: {version.n_samples} samples, loss {version.loss:.4f}, "
          f"mean reward {version.mean_reward:+.2f}, {version.train_seconds:.1f} s — {version.status}"
          + (f" ({version.reason})" if version.reason else ""))
    return 0
