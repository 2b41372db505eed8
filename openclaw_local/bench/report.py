"""Benchmark results and rewriting their sections of docs/BENCHMARKS.md."""

from __future__ import annotations

import platform
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def stream_timing(start: float, first: float | None, end: float, n: int) -> tuple[float, float, int]:
    """(time to first token, tokens/s after the first, token count) of one streamed reply.

    ``first`` is when the first token arrived (None: it never did, counted as ``end``);
    the rate leaves the first token out, so it measures generation, not prompt evaluation.
    """
    first = first or end
    return first - start, (n - 1) / (end - first) if n > 1 and end > first else 0.0, n


def machine_line() -> str:
    import os

    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    except Exception:
        gpu = "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} cores, {gpu}, Python {platform.python_version()}"


@dataclass
class BenchResult:
    name: str  # section key in BENCHMARKS.md
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)  # (metric, value)
    verdict: str = ""
    method: str = ""

    def summary(self) -> str:
        lines = [f"== {self.title} =="] + [f"  {k}: {v}" for k, v in self.rows]
        if self.verdict:
            lines.append(f"  => {self.verdict}")
        return "\n".join(lines)

    def markdown(self) -> str:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        out = [f"### {self.title}", "", f"Measured {stamp} on {machine_line()}.", ""]
        if self.method:
            out += [self.method, ""]
        out += ["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in self.rows]
        if self.verdict:
            out += ["", f"**{self.verdict}**"]
        return "\n".join(out)


def write_results(path: str | Path, results: list[BenchResult]) -> None:
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    for r in results:
        start, end = f"<!-- bench:{r.name}:start -->", f"<!-- bench:{r.name}:end -->"
        block = f"{start}\n{r.markdown()}\n{end}"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
