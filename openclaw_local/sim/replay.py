"""Replay a finished ``simulate`` run's feedback through the Learner with other settings.

A measuring tool for learner settings (docs/PERSONALIZATION.md, "Regularizing
the update"): it copies the run's database, marks its trained samples judged
again, and feeds the *same* update batches (the sample ids of each version the
run published) to ``services.training.Learner`` — the real trainer, promotion
gate and GGUF export — scoring the persona after every promoted update on the
llama.cpp engine. What it does not do: generate new replies. The replies,
corrections and complaints are those of the original run, so it isolates the
update rule from the on-policy data it would otherwise change.

    python -m openclaw_local.sim.replay RUN_DIR PERSONA OUT_DIR [--set w_general=3 --set replay_corrections=8]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def replay(run_dir: Path, persona_name: str, out_dir: Path, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    from openclaw_local.config import load_settings
    from openclaw_local.services.container import load_engine, open_store
    from openclaw_local.services.training import Learner
    from openclaw_local.sim.persona import load_persona
    from openclaw_local.sim.simulate import SCORE_MAX_TOKENS, persona_score
    from openclaw_local.records import GGUF_NAME
    from openclaw_local.store.adapters import AdapterStore

    src = run_dir / "home"
    home = out_dir / "home"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copy(src / "openclaw.db", home / "openclaw.db")
    if (src / "trainable").exists():
        (home / "trainable").symlink_to((src / "trainable").resolve())
    settings = load_settings(src, overrides)  # overrides are checked like any setting
    persona = load_persona(persona_name)
    store = open_store(home)
    batches = AdapterStore(store).forget_versions()  # replay the run's batches from an untrained start
    learner = Learner(home, settings, store)
    engine = load_engine(src, settings, n_ctx=2048, cpu_only=True)

    # score as the run did: its report says at which length (older runs: their interaction cap)
    try:
        report = json.loads((run_dir / "report.json").read_text())
    except (OSError, ValueError):
        report = {}
    score_tokens = int(report.get("score_max_tokens") or (settings.max_tokens if report else SCORE_MAX_TOKENS))

    def score() -> float:
        return persona_score(engine, persona, persona.eval_prompts, system_prompt=settings.system_prompt,
                             max_tokens=score_tokens)["score"]

    rows = [{"update": 0, "status": "base", "score": score()}]
    started = time.monotonic()
    for i, batch in enumerate(batches, 1):
        version = learner.update(batch)
        row = {"update": i, "status": version.status, "ppl_ratio": (version.gate.get("general") or {}).get("ratio")}
        if version.status == "active":
            engine.set_adapter(version.gguf_path, merged=version.merged_path)
            row["score"] = score()
        row["seconds"] = round(time.monotonic() - started, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    store.close()
    (out_dir / "replay.json").write_text(json.dumps({"run": str(run_dir), "persona": persona_name,
                                                     "overrides": overrides, "updates": rows}, indent=2))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path, help="a `simulate --out` directory (holds home/)")
    p.add_argument("persona", help="persona name or file")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a Settings override")
    args = p.parse_args(argv)
    overrides = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    replay(args.run_dir, args.persona, args.out_dir, overrides)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
