"""The served model: one llama.cpp context, its chat template, streaming, scoring, adapters.

What it knows: GGUF files, chat messages as ``{"role", "content"}`` dicts, tokens.
What it does not know: conversations, SQLite, the UI, training.

Every use of the model goes through a :class:`ModelGate` so that a user's message
always gets the model before background judge work.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from openclaw_local.engine.gate import ModelGate
from openclaw_local.engine.gguf_check import inspect_gguf
from openclaw_local.engine.load_plan import LoadPlan, open_llama
from openclaw_local.errors import ModelError
from openclaw_local.thinking import split_thinking

CUT_NOTICE = "\n\n[… message cut to fit the context window …]"
SCORE_CHUNK = 128  # rows of logits materialised at once while scoring
BACKGROUND_CHUNK = 8  # prompt tokens evaluated between preemption checks in background work


class Preempted(Exception):
    """Background generation gave the model up because a user message is waiting."""


@dataclass
class FitResult:
    messages: list[dict[str, str]]
    dropped_turns: int = 0
    cut_chars: int = 0  # characters removed from an oversized last message
    prompt_tokens: int = 0


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float = 0.0
    total_s: float = 0.0
    tokens_per_s: float = 0.0
    finish_reason: str = ""  # stop | length | cancelled
    dropped_turns: int = 0
    cut_chars: int = 0


@dataclass
class Generation:
    """An iterable of text pieces; ``text``, ``thinking``, ``reply`` and ``stats`` fill in as it runs."""

    _pieces: Iterator[str]
    text: str = ""
    stats: GenerationStats = field(default_factory=GenerationStats)

    def __iter__(self) -> Iterator[str]:
        try:
            for piece in self._pieces:
                self.text += piece
                yield piece
        finally:
            self.close()

    def close(self) -> None:
        """Stop generating now (also what leaving a ``for`` loop early does)."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    @property
    def thinking(self) -> str:
        return split_thinking(self.text)[0]

    @property
    def reply(self) -> str:
        return split_thinking(self.text)[1]

    def run(self) -> "Generation":
        for _ in self:
            pass
        return self


class Engine:
    def __init__(
        self,
        model_path: Path | str,
        *,
        n_ctx: int = 4096,
        threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int = -1,
        gate: ModelGate | None = None,
        verbose: bool = False,
        plan: LoadPlan | None = None,
    ):
        """``plan`` (from :func:`openclaw_local.engine.selftest.plan_for`) says how llama.cpp loads the
        model on this machine and supersedes ``n_gpu_layers``; without one, llama.cpp's defaults."""
        info = inspect_gguf(Path(model_path))
        self.info = info
        self.model_path = info.path
        self.architecture = info.architecture
        self.gate = gate or ModelGate()
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self.adapter_path: Path | None = None
        self.merged_path: Path | None = None  # the merged model file served instead of base + adapter, if any
        self._adapters: dict[tuple[str, int], Any] = {}  # loaded LoRA adapters by (file, mtime)
        self._merged: Any = None  # the loaded merged model (a Llama), when one is served
        self._merged_key: tuple[str, int] | None = None
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llama_cpp = llama_cpp
        self.plan = plan or LoadPlan(n_gpu_layers=n_gpu_layers, requested_gpu_layers=n_gpu_layers)
        self._open_args = {"n_ctx": n_ctx, "n_threads": self.threads, "n_threads_batch": self.threads,
                           "seed": seed if seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED, "verbose": verbose}
        try:
            # the base model: it tokenizes and holds the adapters; ``llm`` is whichever model serves now
            self.base_llm = self.llm = open_llama(info.path, self.plan, **self._open_args)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"llama.cpp could not load {info.path.name} (architecture {info.architecture!r}): {exc}",
                "use a GGUF of an architecture this llama.cpp supports (e.g. Qwen3, Llama)",
            ) from None
        self.n_ctx = self.llm.n_ctx()
        meta = self.llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{info.path.name} has no chat template", "use an instruct/chat GGUF")
        eos_id, bos_id = self.llm.token_eos(), self.llm.token_bos()
        eos = self.llm._model.token_get_text(eos_id) if eos_id >= 0 else ""  # noqa: SLF001
        bos = self.llm._model.token_get_text(bos_id) if bos_id >= 0 else ""  # noqa: SLF001
        self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id])
        self._stop = [s for s in {eos, "<|im_end|>", "<|endoftext|>", "<|eot_id|>"} if s]

    # ---------------------------------------------------------------- prompts
    @property
    def model_name(self) -> str:
        return self.model_path.name

    @property
    def is_qwen3(self) -> bool:
        return self.architecture.startswith("qwen3")

    def format_prompt(self, messages: list[dict[str, str]], *, thinking: bool = False, add_generation_prompt: bool = True,
                      tools: list[dict[str, Any]] | None = None, tool_choice: Any = None) -> str:
        """The prompt text; ``tools`` (OpenAI's shape) are rendered by the chat template when it knows them."""
        messages = [dict(m) for m in messages]
        extra: dict[str, Any] = {}
        if tools:
            extra["tools"], extra["tool_choice"] = tools, tool_choice
        if self.is_qwen3:
            # Qwen3's soft switch, plus the template flag where the template knows it.
            switch = "/think" if thinking else "/no_think"
            for m in reversed(messages):
                if m["role"] == "user":
                    m["content"] = f"{m['content']} {switch}"
                    break
            extra["enable_thinking"] = thinking
        self._formatter.add_generation_prompt = add_generation_prompt
        return self._formatter(messages=messages, **extra).prompt

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        return self.base_llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def count_tokens(self, messages: list[dict[str, str]], *, thinking: bool = False, tools: list[dict[str, Any]] | None = None) -> int:
        return len(self.tokenize(self.format_prompt(messages, thinking=thinking, tools=tools)))

    @property
    def template_knows_tools(self) -> bool:
        """Whether the chat template renders a ``tools`` list (Qwen3's does; SmolLM2's does not)."""
        return "tools" in (self.base_llm.metadata.get("tokenizer.chat_template") or "")

    def fit(self, messages: list[dict[str, str]], *, reserve: int, thinking: bool = False,
            tools: list[dict[str, Any]] | None = None) -> FitResult:
        """Drop the oldest turns (never the system prompt) until prompt + reserve fits n_ctx.

        If the newest message alone is too long, it is cut, keeping its start.
        """
        budget = max(16, self.n_ctx - reserve)
        system = [m for m in messages[:1] if m["role"] == "system"]
        turns = messages[len(system):]
        dropped = 0
        while True:
            candidate = system + turns
            n = self.count_tokens(candidate, thinking=thinking, tools=tools)
            if n <= budget or len(turns) <= 1:
                break
            turns = turns[1:]
            dropped += 1
            while len(turns) > 1 and turns[0]["role"] != "user":  # keep the thread starting at a user turn
                turns = turns[1:]
                dropped += 1
        cut_chars = 0
        if n > budget and turns:
            last = dict(turns[-1])
            text = last.get("content") or ""
            overhead = self.count_tokens(system + [dict(last, content="")], thinking=thinking, tools=tools)
            keep_tokens = max(1, budget - overhead - len(self.tokenize(CUT_NOTICE)) - 4)
            tokens = self.tokenize(text, special=False)[:keep_tokens]
            kept = self.base_llm.detokenize(tokens).decode("utf-8", "ignore")
            cut_chars = len(text) - len(kept)
            last["content"] = kept + CUT_NOTICE
            turns = turns[:-1] + [last]
            n = self.count_tokens(system + turns, thinking=thinking, tools=tools)
        return FitResult(messages=system + turns, dropped_turns=dropped, cut_chars=cut_chars, prompt_tokens=n)

    # ------------------------------------------------------------- generation
    def generate(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 0.95,
        seed: int | None = None,
        thinking: bool = False,
        cancel: threading.Event | None = None,
        background: bool = False,
        stop: list[str] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
    ) -> Generation:
        """Stream a reply. ``background=True`` yields the model to waiting chat (raises Preempted).

        ``stop``: extra stop strings (not included in the reply); ``tools``: OpenAI tool
        definitions, rendered by the chat template.
        """
        gen = Generation(_pieces=iter(()))
        extra = {"stop": list(stop or []), "tools": tools or None, "tool_choice": tool_choice}
        gen._pieces = self._stream(gen, messages, max_tokens, temperature, top_p, seed, thinking, cancel, background, extra)
        return gen

    def _stream(self, gen, messages, max_tokens, temperature, top_p, seed, thinking, cancel, background, extra) -> Iterator[str]:
        max_tokens = max(1, min(max_tokens, self.n_ctx // 2))
        gate = self.gate.background() if background else self.gate.foreground()
        tools = extra["tools"]
        with gate:
            fit = self.fit(messages, reserve=max_tokens, thinking=thinking, tools=tools)
            stats = gen.stats
            stats.dropped_turns, stats.cut_chars = fit.dropped_turns, fit.cut_chars
            prompt = self.format_prompt(fit.messages, thinking=thinking, tools=tools, tool_choice=extra["tool_choice"])
            prompt_tokens = self.tokenize(prompt)
            stats.prompt_tokens = len(prompt_tokens)
            if seed is not None and seed >= 0:
                self.llm.set_seed(seed)
            if background:
                self._prefill(prompt_tokens)
            start = time.perf_counter()
            stream = self.llm.create_completion(
                prompt_tokens,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                stop=self._stop + [s for s in extra["stop"] if s],
                stream=True,
            )
            finish = "stop"
            try:
                for chunk in stream:
                    if cancel is not None and cancel.is_set():
                        finish = "cancelled"
                        break
                    if background and self.gate.preempt_requested():
                        raise Preempted()
                    choice = chunk["choices"][0]
                    piece = choice.get("text") or ""
                    if piece:
                        if stats.completion_tokens == 0:
                            stats.ttft_s = time.perf_counter() - start
                        stats.completion_tokens += 1
                        yield piece
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            except GeneratorExit:
                finish = "cancelled"
                raise
            finally:
                stream.close()
                stats.total_s = time.perf_counter() - start
                gen_time = stats.total_s - stats.ttft_s
                if stats.completion_tokens > 1 and gen_time > 0:
                    stats.tokens_per_s = (stats.completion_tokens - 1) / gen_time
                stats.finish_reason = finish

    def _prefill(self, tokens: list[int]) -> None:
        """Evaluate a background prompt in small chunks, giving the model up between them.

        Prompt evaluation inside ``create_completion`` cannot be interrupted, so a long
        judge prompt would hold the model for a second or more while a user waits.
        Everything but the last token is evaluated here (reusing a cached prefix);
        ``create_completion`` then finds the prefix cached and evaluates only the rest.
        """
        llm = self.llm
        keep = 0
        for a, b in zip(llm._input_ids, tokens):  # noqa: SLF001
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)
        llm.n_tokens = keep  # eval() drops the KV cache from here on
        for i in range(keep, len(tokens) - 1, BACKGROUND_CHUNK):
            if self.gate.preempt_requested():
                raise Preempted()
            llm.eval(tokens[i : min(len(tokens) - 1, i + BACKGROUND_CHUNK)])

    def complete(self, messages: list[dict[str, str]], **kwargs: Any) -> str:
        """A whole reply as text (thinking removed)."""
        return self.generate(messages, **kwargs).run().reply

    # ---------------------------------------------------------------- scoring
    def token_logprobs(self, messages: list[dict[str, str]], reply: str, *, background: bool = False) -> list[float]:
        """log p(token) of each token of ``reply`` as the assistant's answer to ``messages``.

        The KV cache is rebuilt from scratch, so the next chat turn re-evaluates its prompt.
        """
        prompt_tokens = self.tokenize(self.format_prompt(messages))
        reply_tokens = self.tokenize(reply, special=False)
        if not reply_tokens:
            return []
        tokens = prompt_tokens + reply_tokens
        if len(tokens) > self.n_ctx:
            raise ValueError(f"prompt and reply ({len(tokens)} tokens) exceed the context ({self.n_ctx})")
        gate = self.gate.background() if background else self.gate.foreground()
        with gate:
            return self._score(tokens, first=len(prompt_tokens), background=background)

    def reply_logprobs(self, messages: list[dict[str, Any]], reply: str, *, top: int = 0) -> list[dict[str, Any]]:
        """OpenAI-shaped ``logprobs.content`` for ``reply`` as the answer to ``messages``.

        Each token of the reply with its log-probability under the served model (and
        adapter) and, when ``top`` > 0, the ``top`` most likely tokens at that position.
        The reply is scored after it was generated (llama.cpp keeps only the last row of
        logits while sampling); its tokens are the reply re-tokenized.
        """
        prompt_tokens = self.tokenize(self.format_prompt(messages))
        reply_tokens = self.tokenize(reply, special=False)
        if not reply_tokens:
            return []
        tokens = (prompt_tokens + reply_tokens)[: self.n_ctx]
        rows: list[tuple[float, list[tuple[int, float]]]] = []
        with self.gate.foreground():
            self._score(tokens, first=len(prompt_tokens), rows=rows, top=top)

        def entry(token: int, logprob: float) -> dict[str, Any]:
            raw = self.llm.detokenize([token])
            return {"token": raw.decode("utf-8", "replace"), "logprob": logprob, "bytes": list(raw)}

        out = []
        for token, (logprob, best) in zip(reply_tokens, rows):
            item = entry(token, logprob)
            item["top_logprobs"] = [entry(t, lp) for t, lp in best]
            out.append(item)
        return out

    def _score(self, tokens: list[int], first: int, background: bool = False, *,
               rows: list | None = None, top: int = 0) -> list[float]:
        llm, ctx, batch = self.llm, self.llm._ctx, self.llm._batch  # noqa: SLF001
        llm.reset()
        ctx.kv_cache_clear()
        n_vocab = llm.n_vocab()
        out: list[float] = []
        pos = 0
        # positions first-1 .. len-2 predict the reply tokens
        need_from = first - 1
        step = min(llm.n_batch, BACKGROUND_CHUNK if background else SCORE_CHUNK)
        while pos < len(tokens) - 1:
            if background and self.gate.preempt_requested():
                llm.reset()
                ctx.kv_cache_clear()
                raise Preempted()
            end = min(len(tokens) - 1, pos + step)
            if end <= need_from:
                end = min(need_from, pos + (step if background else llm.n_batch))
            chunk = tokens[pos:end]
            want_logits = end > need_from
            batch.set_batch(batch=chunk, n_past=pos, logits_all=want_logits)
            ctx.decode(batch)
            if want_logits:
                logits = np.ctypeslib.as_array(ctx.get_logits(), shape=(len(chunk) * n_vocab,)).reshape(len(chunk), n_vocab)
                for i in range(len(chunk)):
                    p = pos + i
                    if p < need_from:
                        continue
                    row = logits[i].astype(np.float64)
                    m = row.max()
                    lse = m + np.log(np.exp(row - m).sum())
                    out.append(float(row[tokens[p + 1]] - lse))
                    if rows is not None:  # reply_logprobs: the alternatives too
                        best = np.argpartition(-row, top)[:top] if top else []
                        best = sorted(best, key=lambda t: -row[t])
                        rows.append((out[-1], [(int(t), float(row[t] - lse)) for t in best]))
            pos = end
        llm.reset()
        ctx.kv_cache_clear()
        return out

    # --------------------------------------------------------------- adapters
    def set_adapter(self, gguf_path: Path | str | None, scale: float = 1.0, *, merged: Path | str | None = None) -> float:
        """Hot-swap the LoRA adapter on the live context (None = base). Returns seconds taken.

        ``merged``: a model file with this adapter already merged into the base weights
        (``MERGED_NAME`` in a version's folder). When it exists (and ``scale`` is 1) that model
        serves instead: on a small model llama.cpp's runtime LoRA costs 13 % (1 thread) to 53 %
        (2 threads) of generation speed (extra matrix products per layer: their overhead, not
        their arithmetic), and a merged model runs at the base's speed (docs/BENCHMARKS.md, "Chat
        with a served adapter"). One that fails to load is skipped: the adapter serves.

        The base model stays loaded. The KV cache is cleared afterwards: cached
        prefixes were computed with the old adapter and would silently mix the two.

        Loaded adapters are kept (one per file, reused when a version is served again)
        and never freed by hand: this llama.cpp frees them together with the model, and
        calling ``llama_adapter_lora_free`` crashed the process (a segfault inside it,
        seen in a simulated run and on close). The cost is one adapter's memory per
        version served in a session (~20 MB for the embedded model at rank 16). At most one
        merged model is loaded: the previous one is closed when another (or the base) serves.
        """
        with self.gate.foreground():
            start = time.perf_counter()
            use_merged = gguf_path is not None and merged is not None and scale == 1.0 and Path(merged).is_file()
            if use_merged:
                try:
                    self._serve_merged(Path(merged))
                except ModelError:  # a derived copy: the adapter itself still serves
                    use_merged = False
            if not use_merged:
                self._serve_base()
                self._set_lora(gguf_path, scale)
            self.adapter_path = Path(gguf_path) if gguf_path is not None else None
            self.merged_path = Path(merged) if use_merged else None
            self.llm.reset()
            self.llm._ctx.kv_cache_clear()  # noqa: SLF001
            return time.perf_counter() - start

    def _set_lora(self, gguf_path: Path | str | None, scale: float) -> None:
        """The base model's runtime adapter (None: none)."""
        lc = self._llama_cpp
        if gguf_path is not None:
            path = Path(gguf_path)
            if not path.is_file():
                raise ModelError(f"adapter file not found: {path}")
            key = (str(path.resolve()), path.stat().st_mtime_ns)
            ptr = self._adapters.get(key)
            if ptr is None:
                ptr = lc.llama_adapter_lora_init(self.base_llm._model.model, str(path).encode())  # noqa: SLF001
                if not ptr:
                    raise ModelError(f"llama.cpp could not load adapter {path.name}", "is it a LoRA GGUF for this base model?")
                self._adapters[key] = ptr
            adapters = (lc.llama_adapter_lora_p_ctypes * 1)(ptr)
            scales = (ctypes.c_float * 1)(scale)
            rc = lc.llama_set_adapters_lora(self.base_llm._ctx.ctx, adapters, 1, scales)  # noqa: SLF001
        else:
            rc = lc.llama_set_adapters_lora(self.base_llm._ctx.ctx, None, 0, None)  # noqa: SLF001
        if rc != 0:
            raise ModelError(f"llama.cpp refused the adapter (code {rc})")

    def _serve_merged(self, path: Path) -> None:
        """Serve the merged model at ``path`` (loaded now unless it serves already; callers hold the gate)."""
        key = (str(path.resolve()), path.stat().st_mtime_ns)
        if self._merged is not None and self._merged_key == key:
            self.llm = self._merged
            return
        try:
            fresh = open_llama(path, self.plan, **self._open_args)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load the merged model {path.name} ({exc})") from None
        self._serve_base()
        self._merged, self._merged_key, self.llm = fresh, key, fresh

    def _serve_base(self) -> None:
        """The base model serves again; a merged model that served is closed (callers hold the gate)."""
        self.llm = self.base_llm
        if self._merged is not None:
            self._merged.close()
            self._merged, self._merged_key = None, None

    def close(self) -> None:
        """Free the context and the model (which frees its adapters)."""
        with self.gate.foreground():
            self._serve_base()
            if self._adapters:
                try:
                    self._llama_cpp.llama_set_adapters_lora(self.llm._ctx.ctx, None, 0, None)  # noqa: SLF001
                except Exception:
                    pass
            self.llm.close()
            self._adapters.clear()
