""""Is it helping me?": real numbers from the store per adapter version, gate results in
sentences, distinct statuses, the Adapters screen's panel, `adapters list` and `report`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from openclaw_local.services.helping import gate_sentences, outcomes, sample_excerpts, sparkline, status_words
from openclaw_local.store import Store
from openclaw_local.records import AdapterVersion
from openclaw_local.store.samples import SampleStore

ROOT = Path(__file__).resolve().parents[1]


def seed(store: Store) -> dict[str, int]:
    """base: 4 replies (1 👍, 1 👎, 2 judged ✗); v1: 5 replies (2 👍, 1 judged ✓, 1 corrected, 1 unjudged)."""
    samples = SampleStore(store)
    conv = store.create_conversation()
    ids = {}

    def reply(text, version):
        store.add_message(conv.id, "user", "question " + text)
        return store.add_message(conv.id, "assistant", text, adapter_version=version).id

    def judge(mid, reward):
        nxt = store.add_message(conv.id, "user", f"next after {mid}")
        samples.record_next_state(mid)
        assert samples.record_judgement(mid, next_state=nxt.content, judge_reward=reward, votes=[{"vote": reward}],
                                        hint=None, hint_votes=[], mode="rules")

    a = reply("base one", None); store.rate(a, 1); samples.record_next_state(a)
    b = reply("base two", None); store.rate(b, -1); samples.record_next_state(b)
    c = reply("base three", None); judge(c, -1)
    d = reply("base four", None); judge(d, -1)
    e = reply("v1 one", 1); store.rate(e, 1); samples.record_next_state(e)
    f = reply("v1 two", 1); store.rate(f, 1); samples.record_next_state(f)
    g = reply("v1 three", 1); judge(g, 1)
    h = reply("v1 four is a rather long reply that goes on and on about many things at length", 1)
    store.correct(h, "short"); samples.record_next_state(h)
    reply("v1 five", 1)
    ids.update(a=a, h=h, e=e)
    return ids


def version(**kw) -> AdapterVersion:
    base = dict(id=2, parent_id=1, created_at="2026-01-01T00:00", path="/x", status="rejected", reason=None, sample_ids=[],
                loss=0.4, mean_reward=0.1, n_samples=3, n_tokens=100, train_seconds=2.0, gate={})
    return AdapterVersion(**{**base, **kw})


def test_outcomes_per_version_from_the_store(tmp_path):
    store = Store.open(tmp_path)
    seed(store)
    base, v1 = outcomes(store)
    assert (base.label, base.replies, base.accepted_explicit, base.pushed_explicit, base.pushed_judged) == ("base", 4, 1, 1, 2)
    assert base.accepted_share == 0.25 and base.corrections_per_10 == 0
    assert (v1.label, v1.replies, v1.accepted_explicit, v1.accepted_judged, v1.pushed_explicit) == ("v1", 5, 2, 1, 1)
    assert v1.accepted_share == 0.75 and v1.corrections_per_10 == 2.0
    assert "75% accepted (2 by you, 1 judged)" in v1.sentence() and "2.0 corrections per 10 replies" in v1.sentence()
    assert sparkline([base.accepted_share, v1.accepted_share, None]) == "▃▇ "
    store.close()


def test_gate_sentences_statuses_and_excerpts(tmp_path):
    gate = {"finite": True, "general": {"ratio": 1.014, "max_ratio": 1.05, "ok": True},
            "accepted": {"n": 3, "delta": 0.031, "ok": True}, "rejected": {"n": 0, "skipped": "no held-out replies of this kind"}}
    text = " ".join(gate_sentences(version(gate=gate)))
    assert "General text 1.4 % less likely than with the base model — within the 5 % limit." in text
    assert "3 replies you accepted more likely (+0.031 log-prob per token)" in text
    assert "No held-out replies you pushed back on to check" in text
    assert "{" not in text
    joint = " ".join(gate_sentences(version(gate={"feedback": {"margin": -0.4, "min_margin": -0.25, "ok": False}})))
    assert "by -0.400 log-prob per token more than the version before — it turned against your feedback" in joint
    over = gate_sentences(version(gate={"general": {"ratio": 1.08, "max_ratio": 1.05, "ok": False}}))
    assert over == ["General text 8.0 % less likely than with the base model — over the 5 % limit."]
    assert status_words(version(reason="general-text perplexity +8%")) == "refused by the gate"
    assert status_words(version(reason="rolled back by the user")) == "rolled back by you"
    assert status_words(version(status="active")) == "served now"
    store = Store.open(tmp_path)
    ids = seed(store)
    ex = sample_excerpts(store, version(sample_ids=[ids["h"], ids["e"], 9999, ids["a"]]), n=3, width=30)
    assert ex[0] == "“short”"  # the corrected text is what it learned
    assert ex[1] == "“v1 one”" and ex[2] == "#9999 (deleted)" and ex[3] == "… and 1 more"
    store.close()


async def test_adapters_screen_shows_is_it_helping(tmp_path):
    from textual.app import App

    from openclaw_local.config import Settings
    from openclaw_local.services.adapters import AdapterService
    from openclaw_local.ui.adapters_screen import AdaptersScreen
    from openclaw_local.ui.widgets.helping_panel import HelpingPanel

    store = Store.open(tmp_path)
    seed(store)
    store.db["adapter_versions"].insert({"id": 1, "created_at": "2026-01-01T00:00", "path": str(tmp_path), "status": "rejected",
                                         "reason": "rolled back by the user", "sample_ids": "[]",
                                         "gate": json.dumps({"general": {"ratio": 1.014, "max_ratio": 1.05, "ok": True}})})
    svc = AdapterService(tmp_path, Settings(), store)

    class Host(App):
        def on_mount(self):
            self.push_screen(AdaptersScreen(svc))

    async with Host().run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        panel = pilot.app.screen.query_one(HelpingPanel)
        assert "v1: 75% accepted" in panel.text and "base: 25% accepted" in panel.text
        assert "▃▇" in str(panel.content)
        detail = str(pilot.app.screen.query_one("#detail").content)
        assert "rolled back by you" in detail and "within the 5 % limit" in detail
    store.close()


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENCLAW_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "openclaw_local", *args], capture_output=True, text=True, env=env, timeout=120)


def test_adapters_list_and_report_png(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    store = Store.open(home)
    seed(store)
    store.close()
    out = run_cli(home, "adapters", "list")
    assert out.returncode == 0, out.stderr
    assert "Is it helping?" in out.stdout and "v1: 75% accepted" in out.stdout and "base: 25% accepted" in out.stdout
    png = tmp_path / "report.png"
    out = run_cli(home, "report", "--out", str(png))
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "v1: 75% accepted" in out.stdout
