"""The serving process never imports torch: the default (learned) judge runs in the learner process.

A real chat turn in a fresh Python process, as ``chat`` and ``serve`` build it: a data dir, the
embedded model, ``Runtime.open`` with learning on and the default judge, ``start_background()``,
a message, then a push-back so the first reply gets a next state. The learner process judges it
(the sentence encoder is loaded there), the verdict comes back as a ``Judged`` event on
``runtime.events``, and torch and transformers were never imported in the serving process — also
not after building the TUI app and the HTTP endpoint on that runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from openclaw_local.judge import MODEL_FREE_MODES

SERVING = r"""
import json, sys, threading, time
from pathlib import Path

from openclaw_local.config import Settings
from openclaw_local.services.events import Judged
from openclaw_local.services.runtime import Runtime

out = {}
settings = Settings(max_tokens=6, temperature=0.0, seed=1, n_ctx=1024, threads=1, learn_min_samples=1000,
                    learner_priority="normal")  # the other xdist worker's tests would starve an idle-class learner
with Runtime.open(Path(sys.argv[1]), settings, lock_instance=True, front_end="chat") as rt:
    out["judge_worker_here"] = rt.judge_worker is not None
    verdicts, arrived = [], threading.Event()
    rt.events.subscribe(lambda e: (verdicts.append(e), arrived.set()) if isinstance(e, Judged) else None)
    rt.start_background()
    conv = rt.chat.new_conversation()
    first = rt.chat.send(conv.id, "What is the capital of France?", lambda e: None)
    rt.chat.send(conv.id, "No, that's wrong. Answer in one word please.", lambda e: None)
    out["waiting_after_push_back"] = rt.samples.get(first.id).status
    deadline = time.monotonic() + 150
    while not any(v.message_id == first.id for v in verdicts) and time.monotonic() < deadline:
        arrived.wait(0.5)
        arrived.clear()
    out["verdicts"] = [[v.message_id, v.reward, v.hint] for v in verdicts]
    out["first_id"] = first.id
    sample = rt.samples.get(first.id)
    out["sample"] = {k: getattr(sample, k) for k in ("status", "reward", "judge_reward", "judge_mode")}
    out["wait_judged"] = rt.wait_judged(10)

    from openclaw_local.endpoint.server import make_server
    from openclaw_local.ui.app import build_app

    build_app(rt.chat, model_name=rt.engine.model_name, status_provider=lambda: rt.status().fields(),
              on_learn_now=rt.learner.learn_now, adapter_service=rt.adapters, events=rt.events)
    make_server(rt, "127.0.0.1", 0, None, quiet=True)
    out["modules"] = {m: m in sys.modules for m in ("torch", "transformers", "peft", "openclaw_local.judge.head")}
print("RESULT " + json.dumps(out), flush=True)
"""


@pytest.mark.slow
def test_a_chat_turn_is_judged_by_the_learner_process_and_torch_never_loads_here(home):
    env = {**os.environ, "OPENCLAW_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", SERVING, str(home)], capture_output=True, text=True, env=env,
                          timeout=300)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    learner_log = (home / "learner.log").read_text(errors="replace")[-3000:] if (home / "learner.log").exists() else ""
    assert proc.returncode == 0 and line, f"{proc.stderr[-3000:]}\nlearner log:\n{learner_log}"
    out = json.loads(line[len("RESULT "):])

    assert not out["judge_worker_here"]  # the default judge (learned) runs in the learner process
    assert out["waiting_after_push_back"] == "waiting"  # recorded here, at once, for the learner to judge
    first = out["first_id"]
    assert out["sample"]["status"] in ("judged", "skipped") and out["sample"]["judge_mode"] in MODEL_FREE_MODES, \
        f"{out}\nlearner log:\n{learner_log}"
    verdicts = {mid: reward for mid, reward, _ in out["verdicts"]}
    assert first in verdicts and verdicts[first] == out["sample"]["reward"]  # the Judged event, as the store has it
    assert out["wait_judged"]
    assert out["modules"] == {"torch": False, "transformers": False, "peft": False,
                              "openclaw_local.judge.head": False}, out["modules"]


def test_the_relay_publishes_each_verdict_stored_elsewhere_once(home):
    """The chat's side, without the learner process: next states recorded at once, and one ``Judged``
    per verdict — the judge's (stored by another process) at the next poll, a rating's at once."""
    from openclaw_local.services.container import open_store
    from openclaw_local.services.events import EventBus
    from openclaw_local.services.verdict_relay import VerdictRelay
    from openclaw_local.store.samples import SampleStore

    store = open_store(home)
    try:
        samples, bus, seen = SampleStore(store), EventBus(), []
        bus.subscribe(seen.append)
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "What is 2+2?")
        a1 = store.add_message(conv.id, "assistant", "5.")
        store.add_message(conv.id, "user", "No, that's wrong.")
        left = store.add_message(conv.id, "assistant", "4.")
        store.add_message(conv.id, "user", "thanks")
        assert samples.record_next_state(left.id).status == "waiting"  # left waiting by an earlier run
        relay = VerdictRelay(samples, bus)
        relay.notify(a1.id)
        assert samples.get(a1.id).status == "waiting" and relay.pending()
        assert relay.poll() == 0 and seen == []  # nothing judged yet
        # the learner process judges both
        for mid, reward in ((a1.id, -1), (left.id, 1)):
            row = samples.get(mid)
            assert samples.record_judgement(mid, next_state=row.next_state, judge_reward=reward, votes=[reward],
                                            hint=None, hint_votes=[], mode="learned")
        assert relay.poll() == 2 and sorted((e.message_id, e.reward) for e in seen) == [(a1.id, -1), (left.id, 1)]
        assert relay.poll() == 0 and not relay.pending()  # each verdict once
        store.rate(a1.id, 1)  # a rating on a judged reply: the final reward changes, said at the next poll
        relay.notify(a1.id)
        assert relay.poll() == 1 and seen[-1].message_id == a1.id and seen[-1].reward == 1
        assert relay.poll() == 0
    finally:
        store.close()
