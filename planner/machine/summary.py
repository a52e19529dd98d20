"""Hardware summary: base-unit facts and balance points, as `planner hardware show` reports them."""

from __future__ import annotations

from planner.inputs.hardware import Hardware
from planner.machine.cluster import system_power_per_gpu_w
from planner.machine.cost import gpu_hour_rate
from planner.precision import ComputeClass

CLASSES = (ComputeClass.bf16, ComputeClass.fp8, ComputeClass.fp4)


def _price(hw: Hardware, system_w_per_gpu: float) -> dict | None:
    """The dated prices and the per-GPU-hour rate a plan uses (planner.machine.cost)."""
    if hw.price is None:
        return None
    rate = gpu_hour_rate(hw, system_w_per_gpu)
    return {**hw.price.model_dump(mode="json"), "usd_per_gpu_hour": rate.usd_per_gpu_hour if rate else None,
            "basis_used": rate.basis if rate else None, "note": rate.note if rate else None}


def hardware_dict(hw: Hardware) -> dict:
    peaks = {c.value: (hw.peak.flops_per_s(c) if hw.peak.native(c) else None) for c in CLASSES}
    balance = {r: {c.value: hw.balance(r, c) for c in CLASSES} for r in ("hbm", "scale_up", "scale_out")}
    system_w, system_basis = system_power_per_gpu_w(hw)
    tiers = {}
    if hw.host:
        tiers["G2"] = {"capacity_bytes_per_node": hw.host.capacity_gb_per_node * 1e9,
                       "link": hw.host.link, "bandwidth_bytes_per_s_per_gpu": hw.host.link_bandwidth_gbps * 1e9}
    if hw.nvme:
        n = hw.nvme
        tiers["G3"] = {"capacity_bytes_per_node": n.drives_per_node * n.drive_capacity_tb * 1e12,
                       "read_bytes_per_s_per_node": n.drives_per_node * n.drive_read_gbps * 1e9,
                       "write_bytes_per_s_per_node": n.drives_per_node * n.drive_write_gbps * 1e9,
                       "assumption": n.assumption}
    if hw.pod_flash:
        pf = hw.pod_flash
        write = pf.write_bandwidth_gbps_per_gpu
        tiers["G3.5"] = {"capacity_bytes_per_rack": pf.capacity_tb_per_rack * 1e12,
                         "read_bytes_per_s_per_gpu": pf.bandwidth_gbps_per_gpu * 1e9,
                         "write_bytes_per_s_per_gpu": write * 1e9 if write is not None else None,
                         "latency_s": pf.latency_us * 1e-6, "scope_racks": pf.scope_racks,
                         "assumption": pf.assumption}
    if hw.shared_storage:
        ss = hw.shared_storage
        write = ss.write_bandwidth_gbps_per_node
        tiers["G4"] = {"read_bytes_per_s_per_node": ss.bandwidth_gbps_per_node * 1e9,
                       "write_bytes_per_s_per_node": write * 1e9 if write is not None else None,
                       "latency_s": ss.latency_us * 1e-6, "assumption": ss.assumption}
    link = hw.storage_link
    storage_link = ({"name": link.name, "bandwidth_bytes_per_s_per_node": link.bandwidth_gbps_per_node * 1e9,
                     "shared_by": list(link.shared_by)} if link else None)
    return {
        "name": hw.name, "description": hw.description, "status": hw.status.value, "vendor": hw.vendor,
        "hbm": {"capacity_bytes": hw.hbm.capacity_bytes, "bandwidth_bytes_per_s": hw.hbm.bandwidth_bytes_per_s,
                "generation": hw.hbm.generation, "stacks": hw.hbm.stacks, "pin_speed_gbps": hw.hbm.pin_speed_gbps},
        "peak_flops": peaks,
        "peak_basis": {c.value: getattr(hw.peak, f"{c.value}_basis") for c in CLASSES if hw.peak.native(c)},
        "peak_flops_fp4_inference": (hw.peak.fp4_inference_tflops * 1e12 if hw.peak.fp4_inference_tflops
                                     else None),
        "peak_note": hw.peak_note, "kernels": hw.kernel_note,
        "scale_up": {"technology": hw.scale_up.technology,
                     "bandwidth_bytes_per_s": hw.scale_up.bandwidth_bytes_per_s,
                     "domain_size": hw.scale_up.domain_size},
        "scale_out": {"technology": hw.scale_out.technology,
                      "bandwidth_bytes_per_s": hw.scale_out.bandwidth_bytes_per_s},
        "balance": balance,
        "gpus_per_node": hw.gpus_per_node, "gpus_per_rack": hw.gpus_per_rack,
        "power": {"basis": hw.power.basis, "gpu_w": hw.power.gpu_w, "node_w": hw.power.node_w,
                  "rack_w": hw.power.rack_w, "system_w_per_gpu": system_w, "system_basis": system_basis,
                  "includes": hw.power.includes, "source": hw.power.source},
        "efficiency": hw.efficiency.model_dump(mode="json"),
        "price": _price(hw, system_w),
        "tiers": tiers, "storage_link": storage_link,
        "notes": list(hw.notes), "sources": list(hw.sources), "provenance": dict(hw.provenance),
    }
