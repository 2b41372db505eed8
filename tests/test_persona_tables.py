"""`bench personas --from-reports`: the personas table rebuilt from report.json files without running anything."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from openclaw_local.bench.persona_tables import BEGIN, END, SIM_TRAIN_TOKENS, from_reports, group_rows, load_reports
from openclaw_local.cli import main
from openclaw_local.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
WORDS = {"correct": 0.0, "complain": 1.0, "rate": 0.0}
MIX = {"correct": 0.4, "complain": 0.4, "rate": 0.2}


def _report(persona="p", feedback=WORDS, seed=0, baseline=0.3, final=0.8, score_max_tokens=256, **settings):
    r = {"persona": persona, "feedback": feedback, "seed": seed, "baseline": baseline, "final": final,
         "updates": 10, "updates_served": 4, "wall_seconds": 600.0 + 60 * seed,
         "settings": {"max_tokens": 96, "w_opd": 1.0, **settings}}
    if score_max_tokens is not None:
        r["score_max_tokens"] = score_max_tokens
    return r


def _put(root: Path, name: str, report) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "report.json").write_text(report if isinstance(report, str) else json.dumps(report))
    return d


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "reports"
    for seed, (b, f) in enumerate([(0.3, 0.8), (0.4, 0.7), (0.2, 0.9)]):
        _put(root / "words", f"p-words-s{seed}", _report(seed=seed, baseline=b, final=f))
    _put(root, "q-mix", _report(persona="q", feedback=MIX, final=0.85))
    _put(root, "p-old", _report(seed=5, baseline=0.1, final=0.2, score_max_tokens=None))
    return root


def _by_key(rows):
    return {(r["persona"], r["feedback"], r["scored at"]): r for r in rows}


def test_runs_group_by_persona_feedback_and_scoring_length(runs):
    rows = _by_key(group_rows(load_reports([runs])))
    assert set(rows) == {("p", "words only", "256 tokens"), ("p", "words only", "96 tokens (cut replies passed)"),
                         ("q", "mixed: correct 0.4 / complain 0.4 / rate 0.2", "256 tokens")}
    words = rows[("p", "words only", "256 tokens")]
    assert words["seeds"] == "0, 1, 2"
    assert words["reports"] == "reports/words/p-words-s0, reports/words/p-words-s1, reports/words/p-words-s2"
    assert words["updates served"] == "4/10, 4/10, 4/10"
    assert words["wall min (median)"] == "11.0"
    sd = statistics.stdev([0.8, 0.7, 0.9])
    assert words["final"] == f"0.800 ± {sd:.3f} (0.700–0.900)"
    assert words["baseline"] == f"0.300 ± {sd:.3f} (0.200–0.400)"
    gain_sd = statistics.stdev([0.5, 0.3, 0.7])
    assert words["final − baseline"] == f"+0.500 ± {gain_sd:.3f} (+0.300–+0.700)"
    assert rows[("p", "words only", "96 tokens (cut replies passed)")]["final"] == "0.200 (1 seed)"


def test_target_verdicts(runs):
    rows = _by_key(group_rows(load_reports([runs])))
    assert rows[("p", "words only", "256 tokens")]["target"] == "met"
    assert rows[("p", "words only", "96 tokens (cut replies passed)")]["target"].startswith("n<3 seeds (so far missed: final 0.200 < 0.7")
    assert rows[("q", "mixed: correct 0.4 / complain 0.4 / rate 0.2", "256 tokens")]["target"] == \
        "missed (final 0.850 < 0.9)"


def test_three_seeds_that_fall_short_are_missed_and_rl_only_is_labelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for seed in range(3):
        _put(tmp_path, f"s{seed}", _report(seed=seed, baseline=0.5, final=0.75, w_opd=0.0))
    (row,) = group_rows(load_reports([tmp_path]))
    assert row["feedback"] == "words only · RL only (w_opd 0)"
    assert row["target"] == "missed (gain +0.250 < +0.3)"


def test_a_run_trained_on_longer_replies_is_its_own_group(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _put(tmp_path, "short", _report(seed=0))
    _put(tmp_path, "long", _report(seed=0, max_tokens=512))
    labels = sorted(r["feedback"] for r in group_rows(load_reports([tmp_path])))
    assert labels == ["words only", "words only · trained on ≤ 512-token replies"]
    from openclaw_local.sim.simulate import SIM_SETTINGS
    assert SIM_TRAIN_TOKENS == SIM_SETTINGS["max_tokens"]  # the unlabelled default is simulate's own


def test_a_repeated_seed_is_flagged(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _put(tmp_path, "a", _report(seed=0))
    _put(tmp_path, "b", _report(seed=0))
    (row,) = group_rows(load_reports([tmp_path]))
    assert row["seeds"] == "0, 0 (repeated seed!)"
    assert "n<3 seeds" in row["target"]
    assert "appears more than once" in capsys.readouterr().err


def test_bad_reports_are_skipped_with_one_warning_each(runs, capsys):
    _put(runs, "broken", "{not json")
    _put(runs, "partial", {"persona": "p", "feedback": WORDS})
    _put(runs, "wrongtype", _report(final="high"))
    found = load_reports([runs])
    assert len(found) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("warning: skipped ") for line in err)
    assert "broken" in err[0] and "partial" in err[1] and "lacks" in err[1] and "wrongtype" in err[2]


def test_no_reports_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no usable report.json"):
        load_reports([tmp_path])


def test_write_replaces_only_the_marked_block(runs, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"# title\n\nbefore\n{BEGIN}\nold table\n{END}\nafter\n")
    table = from_reports([str(runs)], write=str(doc))
    text = doc.read_text()
    assert "old table" not in text and table in text
    assert text.startswith("# title\n\nbefore\n" + BEGIN + "\n") and text.endswith(END + "\nafter\n")
    assert f"Produced by `openclaw-local bench personas --from-reports {runs}` on " in text


def test_write_without_markers_is_a_usage_error(runs, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# no markers\n")
    with pytest.raises(UsageError, match="personas-table:begin"):
        from_reports([str(runs)], write=str(doc))
    assert doc.read_text() == "# no markers\n"


def test_the_committed_reports_produce_rows(monkeypatch):
    monkeypatch.chdir(REPO)
    rows = group_rows(load_reports(["docs/personalization"]))
    reports = {d for r in rows for d in r["reports"].split(", ")}
    assert {"docs/personalization/student-words-s0", "docs/personalization/indirect-words-s0",
            "docs/personalization/lowercase-gate", "docs/personalization/lowercase-joint-gate"} <= reports
    student = next(r for r in rows if "docs/personalization/student-words-s0" in r["reports"])
    assert student["persona"] == "casual-student" and student["feedback"].startswith("words only")
    assert student["scored at"] == "96 tokens (cut replies passed)"  # written before score_max_tokens existed


def test_cli_prints_the_table_and_writes_the_file(runs, tmp_path, capsys):
    doc = tmp_path / "doc.md"
    doc.write_text(f"{BEGIN}\n{END}\n")
    assert main(["bench", "personas", "--from-reports", str(runs), "--write", str(doc)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| persona | feedback | scored at |") and f"wrote {doc}" in out
    assert "| q | mixed: correct 0.4 / complain 0.4 / rate 0.2 |" in doc.read_text()


def test_cli_errors_are_one_line_with_exit_code_2(runs, tmp_path, capsys):
    doc = tmp_path / "doc.md"
    doc.write_text("no markers\n")
    assert main(["bench", "personas", "--from-reports", str(runs), "--write", str(doc)]) == 2
    assert main(["bench", "personas", "--from-reports", str(tmp_path / "missing")]) == 2
    assert main(["bench", "chat", "--from-reports", str(runs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)


def test_the_worst_other_system_prompt_is_tabled_when_every_run_measured_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "reports"
    for seed, worst in enumerate([0.5, 0.7]):
        r = _report(seed=seed, final=0.8)
        r["by_system_prompt"] = {"baseline": {"none": 0.1, "edited": 0.2},
                                 "final": {"none": worst, "edited": 0.8, "client-chat": 0.9}}
        _put(root, f"p-s{seed}", r)
    _put(root, "q-s0", _report(persona="q"))  # measured under the product's prompt only
    rows = {r["persona"]: r for r in group_rows(load_reports([root]))}
    assert rows["p"]["final, worst other system prompt"] == f"0.600 ± {statistics.stdev([0.5, 0.7]):.3f} (0.500–0.700)"
    assert rows["q"]["final, worst other system prompt"] == "—"
