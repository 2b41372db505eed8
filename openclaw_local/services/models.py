"""Models the user can serve: the known ones, those downloaded into ``<data dir>/models/``,
which one is the default, and which one suits this machine.

``pull`` downloads (services/model_download.py does the bytes), ``use`` writes the
one ``model_path`` key of ``config.toml`` (the user's other lines and comments stay),
``rm`` deletes a downloaded file but never the one in use. ``recommend`` weighs the
known models against this machine's RAM, cores and GPU memory with the rules of
learn/memory.py: serving and learning are judged separately.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from openclaw_local.config import CONFIG_FILE, Settings
from openclaw_local.errors import NotFoundError, UsageError, UserError
from openclaw_local.learn.memory import ModelShape, fits, gb, serve_bytes, train_bytes
from openclaw_local.paths import atomic_write_bytes, resolve_model_path
from openclaw_local.services import model_download
from openclaw_local.services.model_download import ProgressFn

MODELS_DIR = "models"


@dataclass(frozen=True)
class KnownModel:
    name: str
    repo: str
    filename: str
    approx_size: int  # bytes of the GGUF on the hub (to plan before asking it)
    shape: ModelShape
    note: str


_QWEN3_VOCAB = 151936
KNOWN: dict[str, KnownModel] = {m.name: m for m in (
    KnownModel("qwen3-4b", "Qwen/Qwen3-4B-GGUF", "Qwen3-4B-Q4_K_M.gguf", 2_500_000_000,
               ModelShape(4_020_000_000, 36, 2560, _QWEN3_VOCAB, 8 * 128), "the model openclaw-local is designed for"),
    KnownModel("qwen3-1.7b", "Qwen/Qwen3-1.7B-GGUF", "Qwen3-1.7B-Q8_0.gguf", 1_830_000_000,
               ModelShape(1_720_000_000, 28, 2048, _QWEN3_VOCAB, 8 * 128), "smaller; for machines without a GPU"),
    KnownModel("qwen3-0.6b", "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf", 640_000_000,
               ModelShape(596_000_000, 28, 1024, _QWEN3_VOCAB, 8 * 128), "smallest Qwen3; learns on most laptops"),
)}


class ModelInUseError(UserError):
    """Refused: the model is the one configured to be served."""

    exit_code = 7


# --------------------------------------------------------------------------- where
def models_dir(home: Path) -> Path:
    return home / MODELS_DIR


def current_model(settings: Settings) -> Path:
    return resolve_model_path(settings)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def resolve(home: Path, name: str) -> Path:
    """A known name, a file in the models dir (with or without .gguf), or a path: the GGUF it means."""
    d = models_dir(home)
    if name in KNOWN:
        path = d / KNOWN[name].filename
        if not path.is_file():
            raise NotFoundError(f"model {name} is not downloaded", f"openclaw-local models pull {name}")
        return path
    for candidate in (d / name, d / f"{name}.gguf"):
        if candidate.is_file() and candidate.suffix == ".gguf":
            return candidate
    path = Path(name).expanduser()
    if path.is_file() and ("/" in name or os.sep in name):
        return path
    raise NotFoundError(f"no model named {name!r}",
                        f"known: {', '.join(KNOWN)}; see openclaw-local models list")


# --------------------------------------------------------------------------- pull
def pull(home: Path, name: str, filename: str | None = None, *, progress: ProgressFn | None = None,
         attempts: int | None = None, retry_wait_s: float | None = None) -> Path:
    """Download a known model or ``REPO FILE`` into the models dir (resuming, verified). Returns its path."""
    if name in KNOWN:  # a FILE after a known name picks another quantization from the same repo
        repo, filename = KNOWN[name].repo, filename or KNOWN[name].filename
    elif "/" in name:
        repo = name
        if not filename:
            raise UsageError(f"name the .gguf file to take from {repo}", f"openclaw-local models pull {repo} FILE.gguf")
    else:
        raise NotFoundError(f"no known model {name!r}", f"known: {', '.join(KNOWN)}; or pass REPO FILE")
    if not filename.endswith(".gguf"):
        raise UsageError(f"{filename} is not a .gguf file (llama.cpp serves GGUF only)")
    dest = models_dir(home) / Path(filename).name
    remote = model_download.remote_file(repo, filename)
    record = dest.with_name(dest.name + ".json")
    if dest.is_file() and _recorded_etag(record) == remote.etag and dest.stat().st_size == remote.size:
        return dest  # already here, verified when it was pulled
    model_download.download(remote, dest, progress=progress, attempts=attempts, retry_wait_s=retry_wait_s)
    atomic_write_bytes(record, json.dumps(  # a half-written record would cost a fresh download
        {"repo": repo, "filename": filename, "size": remote.size, "sha256": remote.etag, "commit": remote.commit,
         "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2).encode())
    return dest


def _recorded_etag(record: Path) -> str | None:
    try:
        return json.loads(record.read_text()).get("sha256")
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- use / rm
def use(home: Path, name: str) -> Path:
    """Make ``name`` the default model: set ``model_path`` in config.toml, keeping every other line."""
    path = resolve(home, name).resolve()
    from openclaw_local.engine.gguf_check import inspect_gguf

    if _recorded_etag(path.with_name(path.name + ".json")) is None:
        inspect_gguf(path)  # a file we did not verify at pull: a broken one is refused now, not at the next start
    set_config_key(home / CONFIG_FILE, "model_path", str(path))
    return path


def set_config_key(config: Path, key: str, value: str) -> None:
    """Replace (or add) one top-level ``key = "value"`` line; comments and other settings are untouched."""
    line = f"{key} = {json.dumps(value)}\n"  # a JSON string is a valid TOML basic string
    lines = config.read_text().splitlines(keepends=True) if config.exists() else []
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    first_table = next((i for i, s in enumerate(lines) if s.lstrip().startswith("[")), len(lines))
    for i, s in enumerate(lines[:first_table]):
        if pattern.match(s):
            lines[i] = line
            break
    else:
        if lines[:first_table] and not lines[first_table - 1].endswith("\n"):
            lines[first_table - 1] += "\n"
        lines.insert(first_table, line)
    config.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(config, "".join(lines).encode())


def remove(home: Path, name: str, settings: Settings) -> Path:
    """Delete a downloaded model (and its record / partial download); refuse the one in use (exit 7)."""
    path = resolve(home, name)
    if not _same(path.parent, models_dir(home)):
        raise UsageError(f"{path} is not in {models_dir(home)}; openclaw-local only deletes models it downloaded")
    if _same(path, current_model(settings)):
        raise ModelInUseError(f"{path.name} is the model in use",
                              "make another one the default first: openclaw-local models use NAME")
    path.unlink()
    for extra in (path.with_name(path.name + ".json"), *model_download.part_paths(path)):
        extra.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------- list
@dataclass
class LocalModel:
    name: str  # the known name, or the file name
    path: Path | None
    size: int
    known: KnownModel | None
    downloaded: bool
    in_use: bool
    partial: int = 0  # bytes of an unfinished download


def inventory(home: Path, settings: Settings) -> list[LocalModel]:
    """The known models (downloaded or not) and every other GGUF in the models dir."""
    d = models_dir(home)
    current = current_model(settings)
    out: list[LocalModel] = []
    for k in KNOWN.values():
        p = d / k.filename
        part = model_download.part_paths(p)[0]
        out.append(LocalModel(k.name, p if p.is_file() else None, p.stat().st_size if p.is_file() else k.approx_size,
                              k, p.is_file(), p.is_file() and _same(p, current),
                              part.stat().st_size if part.is_file() else 0))
    known_files = {k.filename for k in KNOWN.values()}
    for p in sorted(d.glob("*.gguf")) if d.is_dir() else []:
        if p.name not in known_files:
            out.append(LocalModel(p.name, p, p.stat().st_size, None, True, _same(p, current)))
    if not any(m.in_use for m in out):
        out.append(LocalModel(current.name, current, current.stat().st_size if current.exists() else 0,
                              None, current.exists(), True))
    return out


# --------------------------------------------------------------------------- recommend
@dataclass(frozen=True)
class Machine:
    ram: int  # total RAM, bytes
    cores: int
    gpu_mem: int | None = None  # total memory of the first CUDA GPU, bytes


def this_machine() -> Machine:
    from openclaw_local.learn.memory import available_bytes

    try:
        import psutil

        ram = int(psutil.virtual_memory().total)
    except Exception:
        ram = available_bytes("cpu") or 0
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = int(torch.cuda.get_device_properties(0).total_memory)
    except Exception:
        pass
    return Machine(ram=ram, cores=os.cpu_count() or 1, gpu_mem=gpu)


# Headroom: the OS, the TUI and the judge need RAM too; learning runs beside serving.
RAM_HEADROOM = 1.5e9
MIN_CORES_FOR_4B_ON_CPU = 8  # below this a 4B model answers too slowly to chat with on the CPU


@dataclass
class Fit:
    model: KnownModel
    serves: bool
    learns: bool
    learn_device: str
    serve_need: int
    learn_need: int
    why: str = ""


def assess(m: KnownModel, machine: Machine, n_ctx: int = 4096, rank: int = 16) -> Fit:
    """Can ``machine`` serve ``m`` (llama.cpp, in RAM) and learn on it (fp32 in RAM, or NF4 on the GPU)?"""
    serve = serve_bytes(m.shape, m.approx_size, n_ctx)
    serves = serve + RAM_HEADROOM <= machine.ram
    why = "" if serves else f"serving needs ~{gb(serve)} + {gb(RAM_HEADROOM)} headroom, {gb(machine.ram)} RAM"
    if serves and machine.gpu_mem is None and m.shape.params > 3e9 and machine.cores < MIN_CORES_FOR_4B_ON_CPU:
        serves, why = False, f"{machine.cores} cores and no GPU: too slow to chat"
    if machine.gpu_mem is not None:
        device, need = "cuda", train_bytes(m.shape, "cuda", rank=rank)
        learns = fits(need, machine.gpu_mem)
    else:
        device, need = "cpu", train_bytes(m.shape, "cpu", rank=rank)
        learns = fits(need + serve + RAM_HEADROOM, machine.ram)
    return Fit(m, serves, learns and serves, device, serve, need, why)


def recommend(machine: Machine, n_ctx: int = 4096, rank: int = 16) -> tuple[Fit | None, list[Fit]]:
    """The largest known model that serves and learns here (else the largest that serves), and every fit."""
    fits_ = [assess(m, machine, n_ctx, rank) for m in sorted(KNOWN.values(), key=lambda k: -k.shape.params)]
    best = next((f for f in fits_ if f.serves and f.learns), None) or next((f for f in fits_ if f.serves), None)
    return best, fits_


def describe_fit(f: Fit) -> str:
    where = "NF4 on the GPU" if f.learn_device == "cuda" else "fp32 on the CPU"
    serve = f"serves (~{gb(f.serve_need)})" if f.serves else f"cannot serve ({f.why})"
    learn = (f"learns ({where}, ~{gb(f.learn_need)})" if f.learns
             else f"cannot learn here ({where} needs ~{gb(f.learn_need)})")
    return f"{serve}; {learn}"


def recommendation_line(machine: Machine | None = None) -> str:
    """One line for ``doctor`` and ``models list``."""
    machine = machine or this_machine()
    best, _ = recommend(machine)
    spec = f"{gb(machine.ram)} RAM, {machine.cores} cores, " + (f"GPU {gb(machine.gpu_mem)}" if machine.gpu_mem else "no GPU")
    if best is None:
        return f"none of the known models fits here ({spec}); the embedded SmolLM2-135M is served"
    return f"{best.model.name} for this machine ({spec}): {describe_fit(best)}"


def learning_memory_line(settings: Settings, gguf: Path) -> str:
    """Whether learning the served model fits in memory now (``doctor``), by the learner's own rule."""
    from openclaw_local.learn import memory

    device = "cpu"
    try:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:
        pass
    try:
        shape = memory.shape_from_gguf(gguf)
        need = memory.check_training_fits(shape, device, rank=settings.lora_rank, name=gguf.name)
    except memory.NotEnoughMemory as exc:
        return exc.one_line()
    except Exception as exc:  # unreadable shape: the model row above already says what is wrong
        return f"unknown ({type(exc).__name__})"
    have = memory.available_bytes(device)
    how = "NF4 on the GPU" if device == "cuda" else "fp32 on the CPU"
    return f"fits: ~{gb(need)} to train ({how}), {gb(have or 0)} available"
