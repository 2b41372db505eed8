"""A fake :class:`openclaw_local.engine.Engine` with queued responses, for tests that run in milliseconds.

Like ``llm``'s MockModel: queue what the model will say, run the service, then look at
what it was asked. It implements the public surface ChatService, the Judge and the
JudgeWorker use (``generate``, ``complete``, ``token_logprobs``, ``fit``, ``count_tokens``,
``format_prompt``, ``tokenize``, ``set_adapter``, ``close``, ``model_name``, ``gate``) and
keeps the real engine's contracts that services rely on:

- every call goes through a real :class:`ModelGate` (chat in the foreground, the judge in
  the background), and background generation raises ``Preempted`` between pieces when a
  chat message waits, as the real engine does between tokens;
- ``cancel`` ends a stream at the next piece with ``finish_reason == "cancelled"``;
  ``max_tokens`` cuts it with ``"length"``; leaving the ``for`` loop early closes it;
- the returned object is the real :class:`Generation`, so ``reply`` / ``thinking`` split
  ``<think>`` blocks exactly as served replies are split.

A "token" here is one whitespace-delimited word (with its leading space). The real-model
tests stay: this fake isolates services, it does not stand in for llama.cpp.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from openclaw_local.engine import Generation, ModelGate, Preempted
from openclaw_local.engine.llama_engine import FitResult

_WORD = re.compile(r"\s*\S+")


@dataclass
class Call:
    """One request the fake received: ``method`` is "generate" or "token_logprobs"."""

    method: str
    messages: list[dict[str, str]]
    kwargs: dict[str, Any] = field(default_factory=dict)


class FakeEngine:
    def __init__(
        self,
        responses: Iterable[Any] = (),
        *,
        default: str | None = None,
        n_ctx: int = 4096,
        gate: ModelGate | None = None,
        piece_delay_s: float = 0.0,
        model_name: str = "fake-model.gguf",
    ):
        """``responses``: what successive generations return, each a string (split into word
        pieces), a list of pieces (streamed as given) or an exception instance (raised when
        that generation starts). With the queue empty a generation returns ``default``, or
        fails the test when ``default`` is None, so an unexpected model call never passes
        silently; ``{n}`` in ``default`` becomes the generation's number. ``piece_delay_s`` slows streaming (to hold the gate in concurrency tests).
        """
        self._responses: deque[Any] = deque(responses)
        self.default = default
        self.n_ctx = n_ctx
        self.gate = gate or ModelGate()
        self.piece_delay_s = piece_delay_s
        self._model_name = model_name
        self.architecture = "llama"
        self.adapter_path: Path | None = None
        self.calls: list[Call] = []
        self.logprobs: dict[str, list[float]] = {}  # reply text -> token log-probs for token_logprobs
        self.closed = False
        self.streaming = threading.Event()  # set when a generation yields its first piece (for concurrency tests)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ queue
    def queue(self, *responses: Any) -> "FakeEngine":
        self._responses.extend(responses)
        return self

    @property
    def pending(self) -> int:
        """Responses queued but not used yet."""
        return len(self._responses)

    @property
    def prompts(self) -> list[list[dict[str, str]]]:
        """The messages of each generation, oldest first."""
        return [c.messages for c in self.calls if c.method == "generate"]

    def _next_response(self) -> Any:
        with self._lock:
            if self._responses:
                return self._responses.popleft()
        if self.default is None:
            raise AssertionError("FakeEngine: a generation was requested but no response is queued")
        # "{n}" in the default is the generation's number (1-based), so successive replies differ
        return self.default.replace("{n}", str(sum(c.method == "generate" for c in self.calls)))

    # ---------------------------------------------------------------- prompts
    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def is_qwen3(self) -> bool:
        return False

    def format_prompt(self, messages: list[dict[str, str]], *, thinking: bool = False, add_generation_prompt: bool = True) -> str:
        text = "".join(f"<{m['role']}> {m['content']}\n" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        return [hash(w) & 0xFFFF for w in _WORD.findall(text)]

    def count_tokens(self, messages: list[dict[str, str]], *, thinking: bool = False) -> int:
        return len(self.tokenize(self.format_prompt(messages, thinking=thinking)))

    def fit(self, messages: list[dict[str, str]], *, reserve: int, thinking: bool = False) -> FitResult:
        """Drop the oldest turns (never the system prompt) until prompt + reserve fits ``n_ctx``."""
        budget = max(16, self.n_ctx - reserve)
        system = [m for m in messages[:1] if m["role"] == "system"]
        turns = list(messages[len(system):])
        dropped = 0
        while len(turns) > 1 and self.count_tokens(system + turns) > budget:
            turns.pop(0)
            dropped += 1
        return FitResult(messages=system + turns, dropped_turns=dropped,
                         prompt_tokens=self.count_tokens(system + turns))

    # ------------------------------------------------------------- generation
    def generate(self, messages: list[dict[str, str]], *, max_tokens: int = 256, temperature: float = 0.7,
                 top_p: float = 0.95, seed: int | None = None, thinking: bool = False,
                 cancel: threading.Event | None = None, background: bool = False,
                 stop: list[str] | None = None, tools: list[dict[str, Any]] | None = None,
                 **options: Any) -> Generation:
        self.calls.append(Call("generate", [dict(m) for m in messages], {
            "max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "seed": seed,
            "thinking": thinking, "background": background, "stop": stop, "tools": tools, **options}))
        gen = Generation(_pieces=iter(()))
        gen._pieces = self._stream(gen, messages, max_tokens, thinking, cancel, background)
        return gen

    def _stream(self, gen: Generation, messages, max_tokens, thinking, cancel, background) -> Iterator[str]:
        with self.gate.background() if background else self.gate.foreground():
            fit = self.fit(messages, reserve=max_tokens, thinking=thinking)
            stats = gen.stats
            stats.dropped_turns, stats.prompt_tokens = fit.dropped_turns, fit.prompt_tokens
            response = self._next_response()
            if isinstance(response, BaseException):
                raise response
            pieces = list(response) if isinstance(response, (list, tuple)) else _WORD.findall(response)
            start = time.perf_counter()
            finish = "stop"
            try:
                for i, piece in enumerate(pieces):
                    if cancel is not None and cancel.is_set():
                        finish = "cancelled"
                        break
                    if background and self.gate.preempt_requested():
                        raise Preempted()
                    if i >= max_tokens:
                        finish = "length"
                        break
                    if self.piece_delay_s:
                        time.sleep(self.piece_delay_s)
                    if stats.completion_tokens == 0:
                        stats.ttft_s = time.perf_counter() - start
                        self.streaming.set()
                    stats.completion_tokens += 1
                    yield piece
            except GeneratorExit:
                finish = "cancelled"
                raise
            finally:
                stats.total_s = time.perf_counter() - start
                # a nominal speed: services store it, tests check it is carried through
                stats.tokens_per_s = float(stats.completion_tokens)
                stats.finish_reason = finish

    def complete(self, messages: list[dict[str, str]], **kwargs: Any) -> str:
        return self.generate(messages, **kwargs).run().reply

    def token_logprobs(self, messages: list[dict[str, str]], reply: str, *, background: bool = False) -> list[float]:
        """``self.logprobs[reply]`` if set, else -1.0 per word of ``reply``."""
        self.calls.append(Call("token_logprobs", [dict(m) for m in messages], {"reply": reply, "background": background}))
        with self.gate.background() if background else self.gate.foreground():
            if background and self.gate.preempt_requested():
                raise Preempted()
            return list(self.logprobs.get(reply, [-1.0] * len(_WORD.findall(reply))))

    # --------------------------------------------------------------- adapters
    def set_adapter(self, gguf_path: Path | str | None, scale: float = 1.0, *, merged: Path | str | None = None) -> float:
        with self.gate.foreground():
            self.adapter_path = Path(gguf_path) if gguf_path is not None else None
            self.merged_path = Path(merged) if merged is not None and gguf_path is not None and Path(merged).is_file() else None
            return 0.0

    def close(self) -> None:
        self.closed = True
