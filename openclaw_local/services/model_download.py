"""Download one GGUF from the Hugging Face Hub: resumable, verified, disk space checked first.

``huggingface_hub`` does the hub protocol: the file URL (``hf_hub_url``, honouring
``HF_ENDPOINT``) and its metadata (``get_hf_file_metadata``: size, the LFS sha256
from ``x-linked-etag``, the commit, the CDN ``Location`` it redirects to). What it
lacks is added here: ``hf_hub_download`` writes to a temporary file unique to the
process and deletes it on failure, so an interrupted 2.5 GB download starts again
from zero, and it does not hash a fresh download. Here the bytes go to
``<file>.part`` (with ``<file>.part.json`` naming the etag it belongs to); the next
run continues it with an HTTP ``Range`` request, the whole file is hashed (the part
that was already there first, then each chunk as it arrives), and only a file whose
sha256 (or git blob sha1, for a small non-LFS file) matches the hub's etag is
renamed into place. A mismatch deletes the part: it can never be served.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from openclaw_local.errors import NotFoundError, UserError
from openclaw_local.paths import move_into_place

CHUNK = 1 << 20
DISK_MARGIN = 64 << 20  # keep this much free beyond the file itself
CONNECT_TIMEOUT_S = 10.0
ATTEMPTS = 3  # GETs per run; each one after the first continues with a Range request
RETRY_WAIT_S = 1.0

ProgressFn = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``, called at most every chunk."""


class DownloadError(UserError):
    """The hub cannot be reached, the download broke off, or the file failed its checksum (exit 1)."""

    exit_code = 1


@dataclass
class RemoteFile:
    repo: str
    filename: str
    url: str  # where the bytes come from (the CDN location after the hub's redirect)
    size: int
    etag: str  # sha256 (LFS) or git blob sha1
    commit: str | None


def endpoint() -> str:
    """The hub address, read now (``huggingface_hub.constants.ENDPOINT`` is frozen at import)."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _unreachable(exc: BaseException) -> DownloadError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DownloadError(f"cannot reach the model hub at {endpoint()} ({reason[:120]})",
                         "check the network (or HF_ENDPOINT); a partial download is kept and resumes")


def remote_file(repo: str, filename: str) -> RemoteFile:
    """Ask the hub (one HEAD request) for the file's size, hash and download location."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub import errors as hf_errors

    if _offline():
        raise DownloadError("the model hub is switched off here (HF_HUB_OFFLINE is set)",
                            "unset HF_HUB_OFFLINE to download")
    url = hf_hub_url(repo, filename, endpoint=endpoint())
    try:
        meta = get_hf_file_metadata(url, timeout=CONNECT_TIMEOUT_S)
    except hf_errors.GatedRepoError:
        raise DownloadError(f"{repo} is gated on the hub", "accept its terms on the hub and set HF_TOKEN") from None
    except (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError):
        raise NotFoundError(f"no repository {repo!r} on the model hub") from None
    except hf_errors.RemoteEntryNotFoundError:
        raise NotFoundError(f"no file {filename!r} in {repo} on the model hub") from None
    except hf_errors.HfHubHTTPError as exc:
        raise DownloadError(f"the model hub refused {repo}/{filename} ({str(exc).splitlines()[0][:120]})") from None
    except (httpx2.HTTPError, OSError) as exc:
        raise _unreachable(exc) from None
    if meta.size is None or not meta.etag:
        raise DownloadError(f"the hub gave no size or checksum for {repo}/{filename}; refusing an unverifiable download")
    return RemoteFile(repo=repo, filename=filename, url=meta.location, size=int(meta.size),
                      etag=meta.etag, commit=meta.commit_hash)


def _hasher(remote: RemoteFile):
    """sha256 for LFS files (64 hex), git's blob sha1 for small files kept in git (40 hex)."""
    if len(remote.etag) == 64:
        return hashlib.sha256()
    if len(remote.etag) == 40:
        h = hashlib.sha1()
        h.update(f"blob {remote.size}\0".encode())
        return h
    raise DownloadError(f"the hub's checksum for {remote.filename} ({remote.etag[:16]}…) is neither sha256 nor sha1")


def part_paths(dest: Path) -> tuple[Path, Path]:
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def _usable_part(dest: Path, remote: RemoteFile) -> int:
    """Bytes of an earlier attempt to keep: only if it was for this very file version."""
    part, info = part_paths(dest)
    try:
        recorded = json.loads(info.read_text())
        have = part.stat().st_size
    except (OSError, ValueError):
        part.unlink(missing_ok=True)
        return 0
    if recorded.get("etag") != remote.etag or have > remote.size:
        part.unlink(missing_ok=True)
        return 0
    return have


def check_disk(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed + DISK_MARGIN:
        raise DownloadError(f"not enough disk space in {directory}: {_gb(needed)} needed, {_gb(free)} free",
                            "free some space or set OPENCLAW_HOME to a larger disk")


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def download(remote: RemoteFile, dest: Path, *, progress: ProgressFn | None = None, attempts: int | None = None,
             retry_wait_s: float | None = None) -> Path:
    """Fetch ``remote`` into ``dest`` (resuming ``dest.part``), verify it, and rename it into place."""
    attempts = ATTEMPTS if attempts is None else attempts
    retry_wait_s = RETRY_WAIT_S if retry_wait_s is None else retry_wait_s
    progress = progress or (lambda done, total: None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part, info = part_paths(dest)
    have = _usable_part(dest, remote)
    check_disk(dest.parent, remote.size - have)
    info.write_text(json.dumps(asdict(remote), indent=2))
    state = _Progress(have, _hasher(remote))
    if have:
        with open(part, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                state.hasher.update(block)
    last_error: BaseException | None = None
    for attempt in range(attempts):
        if state.have >= remote.size:
            break
        try:
            _fetch_range(remote, part, state, progress)
        except DownloadError:
            raise
        except Exception as exc:  # a dropped connection, a timeout: keep what arrived and go on from there
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise DownloadError(f"the disk filled up while downloading {remote.filename}",
                                    "free some space and run the same command again to resume") from None
            last_error = exc
            with open(part, "ab") as fh:
                fh.truncate(state.have)  # exactly the bytes that were hashed
            if attempt + 1 < attempts:
                time.sleep(retry_wait_s)
    have, hasher = state.have, state.hasher
    if have < remote.size:
        raise DownloadError(
            f"download of {remote.filename} broke off at {_gb(have)} of {_gb(remote.size)}"
            f"{f' ({type(last_error).__name__})' if last_error else ''}",
            "run the same command again to resume")
    if hasher.hexdigest() != remote.etag:
        part.unlink(missing_ok=True)
        info.unlink(missing_ok=True)
        raise DownloadError(f"{remote.filename} is corrupt: its checksum differs from the hub's "
                            f"({hasher.hexdigest()[:12]}… vs {remote.etag[:12]}…); the file was deleted",
                            "run the command again to download it afresh")
    move_into_place(part, dest)
    info.unlink(missing_ok=True)
    return dest


class _Progress:
    """Bytes on disk and the hash over exactly those bytes, kept in step chunk by chunk."""

    def __init__(self, have: int, hasher):
        self.have, self.hasher = have, hasher


def _fetch_range(remote: RemoteFile, part: Path, state: _Progress, progress: ProgressFn) -> None:
    """One GET from ``state.have`` on (a ``Range`` request when resuming), appending to ``part``."""
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_stream_backoff
    from huggingface_hub import errors as hf_errors

    # the token goes to the hub only, never to the CDN it redirects to (as huggingface_hub does)
    same_host = urlsplit(remote.url).netloc == urlsplit(endpoint()).netloc
    headers = build_hf_headers(token=None if same_host else False)
    headers["Accept-Encoding"] = "identity"  # the byte count must be the file's
    if state.have:
        headers["Range"] = f"bytes={state.have}-"
    with http_stream_backoff("GET", remote.url, headers=headers, timeout=CONNECT_TIMEOUT_S,
                             max_retries=0, retry_on_exceptions=(), retry_on_status_codes=()) as response:
        try:
            hf_raise_for_status(response)
        except hf_errors.HfHubHTTPError as exc:
            raise DownloadError(f"the download server refused {remote.filename} ({str(exc).splitlines()[0][:120]})") from None
        if state.have and response.status_code != 206:  # the server ignored Range: start over
            state.have, state.hasher = 0, _hasher(remote)
            part.write_bytes(b"")
        with open(part, "ab") as fh:
            for chunk in response.iter_bytes():  # as it arrives: a dropped connection loses nothing received
                if not chunk:
                    continue
                if state.have + len(chunk) > remote.size:
                    raise DownloadError(f"the server sent more than the {remote.size} bytes of {remote.filename}")
                fh.write(chunk)
                fh.flush()
                state.hasher.update(chunk)
                state.have += len(chunk)
                progress(state.have, remote.size)
