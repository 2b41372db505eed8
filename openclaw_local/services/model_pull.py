"""Getting the model the product is designed for: ``models pull`` and friends.

Knows a few names (the official Qwen3 GGUFs) and any ``owner/repo FILE`` on the
Hugging Face hub (or whatever ``HF_ENDPOINT`` points at). huggingface_hub reads the
file's metadata (size, and the sha256 the hub publishes for LFS files as its etag);
this module adds what that client lacks here: a download that resumes after an
interruption *across runs* (the partial file and what it is a part of live in
``<data dir>/models/.partial/``), a sha256 check of every fresh download (a file that
does not match is refused and removed), and a free-disk check before starting.

Also: which models this machine can serve and learn with (RAM, cores, GPU memory).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from openclaw_local.errors import NotFoundError, UsageError, UserError

CHUNK = 1 << 20
DISK_MARGIN = 200 << 20  # keep this much free after the download
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class KnownModel:
    name: str
    repo: str
    file: str
    params_b: float  # billions of parameters

    def serve_gb(self, file_bytes: int | None = None) -> float:
        """RAM to serve it with llama.cpp: the weights plus a 4k-token KV cache and runtime, roughly."""
        weights = file_bytes / 1e9 if file_bytes else self.params_b * (0.6 if "Q4" in self.file else 1.07)
        return weights * 1.1 + 0.6

    def learn_cpu_gb(self) -> float:
        """RAM for the learner's trainable copy on CPU: fp32 weights (4 bytes a parameter) plus LoRA state and activations."""
        return self.params_b * 4 * 1.3 + 1.0

    def learn_cuda_gb(self) -> float:
        """GPU memory for the learner with NF4 weights (half a byte a parameter) plus activations."""
        return self.params_b * 0.5 * 1.5 + 1.5


KNOWN = {
    "qwen3-4b": KnownModel("qwen3-4b", "Qwen/Qwen3-4B-GGUF", "Qwen3-4B-Q4_K_M.gguf", 4.0),
    "qwen3-1.7b": KnownModel("qwen3-1.7b", "Qwen/Qwen3-1.7B-GGUF", "Qwen3-1.7B-Q8_0.gguf", 1.7),
    "qwen3-0.6b": KnownModel("qwen3-0.6b", "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf", 0.6),
}


def models_dir(home: Path) -> Path:
    return home / "models"


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def resolve(name: str, file: str | None = None) -> tuple[str, str]:
    """(repo, file) for a known name, or ``owner/repo`` plus a file."""
    key = name.lower()
    if key in KNOWN and file is None:
        return KNOWN[key].repo, KNOWN[key].file
    if "/" in name:
        if not file:
            raise UsageError(f"say which file of {name} to pull", f"openclaw-local models pull {name} FILE.gguf")
        return name, file
    raise UsageError(f"unknown model {name!r}", "known: " + ", ".join(KNOWN) + "; or give a hub repo and file: owner/repo FILE.gguf")


@dataclass
class Remote:
    url: str
    size: int | None
    sha256: str | None  # None when the hub publishes no sha256 for the file (not an LFS file)


def remote(repo: str, file: str) -> Remote:
    """The file's URL, size and sha256, from the hub's headers (via huggingface_hub)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo, file, endpoint=endpoint())
    try:
        meta = get_hf_file_metadata(url, endpoint=endpoint(), timeout=15)
    except Exception as exc:  # noqa: BLE001 — httpx / hub errors all mean "cannot get it"
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403, 404):
            raise NotFoundError(f"{repo}/{file} is not on {endpoint()} (HTTP {status})",
                                "check the repo and file names (models list shows the known ones)") from None
        raise UserError(f"cannot reach the model hub at {endpoint()} ({_short(exc)})",
                        "check the connection, or download the GGUF yourself and pass --model PATH") from None
    etag = (meta.etag or "").strip('"').lower()
    sha = etag if len(etag) == 64 and all(c in "0123456789abcdef" for c in etag) else None
    return Remote(url=url, size=meta.size, sha256=sha)


def pull(home: Path, name: str, file: str | None = None, *, progress: Progress | None = None) -> Path:
    """Download a GGUF into ``<data dir>/models`` (resuming a partial one), verify it, return its path."""
    repo, file = resolve(name, file)
    if "/" in file or file.startswith("."):
        raise UsageError(f"not a plain file name: {file!r}")
    target_dir = models_dir(home)
    target = target_dir / file
    info = remote(repo, file)
    if target.exists() and (info.size is None or target.stat().st_size == info.size):
        return target
    partial_dir = target_dir / ".partial"
    partial_dir.mkdir(parents=True, exist_ok=True)
    part, meta_path = partial_dir / (file + ".part"), partial_dir / (file + ".json")
    meta = {"repo": repo, "file": file, "size": info.size, "sha256": info.sha256}
    if not meta_path.exists() or json.loads(meta_path.read_text() or "{}") != meta:
        part.unlink(missing_ok=True)  # a part of some other version of the file: start over
        meta_path.write_text(json.dumps(meta))
    have = part.stat().st_size if part.exists() else 0
    if info.size is not None:
        need = info.size - have + DISK_MARGIN
        free = shutil.disk_usage(target_dir).free
        if free < need:
            raise UserError(f"not enough free disk for {file}: it needs {_gb(need)} more, {_gb(free)} is free in {target_dir}",
                            "free some space, or set OPENCLAW_HOME to a bigger disk")
    _download(info, part, have, progress)
    if info.size is not None and part.stat().st_size != info.size:
        raise UserError(f"download of {file} stopped at {_gb(part.stat().st_size)} of {_gb(info.size)}",
                        "run the same command again to resume")
    if info.sha256 is not None:
        digest = sha256_file(part)
        if digest != info.sha256:
            part.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            raise UserError(f"{file} does not match the sha256 the hub publishes (got {digest[:12]}…, expected "
                            f"{info.sha256[:12]}…): refused and deleted", "run the same command again to download it afresh")
    os.replace(part, target)
    meta_path.unlink(missing_ok=True)
    return target


def _download(info: Remote, part: Path, have: int, progress: Progress | None) -> None:
    request = urllib.request.Request(info.url, headers={"User-Agent": "openclaw-local", "Accept-Encoding": "identity"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    total = info.size or 0
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            mode = "ab"
            if have and response.status != 206:  # the server ignored the range: start over
                have, mode = 0, "wb"
            with open(part, mode) as fh:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    fh.write(chunk)
                    have += len(chunk)
                    if progress is not None:
                        progress(have, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise UserError(f"download interrupted at {_gb(have)}{f' of {_gb(total)}' if total else ''} ({_short(exc)})",
                        "run the same command again to resume where it stopped") from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def local_models(home: Path) -> list[Path]:
    d = models_dir(home)
    return sorted(p for p in d.glob("*.gguf") if p.is_file()) if d.exists() else []


def find_local(home: Path, name: str) -> Path:
    """A downloaded model by known name, file name or file stem."""
    key = name.lower()
    wanted = KNOWN[key].file if key in KNOWN else name
    for p in local_models(home):
        if p.name == wanted or p.stem == wanted or p.name.lower() == wanted.lower():
            return p
    raise NotFoundError(f"no downloaded model {name!r} in {models_dir(home)}",
                        f"openclaw-local models pull {name}" if key in KNOWN else "see openclaw-local models list")


# ------------------------------------------------------------------- this machine
@dataclass
class Machine:
    ram_gb: float
    cores: int
    gpu_gb: float | None  # None: no CUDA GPU found


def machine() -> Machine:
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        ram = 0.0
    gpu = None
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=5).stdout.split()
            gpu = max(float(x) for x in out) / 1024 if out else None
        except (OSError, ValueError, subprocess.SubprocessError):
            gpu = None
    return Machine(round(ram, 1), os.cpu_count() or 1, gpu)


def fits(model: KnownModel, m: Machine) -> tuple[bool, bool]:
    """(can serve it here, can learn with it here)."""
    serve = model.serve_gb() <= m.ram_gb * 0.8
    learn = (m.gpu_gb is not None and model.learn_cuda_gb() <= m.gpu_gb * 0.9) or model.learn_cpu_gb() <= m.ram_gb * 0.7
    return serve, learn


def recommend(m: Machine) -> KnownModel | None:
    """The biggest known model this machine can serve *and* learn with, else the biggest it can serve."""
    by_size = sorted(KNOWN.values(), key=lambda k: -k.params_b)
    for need_learn in (True, False):
        for k in by_size:
            serve, learn = fits(k, m)
            if serve and (learn or not need_learn):
                return k
    return None


def capability_lines(m: Machine) -> list[str]:
    gpu = f"{m.gpu_gb:.0f} GB GPU" if m.gpu_gb else "no GPU"
    lines = [f"this machine: {m.ram_gb:.0f} GB RAM, {m.cores} cores, {gpu}"]
    for k in KNOWN.values():
        serve, learn = fits(k, m)
        can = "serve and learn" if serve and learn else "serve, not learn" if serve else "neither serve nor learn"
        lines.append(f"  {k.name:<11} {can} here (serving ~{k.serve_gb():.1f} GB RAM; learning ~{k.learn_cpu_gb():.0f} GB "
                     f"RAM on CPU or ~{k.learn_cuda_gb():.1f} GB GPU)")
    rec = recommend(m)
    lines.append(f"recommended: {rec.name} (openclaw-local models pull {rec.name})" if rec else "recommended: none of the known models fits")
    return lines


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
    return text.splitlines()[0][:120]
