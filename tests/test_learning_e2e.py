"""The whole learning loop on the embedded model, with the real background learner process.

A scripted conversation gets down-rated and corrected replies; the learner
process (nice 19) is killed once mid-update (nothing may be lost), restarted,
trains, publishes a LoRA GGUF; the chat process hot-swaps it into the live
engine; under llama.cpp the corrected replies become more likely and the
rejected ones less likely.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from openclaw_local.config import Settings
from openclaw_local.records import LearnerPhase
from openclaw_local.services.chat import ChatService
from openclaw_local.services.learner import LearnerService
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.samples import SampleStore
from tests.threads import THREADS

PROMPTS = [
    ("What is a good name for a cat?", "Call your cat Whiskers."),
    ("How do I boil an egg?", None),
    ("Tell me about the moon.", "The moon orbits the Earth."),
    ("What should I eat for breakfast?", None),
]


def wait_for(predicate, timeout: float, what: str, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def mean(xs):
    return sum(xs) / len(xs)


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a hang, not a busy machine: minutes of training share 2 cores with the other worker
def test_feedback_trains_publishes_and_hot_swaps(home, engine, shared_trainable_cache):
    settings = Settings(max_tokens=32, n_ctx=1024, temperature=0.8, seed=11, threads=THREADS,
                        learn_min_samples=4, learner_threads=THREADS,
                        learner_priority="normal")  # the other xdist worker's tests would starve an idle-class learner
    store = Store.open(home)
    samples = SampleStore(store, default_system_prompt=settings.system_prompt)
    learner = LearnerService(home, settings, store, engine)
    chat = ChatService(store, engine, settings, adapter_version=lambda: learner.served_version,
                       on_next_state=samples.record_next_state)
    shared_trainable_cache(home)

    scripted = []
    for prompt, correction in PROMPTS:
        conv = chat.new_conversation()
        reply = chat.send(conv.id, prompt, lambda event: None)
        assert reply.content
        if correction:
            chat.correct(reply.id, correction)
        else:
            chat.rate(reply.id, -1)
        scripted.append((conv.id, reply, correction))
    assert samples.counts()["judged"] == 4

    def logprobs():
        corrected, rejected = [], []
        for conv_id, reply, correction in scripted:
            context = chat.context_for(conv_id, upto=reply.id)
            rejected.append(mean(engine.token_logprobs(context, reply.content)))
            if correction:
                corrected.append(mean(engine.token_logprobs(context, correction)))
        return mean(corrected), mean(rejected)

    before = logprobs()
    adapters = AdapterStore(store)
    try:
        # 1) a learner killed mid-update loses nothing
        learner._spawn()
        wait_for(lambda: adapters.state().phase in (LearnerPhase.LOADING, LearnerPhase.PREPARING_MODEL,
                                                    LearnerPhase.TRAINING, LearnerPhase.PUBLISHING),
                 180, "the learner to start an update")
        learner._proc.send_signal(signal.SIGKILL)
        learner._proc.wait(10)
        assert adapters.active() is None
        assert samples.counts()["judged"] == 4 and samples.counts()["trained"] == 0

        # 2) restarted, it trains, publishes, and the chat swaps the adapter in
        learner.start()
        wait_for(lambda: learner.served_version is not None, 420, "a published and served adapter", every=0.5)
        version = adapters.active()
        assert version.id == learner.served_version
        assert version.gguf_path.is_file() and (version.gguf_path.parent / "adapter_model.safetensors").is_file()
        assert engine.adapter_path == version.gguf_path
        # the embedded model is small (serve_merged = auto): the version is served merged into the base
        assert version.merged_path.is_file() and engine.merged_path == version.merged_path
        # the newest sample was held out for the gate's feedback check: still judged, trained by a later update
        assert samples.counts()["trained"] == 3 and samples.counts()["judged"] == 1
        assert sorted(version.sample_ids) == sorted(r.id for _, r, _ in scripted[:3])
        assert version.gate["heldout_ids"] == [scripted[-1][1].id] and version.gate["ability"]["ok"]
        state = adapters.state()
        assert state.last_version == version.id and state.loss is not None

        after = logprobs()
        assert after[0] > before[0], f"corrected replies should rise: {before[0]:.3f} -> {after[0]:.3f}"
        assert after[1] < before[1], f"rejected replies should fall: {before[1]:.3f} -> {after[1]:.3f}"

        # after its first update the idle worker caches the base's rehearsal answers for the next ones
        wait_for(lambda: any(d.joinpath("rehearsal_answers.json").is_file() for d in (home / "trainable").iterdir()),
                 240, "the rehearsal answers", every=0.5)

        # 3) new replies record the adapter version that produced them
        conv = chat.new_conversation()
        reply = chat.send(conv.id, "Hello there!", lambda event: None)
        assert store.get_message(reply.id).adapter_version == version.id
    finally:
        learner.stop()
        engine.set_adapter(None)
    assert learner._proc.poll() is not None
