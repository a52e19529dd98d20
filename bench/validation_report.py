"""Write docs/validation.md: our TTFT/TPOT next to aiconfigurator's for every shipped case.

    python3 bench/validation_report.py > docs/validation.md
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.validation import compare, group_of, load_cases, median_abs  # noqa: E402

HEADER = """# Validation against aiconfigurator

Reference: NVIDIA aiconfigurator 0.12.0 (PyPI), TensorRT-LLM backend, perf database 1.3.0rc20, `SILICON`
mode (per-operation times measured on real GPUs). It was installed in a separate virtual environment
(`python3 -m venv /tmp/aic && /tmp/aic/bin/pip install aiconfigurator==0.12.0`), never as a dependency.
Every case, with the exact command that produced it, is in `presets/validation/aiconfigurator.toml`;
regenerate this page with `python3 bench/validation_report.py > docs/validation.md`.

## What is compared

aiconfigurator's default ("agg") numbers are not the physics of one request:
- its agg **TTFT** is one mixed prefill step multiplied by a queueing factor
  `min(2 + (ceil(ISL·batch/ctx_tokens) − 3)/20, 4)` (1.9× at batch 1, 4× from batch 57);
- its agg **TPOT** averages decode-only steps with steps that also carry prefills.

Its **static** mode (`--estimate-mode static`) times exactly what planner's phase model times: one pass
that prefills the whole batch (batch × ISL tokens per attention-DP rank), and the pure decode step at the
batch with KV length ISL + OSL/2. The tables compare against static mode (both numbers are in the case
file; the agg ones are kept for reference). Errors are signed: negative means planner is faster.

## Calibration: documented constants only

No case-by-case fitting. The constants that matter here, and their origin:
- HBM efficiency 0.8 (`mem_bw_empirical_scaling_factor` in aiconfigurator's system files), compute 0.75
  (assumed), scale-up/out 0.8 (ISCA '25 §4.2–4.3: ~160 of 200 GB/s NVLink, 40 of 50 GB/s IB).
- 3 µs fixed latency per kernel × 10 kernels per decoder layer (`mem_empirical_constant_latency`).
- 10 µs per collective on NVLink and the NICs (`p2p_latency`).
- Elementwise kernels (norms, RoPE, SwiGLU, residual adds) are their own memory-bound roofline class.
- Overlap rule: the TP all-reduce stays on the critical path; dual micro-batch overlap hides only EP,
  PP and KV-transfer traffic.

The last two were modelling errors found by this comparison (they moved the dense medians from 35% to
13% TPOT and 19% to 7% TTFT), not tuned numbers.
"""


def main() -> None:
    rows = [compare(c) for c in load_cases()]
    groups: dict[str, list] = defaultdict(list)
    for r in rows:
        groups[group_of(r.case)].append(r)
    out = [HEADER, "## Summary (median |error|, cases beyond 50%)", "",
           "| group | cases | TPOT median | TTFT median | TPOT > 50% | TTFT > 50% |", "|---|---:|---:|---:|---:|---:|"]
    dense = [r for r in rows if "dense" in group_of(r.case)]
    moe = [r for r in rows if "moe" in group_of(r.case)]
    for name, rs in sorted(groups.items()) + [("all dense", dense), ("all MoE/MLA", moe), ("all", rows)]:
        out.append(f"| {name} | {len(rs)} | {median_abs([r.tpot_error for r in rs]):.0%} | "
                   f"{median_abs([r.ttft_error for r in rs]):.0%} | {sum(abs(r.tpot_error) > 0.5 for r in rs)} | "
                   f"{sum(abs(r.ttft_error) > 0.5 for r in rs)} |")
    out += ["", "## Where planner is off, and why", "",
            "Dense models meet the issue's bounds (median TPOT error ≤ 30%, TTFT ≤ 40%) with no case beyond 50%.",
            "MoE and MLA cases do not yet, for reasons the analytic model does not capture; they are the work of",
            "the efficiency model (grouped-GEMM efficiency by tokens per expert, routing imbalance):", "",
            "- **MoE prefill (TTFT 48–63% low).** aiconfigurator routes tokens with a power-law imbalance",
            "  (alpha 1.01 for DeepSeek, 1.2 for Qwen3 and gpt-oss), so the busiest expert sets the step time, and its",
            "  grouped-GEMM tables reflect the low efficiency of small per-expert batches. planner assumes uniform",
            "  routing and large-GEMM efficiency, so it is optimistic by about 2× on MoE prefill.",
            "- **DeepSeek-V3 with NVFP4 experts (TPOT −53%, −59%).** planner runs W4A4 NVFP4 expert GEMMs at the",
            "  FP4 peak; the measured kernels gain far less over FP8 at these batch sizes.",
            "- **DeepSeek-V3 dp16/ep16 on GB200 (TPOT −58%).** the measured all-to-all across 16 GPUs (and",
            "  aiconfigurator's 4-GPU-node model of NVL72 with an extra inter-node latency) costs more than",
            "  planner's bandwidth-plus-latency estimate inside one NVLink domain.",
            "- **gpt-oss-120b in aiconfigurator's default W4A16 mode on Blackwell (TPOT −63% to −68%).** that kernel",
            "  path dequantises MXFP4 on the fly and is slow on Blackwell (12.1 ms with the W4A8 TRT-LLM path vs",
            "  42.8 ms with W4A16 on B200 per aiconfigurator itself); planner models the weight bytes, which both",
            "  paths read equally. The W4A8 cases agree within 2–55%.", ""]
    out += ["## Cases", "",
            "| case | TTFT planner | TTFT aic static | err | TPOT planner | TPOT aic static | err | aic agg TTFT / TPOT |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r.case
        out.append(f"| `{c.id}` | {r.ttft_s * 1e3:,.1f} ms | {c.static_ttft_ms:,.1f} ms | {r.ttft_error:+.0%} | "
                   f"{r.tpot_s * 1e3:,.2f} ms | {c.static_tpot_ms:,.2f} ms | {r.tpot_error:+.0%} | "
                   f"{c.ttft_ms:,.0f} / {c.tpot_ms:,.1f} ms |")
    out += ["", "## Commands", "", "Each case was produced by (prefix the path of the aiconfigurator venv):", ""]
    out += [f"- `{r.case.command}`" for r in rows]
    print("\n".join(out))


if __name__ == "__main__":
    main()
