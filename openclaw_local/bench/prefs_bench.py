"""Time to first token with standing preferences in the reply's context vs without them.

Active preferences go into the system context of every reply (services/preferences.py), within
``prefs_token_budget``; this measures what that costs the user: the same chat, the same prompt,
with a full set of preferences and with none, rounds alternated (and their order swapped each
round), the engine's prompt cache cleared before each reply so neither arm reuses a prefix.
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


def first_token_seconds(chat, engine, prompt: str) -> float:
    from openclaw_local.services.events import ReplyDelta

    conv = chat.new_conversation()
    engine.llm.reset()  # no cached prefix in either arm
    first: list[float] = []

    def emit(event) -> None:
        if isinstance(event, ReplyDelta) and not first:
            first.append(time.perf_counter())

    t0 = time.perf_counter()
    chat.send(conv.id, prompt, emit)
    return (first[0] if first else time.perf_counter()) - t0


def run(model: Path, settings: Settings, *, rounds: int = 9, user_home: Path | None = None) -> BenchResult:
    from openclaw_local.services import container
    from openclaw_local.services.chat import ChatService

    s = settings.replace(max_tokens=4, temperature=0.0, seed=5)
    with tempfile.TemporaryDirectory() as tmp:
        store = container.open_store(Path(tmp))
        engine = container.load_engine(None, s, model, n_ctx=s.n_ctx, threads=s.threads,
                                       plan=container.load_plan(user_home, s, model))
        try:
            with_prefs = ChatService(store, engine, s.replace(prefs_enabled=True))
            without = ChatService(store, engine, s.replace(prefs_enabled=False))
            for text in PREFERENCES:
                with_prefs.preferences.add(text, origin="cli")
            in_context = with_prefs.preferences.in_context()
            block = with_prefs.preferences.block(in_context)
            block_tokens = len(engine.llm.tokenize(block.encode(), add_bos=False))
            first_token_seconds(without, engine, "Warm-up: say hi.")  # the first reply of a process pays extra
            t_with, t_without = [], []
            for i in range(rounds):
                prompt = f"Question {i}: name a color and a fruit."
                arms = [(with_prefs, t_with), (without, t_without)]
                for chat, times in (arms if i % 2 else arms[::-1]):
                    times.append(first_token_seconds(chat, engine, prompt))
        finally:
            engine.close()
            store.close()
    ratio = median(t_with) / median(t_without)
    rows = [
        ("preferences in context", f"{len(in_context)} of {len(PREFERENCES)}, {block_tokens} tokens "
                                   f"(budget {s.prefs_token_budget})"),
        ("time to first token without preferences (median)", f"{median(t_without) * 1000:.0f} ms"),
        ("time to first token with preferences (median)", f"{median(t_with) * 1000:.0f} ms"),
        ("ratio with / without", f"{ratio:.2f}×"),
    ]
    verdict = (f"{'met' if ratio <= TARGET_RATIO else 'missed'}: {ratio:.2f}× (target ≤ {TARGET_RATIO}×) for "
               f"{block_tokens} more prompt tokens")
    return BenchResult(
        name="learn-prefs-ttft",
        title="Time to first token with standing preferences in context",
        method=(f"Embedded model, {s.threads} llama.cpp thread(s); the real ChatService on a fresh data dir, "
                f"{len(PREFERENCES)} preferences added by hand; {rounds} rounds, each a new conversation per arm "
                "with the same prompt, the arms' order swapped each round, the prompt cache cleared before each "
                "reply. Medians. `openclaw-local bench learn --only prefs-ttft`."),
        rows=rows,
        verdict=verdict,
    )
