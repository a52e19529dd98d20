"""Peak memory of a streamed fixed-layout sweep: runs `planner sweep --fixed-layout ... -o FILE`
for N points (batch × ISL × HBM pin speed on DeepSeek-V4-Pro / GB200 NVL72, every point within
the model's context) and samples the resident set of the
whole process tree (the CLI and its workers) from /proc every 20 ms; prints each run's peak sum,
point rate and output size, and the medians over `--runs` runs. Linux only.

    python3 bench/sweep_memory.py [--points 1000000] [--jobs N] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import planner_command  # noqa: E402


def _tree_rss(root: int) -> tuple[int, int]:
    """Resident and proportional (PSS: pages shared after fork counted once) bytes of `root` and all
    its descendants (children listed in /proc/PID/task/*/children)."""
    rss = pss = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(("Rss:", "Pss:")):
                        kb = int(line.split()[1]) * 1024
                        rss, pss = (rss + kb, pss) if line.startswith("Rss:") else (rss, pss + kb)
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return rss, pss


def _run(cmd: list[str], out: Path) -> tuple[float, int, int, int]:
    """(seconds, peak RSS, peak PSS, CSV bytes) of one sweep."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = peak_pss = 0
    while proc.poll() is None:
        rss, pss = _tree_rss(proc.pid)
        peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        time.sleep(0.02)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"sweep failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return took, peak, peak_pss, out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000,
                        help="100 batches × 100 ISLs (1k..100k tokens) × points/10,000 pin speeds; "
                             "below 10,000: 100 batches × points/100 ISLs")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--runs", type=int, default=5, help="runs (the medians are reported)")
    ns = parser.parse_args()
    isls = min(100, max(1, ns.points // 100))
    pins = max(1, ns.points // 10_000)
    points = 100 * isls * pins
    base = planner_command()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep.csv"
        cmd = [*base, "sweep", "--hardware", "gb200-nvl72", "--fixed-layout", "tp=1,dp=8,ep=8",
               "--vary", f"hardware.hbm.pin_speed_gbps=7:{7 + 0.05 * (pins - 1):.2f}:0.05",
               "--vary", "batch=1:100:1", "--vary", f"workload.isl=1024:{1024 * isls}:1024", "-o", str(out), "--force",
               *(["--jobs", str(ns.jobs)] if ns.jobs else [])]
        for _ in range(ns.runs):
            took, peak, peak_pss, size = _run(cmd, out)
            runs.append((took, peak, peak_pss))
            print(f"{points:,} points in {took:.1f} s = {points / took:,.0f} points/s; peak RSS {peak / 1e6:,.0f} MB "
                  f"summed across processes (PSS {peak_pss / 1e6:,.0f} MB); {size / 1e6:,.0f} MB of CSV", flush=True)
    took, peak, peak_pss = (statistics.median(column) for column in zip(*runs, strict=True))
    print(f"median over {ns.runs} runs: {points / took:,.0f} points/s; peak RSS {peak / 1e6:,.0f} MB "
          f"(PSS {peak_pss / 1e6:,.0f} MB)")
    print("  planner", " ".join(cmd[len(base):-3]))


if __name__ == "__main__":
    main()
