#!/usr/bin/env python3
"""Draw how ``up`` grows with the number of nodes: wall time and CPU seconds
against N, a line per join way and Ganeti installation, from the JSON that
``bench.py --growth ... --growth-json FILE`` writes (several files merge).

    pip install -e '.[bench]'      # matplotlib, only for this
    .venv/bin/python bench/plot.py growth.json [more.json:WAY ...] -o docs/growth.svg

``FILE:WAY`` takes only that join way's rows of FILE: an older run that
measured both ways can give the one way no newer run measured.

Each way's measured points are drawn with the least-squares fit
F + a*N + b*N^2 (bench.polyfit) through them when there are three or more.
The SVG is reproducible: no date in its metadata, fixed ids.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def series(figures: list[dict], measure: str) -> dict[str, list[tuple[int, float]]]:
    """{"debian 3.0.2 linear": [(N, value), ...]}: the median per N."""
    import statistics
    values: dict[str, dict[int, list[float]]] = {}
    for f in figures:
        label = f"{f['installation']} {f['version']} {f['way']}"
        values.setdefault(label, {}).setdefault(f["nodes"], []).append(f[measure])
    return {label: sorted((n, statistics.median(v)) for n, v in by_n.items())
            for label, by_n in sorted(values.items())}


def draw(figures: list[dict], output: Path, title: str, log: bool = False) -> None:
    """Two panels: wall time (what the user waits, the shared machine's
    load included) and CPU seconds (the work, whatever the load)."""
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "vcluster-ns"  # stable ids
    import matplotlib.pyplot as plt

    from bench import polyfit

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, measure, unit in ((axes[0], "wall", "wall (s)"), (axes[1], "cpu", "CPU (s)")):
        for label, points in series(figures, measure).items():
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            line, = ax.plot(xs, ys, "o", label=label)
            if len(xs) >= 3:
                c0, c1, c2 = polyfit(xs, ys, 2)
                grid = [xs[0] + (xs[-1] - xs[0]) * i / 100 for i in range(101)]
                ax.plot(grid, [c0 + c1 * n + c2 * n * n for n in grid], "-",
                        color=line.get_color(), linewidth=1,
                        label=f"  fit {c0:.0f} + {c1:.2f}N + {c2:.4f}N²")
            elif len(xs) == 2:
                ax.plot(xs, ys, "--", color=line.get_color(), linewidth=1)
        if log:  # a cost linear in N is a slope of 1, a quadratic one 2
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("nodes (N)")
        ax.set_ylabel(f"vcluster-ns up, {unit}")
        ax.grid(True, linewidth=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(output, format="svg", metadata={"Date": None})


def read_figures(spec: str) -> list[dict]:
    """The rows of ``FILE`` or, for ``FILE:WAY``, its rows of that way."""
    path, way = spec, ""
    if ":" in spec and not Path(spec).exists():
        path, way = spec.rsplit(":", 1)
    figures = json.loads(Path(path).read_text())
    return [f for f in figures if not way or f["way"] == way]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="FILE[:WAY]",
                        help="growth JSON; with :WAY, only that join way's rows")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/growth.svg"))
    parser.add_argument("--title", default="up --nodes N by join way (2 cores)")
    parser.add_argument("--log", action="store_true",
                        help="both axes logarithmic: curves of very different sizes "
                             "(a node-by-node join at 300 nodes beside the linear one) "
                             "stay readable, and the slope shows the growth's order")
    args = parser.parse_args()
    figures = [f for spec in args.inputs for f in read_figures(spec)]
    draw(figures, args.output, args.title, args.log)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
