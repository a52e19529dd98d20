"""`planner size --roofline FILE.svg|png`: each phase's operating point on the machine's roofline.

matplotlib is an optional extra (`pip install 'llm-capacity-planner[plot]'`); the planner works
without it, and asking for a picture without it is one line and exit 2. The numbers come from
the plan: per GPU, a phase does `flops_per_gpu` FLOPs and moves `hbm_bytes_per_gpu` bytes of HBM
traffic in `time_s`, so its arithmetic intensity is FLOPs/byte and its attained rate FLOPs/s.
The roofs are min(peak, intensity × HBM bandwidth) for each precision the machine has natively.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.pictures import picture_path, save_figure
from planner.inputs.hardware import Hardware
from planner.machine.summary import CLASSES
from planner.plan.schema import Plan

check_path = picture_path("--roofline")


def roofline_data(plan: Plan, hw: Hardware) -> dict[str, Any]:
    """Roofs and phase points in base units (FLOPs/byte, FLOP/s), without drawing anything."""
    bw = hw.hbm.bandwidth_bytes_per_s
    roofs = [{"precision": c.value, "peak_flops": hw.peak.flops_per_s(c),
              "ridge_flops_per_byte": hw.peak.flops_per_s(c) / bw}
             for c in CLASSES if hw.peak.native(c)]
    points = []
    phases = (("prefill", plan.phases.prefill), ("decode", plan.phases.decode)) if plan.phases else ()
    for name, p in phases:
        flops, moved, t = p.flops_per_gpu, p.hbm_bytes_per_gpu, p.time_s
        if flops and moved and t:
            points.append({"phase": name, "flops_per_byte": flops / moved, "flops_per_s": flops / t,
                           "bottleneck": p.bottleneck})
    return {"hardware": hw.name, "hbm_bandwidth_bytes_per_s": bw,
            "hbm_bandwidth_achievable_bytes_per_s": bw * hw.efficiency.hbm, "roofs": roofs, "points": points}


def write_roofline(path: Path | None, plan: Plan, hw: Hardware, force: bool = False) -> None:
    """Draw and write the picture (SVG or PNG by extension); a no-op when `path` is None."""
    if path is None:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cli import render

    d = roofline_data(plan, hw)
    bw = d["hbm_bandwidth_bytes_per_s"]
    intensities = [p["flops_per_byte"] for p in d["points"]] + [r["ridge_flops_per_byte"] for r in d["roofs"]]
    lo, hi = min(intensities) / 8, max(intensities) * 8
    xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    colours = {"bf16": "#1f77b4", "fp8": "#2ca02c", "fp4": "#9467bd"}
    for r in d["roofs"]:
        ys = [min(r["peak_flops"], x * bw) for x in xs]
        ax.plot(xs, ys, color=colours.get(r["precision"], "grey"), lw=2,
                label=f"{r['precision'].upper()} roof: {r['peak_flops'] / 1e15:g} PFLOP/s, "
                      f"ridge {r['ridge_flops_per_byte']:,.0f} FLOPs/B")
    eff = d["hbm_bandwidth_achievable_bytes_per_s"]
    top = max(r["peak_flops"] for r in d["roofs"])
    ax.plot([x for x in xs if x * eff <= top], [x * eff for x in xs if x * eff <= top], color="grey", ls="--", lw=1,
            label=f"achievable HBM {eff / 1e12:.2f} TB/s (of {bw / 1e12:.2f})")
    markers = {"prefill": ("o", "#d62728"), "decode": ("s", "#ff7f0e")}
    for p in d["points"]:
        marker, colour = markers.get(p["phase"], ("^", "black"))
        ax.scatter([p["flops_per_byte"]], [p["flops_per_s"]], s=70, marker=marker, color=colour, zorder=5,
                   label=f"{p['phase']}: {p['flops_per_byte']:,.0f} FLOPs/B, "
                         f"{p['flops_per_s'] / 1e12:,.0f} TFLOP/s ({p['bottleneck']}-bound)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOPs per byte of HBM traffic)")
    ax.set_ylabel("attained FLOP/s per GPU")
    title = f"{plan.model} on {hw.name} ({plan.workload})"
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower right")
    if not d["points"]:
        ax.text(0.02, 0.95, "no feasible plan: no operating points", transform=ax.transAxes, fontsize=9)
    fig.tight_layout()
    try:
        save_figure(fig, path, force)
    finally:
        plt.close(fig)
    render.note(f"roofline written to {path}")
