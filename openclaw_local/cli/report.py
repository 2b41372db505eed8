"""``report --out report.png``: "is it helping me?" as a picture — per adapter version (base
first, so left to right is over time) the share of your replies you accepted vs pushed back
(explicit and judged), and corrections per 10 replies. The numbers come from the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from openclaw_local.cli.common import open_store
from openclaw_local.errors import UsageError
from openclaw_local.paths import atomic_output, check_output_path, shown

IMAGE_FORMATS = ("png", "svg", "pdf")


def register(sub) -> None:
    p = sub.add_parser("report", help="plot how your replies went per adapter version (is learning helping?)")
    p.add_argument("--out", required=True, metavar="FILE.png", help="image to write (png, svg or pdf)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.services.helping import outcomes

    out = check_output_path(args.out)
    kind = out.suffix.lower().lstrip(".")
    if kind not in IMAGE_FORMATS:
        raise UsageError(f"--out {shown(out)}: cannot tell the image format from {out.suffix or 'no extension'!r}",
                         f"end the name in {', '.join('.' + f for f in IMAGE_FORMATS)}")
    store = open_store(args)
    rows = outcomes(store)
    plot(rows, out, kind)
    for o in rows:
        print(o.sentence())
    if not rows:
        print("no replies yet: the plot is empty", file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def plot(rows, out: Path, kind: str = "png") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [o.label for o in rows]
    x = list(range(len(rows)))

    def share(n: int, o) -> float:
        return 100 * n / o.judged if o.judged else 0.0

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    series = [("accepted by you", [share(o.accepted_explicit, o) for o in rows], "#2e7d32", 0),
              ("accepted (judged)", [share(o.accepted_judged, o) for o in rows], "#81c784", 0),
              ("pushed back by you", [-share(o.pushed_explicit, o) for o in rows], "#c62828", 1),
              ("pushed back (judged)", [-share(o.pushed_judged, o) for o in rows], "#e57373", 1)]
    base_pos, base_neg = [0.0] * len(rows), [0.0] * len(rows)
    for name, values, color, negative in series:
        bottoms = base_neg if negative else base_pos
        top.bar(x, values, bottom=bottoms, color=color, label=name)
        for i, v in enumerate(values):
            bottoms[i] += v
    top.axhline(0, color="black", linewidth=0.8)
    top.set_ylabel("% of judged replies")
    top.set_ylim(-100, 100)
    top.set_title("Is it helping? How your replies went under each adapter version")
    top.legend(loc="upper left", fontsize=8, ncols=2)
    for i, o in enumerate(rows):
        top.annotate(f"n={o.judged}/{o.replies}", (i, 100), ha="center", va="top", fontsize=8)
    bottom.plot(x, [o.corrections_per_10 for o in rows], marker="o", color="#ef6c00")
    bottom.set_ylabel("corrections\nper 10 replies")
    bottom.set_ylim(bottom=0)
    bottom.set_xticks(x, labels)
    bottom.set_xlabel("served by (oldest → newest)")
    fig.tight_layout()
    with atomic_output(out) as tmp:  # never half an image; a missing directory is refused, not made
        fig.savefig(tmp, dpi=100, format=kind)
    plt.close(fig)
