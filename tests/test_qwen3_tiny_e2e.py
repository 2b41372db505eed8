"""The Qwen3 path end to end on the tiny random-weight Qwen3 (GGUF for llama.cpp, safetensors for torch).

One turn goes through everything the product does with a Qwen3 model, at a scale the CPU
runs in seconds: chat turns through ``ChatService`` on a real llama.cpp ``Engine`` loaded by
the composition root (thinking on and off), the model-free ``rules`` judge on those turns,
one real ``Learner.update`` (train, gate, publish the LoRA as GGUF), the hot swap into the
running engine, and the trainer's log-probs with the adapter against llama.cpp's on the same
tokens. Random weights write garbage, so structure is asserted, never quality.

Random weights never open a reply with ``<think>``: on the thinking-on turn the model's stream
is prefixed with a thinking block (what Qwen3 writes first when it thinks), so the engine's
split and the chat's "never fed back" rule run on a real stream.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from openclaw_local.config import Settings
from openclaw_local.services import container
from openclaw_local.services.chat import ChatService
from openclaw_local.services.events import ReplyDelta, ReplyFinished, ReplyStarted
from openclaw_local.services.judging import JudgeWorker
from openclaw_local.store import Store
from openclaw_local.store.samples import SampleStore
from tests.threads import THREADS

torch.set_num_threads(THREADS)  # one per xdist worker on a shared machine (tests/threads.py)
pytest.importorskip("llama_cpp")

THOUGHT = "weighing the garden question carefully"


class _Recorder:
    """Wraps the engine's ``llm.create_completion``: records each prompt, optionally prefixes a thinking block."""

    def __init__(self, llm):
        self.llm, self.real = llm, llm.create_completion
        self.prompts: list[str] = []
        self.think_prefix: str | None = None

    def __call__(self, prompt_tokens, **kwargs):
        self.prompts.append(self.llm.detokenize(prompt_tokens).decode("utf-8", "replace"))
        stream = self.real(prompt_tokens, **kwargs)
        prefix = self.think_prefix
        if prefix is None:
            return stream

        def chunks():
            yield {"choices": [{"text": prefix, "finish_reason": None}]}
            yield from stream

        return _Closing(chunks(), stream)


class _Closing:
    def __init__(self, gen, inner):
        self.gen, self.inner = gen, inner

    def __iter__(self):
        return self.gen

    def close(self):
        self.gen.close()
        self.inner.close()


def _turn(chat: ChatService, conv_id: int, text: str):
    events: list = []
    reply = chat.send(conv_id, text, events.append)
    assert isinstance(events[0], ReplyStarted) and isinstance(events[-1], ReplyFinished)
    deltas = [e for e in events if isinstance(e, ReplyDelta)]
    assert deltas, "the reply streamed nothing"
    assert events[-1].completion_tokens >= 1
    assert reply.content.strip() or reply.thinking, "an empty reply is never trained on"  # temperature 1: not all newlines
    return reply, deltas


@pytest.mark.slow
def test_qwen3_tiny_chat_judge_learn_swap_parity(home, tiny_qwen3_gguf, shared_trainable_cache):
    from openclaw_local.learn.trainable import build_trainable
    from openclaw_local.services.adapters import AdapterService
    from openclaw_local.services.training import Learner

    shared_trainable_cache(home)  # the tiny Qwen3 is dequantized to safetensors once per session
    settings = Settings(model_path=str(tiny_qwen3_gguf), n_ctx=512, threads=THREADS, max_tokens=12, temperature=1.0, top_p=1.0,
                        seed=7, judge_mode="rules", lora_rank=4, lora_alpha=8.0, learn_passes=1, repair_steps=0)
    store = Store.open(home)
    samples = SampleStore(store, default_system_prompt=settings.system_prompt)

    # --- serving: the composition root loads the served model by the self-test's plan
    engine = container.load_chat_engine(home, settings)
    try:
        assert engine.is_qwen3 and engine.architecture == "qwen3"
        rec = _Recorder(engine.llm)
        engine.llm.create_completion = rec
        mode = container.judge_mode(settings)
        assert mode == "rules" and container.load_judge_engine(home, settings, mode) is None  # model-free
        judge = container.build_judge(settings, None, mode)
        worker = JudgeWorker(samples, judge, settings=settings)
        chat = ChatService(store, engine, settings, on_next_state=worker.notify)

        # thinking off: "/no_think", no thinking in the stream or the stored reply
        conv = chat.new_conversation()
        off, deltas = _turn(chat, conv.id, "What should I plant in a shady garden?")
        assert rec.prompts[-1].rstrip().count("/no_think") == 1 and "/think" not in rec.prompts[-1].replace("/no_think", "")
        assert all(d.thinking == "" for d in deltas) and off.thinking in ("", None)
        assert off.content == deltas[-1].reply

        # thinking on: "/think"; the thinking block is split off the reply as it streams and stored apart
        chat.settings = settings.replace(thinking=True)
        rec.think_prefix = f"<think>\n{THOUGHT}\n</think>\n\n"
        on, deltas = _turn(chat, conv.id, "Which of those flowers first?")
        rec.think_prefix = None
        assert "Which of those flowers first? /think" in rec.prompts[-1]
        assert on.thinking == THOUGHT and THOUGHT not in on.content and "<think>" not in on.content
        assert deltas[-1].thinking == THOUGHT and "<think>" not in deltas[-1].reply
        stored = store.get_message(on.id)
        assert stored.thinking == THOUGHT and "<think>" not in stored.content

        # the next turn's context carries the reply, never its thinking
        chat.settings = settings
        third, _ = _turn(chat, conv.id, "thanks! that helps")
        prompt = rec.prompts[-1]
        assert THOUGHT not in prompt and "<think>" not in prompt
        assert all(THOUGHT not in m["content"] for m in chat.context_for(conv.id))
        chat.rate(third.id, 1)
        chat.correct(off.id, "Ferns, hostas and foxgloves do well in shade.")

        # --- the judge: the rules judge reads "thanks!" as acceptance of the thinking-on reply
        verdict = judge.judge(on.content, "thanks! that helps", "Which of those flowers first?")
        assert verdict.mode == "rules" and verdict.reward == 1 and verdict.votes
        worker.run_pending()
        row = samples.get(on.id)
        assert row.status == "judged" and row.judge_reward == 1 and row.reward == 1
        rated, corrected = samples.get(third.id), samples.get(off.id)
        assert rated.reward == 1 and corrected.status == "judged", [(r.status, r.reason, r.reward_source) for r in (rated, corrected)] + [repr(third.content), repr(off.content)]
        ids = [off.id, on.id, third.id]

        # --- one real training update: train, gate, publish (active, or rejected with a reason)
        learner = Learner(home, settings, store)
        version = learner.update(ids)
        assert version is not None, "the update trained on nothing"
        state = json.loads((Path(version.path) / "trainer_state.json").read_text())
        print(f"\ntiny qwen3 update: v{version.id} {version.status} {version.reason or ''} "
              f"samples={version.sample_ids} loss={state.get('loss')}")
        assert (version.files or {}).keys() >= {"adapter.gguf", "adapter_model.safetensors"}
        assert Path(version.gguf_path).is_file()
        if version.status == "rejected":  # random weights: the gate may refuse; serve it knowingly (--force)
            assert version.reason
            version = AdapterService(home, settings, store).activate(version.id, force=True)
        assert version.status == "active"

        # --- hot swap into the running engine, then parity of the served adapter with the trainer's
        messages = chat.context_for(conv.id, upto=on.id)
        reply = "Plant the foxgloves first, then the ferns."
        base_cpp = np.array(engine.token_logprobs(messages, reply))
        assert engine.set_adapter(version.gguf_path) >= 0
        served_cpp = np.array(engine.token_logprobs(messages, reply))
        prompt_ids = engine.tokenize(engine.format_prompt(messages))
        ids_all = prompt_ids + engine.tokenize(reply, special=False)
        after_swap, _ = _turn(chat, conv.id, "And in pots?")  # the chat goes on with the adapter
        assert after_swap.content is not None

        model = build_trainable(settings, home, adapter_dir=Path(version.path), device="cpu").model.eval()
        idx = (torch.arange(len(prompt_ids) - 1, len(ids_all) - 1), torch.tensor(ids_all[len(prompt_ids):]))
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([ids_all])).logits[0].double(), -1)[idx].numpy()
            with model.disable_adapter():
                lp0 = torch.log_softmax(model(torch.tensor([ids_all])).logits[0].double(), -1)[idx].numpy()
        err, base_err = np.abs(served_cpp - lp), np.abs(base_cpp - lp0)
        effect_torch, effect_cpp = lp - lp0, served_cpp - base_cpp
        print(f"tiny qwen3 served-adapter parity on {len(lp)} reply tokens: max |Δ| {err.max():.2e} "
              f"(base {base_err.max():.2e}); adapter effect torch {np.abs(effect_torch).mean():.2e}, "
              f"llama.cpp {np.abs(effect_cpp).mean():.2e}")
        # The engine's KV cache is f16 (the F32-KV comparisons in test_learn_convert.py reach ~1e-3);
        # tolerance as test_adapters_export.py's gguf-lora check: max 1e-2 on log-probs.
        assert len(served_cpp) == len(lp) > 3
        assert base_err.max() < 1e-2 and err.max() < 1e-2
        assert np.abs(effect_cpp - effect_torch).max() < 1e-2
        if np.abs(effect_torch).mean() > 0.02:  # a visible effect: the two runtimes move the same way
            assert float(np.corrcoef(effect_cpp, effect_torch)[0, 1]) > 0.99
    finally:
        engine.close()
        store.close()
