"""`planner train`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cli.render.console import bold, line, out, pct, table
from cli.render.plan import verdicts
from planner import units as U

if TYPE_CHECKING:
    pass


def train(d: dict[str, Any], found: Iterable[Any]) -> None:
    lay, mem, st, c = d["layout"], d["per_gpu"], d["step"], d["cluster"]
    zero = "FSDP" if lay["zero"] == 3 else f"ZeRO-{lay['zero']}"
    line(bold(d["model"]), " on ", bold(d["hardware"]), f": {U.format_count(d['tokens'])} tokens; "
              f"tp={lay['tp']} cp={lay['cp']} dp={lay['dp']} ep={lay['ep']} pp={lay['pp']} vp={lay['vp']}, "
              f"{lay['schedule']} schedule, {zero}, "
              f"{lay['recompute']} recompute, {lay['precision'].upper()} GEMMs; micro-batch {lay['micro_batch']}, "
              f"global batch {lay['global_batch_sequences']:,} × {lay['seq']:,} tokens "
              f"({lay['micro_batches']:,} micro-batches per DP rank)")
    cap = mem["capacity_bytes"]
    rows = [(k.replace("_bytes", ""), mem[k]) for k in ("weights_bytes", "gradients_bytes", "optimizer_bytes",
                                                         "activation_bytes", "reserve_bytes", "free_bytes")]
    out.print(table("HBM per GPU (heaviest pipeline stage)", ["", "bytes", "share"],
                     ((n, U.format_bytes(v), pct(v / cap)) for n, v in rows), right=(1, 2)))
    res = [("compute", st["compute_s"]), ("HBM (expert GEMMs, optimizer)", st["hbm_s"]),
           ("scale-up traffic", st["scale_up_s"]), ("scale-out traffic", st["scale_out_s"]),
           ("pipeline bubble", st["pipeline_bubble_s"]), ("exposed communication", st["exposed_comm_s"])]
    out.print(table("Step time by resource (each alone, per step)", ["resource", "time", "share of step"],
                     ((n, U.format_seconds(v), pct(v / d["step_time_s"])) for n, v in res), right=(1, 2)))
    if st["comms"]:
        out.print(table("Collectives (per micro-batch; DP/EDP per step)",
                        ["kind", "fabric", "bytes/GPU", "time", "exposed"],
                         ((x["name"].upper(), x["fabric"].replace("_", "-"), U.format_bytes(x["bytes"]),
                           U.format_seconds(x["time_s"]), U.format_seconds(x["exposed_s"]) if x["exposed_s"] else "")
                          for x in st["comms"]), right=(2, 3, 4)))
    xp = st["expert_gemm"]
    if xp:
        out.print(f"expert GEMMs: {xp['tokens_per_expert']:,.0f} tokens per expert per micro-batch, "
                  f"{xp['flops_per_byte']:,.0f} FLOPs/B vs HBM balance {xp['balance_flops_per_byte']:,.0f} "
                  f"({'HBM-bound' if xp['hbm_bound'] else 'compute-bound'})")
    out.print(f"step {U.format_seconds(d['step_time_s'])} (bubble {pct(st['bubble_fraction'])}), "
              f"MFU {pct(d['mfu'])}, {U.format_flop(d['flops_per_token'])}/token; "
              f"{d['steps']:,.0f} steps, {d['days']:,.1f} days, {d['gpu_hours'] / 1e6:,.3f}M GPU-hours")
    out.print(f"cluster: {c['gpus']:,} GPUs ({d['gpus_from']}) in {c['nodes']:,} nodes, {c['racks']:,} racks, "
              f"{c['power_w'] / 1e3:,.1f} kW, {c['energy_mwh']:,.0f} MWh")
    search = d.get("search")
    if search and search["alternatives"]:
        out.print(table(f"Alternatives (searched {search['evaluated']:,} layouts, by MFU)",
                        ["layout", "MFU", "GPU-hours", "days", "free HBM"],
                        ((x["layout"], pct(x["mfu"]), f"{x['gpu_hours'] / 1e6:,.3f}M", f"{x['days']:,.1f}",
                          U.format_bytes(x["free_bytes"])) for x in search["alternatives"]), right=(1, 2, 3, 4)))
    verdicts(found)
