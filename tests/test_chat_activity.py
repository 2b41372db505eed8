"""The learner steps aside while chat generates: the marker, the gate's signal, the pause hooks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from openclaw_local.engine import ModelGate
from openclaw_local.services.chat_activity import ChatActivity, ChatPause, install_pause_hooks, marker_path


def test_the_marker_holds_the_chat_pid_while_generating(tmp_path):
    activity, pause = ChatActivity(tmp_path), ChatPause(tmp_path)
    assert not pause.busy()
    activity.mark(True)
    assert marker_path(tmp_path).read_text() == str(os.getpid()) and pause.busy()
    activity.mark(False)
    assert not marker_path(tmp_path).exists() and not pause.busy()
    activity.mark(False)  # twice is fine


def test_a_marker_left_by_a_dead_chat_is_ignored_and_removed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    marker_path(tmp_path).write_text(str(proc.pid))
    assert not ChatPause(tmp_path).busy()
    assert not marker_path(tmp_path).exists()


def test_the_gate_signals_once_per_stretch_of_foreground_use_and_never_for_background():
    calls = []
    gate = ModelGate(on_foreground=calls.append)
    with gate.background():
        pass
    assert calls == []
    with gate.foreground():
        assert calls == [True]
    assert calls == [True, False]

    # a second foreground caller waiting behind the first keeps the stretch open
    inside, release = threading.Event(), threading.Event()

    def hold():
        with gate.foreground():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(5)
    done = []

    def wait_then_use():
        with gate.foreground():
            done.append(True)

    second = threading.Thread(target=wait_then_use)
    second.start()
    time.sleep(0.05)
    release.set()
    t.join(5)
    second.join(5)
    assert done == [True] and calls == [True, False, True, False]


def test_a_failing_signal_never_blocks_the_model():
    def boom(_busy):
        raise OSError("disk full")

    gate = ModelGate(on_foreground=boom)
    with gate.foreground():
        pass
    with gate.foreground():
        pass


def test_wait_blocks_while_chat_generates_and_returns_when_it_stops(tmp_path):
    activity, pause = ChatActivity(tmp_path), ChatPause(tmp_path)
    activity.mark(True)
    threading.Timer(0.3, activity.mark, args=(False,)).start()
    t0 = time.monotonic()
    pause.wait()
    waited = time.monotonic() - t0
    assert waited >= 0.25 and pause.pauses == 1 and pause.paused_s >= 0.25
    time.sleep(0.01)
    pause.wait()  # nothing generating: no wait
    assert pause.pauses == 1


def test_one_pause_is_bounded_then_the_learner_runs_for_a_while(tmp_path):
    ChatActivity(tmp_path).mark(True)  # a chat that never finishes (a server under constant load)
    pause = ChatPause(tmp_path, max_pause_s=0.2, run_after_pause_s=10.0)
    t0 = time.monotonic()
    pause.wait()
    assert 0.15 <= time.monotonic() - t0 < 30  # the 0.2 s bound, not the chat's end (it never ends)
    for _ in range(5):
        time.sleep(0.01)
        pause.wait()
    assert pause.pauses == 1  # within run_after_pause_s: no second pause


class CountingPause(ChatPause):
    def __init__(self, home):
        super().__init__(home)
        self.calls = 0

    def wait(self) -> None:
        self.calls += 1
        super().wait()


def _tiny_llama():
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64)
    return torch, LlamaForCausalLM(config)


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_decoder_layers_wait_before_their_forward_and_backward_work(tmp_path):
    torch, model = _tiny_llama()
    pause = CountingPause(tmp_path)
    remove = install_pause_hooks(pause)
    try:
        ids = torch.randint(0, 64, (1, 12))
        loss = model(input_ids=ids, labels=ids).loss
        after_forward = pause.calls
        loss.backward()
        assert after_forward == 3  # one per decoder layer
        assert pause.calls == 6  # and one per layer as the backward pass reaches it
        with torch.no_grad():  # scoring (the gate) waits too; nothing to hook in backward
            model(input_ids=ids)
        assert pause.calls == 9
    finally:
        remove()
    model(input_ids=ids)
    assert pause.calls == 9  # removed


def test_a_training_step_started_while_chat_generates_waits_for_the_reply(tmp_path):
    torch, model = _tiny_llama()
    activity = ChatActivity(tmp_path)
    remove = install_pause_hooks(ChatPause(tmp_path))
    try:
        activity.mark(True)
        threading.Timer(0.4, activity.mark, args=(False,)).start()
        ids = torch.randint(0, 64, (1, 12))
        t0 = time.monotonic()
        model(input_ids=ids, labels=ids).loss.backward()
        assert time.monotonic() - t0 >= 0.35
    finally:
        remove()


@pytest.mark.parametrize("pause", [True, False])
def test_the_runtime_marks_chat_busy_exactly_while_a_real_reply_streams(home, pause):
    from openclaw_local.config import Settings
    from openclaw_local.services.runtime import Runtime

    settings = Settings(learn=True, judge_mode="rules", max_tokens=8, n_ctx=1024, temperature=0.0,
                        learner_pause_for_chat=pause)
    seen = []
    with Runtime.open(home, settings) as rt:  # real engine, no background learner needed for the marker
        conv = rt.chat.new_conversation()
        rt.chat.send(conv.id, "Say hi.", lambda event: seen.append(marker_path(home).exists()))
        # the streamed tokens saw the marker (the closing events come after the model is let go)
        assert seen and seen[0] is pause and seen.count(True) >= (len(seen) // 2 if pause else 0)
        assert any(seen) is pause
        assert not marker_path(home).exists()  # gone once the reply is done


def test_the_runtime_side_clears_a_leftover_marker_but_not_a_live_one(tmp_path):
    activity = ChatActivity(tmp_path)
    marker_path(tmp_path).write_text(str(os.getpid()))  # left by a dead chat whose pid we now have
    activity.clear()
    assert not marker_path(tmp_path).exists()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        marker_path(tmp_path).write_text(str(live.pid))  # another front-end generating right now
        activity.clear()
        assert marker_path(tmp_path).exists() and ChatPause(tmp_path).busy()
    finally:
        live.kill()
        live.wait()


def test_a_marker_without_a_pid_is_stale_once_it_is_not_being_written(tmp_path):
    marker_path(tmp_path).write_text("")
    assert ChatPause(tmp_path).busy()  # just created: may be mid-write
    old = time.time() - 10
    os.utime(marker_path(tmp_path), (old, old))
    assert not ChatPause(tmp_path).busy() and not marker_path(tmp_path).exists()
