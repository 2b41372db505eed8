"""The chat process's cost of one turn: start-up to first token, resident memory, torch or not.

    .venv/bin/python scripts/measure_chat_process.py [--before REF] [--max-tokens 24] [--runs 1]

For each source tree (``--before REF``: that git commit, exported to a temporary directory;
then this working tree) a fresh Python process opens a ``Runtime`` on a new data dir with the
embedded model and learning on (the default judge), starts the background, sends a message,
then a push-back so the first reply gets a next state, and waits for its ``Judged`` event.
It reports: seconds from interpreter start to the first streamed token (``ttft_s``), the chat
process's RSS after the first reply and after the verdict (MiB, from /proc/self/status), the
verdict's latency after the push-back, and whether torch / transformers were imported in it.
A rough measure on a shared machine: run it twice, or with ``--runs``, before trusting a number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, sys, threading, time
t0 = time.monotonic()
from pathlib import Path

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None

from openclaw_local.config import Settings
from openclaw_local.services.events import Judged, ReplyDelta
from openclaw_local.services.runtime import Runtime

home, max_tokens = Path(sys.argv[1]), int(sys.argv[2])
home.mkdir(parents=True, exist_ok=True)
settings = Settings(max_tokens=max_tokens, temperature=0.0, seed=1, n_ctx=1024, learn_min_samples=1000)
out = {}
with Runtime.open(home, settings) as rt:
    rt.start_background()
    verdicts, judged = [], threading.Event()
    rt.events.subscribe(lambda e: (verdicts.append(e), judged.set()) if isinstance(e, Judged) else None)
    conv = rt.chat.new_conversation()
    first = []
    reply = rt.chat.send(conv.id, "What is the capital of France?",
                         lambda e: first.append(time.monotonic()) if isinstance(e, ReplyDelta) and not first else None)
    out["ttft_s"] = round(first[0] - t0, 2) if first else None
    out["rss_after_reply_mib"] = round(rss_mib(), 1)
    out["torch_after_reply"] = "torch" in sys.modules
    pushed = time.monotonic()
    rt.chat.send(conv.id, "No, that's wrong. Answer in one word please.", lambda e: None)
    out["judged"] = judged.wait(120)
    out["verdict_s"] = round(time.monotonic() - pushed, 2)
    out["verdict_for_first_reply"] = any(v.message_id == reply.id for v in verdicts)
    out["rss_after_verdict_mib"] = round(rss_mib(), 1)
    out["torch"] = "torch" in sys.modules
    out["transformers"] = "transformers" in sys.modules
    out["package"] = str(Path(sys.modules["openclaw_local"].__file__).parent.parent.name)
print("RESULT " + json.dumps(out), flush=True)
"""


def export(ref: str, into: Path) -> Path:
    """The package as it was at ``ref`` (git archive), for the 'before' column."""
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), ref, "openclaw_local", "assets"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def probe(tree: Path, home: Path, max_tokens: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENCLAW_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(home), str(max_tokens)], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"the probe failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", metavar="REF", help="also measure this git commit (exported to a temporary dir)")
    p.add_argument("--max-tokens", type=int, default=24)
    p.add_argument("--runs", type=int, default=1)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        if args.before:
            trees[f"before ({args.before})"] = export(args.before, Path(tmp))
        trees["now"] = REPO
        for run in range(args.runs):
            for name, tree in trees.items():
                result = probe(tree, Path(tmp) / f"home-{run}-{len(name)}-{name[:3]}", args.max_tokens)
                print(json.dumps({"tree": name, "run": run, **result}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
