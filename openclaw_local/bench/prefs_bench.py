"""Time to first token with standing preferences in the reply's context vs without them.

Active preferences go into the system context of every reply (services/preferences.py), within
``prefs_token_budget``; this measures what that costs the user: the same chat, the same prompt,
with a full set of preferences and with none, rounds alternated (and their order swapped each
round). Two ways:

- **as served**: each arm on an engine of its own whose prompt cache is kept, as in the product,
  where the system prompt and the preferences are the same prefix from one reply to the next (and
  from one conversation to the next), so llama.cpp evaluates them once until they change;
- **cold**: one engine, its prompt cache cleared before each reply — what the first reply after a
  preference changes pays.

Medians, and the context tokens the preferences took.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from openclaw_local.bench.report import BenchResult, median
from openclaw_local.config import Settings

# what a user who has said a few things would have: four standing preferences, as the judge words them
PREFERENCES = (
    "Keep replies under 50 words.",
    "No numbered lists or bullet points.",
    "Write in a warm, casual tone.",
    "End each reply with a short question back to me.",
)
TARGET_RATIO = 1.1


def first_token_seconds(chat, engine, prompt: str, *, cold: bool) -> float:
    from openclaw_local.services.events import ReplyDelta

    conv = chat.new_conversation()
    if cold:
        engine.llm.reset()  # no cached prefix in either arm
    first: list[float] = []

    def emit(event) -> None:
        if isinstance(event, ReplyDelta) and not first:
            first.append(time.perf_counter())

    t0 = time.perf_counter()
    chat.send(conv.id, prompt, emit)
    return (first[0] if first else time.perf_counter()) - t0


def _rounds(arms, rounds: int, *, cold: bool) -> tuple[list[float], list[float]]:
    """TTFT per round for (with, without) — each arm a (chat, engine) pair — order swapped each round."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(rounds):
        prompt = f"Question {i}: name a color and a fruit."
        order = [0, 1] if i % 2 else [1, 0]
        for k in order:
            chat, engine = arms[k]
            times[k].append(first_token_seconds(chat, engine, prompt, cold=cold))
    return times


def run(model: Path, settings: Settings, *, rounds: int = 9, user_home: Path | None = None) -> BenchResult:
    from openclaw_local.services import container
    from openclaw_local.services.chat import ChatService

    s = settings.replace(max_tokens=4, temperature=0.0, seed=5)
    with tempfile.TemporaryDirectory() as tmp:
        store = container.open_store(Path(tmp))
        plan = container.load_plan(user_home, s, model)
        engines = [container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads, plan=plan) for _ in range(2)]
        try:
            with_prefs = ChatService(store, engines[0], s.replace(prefs_enabled=True))
            for text in PREFERENCES:
                with_prefs.preferences.add(text, origin="cli")
            in_context = with_prefs.preferences.in_context()
            block_tokens = len(engines[0].llm.tokenize(with_prefs.preferences.block(in_context).encode(), add_bos=False))
            served = [(with_prefs, engines[0]), (ChatService(store, engines[1], s.replace(prefs_enabled=False)), engines[1])]
            for chat, engine in served:  # the first reply of an engine pays extra, and fills its cache
                first_token_seconds(chat, engine, "Warm-up: say hi.", cold=False)
            warm_with, warm_without = _rounds(served, rounds, cold=False)
            one_engine = [(served[0][0], engines[0]), (ChatService(store, engines[0], s.replace(prefs_enabled=False)),
                                                       engines[0])]
            cold_with, cold_without = _rounds(one_engine, rounds, cold=True)
        finally:
            for engine in engines:
                engine.close()
            store.close()
    warm_ratio = median(warm_with) / median(warm_without)
    cold_ratio = median(cold_with) / median(cold_without)
    rows = [
        ("preferences in context", f"{len(in_context)} of {len(PREFERENCES)}, {block_tokens} tokens "
                                   f"(budget {s.prefs_token_budget})"),
        ("as served: time to first token without / with preferences (median)",
         f"{median(warm_without) * 1000:.0f} ms / {median(warm_with) * 1000:.0f} ms"),
        ("as served: ratio with / without", f"{warm_ratio:.2f}×"),
        ("cold (prompt cache cleared): without / with (median)",
         f"{median(cold_without) * 1000:.0f} ms / {median(cold_with) * 1000:.0f} ms"),
        ("cold: ratio with / without", f"{cold_ratio:.2f}×"),
    ]
    verdict = (f"as served {'met' if warm_ratio <= TARGET_RATIO else 'missed'}: {warm_ratio:.2f}× (target ≤ "
               f"{TARGET_RATIO}×); the first reply after the preferences change pays {cold_ratio:.2f}× "
               f"({block_tokens} more prompt tokens to evaluate)")
    return BenchResult(
        name="learn-prefs-ttft",
        title="Time to first token with standing preferences in context",
        method=(f"Embedded model, {s.threads} llama.cpp thread(s); the real ChatService on a fresh data dir, "
                f"{len(PREFERENCES)} preferences added by hand; {rounds} rounds per way, a new conversation per "
                "arm each round with the same prompt, the arms' order swapped each round. As served: an engine "
                "per arm, prompt cache kept; cold: one engine, cache cleared before each reply. Medians. "
                "`openclaw-local bench learn --only prefs-ttft`."),
        rows=rows,
        verdict=verdict,
    )
