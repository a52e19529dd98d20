"""Time `planner --help` and `planner size` cold: a whole new process per run (interpreter start,
imports, preset loading, the layout search, rendering). Prints each run and the medians.

    python3 bench/size_cold.py [--runs 9] [-- extra planner size args]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import planner_command  # noqa: E402

# As an installed planner runs: pip byte-compiles a wheel's modules, so a user's process never
# compiles source. An environment with PYTHONDONTWRITEBYTECODE set (some CI images and sandboxes)
# would recompile every module on each run (~80 ms here), so the bench lets the warm-up run write
# the caches and every timed run use them.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _median(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=False, env=ENV)   # warm the file and bytecode caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, check=False, env=ENV)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.decode()}")
    print(" ".join(f"{t * 1e3:.0f}" for t in times), "ms")
    median = statistics.median(times)
    print(f"median {median * 1e3:.0f} ms over {runs} cold runs of: {' '.join(cmd)}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("args", nargs="*", help="arguments after `planner size` (default: none)")
    ns = parser.parse_args()
    base = planner_command()
    _median([*base, "--help"], ns.runs)
    _median([*base, "size", *ns.args], ns.runs)


if __name__ == "__main__":
    main()
