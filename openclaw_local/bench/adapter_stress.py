"""Concurrent adapter writers on one data dir: nothing may corrupt a version.

    python -m openclaw_local.bench.adapter_stress --trials 20 [--imports 8] [--keep DIR]

Each trial starts a fresh data dir, then at once: ``--imports`` real
``openclaw-local adapters import … --activate`` commands (half a PEFT directory,
half a llama.cpp LoRA GGUF), a learner process publishing versions through
:meth:`Learner.publish` (the same reserve → write → register → gate path an update
takes after training; the training itself is left out to keep a trial a few
seconds), and ``adapters activate`` / ``rollback`` / ``delete`` commands, while this
process follows the active version like a running chat does (the chat's own
:class:`LearnerService` hot-swapping into a real llama.cpp engine). The activate /
rollback / delete commands start 1-4 s into the trial, while the writers run, so they
race versions being published.

After each trial: every command succeeded or failed with exactly one ``error: …``
line (never a traceback); every version's files match their recorded sha256; no
reservation is left open and no version directory lacks its row; the active version
loads in llama.cpp and answers; nothing the chat follower saw was broken.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

LEARNER = "learner"


@dataclass
class TrialResult:
    trial: int
    commands: int = 0
    failures: list[str] = field(default_factory=list)  # "command: error line" of clean failures
    bad_outputs: list[str] = field(default_factory=list)  # tracebacks, several lines, no error line
    corrupt: list[str] = field(default_factory=list)  # versions whose files do not verify
    inconsistent: list[str] = field(default_factory=list)  # open reservations, dirs without rows, >1 active
    versions: int = 0
    active: int | None = None
    active_loads: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.bad_outputs or self.corrupt or self.inconsistent) and self.active_loads


def make_inputs(model: Path, root: Path, n: int) -> list[Path]:
    """``n`` distinct small random LoRAs for ``model``: PEFT directories and LoRA GGUF files, alternately."""
    import numpy as np

    from openclaw_local.learn.adapter_io import Lora, base_info, write_lora_gguf, write_peft_dir

    base = base_info(model)
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        pairs = {}
        for layer in range(base.n_layer):
            for proj in ("attn_q", "attn_v"):
                out_dim, in_dim = base.shapes[f"blk.{layer}.{proj}.weight"]
                pairs[(layer, proj)] = ((rng.standard_normal((2, in_dim)) * 0.01).astype(np.float32),
                                        (rng.standard_normal((out_dim, 2)) * 0.01).astype(np.float32))
        lora = Lora(base.architecture, 4.0, 2, pairs)
        if i % 2 == 0:
            path = root / f"peft-{i}"
            path.mkdir(parents=True)
            write_peft_dir(lora, path, base)
        else:
            path = root / f"lora-{i}.gguf"
            write_lora_gguf(lora, path, base)
        out.append(path)
    return out


def learner_main(home: Path, template: Path, count: int) -> int:
    """The publishing learner: ``count`` versions through Learner.publish, gate verdicts at random."""
    from openclaw_local.config import Settings
    from openclaw_local.errors import UserError
    from openclaw_local.services.training import Learner
    from openclaw_local.services import container

    learner = Learner(home, Settings(), container.open_store(home))
    rng = random.Random(os.getpid())

    def fill(tmp: Path) -> None:
        for f in template.iterdir():
            shutil.copyfile(f, tmp / f.name)

    for _ in range(count):
        parent = learner.adapters.active()
        try:
            v = learner.publish(fill, parent_id=parent.id if parent else None, sample_ids=[], metrics={"loss": 0.1},
                                gate={"stress": True}, passed=rng.random() < 0.8, reason="gate said no")
        except UserError as exc:  # what the learner worker would log and retry
            print(f"error: {exc.one_line()}", file=sys.stderr)
            return exc.exit_code
        print(f"published v{v.id}: {v.status}")
    return 0


def _commands(inputs: list[Path], template: Path, rng: random.Random, publishes: int) -> tuple[list, list]:
    """(writers started at once, changers started while they run: (delay s, command))."""
    cli = [sys.executable, "-m", "openclaw_local", "adapters"]
    writers = [cli + ["import", str(p), "--activate", "--force"] for p in inputs]  # concurrency, not the gate
    writers.append([sys.executable, "-m", "openclaw_local.bench.adapter_stress", LEARNER, str(template), str(publishes)])
    rng.shuffle(writers)
    n = len(inputs)
    changers = [cli + ["activate", str(rng.randint(1, n))] for _ in range(2)]
    changers += [cli + ["rollback"], cli + ["delete", str(rng.randint(1, n))]]
    # started while the writers run, once a few versions exist, so they race real versions
    return writers, sorted(((rng.uniform(1.0, 4.0), cmd) for cmd in changers), key=lambda d: d[0])


def _judge_output(cmd: list[str], rc: int, stderr: str, result: TrialResult) -> None:
    name = " ".join(cmd[3:] if cmd[2] == "openclaw_local" else [LEARNER])
    lines = [line for line in stderr.splitlines() if line.strip()]
    if rc == 0 and not any(line.startswith("error") or "Traceback" in line for line in lines):
        return
    if rc != 0 and len(lines) == 1 and lines[0].startswith("error: "):
        result.failures.append(f"{name}: {lines[0]}")
        return
    result.bad_outputs.append(f"{name} (exit {rc}): {stderr.strip()[-400:]}")


def run_trial(trial: int, model: Path, inputs: list[Path], template: Path, engine, root: Path,
              publishes: int = 3) -> TrialResult:
    """One trial on a fresh data dir under ``root``; see the module docstring."""
    from openclaw_local.config import Settings
    from openclaw_local.services import adapter_files
    from openclaw_local.services.learner import LearnerService
    from openclaw_local.services import container
    from openclaw_local.store.adapters import AdapterStore

    home = root / f"trial-{trial:03d}"
    home.mkdir(parents=True, mode=0o700)
    env = dict(os.environ, OPENCLAW_HOME=str(home), OPENCLAW_MODEL_PATH=str(model))
    result = TrialResult(trial)
    store = container.open_store(home)  # the chat's store (it also creates the schema, as a running chat would have)
    chat = LearnerService(home, Settings(learn=False), store, engine)
    chat.start()  # follows the active version every 0.25 s and hot-swaps it into llama.cpp
    started = time.monotonic()
    writers, changers = _commands(inputs, template, random.Random(trial), publishes)

    def start(cmd):
        return cmd, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    procs = [start(cmd) for cmd in writers]
    for delay, cmd in changers:
        time.sleep(max(0.0, started + delay - time.monotonic()))
        procs.append(start(cmd))
    cmds = [cmd for cmd, _ in procs]
    for cmd, proc in procs:
        try:
            _, stderr = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
            stderr = f"did not finish within 300 s\n{stderr}"
        _judge_output(cmd, proc.returncode, stderr, result)
    result.commands = len(cmds)
    time.sleep(0.6)  # let the follower serve the final active version
    chat.stop()
    result.seconds = time.monotonic() - started

    adapters = AdapterStore(store)
    versions = adapters.versions()
    result.versions = len(versions)
    for v in versions:
        problem = adapter_files.verify(v)
        if problem is not None or v.status == "broken":
            result.corrupt.append(f"v{v.id} ({v.status}): {problem or v.reason}")
    if sum(v.status == "active" for v in versions) > 1:
        result.inconsistent.append("more than one active version")
    if adapters.open_reservations():
        result.inconsistent.append(f"open reservations left: {[r['id'] for r in adapters.open_reservations()]}")
    rows = {Path(v.path).name for v in versions}
    strays = sorted(p.name for p in (home / "adapters").iterdir() if p.name not in rows and p.name.startswith("v")) \
        if (home / "adapters").is_dir() else []
    if strays:
        result.inconsistent.append(f"version directories without a row: {strays}")
    active = adapters.active()
    result.active = active.id if active else None
    if chat.served_version != result.active:
        result.inconsistent.append(f"chat serves {chat.served_version}, active is {result.active}")
    try:
        engine.set_adapter(active.gguf_path if active else None)
        text = engine.complete([{"role": "user", "content": "Say hi."}], max_tokens=2, temperature=0.0, seed=0)
        result.active_loads = isinstance(text, str)
    except Exception as exc:  # a version llama.cpp refuses is exactly what this checks for
        result.inconsistent.append(f"active v{result.active} does not load: {exc}")
    finally:
        engine.set_adapter(None)
    store.close()
    return result


def run(trials: int, imports: int = 8, keep: Path | None = None, model: Path | None = None,
        say=print) -> list[TrialResult]:
    from openclaw_local.config import Settings
    from openclaw_local.services import container
    from openclaw_local.paths import embedded_model_path

    model = model or embedded_model_path()
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="adapter-stress-"))
    root.mkdir(parents=True, exist_ok=True)
    inputs = make_inputs(model, root / "inputs", imports + 1)
    template = root / "template"
    shutil.copytree(root / "inputs" / "peft-0", template)
    from openclaw_local.learn.adapter_io import base_info, read_peft_dir, write_lora_gguf

    base = base_info(model)
    write_lora_gguf(read_peft_dir(template, base), template / "adapter.gguf", base)
    plan = container.load_plan(None, Settings(threads=1), model)  # loads as the app would on this machine
    engine = container.load_engine(None, Settings(threads=1), model, n_ctx=512, seed=0, plan=plan)
    results = []
    try:
        for trial in range(trials):
            r = run_trial(trial, model, inputs[:imports], template, engine, root)
            results.append(r)
            say(f"trial {trial + 1}/{trials}: {r.commands} commands, {len(r.failures)} clean failures, "
                f"{len(r.corrupt)} corrupt, {len(r.bad_outputs)} bad outputs, {r.versions} versions, "
                f"active v{r.active}, {r.seconds:.1f} s" + ("" if r.ok else "  <-- PROBLEM"))
            for line in r.bad_outputs + r.corrupt + r.inconsistent:
                say(f"    {line}")
    finally:
        engine.close()
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return results


def summary(results: list[TrialResult], wall: float) -> dict:
    failures: dict[str, int] = {}
    for r in results:
        for f in r.failures:
            msg = f.split(": ", 1)[1]
            key = msg.split(" (versions:")[0]
            failures[key] = failures.get(key, 0) + 1
    return {
        "trials": len(results), "ok_trials": sum(r.ok for r in results),
        "commands": sum(r.commands for r in results),
        "corrupt_versions": sum(len(r.corrupt) for r in results),
        "bad_outputs": sum(len(r.bad_outputs) for r in results),
        "inconsistencies": sum(len(r.inconsistent) for r in results),
        "versions": sum(r.versions for r in results),
        "active_loaded": sum(r.active_loads for r in results),
        "clean_failures": failures,
        "median_trial_s": sorted(r.seconds for r in results)[len(results) // 2] if results else 0.0,
        "wall_s": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == LEARNER:
        return learner_main(Path(os.environ["OPENCLAW_HOME"]), Path(argv[1]), int(argv[2]))
    p = argparse.ArgumentParser(prog="python -m openclaw_local.bench.adapter_stress", description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--imports", type=int, default=8, help="concurrent `adapters import --activate` per trial")
    p.add_argument("--keep", metavar="DIR", default=None, help="keep every trial's data dir under DIR")
    args = p.parse_args(argv)
    os.umask(0o077)
    started = time.monotonic()
    results = run(args.trials, args.imports, Path(args.keep) if args.keep else None)
    s = summary(results, time.monotonic() - started)
    print(json.dumps(s, indent=2))
    return 0 if s["ok_trials"] == s["trials"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
