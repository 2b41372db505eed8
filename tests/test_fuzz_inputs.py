"""Property-based tests (hypothesis): random and mutated inputs through the real CLI entry point.

For config files, OPENCLAW_* values, flags, persona files, eval-prm lines and adapter
configs: no traceback ever reaches the user, the exit code is a documented one, and a
refused input leaves the data dir exactly as it was. The number of examples is capped
(and derandomized) so the suite stays fast and repeatable; ``HYPOTHESIS_PROFILE=fuzz``
runs many more, randomly.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora  # noqa: E402
from dir_hash import tree_digest  # noqa: E402

from openclaw_local.cli import main  # noqa: E402
from openclaw_local.config import SETTING_FIELDS, check_settings  # noqa: E402
from openclaw_local.errors import EXIT_CODES  # noqa: E402
from openclaw_local.sim.persona import PERSONAS_DIR  # noqa: E402
from openclaw_local.store import Store  # noqa: E402

DOCUMENTED = {code for code, _, _ in EXIT_CODES}
settings.register_profile("default", max_examples=30, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``openclaw_local.cli.main(argv)`` in-process: (exit code, stderr). An exception here is a bug."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def assert_clean(code: int, err: str) -> None:
    event(f"exit {code}")  # shown by --hypothesis-show-statistics
    assert "Traceback" not in err, err
    assert code in DOCUMENTED, (code, err)
    if code not in (0, 130):
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), err


# ------------------------------------------------------------------ strategies
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=8)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    return '""'


setting_names = st.sampled_from(sorted(SETTING_FIELDS))
keys = st.one_of(setting_names, setting_names.map(lambda n: n + "x"), st.text(alphabet="abcdefghij_", min_size=1,
                                                                              max_size=12))
setting_like = st.one_of(json_values, st.sampled_from(["rules", "magic", "", "auto", "-5", "0", "3.7"]),
                         st.integers(-10, 100_000), st.floats(-10, 10))
config_texts = st.dictionaries(keys, setting_like, max_size=6).map(
    lambda d: "".join(f"{json.dumps(k) if not k.isidentifier() else k} = {_toml_value(v)}\n"
                      for k, v in d.items() if v is not None))


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply (position, delete count, insert) edits to ``data``: truncation, garbage, cut quotes..."""
    for pos, cut, ins in edits:
        p = pos % (len(data) + 1)
        data = data[:p] + ins + data[p + cut:]
    return data


edit_lists = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 8), st.binary(max_size=4)), min_size=1,
                      max_size=4)


@pytest.fixture
def populated_home(home):
    """A data dir with a database in it, so "unchanged" means something."""
    store = Store.open(home)
    conv = store.create_conversation(system_prompt="Be brief.")
    store.add_message(conv.id, "user", "hello")
    store.close()
    return home


# ------------------------------------------------------------------ settings
@given(text=config_texts)
def test_random_config_files(populated_home, text):
    path = populated_home / "config.toml"
    path.write_text(text, encoding="utf-8")
    before = tree_digest(populated_home)
    code, err = run_cli(["history"])
    assert_clean(code, err)
    _, problems = check_settings(populated_home, env={})
    assert (code == 0) == (not problems), (text, err)
    if code != 0:
        assert code == 2 and tree_digest(populated_home) == before


VALID_CONFIG = (b'model_path = ""\ntemperature = 0.7\nmax_tokens = 512\nn_ctx = 4096\nthreads = 2\n'
                b'judge_mode = "rules"\nlearn = true\nlearning_rate = 0.001\nsystem_prompt = "Be brief."\n')


@given(edits=edit_lists)
def test_mutated_config_files(populated_home, edits):
    (populated_home / "config.toml").write_bytes(mutate(VALID_CONFIG, edits))
    before = tree_digest(populated_home)
    code, err = run_cli(["history"])
    assert_clean(code, err)
    if code != 0:
        assert code == 2 and tree_digest(populated_home) == before


@given(name=setting_names, value=st.one_of(st.text(max_size=12), st.sampled_from(["1e400", "nan", "-0", "+3", "0x10",
                                                                               "1_000", " 4 ", "TRUE", "off"])),
       via_flag=st.booleans())
def test_random_env_and_flag_values(populated_home, monkeypatch, name, value, via_flag):
    from openclaw_local.cli.common import SETTING_FLAGS, flag_name

    flags = {f: flag for flag, f in SETTING_FLAGS.items()}
    if "\0" in value:
        value = value.replace("\0", "")  # an environment cannot hold NUL
    before = tree_digest(populated_home)
    if via_flag and name in flags:
        code, err = run_cli([f"{flag_name(flags[name])}={value}", "history"])
    else:
        with monkeypatch.context() as m:
            m.setenv(f"OPENCLAW_{name.upper()}", value)
            code, err = run_cli(["history"])
    assert_clean(code, err)
    if code != 0:
        assert code == 2 and tree_digest(populated_home) == before


# ------------------------------------------------------------------ persona files
STUDENT = (PERSONAS_DIR / "student.json").read_text(encoding="utf-8")
persona_keys = st.sampled_from(["name", "description", "system_prompt", "rules", "complaints", "praise", "feedback",
                                "train_prompts", "eval_prompts", "unknown"])
rule_like = st.fixed_dictionaries({"type": st.sampled_from(["no_markdown", "max_words", "lowercase", "forbid_phrases",
                                                            "must_start_with", "nope"])},
                                  optional={"value": json_values, "extra": json_values})


@st.composite
def persona_texts(draw) -> bytes:
    data = json.loads(STUDENT)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "set", "rule", "feedback", "shrink", "bytes"]))
        key = draw(persona_keys)
        if action == "drop":
            data.pop(key, None)
        elif action == "set":
            data[key] = draw(json_values)
        elif action == "rule" and isinstance(data.get("rules"), list):
            data["rules"].append(draw(rule_like))
        elif action == "feedback":
            data["feedback"] = draw(st.dictionaries(st.sampled_from(["correct", "complain", "rate", "x"]),
                                                    st.one_of(st.floats(-1, 2), json_values), max_size=3))
        elif action == "shrink" and isinstance(data.get(key), list):
            data[key] = data[key][: draw(st.integers(0, len(data[key])))]
    text = json.dumps(data).encode()
    if draw(st.booleans()):
        text = mutate(text, draw(edit_lists))
    return text


@given(text=persona_texts())
def test_mutated_persona_files(populated_home, tmp_path_factory, monkeypatch, text):
    import openclaw_local.sim.simulate as simulate

    ran = []
    monkeypatch.setattr(simulate, "run_simulation", lambda persona, out, **kw: ran.append(persona) or {"home": out})
    folder = tmp_path_factory.mktemp("persona")
    path, out = folder / "p.json", folder / "run"
    path.write_bytes(text)
    before = tree_digest(populated_home)
    code, err = run_cli(["simulate", "--persona", str(path), "--out", str(out)])
    assert_clean(code, err)
    assert (code == 0) == bool(ran)  # a refused persona never reaches the model
    if code != 0:
        assert code == 6 and not out.exists() and tree_digest(populated_home) == before


# ------------------------------------------------------------------ eval-prm lines
good_line = st.fixed_dictionaries({"reply": st.text(max_size=30), "next_state": st.text(max_size=30),
                                   "label": st.sampled_from([1, 0, -1])},
                                  optional={"prompt": st.one_of(st.none(), st.text(max_size=20))})
any_line = st.one_of(good_line, json_values, good_line.flatmap(
    lambda d: st.sampled_from(list(d)).flatmap(lambda k: json_values.map(lambda v: {**d, k: v}))))


@given(lines=st.lists(any_line, min_size=1, max_size=4), raw=st.one_of(st.none(), edit_lists),
       limit=st.one_of(st.none(), st.integers(-3, 6)))
def test_random_eval_prm_lines(populated_home, tmp_path_factory, lines, raw, limit):
    path = tmp_path_factory.mktemp("prm") / "labeled.jsonl"
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    path.write_bytes(mutate(data, raw) if raw else data)
    argv = ["eval-prm", str(path), "--mode", "rules"] + (["--limit", str(limit)] if limit is not None else [])
    before = tree_digest(populated_home)
    code, err = run_cli(argv)
    assert_clean(code, err)
    if limit is not None and limit < 1:
        assert code == 2
    if code != 0:
        assert code in (2, 6) and tree_digest(populated_home) == before


# ------------------------------------------------------------------ adapter configs
@pytest.fixture
def import_setup(populated_home, tiny_llama_gguf, monkeypatch, tmp_path):
    from openclaw_local.learn.adapter_io import base_info, write_peft_dir

    monkeypatch.setenv("OPENCLAW_MODEL_PATH", str(tiny_llama_gguf))
    store = Store.open(populated_home)
    publish(populated_home, store, random_lora(tiny_llama_gguf), tiny_llama_gguf)
    store.close()
    peft = write_peft_dir(random_lora(tiny_llama_gguf, rank=2, seed=9), tmp_path / "peft", base_info(tiny_llama_gguf))
    return populated_home, peft, (peft / "adapter_config.json").read_text()


config_keys = st.sampled_from(["lora_alpha", "r", "peft_type", "use_rslora", "use_dora", "fan_in_fan_out",
                               "rank_pattern", "alpha_pattern", "bias", "target_modules", "base_model_name_or_path"])
alpha_like = st.one_of(json_values, st.floats(), st.integers(-(2**64), 2**64), st.sampled_from(["sixteen", -1e30, 1e30,
                                                                                                 0, 4, 4.0, 128]))


@given(changes=st.dictionaries(config_keys, st.one_of(alpha_like, st.just(...)), min_size=1, max_size=3),
       raw=st.one_of(st.none(), edit_lists))
def test_mutated_adapter_configs(import_setup, changes, raw):
    home, peft, original = import_setup
    cfg = json.loads(original)
    for k, v in changes.items():
        if v is ...:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    data = json.dumps(cfg).encode()
    (peft / "adapter_config.json").write_bytes(mutate(data, raw) if raw else data)
    before = tree_digest(home)
    code, err = run_cli(["adapters", "import", str(peft), "--activate", "--force"])  # the config, not the gate
    assert_clean(code, err)
    if code != 0:
        assert code == 6 and tree_digest(home) == before
    else:  # accepted: a sane LoRA config, served at once
        alpha = json.loads((peft / "adapter_config.json").read_text())["lora_alpha"]
        assert isinstance(alpha, (int, float)) and 0 < alpha <= 64 * 2


# ------------------------------------------------------------------ ids and ports
ID_COMMANDS = {
    "adapters show": lambda i: ["adapters", "show", i],
    "adapters activate": lambda i: ["adapters", "activate", i],
    "adapters delete": lambda i: ["adapters", "delete", i],
    "adapters export": lambda i: ["adapters", "export", i, "--format", "gguf-lora", "--out", "fuzz-never-written.gguf"],
    "history delete": lambda i: ["history", "delete", i],
}
# huge, negative, zero, non-numeric, other digits; never an id that names something in populated_home (1)
id_texts = st.one_of(
    st.integers(min_value=-(2**80), max_value=0).map(str), st.integers(min_value=10**6, max_value=2**80).map(str),
    st.integers(min_value=2**63 - 3, max_value=2**63 + 3).map(str),
    st.text(max_size=12).filter(lambda t: not t.strip().lstrip("vV").isdigit() or int(t.strip().lstrip("vV")) != 1),
    st.sampled_from(["99999999999999999999999", "v-1", "1e3", "0x10", "٣", "+5", " 7 ", "v", "00000000000000000000007"]),
)


@given(command=st.sampled_from(sorted(ID_COMMANDS)), ident=id_texts)
def test_random_ids(populated_home, command, ident):
    before = tree_digest(populated_home)
    code, err = run_cli(ID_COMMANDS[command](ident))
    assert_clean(code, err)
    assert code in (2, 8), (command, ident, code, err)  # malformed: usage (2); well-formed but unknown: not found (8)
    assert tree_digest(populated_home) == before
    assert not Path("fuzz-never-written.gguf").exists()


def _invalid_port(text: str) -> bool:
    from openclaw_local.cli.common import port_number

    try:
        port_number(text)
    except Exception:
        return True
    return False  # a valid port would start a server: not this test's business


port_texts = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(max_size=8),
                       st.sampled_from(["70000", "-1", "0", "65536", "99999999999999999999", "8080.0", "http"])
                       ).filter(_invalid_port)


@given(command=st.sampled_from([("serve",), ("chat", "--serve")]), port=port_texts)
def test_random_ports(populated_home, command, port):
    before = tree_digest(populated_home)
    code, err = run_cli([*command, f"--port={port}"])
    assert_clean(code, err)
    assert code == 2 and tree_digest(populated_home) == before
