"""How often the embedded model follows a hint placed in its context.

Hindsight on-policy distillation (OPD) uses the current model reading the user's hint
as its teacher (:func:`openclaw_local.learn.trainer.with_hint`): it only teaches something
when the model, given the hint, would answer differently in the direction the hint asks.
This measures that directly. For each shipped persona and each of its rules, on the
persona's eval prompts, one greedy reply without a hint and one with that rule's hint
appended to the last user message exactly as the teacher sees it. The hint is what the
product makes of the persona's first complaint about the rule
(:func:`openclaw_local.judge.hints.request_hint`, the default judge's hint); where that
gives no hint, the rule's plain instruction is used and the row says so.

Only replies that break a rule without the hint matter for OPD, so the headline number is
the *hint-following rate*: of those, the share that keep the rule with the hint.

    python -m openclaw_local.bench.hint_following [--personas student,commuter] [--prompts 12]
        [--max-tokens 96] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from openclaw_local.judge.hints import request_hint
from openclaw_local.learn.trainer import with_hint
from openclaw_local.sim.persona import Persona
from openclaw_local.sim.rules import Rule, check_all

DEFAULT_PROMPTS = 12
DEFAULT_MAX_TOKENS = 96  # the simulation's training-interaction cap (sim.simulate.SIM_SETTINGS)


def rule_instruction(rule: Rule) -> str:
    """The rule said as a plain instruction: the fallback hint when a complaint yields none."""
    t, v = rule.type, rule.value
    return {
        "no_markdown": lambda: "Write plain text: no bullet points, headings, bold or code blocks.",
        "max_words": lambda: f"Keep the reply under {v} words.",
        "min_words": lambda: f"Write at least {v} words.",
        "lowercase": lambda: "Write everything in lowercase, with no capital letters.",
        "forbid_phrases": lambda: "Do not use these words or phrases: " + ", ".join(f'"{p}"' for p in v) + ".",
        "must_start_with": lambda: f"Start the reply with \"{v}\".",
        "must_end_with": lambda: f"End the reply with \"{v}\".",
        "must_include_any": lambda: "Include one of: " + ", ".join(f'"{p}"' for p in v) + ".",
    }[t]()


HINT_SOURCES = ("complaint", "instruction")


def hint_for(persona: Persona, rule: Rule, source: str = "complaint") -> tuple[str, str, str]:
    """(hint, source, complaint): the product's hint from the persona's first complaint about
    ``rule`` (source ``"complaint"``), else the rule's instruction (source ``"rule_instruction"``).
    ``source="instruction"`` always takes the rule's instruction: a clean hint, to tell the
    model's hint-following apart from how well a complaint becomes a hint."""
    complaint = persona.complaint(rule)  # no RNG: the first phrasing
    hint = request_hint(complaint) if source == "complaint" else None
    if hint:
        return hint, "complaint", complaint
    return rule_instruction(rule), "rule_instruction", complaint


def echoes(reply: str, hint: str, n: int = 4) -> bool:
    """The reply repeats ``n`` words in a row from the hint: it talks about the hint instead of answering."""
    h, r = hint.lower().split(), " ".join(reply.lower().split())
    return any(" ".join(h[i:i + n]) in r for i in range(len(h) - n + 1))


def greedy_reply(engine: Any, messages: list[dict[str, str]], max_tokens: int) -> tuple[str, bool]:
    """(reply, cut): greedy as the persona score decodes; ``cut`` when the token limit stopped it."""
    gen = engine.generate(messages, max_tokens=max_tokens, temperature=0.0, top_p=1.0, seed=0).run()
    return gen.reply, gen.stats.finish_reason == "length"


def passes(rule: Rule, reply: str, cut: bool) -> bool:
    """Scored as the persona score does: a reply cut by the limit fails the length and ending rules."""
    return check_all(reply, [rule], cut=cut)[0]


def tally(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """Counts over (passed without hint, passed with hint) pairs, one per prompt."""
    return _rates({
        "n": len(pairs),
        "passed_without": sum(1 for a, _ in pairs if a),
        "passed_with": sum(1 for _, b in pairs if b),
        "fail_to_pass": sum(1 for a, b in pairs if not a and b),
        "pass_to_fail": sum(1 for a, b in pairs if a and not b),
    })


def merge(tallies: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One tally over several: pooled counts, not a mean of rates."""
    keys = ("n", "passed_without", "passed_with", "fail_to_pass", "pass_to_fail")
    return _rates({k: sum(t[k] for t in tallies) for k in keys})


def _rates(c: dict[str, int]) -> dict[str, Any]:
    n, failed = c["n"], c["n"] - c["passed_without"]
    return {
        **c,
        "failed_without": failed,
        "pass_without": c["passed_without"] / n if n else None,
        "pass_with": c["passed_with"] / n if n else None,
        "diff": (c["passed_with"] - c["passed_without"]) / n if n else None,
        # the OPD-relevant number: of the replies that broke the rule, the share the hint repairs
        "hint_following": c["fail_to_pass"] / failed if failed else None,
    }


def measure_persona(engine: Any, persona: Persona, prompts: Sequence[str], *, system_prompt: str,
                    max_tokens: int = DEFAULT_MAX_TOKENS, hints: str = "complaint") -> dict[str, Any]:
    """Per rule: tally, hint, and both replies per prompt. The no-hint reply is shared by all rules."""
    base = []
    for p in prompts:
        msgs = [{"role": "system", "content": system_prompt}, {"role": "user", "content": p}]
        reply, cut = greedy_reply(engine, msgs, max_tokens)
        base.append((msgs, reply, cut))
    rules = []
    for rule in persona.rules:
        hint, source, complaint = hint_for(persona, rule, hints)
        pairs, samples = [], []
        for (msgs, reply, cut), p in zip(base, prompts):
            hinted, hcut = greedy_reply(engine, with_hint(msgs, hint), max_tokens)
            a, b = passes(rule, reply, cut), passes(rule, hinted, hcut)
            pairs.append((a, b))
            samples.append({"prompt": p, "without": reply, "without_cut": cut, "without_pass": a,
                            "with": hinted, "with_cut": hcut, "with_pass": b})
        rules.append({"rule": rule.key, "hint": hint, "hint_source": source, "complaint": complaint,
                      **tally(pairs), "echoes_hint": sum(echoes(x["with"], hint) for x in samples),
                      "samples": samples})
    return {"persona": persona.name, "rules": rules, "overall": merge(rules)}


def run(engine: Any, personas: Sequence[tuple[str, Persona]], *, prompts: int, max_tokens: int,
        system_prompt: str, hints: str = "complaint", say=lambda line: None) -> dict[str, Any]:
    out = []
    for stem, persona in personas:
        t0 = time.monotonic()
        res = measure_persona(engine, persona, persona.eval_prompts[:prompts],
                              system_prompt=persona.system_prompt or system_prompt, max_tokens=max_tokens,
                              hints=hints)
        res["file"] = stem
        res["seconds"] = round(time.monotonic() - t0, 1)
        out.append(res)
        say(f"{stem}: {len(res['rules'])} rules, {res['seconds']} s, hint-following "
            f"{_pct(res['overall']['hint_following'])}")
    return {"prompts": prompts, "max_tokens": max_tokens, "hints": hints, "decoding": "greedy (temperature 0, seed 0)",
            "personas": out, "overall": merge([r for p in out for r in p["rules"]])}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def markdown_table(result: dict[str, Any]) -> str:
    head = ("| persona | rule | hint (source) | pass w/o hint | pass with hint | diff | fail→pass | pass→fail "
            "| hint-following | echoes hint |\n|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for p in result["personas"]:
        for r in p["rules"]:
            src = "" if r["hint_source"] == "complaint" else " (rule instruction)"
            hint = r["hint"].replace("|", "\\|")
            hint = hint if len(hint) <= 60 else hint[:57] + "…"
            lines.append(f"| {p['file']} | {r['rule'][:40].replace('|', '/')} | {hint}{src} "
                         f"| {_pct(r['pass_without'])} | {_pct(r['pass_with'])} | {_signed(r['diff'])} "
                         f"| {r['fail_to_pass']} | {r['pass_to_fail']} "
                         f"| {_pct(r['hint_following'])} ({r['fail_to_pass']}/{r['failed_without']}) "
                         f"| {r['echoes_hint']}/{r['n']} |")
    o = result["overall"]
    echoed = sum(r["echoes_hint"] for p in result["personas"] for r in p["rules"])
    lines.append(f"| **all** | {len(lines) - 1} rules | | {_pct(o['pass_without'])} | {_pct(o['pass_with'])} "
                 f"| {_signed(o['diff'])} | {o['fail_to_pass']} | {o['pass_to_fail']} "
                 f"| {_pct(o['hint_following'])} ({o['fail_to_pass']}/{o['failed_without']}) | {echoed}/{o['n']} |")
    return "\n".join(lines)


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.0f} pp"


def main(argv: Sequence[str] | None = None) -> int:
    from openclaw_local.config import Settings
    from openclaw_local.paths import embedded_model_path
    from openclaw_local.services import container
    from openclaw_local.sim.persona import load_persona, shipped_personas

    ap = argparse.ArgumentParser(prog="python -m openclaw_local.bench.hint_following",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--personas", default=None, help="comma-separated shipped persona names (default: all)")
    ap.add_argument("--prompts", type=int, default=DEFAULT_PROMPTS, help="first N eval prompts per persona")
    ap.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    ap.add_argument("--hints", choices=HINT_SOURCES, default="complaint",
                    help="complaint: the product's hint from the persona's complaint; "
                         "instruction: the rule said plainly")
    ap.add_argument("--out", type=Path, default=None, help="results JSON")
    args = ap.parse_args(argv)
    if args.prompts < 1 or args.max_tokens < 1:
        ap.error("--prompts and --max-tokens must be at least 1")
    names = [n.strip() for n in args.personas.split(",") if n.strip()] if args.personas else \
        [p.stem for p in shipped_personas()]
    personas = [(n, load_persona(n)) for n in names]

    # one thread: on a busy 2-core machine a second llama.cpp thread spin-waits for a core
    # (measured here: ~24 s per 96-token reply with two threads, ~1 s with one)
    settings = Settings(threads=1, n_ctx=2048)
    model = embedded_model_path()
    plan = container.load_plan(None, settings, model, cpu_only=True)  # loads as the app would on this machine
    engine = container.load_engine(None, settings, model, n_ctx=2048, seed=0, plan=plan)
    t0 = time.monotonic()
    try:
        result = run(engine, personas, prompts=args.prompts, max_tokens=args.max_tokens,
                     system_prompt=settings.system_prompt, hints=args.hints,
                     say=lambda s: print(s, file=sys.stderr, flush=True))
    finally:
        engine.close()
    result["model"] = model.name
    result["wall_seconds"] = round(time.monotonic() - t0, 1)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown_table(result))
    print(f"\n{result['wall_seconds']} s, {model.name}, {args.prompts} prompts/persona, max_tokens {args.max_tokens}, "
          f"hints from the {args.hints}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
