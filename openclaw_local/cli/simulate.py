"""``simulate``: a simulated user (a persona file) chats with the real product loop; see docs/PERSONALIZATION.md."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("simulate", help="measure personalization: a simulated user chats with the real learning loop")
    p.add_argument("--persona", required=True, metavar="FILE",
                   help="persona JSON file, or the name of a shipped one (student, teacher, commuter)")
    p.add_argument("--interactions", type=int, default=36, help="train prompts the simulated user sends (default 36)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated user and sampling (default 0)")
    p.add_argument("--out", metavar="DIR", help="where report.json, curve.png and the run's data dir (DIR/home) go "
                   "(default ./simulate-<persona>-<time>)")
    p.add_argument("--eval-prompts", type=int, default=None, metavar="N", help="score on the first N eval prompts only")
    p.add_argument("--feedback", metavar="JSON", help='override the persona\'s feedback mix, e.g. \'{"complain": 1.0}\'')
    p.add_argument("--learn-min-samples", type=int, default=None, help="judged samples that trigger an update (default 4)")
    p.add_argument("--learning-rate", type=float, default=None, help="learner's Adam learning rate")
    p.add_argument("--score-max-tokens", type=int, default=None, metavar="N",
                   help="longest scored reply, in tokens (default: the product's max_tokens default, 512); "
                        "a reply cut there fails the length and ending rules")
    p.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                   help="any other setting for the run, e.g. --setting w_opd=0 (repeatable; checked like config.toml)")
    p.add_argument("--final-wait", type=float, default=600.0, metavar="S", help="longest wait for the last update (s)")
    p.add_argument("--no-arms", action="store_true", help="skip the in-context and offline-SFT comparison arms")
    p.add_argument("--system-prompts", action="store_true",
                   help="also score the base and the final adapter under other system messages (none, an edited "
                        "one, two clients'): does what was learned hold outside the product's prompt?")
    p.add_argument("--score-every", type=int, default=0, metavar="N",
                   help="score the eval prompts at every N-th interaction when a new adapter is served since the last "
                        "score (and at the end); 0 (default): after every newly served adapter")
    p.add_argument("--pace", choices=["none", "learner"], default="learner",
                   help="learner (default): like a person, the user waits while an update is due or running; "
                        "none: fire prompts back to back")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from openclaw_local.cli.common import flag_name
    from openclaw_local.config import SETTING_FIELDS, checked_overrides
    from openclaw_local.errors import DataDirError, UsageError
    from openclaw_local.paths import check_output_path, shown
    from openclaw_local.sim.persona import load_persona
    from openclaw_local.sim.simulate import SCORE_MAX_TOKENS, run_simulation

    persona = load_persona(args.persona)
    if args.feedback:
        try:
            persona = persona.with_feedback(json.loads(args.feedback))
        except json.JSONDecodeError as exc:
            raise UsageError(f"--feedback is not valid JSON ({exc.msg})") from None
    if args.eval_prompts is not None and args.eval_prompts < 1:
        raise UsageError("--eval-prompts must be at least 1")
    if args.score_max_tokens is not None and args.score_max_tokens < 1:
        raise UsageError("--score-max-tokens must be at least 1")
    if args.score_every < 0:
        raise UsageError("--score-every must be 0 (after every served adapter) or more")
    out = Path(args.out).expanduser() if args.out else Path(f"simulate-{persona.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    check_output_path(out, "--out", directory=True)  # before the run: a typo in --out never costs a whole run
    if out.exists() and not out.is_dir():
        raise DataDirError(f"cannot write into {shown(out)}: it is a file, not a directory", "choose another --out")
    overrides, sources = {}, {}
    for flag, key in (("max_tokens", "max_tokens"), ("temperature", "temperature"), ("threads", "threads"),
                      ("model", "model_path"), ("n_ctx", "n_ctx"), ("system_prompt", "system_prompt"),
                      ("learn_min_samples", "learn_min_samples"), ("learning_rate", "learning_rate")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key], sources[key] = value, flag_name(flag)
    for item in args.setting:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"--setting {item!r}: expected NAME=VALUE, e.g. --setting w_opd=0")
        if name not in SETTING_FIELDS:
            raise UsageError(f"--setting {item!r}: no setting named {name!r}", "the settings are listed in openclaw_local/config.py")
        overrides[name], sources[name] = value.strip(), f"--setting {name}"
    overrides = checked_overrides(overrides, sources)  # before the run's directory is created
    report = run_simulation(persona, out, interactions=args.interactions, seed=args.seed, overrides=overrides,
                            eval_prompts=args.eval_prompts, final_wait_s=args.final_wait, arms=not args.no_arms,
                            pace=args.pace, score_max_tokens=args.score_max_tokens or SCORE_MAX_TOKENS,
                            system_prompts=args.system_prompts, score_every=args.score_every)
    print(f"report: {shown(out / 'report.json')}  curve: {shown(out / 'curve.png')}  data dir: {shown(out / report['home'])}")
    return 0
