"""Check the grouped-MoE tables of presets/validation/kernel_efficiency.toml against the aiconfigurator
measurements they come from: each entry's efficiency fits (e_max, tokens_half, at EP 8 and at every
`epN_` size it gives) and its routing-imbalance arrays; then print the imbalance ratios below the first
tabled token count (the statistics behind planner.machine.efficiency.IMBALANCE_FREE_TOKENS).

A fit is eff(x) = e_max x / (x + tokens_half) over x = tokens per expert (num_tokens x topk / experts),
eff = 6 hidden width num_tokens topk / EP FLOPs over the latency and the peak of the activation precision
(the table header's method: least squares, 4,000 log-spaced tokens_half from 1e-2 to 1e6, e_max in closed
form). A ratio is the latency of one MoE layer's expert compute on one EP rank under power-law routing over
its latency under balanced routing, at the same expert shape, precision, kernel, EP size and token
count (aiconfigurator_core 0.12.0, systems/data/<system>/moe/trtllm/1.3.0rc20/moe_perf.parquet).
Needs pandas and the aiconfigurator wheel, in a virtual environment of their own (never a planner
dependency):

    python3 -m venv /tmp/aic && /tmp/aic/bin/pip install aiconfigurator pandas pyarrow
    /tmp/aic/bin/python bench/moe_tables.py
"""

from __future__ import annotations

import math
import statistics
import sys
import tomllib
from pathlib import Path

import aiconfigurator_core  # type: ignore[import-not-found]
import numpy as np
import pandas as pd  # type: ignore[import-untyped]

TABLE = Path(__file__).resolve().parents[1] / "presets" / "validation" / "kernel_efficiency.toml"
DATA = Path(aiconfigurator_core.__file__).parent / "systems" / "data"
SYSTEMS = {"h100-sxm": "h100_sxm", "h200-sxm": "h200_sxm", "b200-hgx": "b200_sxm", "gb200-nvl72": "gb200",
           "gb300-nvl72": "gb300"}
DTYPES = {"fp4": "nvfp4", "bf16": "bfloat16", "fp8": "fp8", "fp8_block": "fp8_block", "w4a16_mxfp4": "w4a16_mxfp4"}
PEAKS = {"fp4": "fp4", "bf16": "bf16", "fp8": "fp8", "fp8_block": "fp8", "w4a16_mxfp4": "bf16"}   # activation precision
SHAPES = {"deepseek": (7168, 2048, 256, 8), "qwen3": (4096, 1536, 128, 8),    # hidden, inter, experts, top-k
          "gptoss": (2880, 2880, 128, 4)}
DISTRIBUTIONS = {"pl101": "power_law_1.01", "pl12": "power_law_1.2"}
LOW_TOKENS = (32, 48, 64, 80, 96, 128, 256, 512)


def latencies(rows: pd.DataFrame, family: str, quant: str, kernel: str, distribution: str, ep: int) -> pd.Series:
    hidden, inter, experts, topk = SHAPES[family]
    d = rows[(rows.hidden_size == hidden) & (rows.inter_size == inter) & (rows.num_experts == experts)
             & (rows.topk == topk) & (rows.moe_tp_size == 1) & (rows.moe_dtype == DTYPES[quant])
             & (rows.kernel_source == kernel) & (rows.moe_ep_size == ep) & (rows.distribution == distribution)]
    return d.groupby("num_tokens").latency.mean()


def ratios(rows: pd.DataFrame, family: str, quant: str, kernel: str, distribution: str, ep: int) -> pd.Series:
    balanced = latencies(rows, family, quant, kernel, "balanced", ep)
    return (latencies(rows, family, quant, kernel, distribution, ep) / balanced).dropna()


def fit(rows: pd.DataFrame, family: str, quant: str, kernel: str, ep: int, peak: float) -> tuple[float, float]:
    """(e_max, tokens_half) of the balanced rows at this EP size."""
    hidden, inter, experts, topk = SHAPES[family]
    lat = latencies(rows, family, quant, kernel, "balanced", ep)
    tokens = lat.index.to_numpy(dtype=float)
    x = tokens * topk / experts
    y = 6 * hidden * inter * tokens * topk / ep / (lat.to_numpy() * 1e-3) / peak
    best = (0.0, 0.0, math.inf)
    for half in np.logspace(-2, 6, 4000):
        g = x / (x + half)
        e_max = float((y * g).sum() / (g * g).sum())
        rms = float(np.sqrt(((y - e_max * g) ** 2).mean()))
        if rms < best[2]:
            best = (e_max, float(half), rms)
    return best[0], best[1]


def main() -> None:
    table = tomllib.loads(TABLE.read_text())
    worst, fit_worst, low = 0.0, 0.0, {n: [] for n in LOW_TOKENS}
    for system, folder in SYSTEMS.items():
        rows = pd.read_parquet(DATA / folder / "moe" / "trtllm" / "1.3.0rc20" / "moe_perf.parquet")
        for family, by_quant in table[system].get("moe", {}).items():
            for quant, entry in by_quant.items():
                peak = table[system]["reference"][f"{PEAKS[quant]}_flops_per_s"]
                fits = {8: ""} | {int(k[2:k.index("_")]): k[:k.index("_") + 1] for k in entry
                                  if k.startswith("ep") and k.endswith("_e_max")}
                for ep, prefix in fits.items():
                    e_max, half = fit(rows, family, quant, entry["kernel_source"], ep, peak)
                    fit_worst = max(fit_worst, abs(e_max / entry[prefix + "e_max"] - 1),
                                    abs(half / entry[prefix + "tokens_half"] - 1))
                if "imbalance_num_tokens" not in entry:
                    continue
                for key in (k for k in entry if k.startswith("imbalance_pl")):
                    dist, ep = key.removeprefix("imbalance_").split("_ep")
                    r = ratios(rows, family, quant, entry["kernel_source"], DISTRIBUTIONS[dist], int(ep))
                    measured = [r[n] for n in entry["imbalance_num_tokens"]]
                    worst = max(worst, *(abs(a - b) for a, b in zip(measured, entry[key], strict=True)))
                    if dist == "pl101":                       # the routing planner's power_law uses
                        for n in LOW_TOKENS:
                            low[n].append(r[n])
    print(f"tabled fits vs the measurements: worst relative difference {fit_worst:.4f}")
    print(f"tabled imbalance ratios vs the measurements: worst difference {worst:.4f}")
    for n, values in low.items():
        values.sort()
        print(f"{n:5d} tokens: {len(values)} series, median {statistics.median(values):.3f}, "
              f"q10 {values[len(values) // 10]:.3f}, q90 {values[9 * len(values) // 10]:.3f}")
    if worst > 1e-3 or fit_worst > 5e-3:                   # the table rounds to 3-4 digits
        sys.exit("the table does not match the measurements")


if __name__ == "__main__":
    main()
