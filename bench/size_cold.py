"""Time `planner size` cold: a whole new process per run (interpreter start, imports, preset
loading, the layout search, rendering). Prints each run and the median.

    python3 bench/size_cold.py [--runs 15] [-- extra planner args]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("args", nargs="*", help="arguments after `planner size` (default: none)")
    ns = parser.parse_args()
    exe = shutil.which("planner")
    cmd = [exe, "size", *ns.args] if exe else [sys.executable, "-m", "cli.main", "size", *ns.args]
    subprocess.run(cmd, capture_output=True, check=False)   # warm the OS file cache once
    times = []
    for _ in range(ns.runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            sys.exit(f"planner size failed: {proc.stderr.decode()}")
    print(" ".join(f"{t * 1e3:.0f}" for t in times), "ms")
    print(f"median {statistics.median(times) * 1e3:.0f} ms over {ns.runs} cold runs of: {' '.join(cmd[1:])}")


if __name__ == "__main__":
    main()
