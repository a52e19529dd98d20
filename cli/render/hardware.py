"""`planner hardware list|show`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cli.render.console import bold, line, listing, out, table
from planner import units as U

if TYPE_CHECKING:
    pass


def _peak(x: float | None) -> str:
    return U.format_flops(x) if x else "—"


def _bal(x: float | None) -> str:
    return f"{x:,.0f}" if x else "—"


def hardware_list(rows: list[dict[str, Any]], fmt: str = "table") -> None:
    listing(table("Hardware presets", ["name", "status", "HBM", "HBM B/W", "FP8 dense", "FP4 dense",
                                          "scale-up/GPU", "domain"],
                     ([r["name"], r["status"], U.format_bytes(r["hbm"]["capacity_bytes"]),
                       U.format_rate(r["hbm"]["bandwidth_bytes_per_s"]), _peak(r["peak_flops"]["fp8"]),
                       _peak(r["peak_flops"]["fp4"]), U.format_rate(r["scale_up"]["bandwidth_bytes_per_s"]),
                       str(r["scale_up"]["domain_size"])] for r in rows), right=(2, 3, 4, 5, 6, 7)), fmt, rows)


def _label(key: str) -> str:
    """'read_bytes_per_s_per_node' -> 'read per node'."""
    return key.replace("_bytes_per_s", "").replace("_bytes", "").replace("_", " ")


def _tier_value(key: str, value: Any) -> str:
    if key.endswith("latency_s"):
        return f"{value * 1e6:,.0f} µs"
    if "per_s" in key:
        return U.format_rate(value)
    return U.format_bytes(value) if "bytes" in key else str(value)


def hardware_show(d: dict[str, Any]) -> None:
    h = d["hbm"]
    line(bold(d["name"]), f" ({d['status']})  ", d["description"])
    pins = f", {h['stacks']} stacks at {h['pin_speed_gbps']:.2f} Gb/s per pin" if h["pin_speed_gbps"] else ""
    out.print(f"HBM: {U.format_bytes(h['capacity_bytes'])} device total ({U.format_gib(h['capacity_bytes'])}; "
              f"a serving engine uses its memory fraction of it), {U.format_rate(h['bandwidth_bytes_per_s'])}{pins}")
    su, so = d["scale_up"], d["scale_out"]
    out.print(f"scale-up: {su['technology']}, {U.format_rate(su['bandwidth_bytes_per_s'])} per GPU per direction, "
              f"domain {su['domain_size']} GPUs; scale-out: {so['technology']}, "
              f"{U.format_rate(so['bandwidth_bytes_per_s'])} per GPU")
    pw = d["power"]
    line(f"GPUs per node {d['gpus_per_node']}, per rack {d['gpus_per_rack']}; "
         f"power {pw['gpu_w']:,.0f} W per GPU (TDP), "
         f"{pw['system_w_per_gpu']:,.0f} W per GPU system IT power ({pw['system_basis']}; "
         f"the figure covers {pw['includes']})")
    price = d.get("price")
    line(f"price: {price['note']}" if price and price["note"] else "price: none stated (give --set hardware.price.*)")
    rows = []
    for cls in ("bf16", "fp8", "fp4"):
        rows.append((cls.upper(), _peak(d["peak_flops"][cls]), d["peak_basis"].get(cls, "—"),
                     _bal(d["balance"]["hbm"][cls]), _bal(d["balance"]["scale_up"][cls]),
                     _bal(d["balance"]["scale_out"][cls])))
    out.print(table("Dense peaks and balance points (FLOPs per byte; above it the link binds)",
                     ["precision", "dense peak", "basis", "HBM", "scale-up", "scale-out"], rows,
                     right=(1, 3, 4, 5)))
    line(f"compute: {d['peak_note']}; kernels: {d['kernels']}")
    if d["peak_flops_fp4_inference"]:
        line(f"FP4 'inference' figure {_peak(d['peak_flops_fp4_inference'])} (vendor label, sparsity unstated): "
             "shown, not used for time")
    for tier, t in d["tiers"].items():
        parts = [f"{_label(k)} {_tier_value(k, v)}" for k, v in t.items() if v is not None and k != "assumption"]
        out.print(f"{tier}: " + "; ".join(parts))
        if t.get("assumption"):
            out.print(f"    assumption: {t['assumption']}")
    if d["storage_link"]:
        sl = d["storage_link"]
        line(f"storage link: {sl['name']}, {U.format_rate(sl['bandwidth_bytes_per_s_per_node'])} per node, "
             f"shared by {' and '.join(sl['shared_by'])} (their reads together, and writes together, cap at it)")
    eff = d["efficiency"]
    out.print(f"efficiency: compute {eff['compute']}, HBM {eff['hbm']}, scale-up {eff['scale_up']}, "
              f"scale-out {eff['scale_out']} ({eff['origin']})")
    for n in d["notes"]:
        out.print(f"note: {n}")
