"""Balance: what each resource would need to be for the bottleneck to move.

For a model on a machine, at the layout `size` picks for the workload (or a given one), each
resource is held against the others:

- HBM: the bandwidth at which decode's HBM time equals its next-largest term (HBM time scales as
  1 / bandwidth), and the pin speed that gives it with the same stacks and bus width;
- scale-up: the bandwidth per GPU (one direction) at which expert-parallel traffic hides under
  expert compute, peak FLOP/s of the experts' compute class ÷ the model's FLOPs per byte of
  dispatch+combine traffic (DeepSeek-V4 §3.1: V4-Pro 6144 FLOPs/B, so an FP4 GB200 at 10 PFLOP/s
  needs 10e15 / 6144 ≈ 1.63 TB/s against NVLink 5's 0.9); for dense models the bandwidth at which
  decode's scale-up time equals its next term;
- domain size: the smallest of 8, 36, 72, 144, 576 GPUs whose best plan keeps EP inside the
  domain (from `size`'s domain comparison), or that holds the layout's EP (TP for dense) group;
- NVMe: the read bandwidth per GPU at which loading a returning turn's prefix beats recomputing
  it (the KV break-even) and at which a hit meets the TTFT target.

Each phase also reports, per resource, the value at which its time would equal the largest other
term: above it that resource stops binding (or, when it does not bind, how far it could fall).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.io import default_engine
from planner.inputs.layout import Layout
from planner.inputs.model import Model
from planner.inputs.workload import Workload
from planner.model import facts as M
from planner.perf.memory import hbm_budget
from planner.perf.phases import PhaseTimes, prefill
from planner.plan.verdicts import judge
from planner.precision import gemm_compute_class
from planner.serving.deployment import (
    DOMAIN_SIZES,
    MAX_BATCH,
    evaluate_layout,
    size_deployment,
)
from planner.units import finite, flat_record
from planner.verdict import Severity


@dataclass(frozen=True)
class PhaseBalance:
    """One phase: seconds per resource and, per resource, the capacity at which its time equals
    the largest other term (bytes/s for links and HBM; a factor on FLOP/s for compute)."""

    phase: str
    bottleneck: str
    time_s: float
    terms_s: dict[str, float]
    hbm_bandwidth_bytes_per_s_needed: float | None
    scale_up_bandwidth_bytes_per_s_needed: float | None
    scale_out_bandwidth_bytes_per_s_needed: float | None
    compute_factor_needed: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"bottleneck": self.bottleneck, "time_s": self.time_s, "terms_s": dict(self.terms_s),
                "hbm_bandwidth_bytes_per_s_needed": self.hbm_bandwidth_bytes_per_s_needed,
                "scale_up_bandwidth_bytes_per_s_needed": self.scale_up_bandwidth_bytes_per_s_needed,
                "scale_out_bandwidth_bytes_per_s_needed": self.scale_out_bandwidth_bytes_per_s_needed,
                "compute_factor_needed": self.compute_factor_needed}


@dataclass(frozen=True)
class Balance:
    model: str
    hardware: str
    workload: str
    layout: Layout | None
    feasible: bool
    reason: str
    # HBM (decode)
    hbm_bandwidth_bytes_per_s: float
    hbm_bandwidth_bytes_per_s_needed: float | None
    hbm_pin_speed_gbps: float | None
    hbm_pin_speed_gbps_needed: float | None
    hbm_binding: bool
    # scale-up, per GPU, one direction
    scale_up_bandwidth_bytes_per_s: float
    scale_up_bandwidth_bytes_per_s_needed: float | None
    scale_up_rule: str                     # "ep_hidden" (peak / EP intensity) or "decode_balance"
    expert_compute_class: str | None
    expert_peak_flops: float | None
    ep_flops_per_comm_byte: float | None
    machine_flops_per_scale_up_byte: float | None
    domain_size: int
    domain_size_needed: int | None
    knee_domain_size: int | None
    # NVMe (G3), per GPU
    nvme_bandwidth_bytes_per_s_per_gpu: float | None
    nvme_break_even_bytes_per_s_per_gpu: float | None
    nvme_ttft_bytes_per_s_per_gpu_needed: float | None
    ttft_target_s: float | None
    phases: tuple[PhaseBalance, ...] = field(default_factory=tuple)

    @property
    def nvme_bandwidth_bytes_per_s_per_gpu_needed(self) -> float | None:
        """The larger of the break-even and the TTFT need: below it a hit is not worth loading."""
        vals = [v for v in (self.nvme_break_even_bytes_per_s_per_gpu, self.nvme_ttft_bytes_per_s_per_gpu_needed)
                if v is not None]
        return max(vals) if vals else None

    @property
    def scale_up_hidden(self) -> bool | None:
        need = self.scale_up_bandwidth_bytes_per_s_needed
        return None if need is None else self.scale_up_bandwidth_bytes_per_s >= need

    def to_dict(self) -> dict[str, Any]:
        lay = self.layout
        return {
            "model": self.model, "hardware": self.hardware, "workload": self.workload,
            "layout": None if lay is None else lay.to_dict(),
            "feasible": self.feasible, "reason": self.reason,
            "hbm": {"bandwidth_bytes_per_s": self.hbm_bandwidth_bytes_per_s,
                    "bandwidth_bytes_per_s_needed": self.hbm_bandwidth_bytes_per_s_needed,
                    "pin_speed_gbps": self.hbm_pin_speed_gbps,
                    "pin_speed_gbps_needed": self.hbm_pin_speed_gbps_needed,
                    "binding": self.hbm_binding, "phase": "decode"},
            "scale_up": {"bandwidth_bytes_per_s": self.scale_up_bandwidth_bytes_per_s,
                         "bandwidth_bytes_per_s_needed": self.scale_up_bandwidth_bytes_per_s_needed,
                         "hidden": self.scale_up_hidden, "rule": self.scale_up_rule,
                         "expert_compute_class": self.expert_compute_class,
                         "expert_peak_flops": self.expert_peak_flops,
                         "ep_flops_per_comm_byte": self.ep_flops_per_comm_byte,
                         "machine_flops_per_byte": self.machine_flops_per_scale_up_byte,
                         "domain_size": self.domain_size, "domain_size_needed": self.domain_size_needed,
                         "knee_domain_size": self.knee_domain_size},
            "nvme": {"bandwidth_bytes_per_s_per_gpu": self.nvme_bandwidth_bytes_per_s_per_gpu,
                     "bandwidth_bytes_per_s_per_gpu_needed": self.nvme_bandwidth_bytes_per_s_per_gpu_needed,
                     "break_even_bytes_per_s_per_gpu": self.nvme_break_even_bytes_per_s_per_gpu,
                     "ttft_bytes_per_s_per_gpu_needed": self.nvme_ttft_bytes_per_s_per_gpu_needed,
                     "ttft_target_s": self.ttft_target_s},
            "phases": {p.phase: p.to_dict() for p in self.phases},
        }

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat row (dotted keys) for pandas.DataFrame."""
        return [flat_record(self.to_dict())]


def phase_balance(name: str, hw: Hardware, t: PhaseTimes) -> PhaseBalance:
    """Per resource, the capacity at which its time equals the largest other term. Times scale as
    1 / capacity (the fixed per-collective latencies are ignored, as in the verdict levers)."""
    terms = t.terms

    def needed(resource: str, current: float) -> float | None:
        mine = terms[resource]
        other = max(v for k, v in terms.items() if k != resource)
        if mine <= 0 or other <= 0:
            return None
        return current * mine / other

    return PhaseBalance(
        phase=name, bottleneck=t.bottleneck, time_s=t.time_s, terms_s=terms,
        hbm_bandwidth_bytes_per_s_needed=needed("hbm", hw.hbm.bandwidth_bytes_per_s),
        scale_up_bandwidth_bytes_per_s_needed=needed("scale_up", hw.scale_up.bandwidth_bytes_per_s),
        scale_out_bandwidth_bytes_per_s_needed=needed("scale_out", hw.scale_out.bandwidth_bytes_per_s),
        compute_factor_needed=needed("compute", 1.0))


def _domain_for(m: Model, layout: Layout) -> int | None:
    """Smallest standard domain that holds the group that must talk over scale-up: EP for MoE,
    TP for dense."""
    group = layout.ep if m.is_moe else layout.tp
    return next((d for d in DOMAIN_SIZES if d >= group), None)


def balance(model: Model, hardware: Hardware, workload: Workload, layout: Layout | None = None,
            engine: Engine | None = None, jobs: int | None = 1) -> Balance:
    """What HBM bandwidth (and pin speed), scale-up bandwidth per GPU, domain size and NVMe
    bandwidth per GPU would move the bottleneck, for the plan `size` picks (or at the pinned
    `layout`, evaluated as a proposal's [layout] is: its batch as given, pools for the demand).
    Units: bytes/s, Gb/s per pin, GPUs. Never raises for an infeasible workload: `feasible` and
    `reason` say so, and the layout-independent numbers (the EP rule) are still reported. `jobs` as
    `size_deployment` takes it."""
    m, hw, w = model, hardware, workload
    if layout is not None:
        d = evaluate_layout(m, hw, w, layout, engine=engine)
    else:
        d = size_deployment(m, hw, w, compare_domains=m.is_moe, engine=engine, jobs=jobs)
    feasible = d.feasible
    reason = next((v.message for v in judge(d) if v.severity == Severity.error), "") if not feasible else ""
    u = d.unit
    # HBM, from decode.
    hbm_bw = hw.hbm.bandwidth_bytes_per_s
    phases: list[PhaseBalance] = []
    hbm_need = pin_need = None
    binding = False
    if u is not None:
        phases = [phase_balance("prefill", hw, u.prefill), phase_balance("decode", hw, u.decode)]
        dec = phases[1]
        hbm_need = dec.hbm_bandwidth_bytes_per_s_needed
        pin_need = hw.hbm.pin_speed_for(hbm_need) if hbm_need is not None else None
        binding = dec.bottleneck == "hbm"
    # Scale-up: the EP rule for MoE, the decode balance for dense models.
    intensity = M.ep_flops_per_comm_byte(m)
    su_bw = hw.scale_up.bandwidth_bytes_per_s
    cls = peak = None
    if intensity is not None:
        cls = gemm_compute_class(m.precision.expert_weights, m.precision.expert_inputs)
        peak = hw.peak.flops_per_s(cls)
        su_need: float | None = peak / intensity
        rule = "ep_hidden"
    else:
        su_need = phases[1].scale_up_bandwidth_bytes_per_s_needed if phases else None
        rule = "decode_balance"
    # Domain.
    if layout is not None or not m.is_moe:
        dom_need, knee = (_domain_for(m, u.layout) if u is not None else None), None
    else:
        dom_need, knee = d.smallest_domain, d.knee_domain
    # NVMe: break-even and the bandwidth at which a hit meets the TTFT target.
    nvme_bw = (hw.nvme.drives_per_node * hw.nvme.drive_read_gbps * 1e9 / hw.gpus_per_node
               if hw.nvme and hw.nvme.drives_per_node else None)
    break_even = ttft_need = None
    if d.kv is not None and u is not None and w.prefix:
        break_even = d.kv.break_even_bytes_per_s_per_gpu
        target = w.slo.ttft_s
        if target is not None:
            room = target - prefill(m, hw, u.prefill_layout, w.isl, w.prefix, engine=d.engine).time_s
            ttft_need = d.kv.prefix_bytes_per_gpu / room if room > 0 else None
    return Balance(
        model=m.name, hardware=hw.name, workload=w.name,
        layout=u.layout if u is not None else None, feasible=feasible, reason=reason,
        hbm_bandwidth_bytes_per_s=hbm_bw, hbm_bandwidth_bytes_per_s_needed=hbm_need,
        hbm_pin_speed_gbps=hw.hbm.pin_speed_gbps if hw.hbm.pins_known else None,
        hbm_pin_speed_gbps_needed=pin_need, hbm_binding=binding,
        scale_up_bandwidth_bytes_per_s=su_bw, scale_up_bandwidth_bytes_per_s_needed=su_need, scale_up_rule=rule,
        expert_compute_class=cls.value if cls is not None else None, expert_peak_flops=peak,
        ep_flops_per_comm_byte=intensity,
        machine_flops_per_scale_up_byte=peak / su_bw if peak is not None else None,
        domain_size=hw.scale_up.domain_size, domain_size_needed=dom_need, knee_domain_size=knee,
        nvme_bandwidth_bytes_per_s_per_gpu=nvme_bw, nvme_break_even_bytes_per_s_per_gpu=finite(break_even),
        nvme_ttft_bytes_per_s_per_gpu_needed=ttft_need, ttft_target_s=w.slo.ttft_s, phases=tuple(phases))


def default_batch(model: Model, hardware: Hardware, workload: Workload, layout: Layout,
                  engine: Engine | None = None) -> int:
    """The largest batch per DP rank that fits HBM at the workload's final context (≥ 1)."""
    e = engine or default_engine()
    b = hbm_budget(model, hardware, layout.model_copy(update={"batch": 1}), workload.final_context,
                   0 if layout.disaggregated else min(workload.isl, e.max_num_tokens), e)
    return max(1, min(MAX_BATCH, e.max_batch, b.max_batch))
