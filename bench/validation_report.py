"""Write docs/validation.md: planner against published serving measurements, against
aiconfigurator's measured-kernel estimates, and against published training runs.

    python3 bench/validation_report.py > docs/validation.md
    python3 bench/validation_report.py --bands > presets/validation/error_bands.toml
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.accuracy.validation import compare, group_of, load_cases, median_abs  # noqa: E402

TOP = """# Validation

planner is checked against two reference sets, both shipped in `presets/validation/` and both run by
`planner validate`:

1. **Published measurements** (`presets/validation/measured/*.toml`): end-to-end serving figures that
   vendors, framework teams and MLPerf/InferenceX published with their configuration stated —
   prefill-only and decode-only throughput, batch-1 latency, end-to-end throughput and the KV-cache
   capacity an engine reports. This is the set the error ranges of `estimate` and `size` come from.
2. **aiconfigurator** (`presets/validation/aiconfigurator.toml`): NVIDIA's measured-kernel model, a
   check on the composition of kernel times (it is also where the kernel curves were fitted).

Regenerate this page with `python3 bench/validation_report.py > docs/validation.md` and the bands with
`python3 bench/validation_report.py --bands > presets/validation/error_bands.toml`.
"""

HEADER = """## Against aiconfigurator

Reference: NVIDIA aiconfigurator 0.12.0 (PyPI), TensorRT-LLM backend, perf database 1.3.0rc20, `SILICON`
mode (per-operation times measured on real GPUs). It was installed in a separate virtual environment
(`python3 -m venv /tmp/aic && /tmp/aic/bin/pip install aiconfigurator==0.12.0`), never as a dependency.
Every case, with the exact command that produced it, is in `presets/validation/aiconfigurator.toml`;
regenerate this page with `python3 bench/validation_report.py > docs/validation.md`.

### What is compared

aiconfigurator's default ("agg") numbers are not the physics of one request:
- its agg **TTFT** is one mixed prefill step multiplied by a queueing factor
  `min(2 + (ceil(ISL·batch/ctx_tokens) − 3)/20, 4)` (1.9× at batch 1, 4× from batch 57);
- its agg **TPOT** averages decode-only steps with steps that also carry prefills.

Its **static** mode (`--estimate-mode static`) times exactly what planner's phase model times: one pass
that prefills the whole batch (batch × ISL tokens per attention-DP rank), and the pure decode step at the
batch with KV length ISL + OSL/2. The tables compare against static mode (both numbers are in the case
file; the agg ones are kept for reference). Errors are signed: negative means planner is faster.

### Calibration: documented constants per kernel class, never per case

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
    print(TOP)
    print("\n".join(published_section()))
    rows = [compare(c) for c in load_cases()]
    groups: dict[str, list] = defaultdict(list)
    for r in rows:
        groups[group_of(r.case)].append(r)
    out = [HEADER, "### Summary (median |error|, cases beyond 50%)", "",
           "| group | cases | TPOT median | TTFT median | TPOT > 50% | TTFT > 50% |", "|---|---:|---:|---:|---:|---:|"]
    dense = [r for r in rows if "dense" in group_of(r.case)]
    moe = [r for r in rows if "moe" in group_of(r.case)]
    for name, rs in sorted(groups.items()) + [("all dense", dense), ("all MoE/MLA", moe), ("all", rows)]:
        out.append(f"| {name} | {len(rs)} | {median_abs([r.tpot_error for r in rs]):.0%} | "
                   f"{median_abs([r.ttft_error for r in rs]):.0%} | {sum(abs(r.tpot_error) > 0.5 for r in rs)} | "
                   f"{sum(abs(r.ttft_error) > 0.5 for r in rs)} |")
    worst = sorted(rows, key=lambda r: -max(abs(r.tpot_error), abs(r.ttft_error)))[:6]
    out += ["", "### Largest misses", "",
            "Negative: planner is faster than aiconfigurator's kernel sum. The published-measurement section",
            "above says which of the two is nearer to real deployments.", ""]
    out += [f"- `{r.case.id}`: TTFT {r.ttft_error:+.0%}, TPOT {r.tpot_error:+.0%}" for r in worst]
    out.append("")
    out += ["### Cases", "",
            "| case | TTFT planner | TTFT aic static | err | "
            "TPOT planner | TPOT aic static | err | aic agg TTFT / TPOT |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r.case
        out.append(f"| `{c.id}` | {r.ttft_s * 1e3:,.1f} ms | {c.static_ttft_ms:,.1f} ms | {r.ttft_error:+.0%} | "
                   f"{r.tpot_s * 1e3:,.2f} ms | {c.static_tpot_ms:,.2f} ms | {r.tpot_error:+.0%} | "
                   f"{c.ttft_ms:,.0f} / {c.tpot_ms:,.1f} ms |")
    out += ["", "### Commands", "", "Each case was produced by (prefix the path of the aiconfigurator venv):", ""]
    out += [f"- `{r.case.command}`" for r in rows]
    print("\n".join(out))



# ---- published measurements (issue 14) --------------------------------------------------------------

METRIC_UNITS = {"output_tokens_per_s_per_gpu": "out/s/GPU", "input_tokens_per_s_per_gpu": "in/s/GPU",
                "total_tokens_per_s_per_gpu": "tok/s/GPU", "tokens_per_s_per_user": "tok/s/user",
                "tpot_ms": "ms TPOT", "ttft_ms": "ms TTFT", "kv_capacity_tokens": "KV tokens"}


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def published_section() -> list[str]:
    from planner.accuracy.published import COVERAGE_BOUND, GROUP_BOUND, OVERALL_BOUND, validate_published
    from planner.inputs.io import load_engine

    r = validate_published()
    out = ["## Against published measurements", "",
           "Each case is predicted through the same serving engine every command uses (the rules that turn a",
           "case into inputs are in `planner/accuracy/predict.py`: engine per framework, batch from the stated",
           "batch, the concurrency or the KV that fits, trtllm-bench's own step budget for offline runs).",
           "Errors are signed rates, e = predicted rate / measured rate − 1 (a time counts as its inverse):",
           "**positive means planner is optimistic**. Acceptance: median |e| ≤ "
           f"{OVERALL_BOUND:.0%} overall and ≤ {GROUP_BOUND:.0%} per group; the q10–q90 band of each kind of",
           f"prediction contains ≥ {COVERAGE_BOUND:.0%} of the measured values.", "",
           "### Summary", "",
           "| group | cases | median abs(e) | median e | q10 | q90 | inside its band |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for g in r.groups:
        out.append(f"| {g.group} | {g.cases} | {g.median_abs_error:.0%} | {g.median_error:+.0%} | {g.q10:+.0%} | "
                   f"{g.q90:+.0%} | {g.coverage:.0%} |")
    out.append(f"| **all** | {len(r.rows)} | {r.median_abs_error:.0%} | | | | {r.coverage:.0%} |")
    out += ["", f"Result: **{'pass' if r.passed else 'fail'}**.", "",
            "### Error bands (the `*_low` / `*_high` ranges of estimate and size)", "",
            "| kind | from | q10 | q90 | a prediction x means |", "|---|---|---:|---:|---|"]
    froms = {"ttft": "prefill throughput, TTFT", "tpot": "decode throughput, batch-1 latency",
             "throughput": "end-to-end tokens/s per GPU", "capacity": "KV tokens an engine reports"}
    for kind, (lo, hi) in r.bands.items():
        meaning = (f"x·(1{lo:+.2f}) .. x·(1{hi:+.2f})" if kind in ("ttft", "tpot")
                   else f"x/(1{hi:+.2f}) .. x/(1{lo:+.2f})")
        out.append(f"| {kind} | {froms.get(kind, kind)} | {lo:+.0%} | {hi:+.0%} | {meaning} |")
    out += ["", "### Engine constants", "",
            "Fixed costs are per framework (`presets/engines/*.toml`), fitted together by",
            "`python3 bench/calibrate_engines.py` to each engine's batch-1 latency and small-batch decode cases on",
            "NVIDIA GPUs (the cases where fixed cost is most of the step), never per case;",
            "`python3 bench/calibrate_engines.py --check` prints their in-sample and leave-one-out errors.",
            "Everything else (kernel curves, memory policy, scheduling) is unfitted against this set.", "",
            "| engine | kernel latency | step overhead | MoE layer floor | per draft token |",
            "|---|---:|---:|---:|---:|"]
    for name in ("trtllm", "vllm", "sglang"):
        e = load_engine(name)
        out.append(f"| {name} | {e.kernel_latency_us:g} µs | {e.step_overhead_us:g} µs | "
                   f"{e.moe_layer_floor_us:g} µs | {e.draft_overhead_us:g} µs |")
    worst = sorted(r.rows, key=lambda x: -abs(x.error))[:15]
    out += ["", "### Largest misses, and the term that dominates each", "",
            "The dominant term is the largest part of the step that sets the prediction (compute, HBM, scale-up,",
            "scale-out, fixed overhead); the batch column says where the batch came from.", "",
            "| case | e | dominant | batch | note |", "|---|---:|---|---|---|"]
    for x in worst:
        out.append(f"| `{x.case.id}` | {x.error:+.0%} | {x.dominant} | {x.inputs.layout.batch} "
                   f"({x.inputs.batch_source}) | {x.case.framework} {x.case.hardware} {x.case.model} |")
    out += ["", "Known causes, not fitted away:", "",
            "- **AMD MI300X** (vLLM): planner runs AMD parts on flat efficiency factors (no measured kernel",
            "  tables); the published vLLM figures reach about half of what those factors imply.",
            "- **gpt-oss-120b on Hopper** (TensorRT-LLM): MXFP4 experts with BF16 activations run through a",
            "  dequantising W4A16 kernel, priced on aiconfigurator's measured curve for it",
            "  (`moe.gptoss.w4a16_mxfp4`); planner stays optimistic on these 12 cases (median +34%; +84% when",
            "  they were priced on the BF16 grouped GEMM), most at TP 1 with short outputs.",
            "- **DeepSeek decode at small batches across nodes** (SGLang on H200, EP16): the DeepEP low-latency",
            "  dispatch/combine latency over InfiniBand is above the 10 µs per collective planner charges.",
            "- **NVFP4 MoE prefill on GB200/GB300**: the measured FP4 grouped-GEMM curve (TensorRT-LLM's CUTLASS",
            "  kernel with its activation quantisation) is slower than the kernels SGLang and vLLM ran.",
            "- **DeepSeek-V3.2 prefill** (TensorRT-LLM TTFT, vLLM prefill): both measure it 2.4-2.7x slower than",
            "  planner, which prices the DSA indexer and sparse attention by their FLOPs and bytes; the kernels",
            "  of late 2025 ran far below that. Two sources, so it stays a documented miss, not a constant.",
            "- **Disaggregated pools at a stated size** (llm-d on B200): planner sizes the prefill pool for 70%",
            "  utilisation and counts only the prefill GPUs that needs; the published deployment pins its pools.",
            "", "### Cases", "",
            "| case | date | framework | hardware | model | layout | batch | measured | planner | e | dominant |",
            "|---|---|---|---|---|---|---|---:|---:|---:|---|"]
    for x in r.rows:
        c = x.case
        unit = METRIC_UNITS[c.metric]
        out.append(f"| [`{c.id}`]({c.source}) | {c.date} | {c.framework} | {c.hardware} | {c.model} | "
                   f"`{x.inputs.layout.label()}` | {x.inputs.layout.batch} ({x.inputs.batch_source}) | "
                   f"{_num(c.value)} {unit} | {_num(x.value)} | {x.error:+.0%} | {x.dominant} |")
    out.append("")
    return out


# ---- training (issue 8) ---------------------------------------------------------------------------

TRAINING_RUNS = (
    # (label, model, hardware, tokens, gpus, layout, options, schedule the run used, reported
    # GPU-hours, reported MFU range, sources)
    ("DeepSeek-V3 pre-training", "deepseek-v3", "h800-sxm", 14.8e12, 2048, "pp=16,ep=64",
     {"zero": 1, "seq": 4096, "global_batch": 15360, "precision": "fp8", "route_nodes": 4}, "dualpipe",
     2.664e6, None,
     "DeepSeek-V3 report (arXiv:2412.19437) Table 1 and §3.2-3.3, §4.2: 2.664M H800 GPU-hours for 14.8T tokens; "
     "PP16 with DualPipe, EP64 over 8 nodes, ZeRO-1, FP8 GEMMs, node-limited routing (4 nodes), sequence 4096, "
     "batch 15,360 sequences"),
    ("Llama-3.1-405B pre-training", "llama-3.1-405b", "h100-sxm", 15.6e12, 16384, "tp=8,pp=16",
     {"zero": 2, "seq": 8192, "global_batch": 2048, "precision": "bf16"}, "interleaved", 30.84e6, (0.38, 0.43),
     "Llama 3.1 model card: 30.84M H100 GPU-hours; Llama 3 paper (arXiv:2407.21783) §3.3.2 and Table 4: "
     "TP8, PP16 with an interleaved schedule, DP128, sequence 8192, 16M tokens per batch, 38-43% BF16 MFU; "
     "FSDP shards optimizer and gradients, weights are not resharded after forward (= ZeRO-2)"),
)


def training_section() -> list[str]:
    """The "## Training" section: the two published runs predicted without fitting, once with the
    published layout pinned on the plain 1F1B schedule and once searched on the schedule each run
    used (issue 18's acceptance), with the commands that reproduce them."""
    from planner.inputs.io import load_hardware, load_model
    from planner.training.run import train, train_flops, train_layout
    from planner.training.schedule import Schedule
    from planner.training.search import search_layout

    out = ["", "## Training", "",
           "`planner train` predicts published pre-training runs without fitting: the presets' efficiency",
           "factors, the measured GEMM curves (DeepGEMM's FP8 tables for block-scaled FP8), the non-GEMM kernels",
           "by their bytes (norms and FP8 casts at published H100 bandwidths), the communication SMs of an",
           "overlapped all-to-all, and each schedule's bubble (`planner/training/`). Each run is predicted twice:",
           "with the published layout pinned on the plain 1F1B schedule, and searched (`planner train` without",
           "`--layout`) on the schedule the run used. Acceptance (issue 18): the searched run's GPU-hours within",
           "±20% of the reported ones, Llama's MFU within 38-43% ± 5 points.", "",
           "| run | FLOPs/token (seq 4096) | ISCA '25 Table 2 | how | layout | GPU-hours predicted | reported | "
           "error | MFU predicted | reported |",
           "|---|---:|---:|---|---|---:|---:|---:|---:|---:|"]
    published = {"deepseek-v3": 250e9, "llama-3.1-405b": 2448e9}
    commands, sources = [], []
    for label, model, hw, tokens, gpus, layout, opts, schedule, hours, mfu, source in TRAINING_RUNS:
        m, h = load_model(model), load_hardware(hw)
        pinned = train(m, h, train_layout(layout, **opts), tokens, gpus=gpus)
        base = train_layout(**{k: v for k, v in opts.items() if k != "zero"})
        searched = search_layout(m, h, base, tokens, gpus, pinned={"schedule": Schedule(schedule)}).best
        fpt = train_flops(m, 4096).per_token
        reported_mfu = f"{mfu[0]:.0%}–{mfu[1]:.0%}" if mfu else "not published"
        for how, r in (("published layout, 1F1B", pinned), (f"searched, {schedule}", searched)):
            out.append(f"| {label} | {fpt / 1e9:,.0f} G ({fpt / published[model] - 1:+.1%}) | "
                       f"{published[model] / 1e9:,.0f} G | {how} | `{r.layout.label()}` | "
                       f"{r.gpu_hours / 1e6:,.2f}M | {hours / 1e6:,.3f}M | {r.gpu_hours / hours - 1:+.1%} | "
                       f"{r.mfu:.1%} | {reported_mfu} |")
        zero = "fsdp" if opts["zero"] == 3 else str(opts["zero"])
        extra = f" --route-nodes {opts['route_nodes']}" if "route_nodes" in opts else ""
        common = (f"--model {model} --hardware {hw} --tokens {tokens / 1e12:g}T --gpus {gpus} --seq {opts['seq']} "
                  f"--global-batch {opts['global_batch']} --precision {opts['precision']}{extra}")
        commands.append(f"- `planner train {common} --layout {layout} --zero {zero} --format json`")
        commands.append(f"- `planner train {common} --schedule {schedule} --format json`")
        sources.append(f"- {label}: {source}.")
    out += ["", "Read the reasons before trusting the agreement:", "",
            "- **DeepSeek-V3** (searched) is about 16% fast, inside the acceptance. DualPipe hides the",
            "  all-to-all per component (V3 §3.2.1, Figure 4): at the searched TP2/PP2/EP256 the backward combine",
            "  (87 ms over InfiniBand per micro-batch) outlasts the forward attention it pairs with, and the 3",
            "  warm-up and cool-down chunk pairs per rank that run unpaired (Figure 5; DualPipe's `step()`) expose",
            "  their 305 ms of all-to-all: 2.10M -> 2.24M GPU-hours. Against DeepSeek's published profile of one",
            "  DualPipe chunk pair (deepseek-ai/profile-data `train.json`, 4 MoE layers, EP64 on H800) the",
            "  modelled GEMMs and attention match (84 vs 85 ms); what is missing is in the other kernels, 22.6 ms",
            "  modelled against 33.0 ms measured (DeepSeek's FP8 casts and norms stream at 1.1-1.7 TB/s where",
            "  published H100 kernels reach 1.8-2.8 TB/s), and 10.4 ms of idle gaps on the compute stream that",
            "  the per-component overlap does not derive (at EP64 each segment's computation outlasts its",
            "  all-to-all; `tests/test_training_search.py` holds the per-class comparison). Its published layout",
            "  does not fit with DualPipe without V3's activation recipe (FP8 activation caching §3.3.3, norm and",
            "  up-projection recompute §3.4), which is not modelled, so the pinned row runs plain 1F1B.",
            "  DeepSeek does not publish MFU; the figures are of the FP8 dense peak.",
            "- **Llama-3.1-405B** (searched, interleaved) lands within the band on GPU-hours and MFU. The pinned",
            "  row is slow because plain 1F1B leaves a 48% bubble (16 micro-batches through 16 stages) where Meta",
            "  ran an interleaved schedule. The 30.84M GPU-hours also cover the long-context and annealing stages,",
            "  which a single sequence-8192 run does not separate.", "",
            "Commands:", ""] + commands + ["", "Sources:", ""] + sources
    return out


def print_training_section() -> None:
    print("\n".join(training_section()))


def print_bands() -> None:
    """presets/validation/error_bands.toml: the signed-error quantiles planner.accuracy.uncertainty reads."""
    from planner.accuracy.published import validate_published
    r = validate_published()
    print("# Signed rate-error quantiles (predicted rate / measured rate - 1; a time counts as its inverse) of planner")
    print("# against the published measurements in presets/validation/measured/, per kind of prediction: q10 and q90")
    print("# taken outward to the nearest case. Generated by `python3 bench/validation_report.py --bands`;")
    print("# tests/test_validate.py checks it is current.")
    print('sources = ["presets/validation/measured/*.toml (planner.accuracy.published)"]')
    for kind, (q_low, q_high) in r.bands.items():
        print(f"\n[{kind}]\nq10 = {q_low:.4f}\nq90 = {q_high:.4f}")


if __name__ == "__main__":
    if "--bands" in sys.argv:
        print_bands()
    else:
        main()
        print_training_section()
