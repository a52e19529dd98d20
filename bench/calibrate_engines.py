"""Calibrate the fixed-cost constants of each engine preset against the published measurements
whose time is mostly fixed cost: batch-1 latency and small-batch decode (the `latency` and
`decode` groups of presets/validation/measured/, NVIDIA GPUs only: AMD parts run on flat
efficiency factors, a hardware question, not an engine one).

    python3 bench/calibrate_engines.py            # grid search per engine, print the best constants
    python3 bench/calibrate_engines.py --check    # the shipped constants' errors, and leave-one-out

The constants are per framework (`presets/engines/*.toml`: kernel_latency_us, step_overhead_us,
moe_layer_floor_us, draft_overhead_us), never per case: each engine's four numbers are chosen to
minimise the mean |log(predicted / measured)| over all of that engine's cases together. The
leave-one-out figure re-fits without each case in turn and predicts it, an honest estimate of the
error on a measurement the constants have not seen.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.accuracy.measured import MeasuredCase, load_measured  # noqa: E402
from planner.accuracy.predict import ENGINE_OF, predict  # noqa: E402
from planner.inputs import io  # noqa: E402

NVIDIA = ("h100", "h200", "h800", "b200", "b300", "gb200", "gb300")
GRID = {"kernel_latency_us": (2, 3, 4, 5, 6, 8, 10),
        "step_overhead_us": (100, 300, 600, 1000),
        "moe_layer_floor_us": (0, 20, 40, 60, 80, 120, 160, 200),
        "draft_overhead_us": (0, 200, 400, 600, 900, 1200)}
# A constant is fitted only when at least this many of the engine's cases exercise it (MoE models for
# the per-MoE-layer cost, speculative decoding for the per-draft cost); otherwise it stays 0.
MIN_CASES = 3


def grid_for(cases: list[MeasuredCase]) -> dict[str, tuple[float, ...]]:
    moe = sum(io.load_model(c.model).moe is not None for c in cases)
    drafts = sum(c.mtp_depth > 0 for c in cases)
    return {**GRID, "moe_layer_floor_us": GRID["moe_layer_floor_us"] if moe >= MIN_CASES else (0,),
            "draft_overhead_us": GRID["draft_overhead_us"] if drafts >= MIN_CASES else (0,)}


def calibration_cases() -> dict[str, list[MeasuredCase]]:
    by_engine: dict[str, list[MeasuredCase]] = {}
    for c in load_measured():
        if c.group in ("latency", "decode") and c.hardware.startswith(NVIDIA):
            by_engine.setdefault(ENGINE_OF[c.framework], []).append(c)
    return by_engine


def log_errors(cases: list[MeasuredCase], constants: dict[str, float]) -> list[float]:
    out = []
    for c in cases:
        p = predict(c, engine_sets=constants)
        out.append(math.log1p(p.error))
    return out


def fit(cases: list[MeasuredCase]) -> tuple[dict[str, float], float]:
    best: tuple[float, dict[str, float]] | None = None
    grid = grid_for(cases)
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        constants = dict(zip(keys, values, strict=True))
        score = statistics.fmean(abs(e) for e in log_errors(cases, constants))
        if best is None or score < best[0]:
            best = (score, constants)
    assert best is not None
    return best[1], best[0]


def main() -> None:
    for engine, cases in sorted(calibration_cases().items()):
        if "--check" in sys.argv:
            shipped = io.load_engine(engine)
            constants = {k: getattr(shipped, k) for k in GRID}
            errors = log_errors(cases, constants)
            print(f"{engine}: {len(cases)} cases, shipped {constants}: median |error| "
                  f"{math.expm1(statistics.median(abs(e) for e in errors)):.0%}")
            loo = []
            for i, held in enumerate(cases):
                rest = cases[:i] + cases[i + 1:]
                if not rest:
                    continue
                refit, _ = fit(rest)
                loo.append(abs(log_errors([held], refit)[0]))
            if loo:
                print(f"  leave-one-out median |error| {math.expm1(statistics.median(loo)):.0%}")
            continue
        constants, score = fit(cases)
        print(f"{engine}: {len(cases)} cases -> {constants} (mean |log error| {score:.3f})")


if __name__ == "__main__":
    main()
