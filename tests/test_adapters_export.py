"""Exports (peft, gguf-lora, gguf-merged), each verified by loading it; imports validated.

Tiny F32 fixture models (llama: q/k permutation matters; qwen3: none), so the
runtimes agree to ~1e-3 and every comparison is tight.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from adapters_helpers import publish, random_lora  # noqa: E402

from openclaw_local.cli import main  # noqa: E402
from openclaw_local.config import Settings  # noqa: E402
from openclaw_local.errors import ImportFormatError, NotFoundError  # noqa: E402
from openclaw_local.services.adapters import AdapterService  # noqa: E402
from openclaw_local.store import Store  # noqa: E402
from tests.threads import THREADS  # noqa: E402

torch.set_num_threads(2)
llama_cpp = pytest.importorskip("llama_cpp")
TEXT = b"The meeting moved to Tuesday at noon; please bring the slides and a short summary of the numbers."
GGML_TYPE_F32 = 0


def cpp_logprobs(model: Path, ids: list[int], lora: Path | None = None) -> np.ndarray:
    from openclaw_local.engine.load_plan import open_llama
    from openclaw_local.engine.selftest import plan_for

    plan = plan_for(None, Settings(threads=THREADS), model, n_gpu_layers=0)  # as the product loads it here
    llm = open_llama(model, plan, n_ctx=256, n_threads=THREADS, logits_all=True, verbose=False,
                     lora_path=str(lora) if lora else None, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    try:
        llm.eval(ids)
        scores = np.array(llm.scores[: len(ids)], dtype=np.float64)
    finally:
        llm.close()
    logp = scores - np.logaddexp.reduce(scores, axis=-1, keepdims=True)
    return logp[np.arange(len(ids) - 1), ids[1:]]


def token_ids(model: Path) -> list[int]:
    tok = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)
    ids = tok.tokenize(TEXT, add_bos=False)
    tok.close()
    return ids


@pytest.fixture(params=["llama", "qwen3"])
def setup(request, home, tiny_gguf_dir, tiny_hf_dirs, shared_trainable_cache):
    arch = request.param
    base = tiny_gguf_dir / f"tiny-{arch}.gguf"
    shared_trainable_cache(home)
    settings = Settings(model_path=str(base), threads=THREADS)
    store = Store.open(home)
    v = publish(home, store, random_lora(base, rank=4, std=0.08, seed=3), base)
    return arch, base, settings, AdapterService(home, settings, store), v


def test_peft_export_matches_the_apps_trainable_model(setup, tmp_path, tiny_hf_dirs):
    from peft import PeftModel

    from openclaw_local.learn.trainable import build_trainable, load_base_model

    arch, base, settings, svc, v = setup
    out = svc.export(v.id, "peft", tmp_path / "peft")
    assert {p.name for p in out.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors"}
    ids = torch.tensor([token_ids(base)])
    theirs = PeftModel.from_pretrained(load_base_model(tiny_hf_dirs[arch], torch.device("cpu")), str(out)).eval()
    ours = build_trainable(settings, svc.home, adapter_dir=Path(v.path), device="cpu").model.eval()
    with torch.no_grad():
        a, b = theirs(ids).logits, ours(ids).logits
        with ours.disable_adapter():
            base_logits = ours(ids).logits
    diff = float((a - b).abs().max())
    moved = float((a - base_logits).abs().max())
    print(f"\n{arch} peft export: max |Δlogit| vs app {diff:.2e}; adapter moves logits by up to {moved:.3f}")
    assert moved > 0.05 and diff < 1e-4


def test_gguf_lora_export_changes_outputs_like_the_app(setup, tmp_path, tiny_hf_dirs):
    from openclaw_local.learn.trainable import build_trainable

    arch, base, settings, svc, v = setup
    out = svc.export(v.id, "gguf-lora", tmp_path / "lora.gguf")
    ids = token_ids(base)
    d_cpp = cpp_logprobs(base, ids, out) - cpp_logprobs(base, ids)
    model = build_trainable(settings, svc.home, adapter_dir=Path(v.path), device="cpu").model.eval()
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        with model.disable_adapter():
            lp0 = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    idx = (torch.arange(len(ids) - 1), torch.tensor(ids[1:]))
    d_torch = (lp[idx] - lp0[idx]).numpy()
    corr = float(np.corrcoef(d_cpp, d_torch)[0, 1])
    print(f"\n{arch} gguf-lora export: corr {corr:.4f}, max |Δ| {np.abs(d_cpp - d_torch).max():.2e}, "
          f"mean |adapter effect| {np.abs(d_torch).mean():.3f}")
    assert np.abs(d_torch).mean() > 0.02 and corr > 0.99 and np.abs(d_cpp - d_torch).max() < 1e-2


@pytest.mark.parametrize("out_type", ["f16", "q8_0"])
def test_gguf_merged_matches_base_plus_adapter(setup, tmp_path, out_type):
    arch, base, settings, svc, v = setup
    if arch == "qwen3" and out_type == "f16":
        pytest.skip("one merged type per architecture keeps the suite short")
    if arch == "llama" and out_type == "q8_0":
        pytest.skip("one merged type per architecture keeps the suite short")
    out = svc.export(v.id, "gguf-merged", tmp_path / f"merged-{out_type}.gguf", merged_type=out_type)
    ids = token_ids(base)
    served = cpp_logprobs(base, ids, v.gguf_path)
    merged = cpp_logprobs(out, ids)
    plain = cpp_logprobs(base, ids)
    err, effect = np.abs(merged - served), np.abs(served - plain)
    print(f"\n{arch} gguf-merged {out_type}: mean |Δ| vs base+adapter {err.mean():.4f} (max {err.max():.4f}); "
          f"adapter effect {effect.mean():.4f}")
    corr = float(np.corrcoef(merged - plain, served - plain)[0, 1])
    print(f"   corr of adapter effects (merged vs served) {corr:.4f}")
    assert effect.mean() > 0.02 and corr > 0.99
    # F16 rounding is ~1e-3 relative; Q8_0 of these random (unsmooth) weights is noisier
    assert err.mean() < 0.1 * effect.mean() and err.max() < (0.05 if out_type == "f16" else 0.3)


def test_import_roundtrip_and_validation(setup, tmp_path, capsys):
    arch, base, settings, svc, v = setup
    peft_dir = svc.export(v.id, "peft", tmp_path / "peft")
    lora_file = svc.export(v.id, "gguf-lora", tmp_path / "lora.gguf")
    from openclaw_local.learn.adapter_io import read_lora_gguf

    original = read_lora_gguf(v.gguf_path)
    for src in (peft_dir, lora_file):
        imported = svc.import_adapter(src, activate=True, force=True)  # the round trip, not the gate
        assert imported.status == "active" and imported.source == "imported"
        again = read_lora_gguf(imported.gguf_path)
        for key, (a, b) in original.pairs.items():
            np.testing.assert_allclose(again.pairs[key][0], a, atol=1e-6)
            np.testing.assert_allclose(again.pairs[key][1], b, atol=1e-6)
    if arch != "llama":
        return
    # malformed inputs: one line, ImportFormatError's exit code, and no version is added
    n = len(svc.versions())
    bad_json = tmp_path / "badjson"
    bad_json.mkdir()
    (bad_json / "adapter_config.json").write_text("{nope")
    (bad_json / "adapter_model.safetensors").write_bytes(b"x")
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"GGUF" + b"\0" * 20)
    other = random_lora(base, rank=4)
    other.architecture = "qwen3"
    from openclaw_local.learn.adapter_io import base_info, write_lora_gguf

    wrong_arch = write_lora_gguf(other, tmp_path / "qwen.gguf", base_info(base))
    wrong_shape = random_lora(base, rank=4)
    a, b = wrong_shape.pairs[(0, "attn_q")]
    wrong_shape.pairs[(0, "attn_q")] = (a[:, :-1], b)
    shape_file = write_lora_gguf(wrong_shape, tmp_path / "shape.gguf", base_info(base))
    nan = random_lora(base, rank=4)
    nan.pairs[(1, "ffn_up")][1][0, 0] = np.nan
    nan_file = write_lora_gguf(nan, tmp_path / "nan.gguf", base_info(base))
    cases = {bad_json: "not valid JSON", garbage: "not a readable GGUF", base: "not a llama.cpp LoRA",
             wrong_arch: "architecture 'qwen3'", shape_file: "the base weight is", nan_file: "NaN",
             }
    for path, words in cases.items():
        with pytest.raises(ImportFormatError, match=words):  # noqa: PT012
            svc.import_adapter(path)
    with pytest.raises(NotFoundError, match="does not exist"):
        svc.import_adapter(tmp_path / "missing")
    assert len(svc.versions()) == n
    import os

    os.environ["OPENCLAW_MODEL_PATH"] = str(base)
    try:
        assert main(["adapters", "import", str(nan_file)]) == ImportFormatError.exit_code
    finally:
        del os.environ["OPENCLAW_MODEL_PATH"]
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    json.dumps([svc.describe(x) for x in svc.versions()])  # describable
