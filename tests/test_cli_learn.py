"""``openclaw-local learn --once`` through the real entry point."""

import pytest

from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from tests.test_cli import cli


def test_nothing_to_learn(home):
    result = cli("learn", "--once", home=home)
    assert result.returncode == 0, result.stderr
    assert "nothing to learn yet" in result.stderr


def test_learn_needs_once(home):
    result = cli("learn", home=home)
    assert result.returncode == 2 and "learn --once" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a hang, not a busy machine: minutes of training share 2 cores with the other worker
def test_learn_once_judges_trains_and_publishes(home, shared_trainable_cache):
    shared_trainable_cache(home)
    (home / "config.toml").write_text("repair_steps = 0\n")  # a refused update is given back at once (tests/test_repair.py)
    store = Store.open(home)
    for prompt, reply, fix in [("Name a fruit.", "Carrot.", "Apple."), ("Name a planet.", "The Sun.", "Mars.")]:
        conv = store.create_conversation(system_prompt="Be brief.")
        store.add_message(conv.id, "user", prompt)
        msg = store.add_message(conv.id, "assistant", reply)
        store.correct(msg.id, fix)
    store.close()
    result = cli("learn", "--once", home=home, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "published adapter v1" in result.stdout
    store = Store.open(home)
    version = AdapterStore(store).get(1)
    print(f"\nv1: {version.status} ({version.reason}) gate={version.gate}")
    # one of the two samples was held out for the gate's feedback check (still judged, trained next time)
    assert version.gguf_path.is_file() and version.n_samples == 1 and version.gate["heldout_ids"]
    assert "ability" in version.gate and version.status in ("active", "rejected")
    from openclaw_local.store.samples import SampleStore

    counts = SampleStore(store).counts()
    # served: its sample is trained; refused: nothing was marked trained, both still judged
    assert counts["trained"] == (1 if version.status == "active" else 0)
