"""Sweep throughput: points per second for a 100,000-point `estimate` sweep (HBM pin speed ×
batch × ISL on DeepSeek-V4-Pro / GB200 NVL72 at a fixed layout) and for sizing sweeps (`size` per
point, the layout searched) over the three grids issue 20 names: TPOT targets, demand, and context
(ISL). Uses all cores, as `planner sweep` does. Each sweep runs `--runs` times (fresh caches each:
every run is a new `sweep` with newly loaded inputs); prints every run's rate and the median.

    python3 bench/sweep_points.py [--points 100000] [--size-points 40] [--jobs N] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner import sweep  # noqa: E402


def _median_rate(label: str, run: Callable[[], list], runs: int) -> None:
    """Run the sweep `runs` times and print each rate and their median."""
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        rows = run()
        rates.append(len(rows) / (time.perf_counter() - start))
    feasible = sum(r.feasible for r in rows)
    print(f"{label} {len(rows):,} points, median {statistics.median(rates):,.1f} points/s over {runs} runs "
          f"({', '.join(f'{r:,.0f}' for r in rates)}; {feasible:,} feasible)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000,
                        help="estimate sweep size (10 pins × 100 batches × N ISLs)")
    parser.add_argument("--size-points", type=int, default=40, help="points of each sizing sweep")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each sweep (the median is reported)")
    ns = parser.parse_args()
    print(f"{ns.jobs or os.cpu_count()} processes")

    isls = max(1, ns.points // 1000)
    vary = {"hardware.hbm.pin_speed_gbps": "7:11.5:0.5", "batch": "1:100:1", "workload.isl": f"1024:{1024 * isls}:1024"}
    _median_rate("estimate sweep:", lambda: list(sweep(vary, model="deepseek-v4-pro", hardware="gb200-nvl72",
                                                       workload="agentic", layout="tp=1,dp=8,ep=8", jobs=ns.jobs)),
                 ns.runs)

    n = ns.size_points
    grids = {
        "TPOT": {"workload.slo.tpot_ms": [20 + i for i in range(n)]},
        "demand": {"workload.concurrent_sessions": [1000 + 500 * i for i in range(n)]},
        "context": {"workload.isl": [1024 * (i + 1) for i in range(n)]},
    }
    for name, grid in grids.items():
        _median_rate(f"size sweep, {name + ' grid:':13s}",
                     lambda grid=grid: list(sweep(grid, model="deepseek-v4-pro", hardware="gb200-nvl72",
                                                  workload="agentic", jobs=ns.jobs)), ns.runs)


if __name__ == "__main__":
    main()
