"""Check the routing-imbalance tables of presets/validation/kernel_efficiency.toml against the
aiconfigurator measurements they come from, and print the ratios below the first tabled token count
(the statistics behind planner.machine.efficiency.IMBALANCE_FREE_TOKENS).

A ratio is the latency of one MoE layer's expert compute on one EP rank under power-law routing over
its latency under balanced routing, at the same expert shape, precision, kernel, EP size and token
count (aiconfigurator_core 0.12.0, systems/data/<system>/moe/trtllm/1.3.0rc20/moe_perf.parquet).
Needs pandas and the aiconfigurator wheel, in a virtual environment of their own (never a planner
dependency):

    python3 -m venv /tmp/aic && /tmp/aic/bin/pip install aiconfigurator pandas pyarrow
    /tmp/aic/bin/python bench/moe_imbalance.py
"""

from __future__ import annotations

import statistics
import sys
import tomllib
from pathlib import Path

import aiconfigurator_core  # type: ignore[import-not-found]
import pandas as pd  # type: ignore[import-untyped]

TABLE = Path(__file__).resolve().parents[1] / "presets" / "validation" / "kernel_efficiency.toml"
DATA = Path(aiconfigurator_core.__file__).parent / "systems" / "data"
SYSTEMS = {"h100-sxm": "h100_sxm", "h200-sxm": "h200_sxm", "b200-hgx": "b200_sxm", "gb200-nvl72": "gb200",
           "gb300-nvl72": "gb300"}
DTYPES = {"fp4": "nvfp4", "bf16": "bfloat16", "fp8": "fp8", "fp8_block": "fp8_block"}
SHAPES = {"deepseek": (7168, 2048, 256, 8), "qwen3": (4096, 1536, 128, 8)}   # hidden, inter, experts, top-k
DISTRIBUTIONS = {"pl101": "power_law_1.01", "pl12": "power_law_1.2"}
LOW_TOKENS = (32, 48, 64, 80, 96, 128, 256, 512)


def ratios(rows: pd.DataFrame, family: str, quant: str, kernel: str, distribution: str, ep: int) -> pd.Series:
    hidden, inter, experts, topk = SHAPES[family]
    d = rows[(rows.hidden_size == hidden) & (rows.inter_size == inter) & (rows.num_experts == experts)
             & (rows.topk == topk) & (rows.moe_tp_size == 1) & (rows.moe_dtype == DTYPES[quant])
             & (rows.kernel_source == kernel) & (rows.moe_ep_size == ep)]
    by = {dist: d[d.distribution == dist].groupby("num_tokens").latency.mean()
          for dist in ("balanced", distribution)}
    return (by[distribution] / by["balanced"]).dropna()


def main() -> None:
    table = tomllib.loads(TABLE.read_text())
    worst, low = 0.0, {n: [] for n in LOW_TOKENS}
    for system, folder in SYSTEMS.items():
        rows = pd.read_parquet(DATA / folder / "moe" / "trtllm" / "1.3.0rc20" / "moe_perf.parquet")
        for family, by_quant in table[system].get("moe", {}).items():
            for quant, entry in by_quant.items():
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
    print(f"tabled ratios vs the measurements: worst difference {worst:.4f}")
    for n, values in low.items():
        values.sort()
        print(f"{n:5d} tokens: {len(values)} series, median {statistics.median(values):.3f}, "
              f"q10 {values[len(values) // 10]:.3f}, q90 {values[9 * len(values) // 10]:.3f}")
    if worst > 1e-3:                                      # the table rounds to 3 decimals
        sys.exit("the table does not match the measurements")


if __name__ == "__main__":
    main()
