"""`estimate`: one model on one machine at one fixed layout -> per-phase times, HBM budget,
throughput and verdicts. The building block that sizing searches over."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.hardware import Hardware
from planner.layout import Layout
from planner.memory import HbmBudget, hbm_budget
from planner.modelspec import Model
from planner.perf import PhaseTimes, decode_step, prefill
from planner.uncertainty import ranges
from planner.workload import check_context
from planner.verdicts import (Severity, Verdict, ep_balance_verdict, ep_crossing_verdict, memory_verdicts,
                              phase_verdict, slo_verdicts)


@dataclass(frozen=True)
class Estimate:
    model: Model
    hardware: Hardware
    layout: Layout
    isl: int
    osl: int
    prefix: int
    budget: HbmBudget
    prefill: PhaseTimes
    decode: PhaseTimes
    ttft_s: float
    tpot_s: float
    tokens_per_s_per_gpu: float
    tokens_per_s_per_user: float
    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)

    @property
    def feasible(self) -> bool:
        return not any(v.severity == Severity.error for v in self.verdicts)

    def cluster(self) -> dict:
        hw, gpus = self.hardware, self.layout.gpus
        return {"gpus": gpus, "replicas": 1, "nodes": math.ceil(gpus / hw.gpus_per_node),
                "racks": math.ceil(gpus / hw.gpus_per_rack), "power_w": gpus * hw.power.gpu_w}

    def to_dict(self) -> dict:
        b = self.budget
        lay = self.layout
        return {
            "model": self.model.name, "hardware": self.hardware.name,
            "layout": {**lay.to_dict(), "disaggregated": lay.disaggregated,
                       "dual_microbatch": lay.dual_microbatch, "mtp": lay.mtp},
            "isl": self.isl, "osl": self.osl, "prefix": self.prefix,
            "per_gpu": {"capacity_bytes": b.capacity_bytes, "weights_bytes": b.weights_bytes,
                        "kv_bytes": b.kv_bytes, "activation_bytes": b.activation_bytes,
                        "reserve_bytes": b.reserve_bytes, "free_bytes": b.free_bytes,
                        "kv_per_sequence_bytes": b.kv_per_sequence_bytes, "max_batch": b.max_batch},
            "phases": {"prefill": self.prefill.to_dict(), "decode": self.decode.to_dict()},
            "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
            "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
            **ranges(self.ttft_s, self.tpot_s, self.tokens_per_s_per_gpu, self.model.is_moe),
            "tokens_per_s_per_user": self.tokens_per_s_per_user,
            "cluster": self.cluster(),
            "kv_tiers": [],
            "verdicts": [v.to_dict() for v in self.verdicts],
            "feasible": self.feasible,
        }


def estimate(model: Model, hardware: Hardware, layout: Layout, isl: int, osl: int, prefix: int = 0,
             ttft_target_s: float | None = None, tpot_target_s: float | None = None) -> Estimate:
    """Times in seconds, bytes per GPU. The decode step is evaluated at the mean context of the
    request (prefix + isl + osl/2); memory at the final context (prefix + isl + osl)."""
    final_ctx = prefix + isl + osl
    check_context(model.name, model.max_context, final_ctx, "prefix + isl + osl =")
    budget = hbm_budget(model, hardware, layout, final_ctx, prefill_chunk=0 if layout.disaggregated else isl)
    pre = prefill(model, hardware, layout, isl, prefix)
    dec = decode_step(model, hardware, layout, prefix + isl + osl / 2)
    accepted = 1 + (layout.mtp_acceptance if layout.mtp and model.mtp_layers else 0.0)
    tpot = dec.time_s / accepted
    ttft = pre.time_s
    # Steady state: pp micro-batches of batch x dp sequences each advance `accepted` tokens per step.
    tokens_per_s_unit = layout.pp * layout.sequences / tpot
    verdicts: list[Verdict] = memory_verdicts(model, hardware, layout, budget)
    verdicts += slo_verdicts(ttft, tpot, ttft_target_s, tpot_target_s)
    ep = ep_balance_verdict(model, hardware, layout)
    if ep is not None:
        verdicts.append(ep)
    crossing = ep_crossing_verdict(model, hardware, layout, dec)
    if crossing is not None:
        verdicts.append(crossing)
    verdicts.append(phase_verdict("prefill", model, hardware, layout, pre))
    verdicts.append(phase_verdict("decode", model, hardware, layout, dec))
    order = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}
    verdicts.sort(key=lambda v: order[v.severity])
    return Estimate(model=model, hardware=hardware, layout=layout, isl=isl, osl=osl, prefix=prefix,
                    budget=budget, prefill=pre, decode=dec, ttft_s=ttft, tpot_s=tpot,
                    tokens_per_s_per_gpu=tokens_per_s_unit / layout.gpus, tokens_per_s_per_user=1 / tpot,
                    verdicts=tuple(verdicts))
