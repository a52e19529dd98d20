"""Write docs/validation.md: our TTFT/TPOT next to aiconfigurator's for every shipped case.

    python3 bench/validation_report.py > docs/validation.md
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.accuracy.validation import compare, group_of, load_cases, median_abs  # noqa: E402

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

## Calibration: documented constants per kernel class, never per case

- **Kernel-class efficiency** (`planner/machine/efficiency.py`, constants in
  `presets/validation/kernel_efficiency.toml`): curves eff(x) = e_max·x/(x + x_half) fitted per GPU to
  aiconfigurator's measured TensorRT-LLM tables — GEMMs by rows M, grouped MoE GEMMs by tokens per
  expert (per EP size) with the measured routing imbalance of power-law expert popularity, attention
  prefill by sequence length; weight streaming in decode by matrix size and precision; decode
  attention's KV streaming. A hardware preset names its table (`efficiency.kernel_table`).
- 3 µs fixed latency per non-GEMM kernel × 6 per decoder layer (`mem_empirical_constant_latency`; the
  GEMM curves already include their own) and 10 µs per collective (`p2p_latency`).
- Elementwise kernels (norms, RoPE, SwiGLU, residual adds) are their own memory-bound roofline class.
- Overlap rule: the TP all-reduce stays on the critical path; dual micro-batch overlap hides only EP,
  PP and KV-transfer traffic.
- Flat factors (compute 0.75, HBM 0.8, links 0.8; ISCA '25 §4.2–4.3 for the links) remain for parts
  without measured tables (AMD, TPU).

Errors are measured against the same vendor's measured-kernel model the curves come from, so they test
how well the analytic composition (rooflines, overlap, imbalance, communication) reproduces per-operation
measurements, not an independent end-to-end benchmark.
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
            "Every group is within its bound. The largest remaining misses:", "",
            "- **gpt-oss-120b (MXFP4 experts; TPOT −60% to +73% on Blackwell).** The measured MoE tables have no",
            "  MXFP4 rows; planner uses the nearest measured kernel (BF16 or FP8 grouped GEMM) with its",
            "  weight-streaming ramp scaled to 4.25-bit weights. aiconfigurator's own W4A16 path on Blackwell is",
            "  far slower than its W4A8 path (42.8 vs 12.1 ms TPOT on B200), so planner is fast against the one and",
            "  slow against the other.",
            "- **DeepSeek-V3 on GB200 (TTFT about −45%, TPOT about −35%).** aiconfigurator models NVL72 as 4-GPU",
            "  nodes with an extra inter-node latency; planner keeps all 72 GPUs in one NVLink domain, so its",
            "  all-to-all is cheaper.",
            "- **Qwen3-30B-A3B FP8 at batch 8 on H100 (TPOT about +80%).** At 0.5 tokens per expert the FP8",
            "  grouped-GEMM curve (fitted on the DeepSeek shape) is far outside its measured range.", ""]
    out += ["## Cases", "",
            "| case | TTFT planner | TTFT aic static | err | "
            "TPOT planner | TPOT aic static | err | aic agg TTFT / TPOT |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r.case
        out.append(f"| `{c.id}` | {r.ttft_s * 1e3:,.1f} ms | {c.static_ttft_ms:,.1f} ms | {r.ttft_error:+.0%} | "
                   f"{r.tpot_s * 1e3:,.2f} ms | {c.static_tpot_ms:,.2f} ms | {r.tpot_error:+.0%} | "
                   f"{c.ttft_ms:,.0f} / {c.tpot_ms:,.1f} ms |")
    out += ["", "## Commands", "", "Each case was produced by (prefix the path of the aiconfigurator venv):", ""]
    out += [f"- `{r.case.command}`" for r in rows]
    print("\n".join(out))



# ---- training (issue 8) ---------------------------------------------------------------------------

TRAINING_RUNS = (
    # (label, model, hardware, tokens, gpus, layout, options, reported GPU-hours, reported MFU range, sources)
    ("DeepSeek-V3 pre-training", "deepseek-v3", "h800-sxm", 14.8e12, 2048, "pp=16,ep=64",
     {"zero": 1, "seq": 4096, "global_batch": 15360, "precision": "fp8"}, 2.664e6, None,
     "DeepSeek-V3 report (arXiv:2412.19437) Table 1 and §3.2-3.3, §4.2: 2.664M H800 GPU-hours for 14.8T tokens; "
     "PP16, EP64 over 8 nodes, ZeRO-1, FP8 GEMMs, sequence 4096, batch 15,360 sequences"),
    ("Llama-3.1-405B pre-training", "llama-3.1-405b", "h100-sxm", 15.6e12, 16384, "tp=8,pp=16",
     {"zero": 2, "seq": 8192, "global_batch": 2048, "precision": "bf16"}, 30.84e6, (0.38, 0.43),
     "Llama 3.1 model card: 30.84M H100 GPU-hours; Llama 3 paper (arXiv:2407.21783) §3.3.2 and Table 4: "
     "TP8, PP16, DP128, sequence 8192, 16M tokens per batch, 38-43% BF16 MFU; FSDP shards optimizer and "
     "gradients, weights are not resharded after forward (= ZeRO-2)"),
)


def training_section() -> list[str]:
    """The "## Training" section: the two published runs predicted with the presets' efficiency
    factors as shipped (no fitting), with the commands that reproduce them."""
    from planner.inputs.io import load_hardware, load_model
    from planner.training.run import train, train_flops, train_layout

    out = ["", "## Training", "",
           "`planner train` predicts published pre-training runs from their published layouts and the hardware",
           "presets' default efficiency factors (compute 0.75, HBM 0.8, scale-up/out 0.8), without fitting. The",
           "step model and its overlap rule are in `planner/training/run.py`: GPU time per micro-batch and stage,",
           "TP all-reduce on the critical path, EP/PP/CP traffic hidden under GPU time up to it, the 1F1B bubble",
           "(p−1)/(m+p−1), DP reduce-scatter hidden under the last micro-batch's backward except the last bucket.",
           "Acceptance: GPU-hours within ±25% of the reported ones, MFU within 10 points.", "",
           "| run | FLOPs/token (seq 4096) | ISCA '25 Table 2 | GPU-hours predicted | reported | error | "
           "MFU predicted | reported | step | bound by |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    published = {"deepseek-v3": 250e9, "llama-3.1-405b": 2448e9}
    commands, sources = [], []
    for label, model, hw, tokens, gpus, layout, opts, hours, mfu, source in TRAINING_RUNS:
        m, h = load_model(model), load_hardware(hw)
        r = train(m, h, train_layout(layout, **opts), tokens, gpus=gpus)
        fpt = train_flops(m, 4096).per_token
        bound = next(v.resource for v in r.verdicts if v.phase == "train" and v.severity.value == "info")
        reported_mfu = f"{mfu[0]:.0%}–{mfu[1]:.0%}" if mfu else "not published"
        out.append(f"| {label} | {fpt / 1e9:,.0f} G ({fpt / published[model] - 1:+.1%}) | "
                   f"{published[model] / 1e9:,.0f} G | "
                   f"{r.gpu_hours / 1e6:,.2f}M | {hours / 1e6:,.3f}M | {r.gpu_hours / hours - 1:+.0%} | {r.mfu:.1%} | "
                   f"{reported_mfu} | {r.step.step_s:,.1f} s | {bound.replace('_', '-')} |")
        zero = "fsdp" if opts["zero"] == 3 else str(opts["zero"])
        commands.append(f"- `planner train --model {model} --hardware {hw} --tokens {tokens / 1e12:g}T --gpus {gpus} "
                        f"--layout {layout} --zero {zero} --seq {opts['seq']} --global-batch {opts['global_batch']} "
                        f"--precision {opts['precision']} --format json`")
        sources.append(f"- {label}: {source}.")
    out += ["", "Both land inside the band, but read the reasons before trusting the agreement:", "",
            "- **DeepSeek-V3**: the predicted step is bound by EP all-to-all over InfiniBand (56 of 63 EP peers sit",
            "  outside the 8-GPU NVLink domain; forward FP8 dispatch + BF16 combine, backward BF16 both ways),",
            "  about 2.6× the FP8 GEMM time, so DualPipe-style overlap cannot hide it. The agreement is partly",
            "  cancellation: planner does not model V3's node-limited routing (each token reaches at most 4 nodes",
            "  and crosses IB once per node, ISCA '25 §4.3), which would roughly halve the IB bytes and move the",
            "  prediction to about −50% (hand estimate); "
            "nor does it model what makes the real step slower than FP8 peak × 0.75",
            "  (20 of 132 SMs reserved for communication, fine-grained FP8 scaling, routing imbalance, the MTP",
            "  module, BF16 MLA attention at low efficiency). DeepSeek does not publish MFU; the predicted 19% is",
            "  of the FP8 dense peak (39% of BF16 peak).",
            "- **Llama-3.1-405B**: the prediction is slow by ~16% and the MFU ~7 points below the reported range,",
            "  mostly because the model uses the plain 1F1B bubble (16 micro-batches through 16 stages: 48% of the",
            "  step) where Meta ran an interleaved schedule with fewer bubbles, and keeps the TP all-reduce fully",
            "  exposed. The 30.84M GPU-hours also cover the long-context and annealing stages, which this single",
            "  sequence-8192 layout does not separate. The published layout fits with 6.6 GB to spare per GPU",
            "  (selective recompute, ZeRO-2).", "",
            "Commands:", ""] + commands + ["", "Sources:", ""] + sources
    return out


def print_training_section() -> None:
    print("\n".join(training_section()))


def print_bands() -> None:
    """presets/validation/error_bands.toml: the signed-error quantiles planner.accuracy.uncertainty reads."""
    from planner.accuracy.validation import BAND_QUANTILES, error_bands, validate_all
    report = validate_all()
    lo, hi = (int(q * 100) for q in BAND_QUANTILES)
    print("# Signed error quantiles (predicted / reference - 1) of planner against the shipped reference")
    print(f"# cases (presets/validation/aiconfigurator.toml, static mode): q{lo} and q{hi} per model kind and metric.")
    print("# Generated by `python3 bench/validation_report.py --bands`; tests/test_validate.py checks it is current.")
    print('sources = ["presets/validation/aiconfigurator.toml (aiconfigurator 0.12.0, SILICON, trtllm 1.3.0rc20)"]')
    for kind, metrics in error_bands(report).items():
        for metric, (q_low, q_high) in metrics.items():
            print(f"\n[{kind}.{metric}]\nq10 = {q_low:.4f}\nq90 = {q_high:.4f}")


if __name__ == "__main__":
    if "--bands" in sys.argv:
        print_bands()
    else:
        main()
        print_training_section()
