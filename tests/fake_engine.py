"""A scripted stand-in for the llama.cpp Engine, for UI tests that exercise keys and
layout rather than the model (tests/test_ui.py keeps the real-model UI tests).

It streams a reply word by word through the real :class:`Generation` class, so
ChatService, the store and the UI run unchanged.
"""

from __future__ import annotations

import itertools
import threading
import time

from openclaw_local.engine import Generation


class FakeEngine:
    model_name = "fake-model.gguf"

    def __init__(self, replies: list[str] | None = None, delay_s: float = 0.0):
        self.replies = replies or ["Reply number {n}: a short answer."]
        self.delay_s = delay_s
        self._count = itertools.count(1)
        self.prompts: list[list[dict[str, str]]] = []

    def generate(self, messages, *, max_tokens=256, temperature=0.7, top_p=0.95, seed=None, thinking=False,
                 cancel: threading.Event | None = None, background=False, stop=None, tools=None,
                 **_ignored) -> Generation:
        n = next(self._count)
        self.prompts.append(list(messages))
        text = self.replies[(n - 1) % len(self.replies)].format(n=n)
        gen = Generation(_pieces=iter(()))
        gen._pieces = self._stream(gen, text, cancel)
        return gen

    def _stream(self, gen: Generation, text: str, cancel):
        start = time.monotonic()
        words = text.split(" ")
        for i, word in enumerate(words):
            if cancel is not None and cancel.is_set():
                gen.stats.finish_reason = "cancelled"
                break
            if self.delay_s:
                time.sleep(self.delay_s)
            yield word if i == 0 else " " + word
            gen.stats.completion_tokens += 1
        else:
            gen.stats.finish_reason = "stop"
        gen.stats.total_s = max(time.monotonic() - start, 1e-3)
        gen.stats.tokens_per_s = gen.stats.completion_tokens / gen.stats.total_s
