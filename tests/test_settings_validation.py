"""Every setting has a declared type and range, enforced from config.toml, OPENCLAW_* env and flags."""

from __future__ import annotations

import math
import typing

import pytest

from openclaw_local.cli import main
from openclaw_local.config import META_KEYS, SETTING_FIELDS, Settings, check_settings, check_value, load_settings
from openclaw_local.errors import UsageError

# values that were once accepted (or silently changed) at start-up
ISSUE_VALUES = {
    "judge_mode": ('"magic"', "one of auto, learned, rules"),
    "n_ctx": ("-5", "a whole number >= 256"),
    "threads": ("0", "a whole number >= 1"),
    "learning_rate": ("-1", "a number > 0"),
    "temperature": ("-3", "a number >= 0"),
    "max_tokens": ("3.7", "a whole number >= 1"),
    "learn": ("5", "true or false"),
}


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_every_field_declares_help_type_and_range():
    hints = typing.get_type_hints(Settings)
    for name, f in SETTING_FIELDS.items():
        meta = dict(f.metadata)
        assert meta.get("help"), f"{name} has no help"
        assert set(meta) <= set(META_KEYS), f"{name}: unknown metadata keys {set(meta) - set(META_KEYS)}"
        kind = [a for a in typing.get_args(hints[name]) if a is not type(None)] or [hints[name]]
        if kind[0] in (int, float):
            assert {"min", "min_exclusive", "max"} & set(meta), f"{name} declares no range (min/min_exclusive/max)"
        if "choices" in meta:
            assert isinstance(meta["choices"], tuple) and all(isinstance(c, str) for c in meta["choices"])
    defaults = Settings()
    for name in SETTING_FIELDS:  # the defaults are accepted values
        assert check_value(name, getattr(defaults, name)) == getattr(defaults, name)


def test_every_judge_mode_is_an_accepted_setting():
    from openclaw_local.judge import DEFAULT_MODE, MODES

    choices = SETTING_FIELDS["judge_mode"].metadata["choices"]
    assert set(MODES) <= set(choices) and DEFAULT_MODE in choices


@pytest.mark.parametrize("name", sorted(ISSUE_VALUES))
def test_issue_values_in_config_toml_are_refused(home, capsys, name):
    value, accepted = ISSUE_VALUES[name]
    (home / "config.toml").write_text(f"{name} = {value}\n")
    before = sorted(p.name for p in home.iterdir())
    assert main(["history"]) == 2
    line = one_error_line(capsys.readouterr().err)
    shown = value.strip('"')
    assert f"setting {name} " in line and shown in line and str(home / "config.toml") in line and accepted in line
    assert sorted(p.name for p in home.iterdir()) == before  # nothing created (no database)


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_doctor_lists_every_problem_and_fails(home, capsys):
    (home / "config.toml").write_text("".join(f"{k} = {v}\n" for k, (v, _) in ISSUE_VALUES.items()))
    assert main(["--threads", "many", "doctor"], ) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if "PROBLEM:" in line]
    assert len(problems) == len(ISSUE_VALUES) + 1, out
    for name in ISSUE_VALUES:
        assert f"setting {name} has an invalid value" in out
    assert "'many' (from --threads)" in " ".join(out.split())  # long values wrap at the terminal's width
    assert "model " in out and "database " in out  # the rest is still checked


def test_n_ctx_is_a_bad_setting_not_a_bad_model(home, capsys):
    (home / "config.toml").write_text("n_ctx = -5\n")
    assert main([]) == 2  # the chat: refused before any model is loaded
    line = one_error_line(capsys.readouterr().err)
    assert "setting n_ctx has an invalid value -5" in line and "architecture" not in line


@pytest.mark.parametrize("env,value,expect", [
    ("OPENCLAW_MAX_TOKENS", "3.7", "max_tokens"),
    ("OPENCLAW_LEARN", "5", "learn"),
    ("OPENCLAW_N_CTX", "lots", "n_ctx"),
    ("OPENCLAW_TEMPERATURE", "nan", "temperature"),
    ("OPENCLAW_TOP_P", "0", "top_p"),
    ("OPENCLAW_JUDGE_MODE", "Rules", "judge_mode"),
])
def test_bad_env_values_name_the_variable(home, capsys, monkeypatch, env, value, expect):
    monkeypatch.setenv(env, value)
    assert main(["history"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"setting {expect} has an invalid value {value!r} (from {env})" in line


@pytest.mark.parametrize("argv,flag", [
    (["--n-ctx", "-5", "history"], "--n-ctx"),
    (["--max-tokens", "3.7", "history"], "--max-tokens"),
    (["--temperature", "-0.1", "history"], "--temperature"),
    (["chat", "--threads", "0"], "--threads"),
])
def test_bad_flags_name_the_flag(home, capsys, argv, flag):
    assert main(argv) == 2
    assert f"(from {flag})" in one_error_line(capsys.readouterr().err)


def test_strict_types_and_accepted_values(home):
    (home / "config.toml").write_text('top_p = "0.5"\nmax_tokens = 2.0\n')
    _, problems = check_settings(home, env={})
    assert len(problems) == 2  # text is not a number in TOML; 2.0 is not a whole number
    (home / "config.toml").write_text('temperature = 1\nlearn = false\nmodel_path = ""\nmax_tokens = 64\n')
    s = load_settings(home, env={"OPENCLAW_THINKING": "yes", "OPENCLAW_SEED": " 42 "},
                      overrides={"n_ctx": "2048", "threads": 3})
    assert s.temperature == 1.0 and isinstance(s.temperature, float) and s.learn is False and s.model_path is None
    assert s.thinking is True and s.seed == 42 and s.n_ctx == 2048 and s.threads == 3 and s.max_tokens == 64


def test_min_exclusive_and_cross_field_limit(home):
    for name in ("learning_rate", "lora_alpha", "top_p"):
        with pytest.raises(UsageError, match=f"setting {name} .*expected a number > 0"):
            load_settings(home, {name: 0.0})
    assert load_settings(home, {"learning_rate": 1e-9}).learning_rate == 1e-9
    with pytest.raises(UsageError, match="lora_alpha / lora_rank <= 64"):
        load_settings(home, {"lora_alpha": 1000.0, "lora_rank": 2})
    _, problems = check_settings(home, {"learning_rate": math.inf}, env={})
    assert problems and "learning_rate" in problems[0]


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_one_line_counts_the_other_problems(home, capsys):
    (home / "config.toml").write_text("n_ctx = -5\nthreads = 0\ntemperatur = 1\n")
    assert main(["history"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "n_ctx" in line and "and 2 more: `openclaw-local doctor` lists them all" in line
    assert main(["doctor"]) == 1
    assert "did you mean 'temperature'?" in " ".join(capsys.readouterr().out.split())


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_doctor_notes_a_misspelled_variable(home, capsys, monkeypatch):
    monkeypatch.setenv("OPENCLAW_TEMPERATUR", "0.2")
    assert main(["doctor"]) == 0  # a note, not a problem: other OPENCLAW_* variables exist
    shown = " ".join(capsys.readouterr().out.split())  # doctor wraps long values to the terminal
    assert "OPENCLAW_TEMPERATUR is not a setting (did you mean OPENCLAW_TEMPERATURE?)" in shown


def test_simulate_checks_its_setting_flags_before_creating_anything(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["simulate", "--persona", "student", "--learning-rate", "-1", "--out", str(out)]) == 2
    assert "setting learning_rate has an invalid value -1.0 (from --learning-rate)" in one_error_line(capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.slow  # over 2.5 s on 2 cores: kept out of the fast tier
def test_doctor_shows_the_whole_backend_line(home, capsys, monkeypatch):
    import llama_cpp

    monkeypatch.setenv("COLUMNS", "80")
    main(["doctor"])
    out = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith("llama.cpp backend"))
    indent = out[start].index("CPU only") if "CPU only" in out[start] else out[start].index("GPU offload")
    text = out[start][indent:]
    for line in out[start + 1:]:
        if line[:indent].strip():
            break
        text += " " + line[indent:]
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    assert " ".join(info.split()) in " ".join(text.split())
    assert all(len(line) <= 80 or " " not in line.strip() for line in out[start:start + 3])
