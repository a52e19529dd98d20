"""Sweep throughput: points per second for a 100,000-point `estimate` sweep (HBM pin speed ×
batch × ISL on DeepSeek-V4-Pro / GB200 NVL72 at a fixed layout) and for sizing sweeps (`size` per
point, the layout searched) over the three grids issue 20 names: TPOT targets, demand, and context
(ISL). Uses all cores, as `planner sweep` does; prints one line per sweep.

    python3 bench/sweep_points.py [--points 100000] [--size-points 40] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner import sweep  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000,
                        help="estimate sweep size (10 pins × 100 batches × N ISLs)")
    parser.add_argument("--size-points", type=int, default=40, help="points of each sizing sweep")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    ns = parser.parse_args()
    cores = ns.jobs or os.cpu_count()

    isls = max(1, ns.points // 1000)
    vary = {"hardware.hbm.pin_speed_gbps": "7:11.5:0.5", "batch": "1:100:1", "workload.isl": f"1024:{1024 * isls}:1024"}
    start = time.perf_counter()
    r = sweep(vary, model="deepseek-v4-pro", hardware="gb200-nvl72", workload="agentic", layout="tp=1,dp=8,ep=8",
              jobs=ns.jobs)
    took = time.perf_counter() - start
    print(f"estimate sweep: {len(r):,} points in {took:.2f} s = {len(r) / took:,.0f} points/s "
          f"({cores} processes; {sum(x.feasible for x in r):,} feasible)")

    n = ns.size_points
    grids = {
        "TPOT": {"workload.slo.tpot_ms": [20 + i for i in range(n)]},
        "demand": {"workload.concurrent_sessions": [1000 + 500 * i for i in range(n)]},
        "context": {"workload.isl": [1024 * (i + 1) for i in range(n)]},
    }
    for name, vary in grids.items():
        start = time.perf_counter()
        r = sweep(vary, model="deepseek-v4-pro", hardware="gb200-nvl72", workload="agentic", jobs=ns.jobs)
        took = time.perf_counter() - start
        print(f"size sweep, {name + ' grid:':13s} {len(r):,} points in {took:.2f} s = {len(r) / took:,.1f} points/s "
              f"({cores} processes; {sum(x.feasible for x in r):,} feasible)")


if __name__ == "__main__":
    main()
