"""Verdicts: one ordered table of small rules, evaluated in one place (`judge`).

Each rule looks at a `Deployment` (the result of `size`, a pinned proposal or `estimate`) and
returns the verdicts it finds: the phase, the binding resource, the numbers behind it and the lever
that would move it. Errors first (infeasible: something does not fit, a target is missed, the
demand is not carried), then warnings (a resource is wasted or exposed), then which resource
binds each phase. Thresholds are named constants. Infeasibility is a verdict, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from planner import units as U
from planner.inputs.hardware import Hardware
from planner.inputs.layout import Layout
from planner.inputs.model import Model
from planner.kv.tiers import tier_verdicts
from planner.model import facts as M
from planner.perf.memory import HbmBudget, weights_per_gpu
from planner.perf.phases import PhaseTimes
from planner.precision import gemm_compute_class
from planner.serving.deployment import Deployment, DomainRow
from planner.verdict import BALANCED_WITHIN, SEVERITY_ORDER, Severity, Verdict

LATENT_NAMES = {"mla": "MLA latent", "compressed": "DeepSeek-V4 compressed (shared K=V)"}
EXPOSED_COMM_MARGIN = 1.0   # machine balance above the model's EP intensity -> traffic exposed


def min_gpus_to_fit(m: Model, hw: Hardware, layout: Layout, budget: HbmBudget) -> Layout | None:
    """Smallest scaling of the layout (TP for dense, EP=TP*DP for MoE, then PP) whose weights
    leave room for at least the reserve: the 'minimum TP/EP that would fit'."""
    for factor in (2, 4, 8, 16, 32, 64, 128, 256, 512):
        if m.is_moe:
            dp = layout.dp * factor
            candidate = layout.model_copy(update={"dp": dp, "ep": layout.tp * dp})
        else:
            candidate = layout.model_copy(update={"tp": layout.tp * factor})
        if weights_per_gpu(m, candidate) + budget.reserve_bytes < budget.capacity_bytes:
            return candidate
    return None


def memory_verdicts(m: Model, hw: Hardware, layout: Layout, budget: HbmBudget) -> list[Verdict]:
    out: list[Verdict] = []
    if not budget.weights_fit:
        better = min_gpus_to_fit(m, hw, layout, budget)
        lever = (f"needs at least {better.gpus} GPUs ({better.label()}) to hold the weights"
                 if better else "does not fit at any layout tried; use a narrower precision")
        out.append(Verdict("memory", "hbm", Severity.error,
                           f"weights need {U.format_bytes(budget.weights_bytes)} per GPU at {layout.label()}, "
                           f"HBM holds {U.format_bytes(budget.capacity_bytes)} "
                           f"(reserve {U.format_bytes(budget.reserve_bytes)})", lever))
    elif not budget.fits:
        out.append(Verdict("memory", "hbm", Severity.error,
                           f"batch {layout.batch} per DP rank needs {U.format_bytes(budget.kv_bytes)} of KV per GPU; "
                           f"only {budget.max_batch} sequences fit",
                           f"lower the batch to {budget.max_batch} or add attention-DP ranks"))
    f = M.facts(m)
    if not f.kv_latent_replicated and layout.tp > f.kv_heads:
        out.append(Verdict("memory", "hbm", Severity.warning,
                           f"tp={layout.tp} is wider than the {f.kv_heads} KV heads: each head is replicated on "
                           f"{layout.tp // f.kv_heads} GPUs ({U.format_bytes(budget.kv_per_sequence_bytes)} of KV per "
                           "sequence per GPU)", f"tp={f.kv_heads} stores each head once"))
    if f.kv_latent_replicated and layout.tp > 1:
        out.append(Verdict("memory", "hbm", Severity.warning,
                           f"the {LATENT_NAMES.get(m.attention.kind, m.attention.kind)} KV cannot shard across heads: "
                           "every one of the "
                           f"{layout.tp} TP ranks holds a full copy ({U.format_bytes(budget.kv_per_sequence_bytes)} "
                           "per sequence per GPU)",
                           "attention-DP (dp>1, tp=1) stores each sequence's KV once"))
    return out


def ep_balance_verdict(m: Model, hw: Hardware, layout: Layout) -> Verdict | None:
    """DeepSeek-V4 §3.1: EP traffic hides under compute while peak FLOP/s / link bytes/s stays at or
    below the model's FLOPs per byte of dispatch+combine (2d = 6144 for V4-Pro)."""
    intensity = M.ep_flops_per_comm_byte(m)
    if intensity is None or layout.ep == 1:
        return None
    cls = gemm_compute_class(m.precision.expert_weights, m.precision.expert_inputs)
    peak = hw.peak.flops_per_s(cls)
    crosses = layout.ep > hw.scale_up.domain_size
    link = hw.scale_out if crosses else hw.scale_up
    fabric = "scale-out" if crosses else "scale-up"
    machine = peak / link.bandwidth_bytes_per_s
    needed = peak / intensity
    numbers = (f"machine {machine:,.0f} FLOPs/B ({cls.value.upper()} {U.format_flops(peak)} ÷ "
               f"{U.format_rate(link.bandwidth_bytes_per_s)} {fabric} per GPU) vs model {intensity:,.0f} FLOPs/B")
    if machine > intensity * EXPOSED_COMM_MARGIN:
        return Verdict("decode", fabric.replace("-", "_"), Severity.warning,
                       f"expert-parallel traffic is exposed without overlap: {numbers}; overlap hides it only "
                       "while the expert GEMMs run below peak (e.g. memory-bound decode)",
                       f"needs ≥ {U.format_rate(needed)} {fabric} per GPU to hide EP traffic at "
                       f"{cls.value.upper()}; has {U.format_rate(link.bandwidth_bytes_per_s)}")
    return Verdict("decode", fabric.replace("-", "_"), Severity.info,
                   f"expert-parallel traffic hides under compute: {numbers}",
                   f"stays hidden down to {U.format_rate(needed)} per GPU")


def phase_verdict(name: str, m: Model, hw: Hardware, layout: Layout, t: PhaseTimes) -> Verdict:
    """Which resource binds a phase, its margin over the next, and the lever."""
    ranked = t.ranked()
    (first, t1), (second, t2) = ranked[0], ranked[1]
    if t1 <= 0:
        return Verdict(name, "overhead", Severity.info, f"{name} is launch-overhead bound")
    margin = t1 / t2 if t2 > 0 else math.inf
    ratio = f"{margin:.1f}×" if math.isfinite(margin) else "alone"
    what = {"compute": "compute", "hbm": "HBM bandwidth", "scale_up": "scale-up (NVLink-class) traffic",
            "scale_out": "scale-out (NIC) traffic", "storage": "storage reads"}[first]
    detail = (f"{name} is bound by {what}: {U.format_seconds(t1)} vs {U.format_seconds(t2)} {second.replace('_', '-')} "
              f"({ratio})")
    if margin < 1 + BALANCED_WITHIN:
        detail = f"{name} is balanced between {first.replace('_', '-')} and {second.replace('_', '-')}: " \
                 f"{U.format_seconds(t1)} vs {U.format_seconds(t2)}"
    target = max(t2, 1e-12)
    lever = ""
    if first == "hbm":
        bw = hw.hbm.bandwidth_bytes_per_s * t1 / target
        pin = hw.hbm.pin_speed_for(bw)
        lever = f"HBM at {U.format_rate(bw)}" + (f" ({pin:.1f} Gb/s per pin)" if pin else "") + " would balance it"
        if name == "decode":
            lever += "; a larger batch raises FLOPs per byte read"
    elif first == "compute":
        lever = f"needs {t1 / target:.1f}× the FLOP/s (or a narrower precision) to reach the next bound"
    elif first == "scale_up":
        bw = hw.scale_up.bandwidth_bytes_per_s * t1 / target
        lever = f"scale-up at {U.format_rate(bw)} per GPU would balance it"
    elif first == "scale_out":
        ep_out = t.traffic.ep_scale_out_bytes
        share = ep_out / t.traffic.scale_out_bytes if t.traffic.scale_out_bytes else 0
        if share > 0.5:
            detail += (f"; expert-parallel traffic crosses the scale-out network because EP {layout.ep} spans "
                       f"{math.ceil(layout.ep / hw.scale_up.domain_size)} "
                       f"scale-up domains of {hw.scale_up.domain_size}")
            lever = f"keep EP within {hw.scale_up.domain_size} GPUs, or a larger scale-up domain"
        else:
            lever = (f"NICs at {U.format_rate(hw.scale_out.bandwidth_bytes_per_s * t1 / target)} per GPU "
                     "would balance it")
    elif first == "storage":
        lever = "more tier bandwidth, or recompute the prefix"
    return Verdict(name, first, Severity.info, detail, lever)


def ep_crossing_verdict(m: Model, hw: Hardware, lay: Layout, t: PhaseTimes,
                        rows: tuple[DomainRow, ...] = ()) -> Verdict | None:
    """When a decode unit's EP group spans several scale-up domains: how much of each decode step goes
    over the NICs, and (given the domain comparison rows of `size`) what a larger domain would save."""
    if m.moe is None or lay.ep <= hw.scale_up.domain_size:
        return None
    share = t.scale_out_s / t.time_s if t.time_s else 0.0
    message = (
        f"decode EP {lay.ep} spans {math.ceil(lay.ep / hw.scale_up.domain_size)} scale-up domains of "
        f"{hw.scale_up.domain_size}: {U.format_bytes(t.traffic.ep_scale_out_bytes)} per GPU per step cross the "
        f"scale-out network, {U.format_seconds(t.scale_out_s)} of a {U.format_seconds(t.time_s)} step "
        f"({share:.0%}, "
        f"{'hidden under compute by overlap' if lay.dual_microbatch and t.scale_out_s <= t.gpu_s else 'exposed'})"
    )
    here = next((r.gpus for r in rows if r.domain_size == hw.scale_up.domain_size), None)
    inside = [(r.gpus, r.domain_size) for r in rows if r.gpus is not None and not r.ep_crosses_domain]
    lever = f"a scale-up domain of ≥ {lay.ep} GPUs keeps EP traffic on NVLink-class links"
    if here is not None and inside:
        gpus, size = min(inside)
        if gpus < here:
            lever = (f"with a {size}-GPU domain the same workload needs {gpus:,} GPUs instead of "
                     f"{here:,} ({1 - gpus / here:.0%} fewer)")
    return Verdict("decode", "scale_out", Severity.warning, message, lever)


# ---- the rule table --------------------------------------------------------------------------------

Rule = Callable[[Deployment], Iterable[Verdict]]


def no_layout(d: Deployment) -> Iterable[Verdict]:
    """The search found no layout: why (weights, TPOT, TTFT, KV), from the most generous layouts."""
    return d.problems


def does_not_fit(d: Deployment) -> Iterable[Verdict]:
    """Weights or the batch's KV do not fit a GPU of the unit (or of its prefill unit); KV replicated."""
    u = d.unit
    if u is None:
        return []
    out = memory_verdicts(d.model, d.hardware, u.layout, u.budget)
    p = u.prefill_budget
    if p is not None and not (p.fits and p.weights_fit):
        out.insert(0, Verdict("prefill", "hbm", Severity.error,
                              f"the prefill unit ({u.prefill_layout.label()}) cannot hold its weights "
                              "and one request's "
                              f"KV: {U.format_bytes(p.weights_bytes)} of weights and "
                              f"{U.format_bytes(p.kv_per_sequence_bytes)} of KV per GPU "
                              f"in {U.format_bytes(p.capacity_bytes)}",
                              "a wider prefill layout (more TP or EP)"))
    return out


def slo_missed(d: Deployment) -> Iterable[Verdict]:
    """Each target the plan misses, by how much, and what the time is made of."""
    u = d.unit
    out = []
    for s in d.slos:
        if s.met or u is None:
            continue
        if s.name == "ttft":
            queue = u.ttft_s - u.prefill.time_s
            parts = [f"prefill {U.format_seconds(u.prefill.time_s)}"]
            if u.prefill.storage_s:
                parts.append(f"of which prefix loads {U.format_seconds(u.prefill.storage_s)}")
            if d.reuse is not None and not d.reuse.resident and d.workload.prefix:
                parts.append(f"{1 - d.reuse.hit_share:.0%} of prefixes recomputed")
            parts.append(f"waiting {U.format_seconds(queue)}")
            out.append(Verdict("prefill", "slo", Severity.error,
                               f"TTFT {U.format_seconds(u.ttft_s)} misses the {U.format_seconds(s.target)} target by "
                               f"{u.ttft_s / s.target:.2f}× ({', '.join(parts)})",
                               "more GPUs per prefill (TP), faster KV tiers or a higher hit rate, disaggregated "
                               "prefill, or a looser TTFT target"))
        elif s.name == "tpot":
            out.append(Verdict("decode", "slo", Severity.error,
                               f"TPOT {U.format_seconds(u.tpot_s)} misses the {U.format_seconds(s.target)} target by "
                               f"{u.tpot_s / s.target:.2f}× (decode step {U.format_seconds(u.decode_step_s)}"
                               + (f", stretched {1 / (1 - u.prefill_share):.2f}× by co-located prefills"
                                  if u.prefill_share else "")
                               + ")", "smaller batch, more TP/EP, disaggregated prefill, or faster HBM"))
        else:
            out.append(Verdict("decode", "slo", Severity.error,
                               f"{1 / u.tpot_s:,.1f} tokens/s per user misses the {s.target:,.1f} target",
                               "smaller batch, more TP/EP, or faster HBM"))
    return out


def prefill_limited(d: Deployment) -> Iterable[Verdict]:
    """Co-located mixed steps: the engine's token budget cannot carry the prompt chunks that keep
    the batch decoding."""
    u = d.unit
    if u is None or not u.prefill_limited:
        return []
    lay, e = u.layout, d.engine
    per_step = lay.batch * (1 + lay.mtp_depth)
    return [Verdict("prefill", "engine", Severity.error,
                    f"batch {lay.batch} per DP rank needs more prompt tokens per step than {e.name}'s budget of "
                    f"{e.max_num_tokens:,} tokens leaves after its {per_step:,} decode tokens: new requests wait "
                    "without bound", "a smaller batch, a larger max_num_tokens (--set engine.max_num_tokens=...), "
                    "or disaggregated prefill")]


def demand_not_covered(d: Deployment) -> Iterable[Verdict]:
    """Pinned GPUs hold fewer units than the demand needs."""
    if not d.units_short or d.unit is None or d.cluster is None:
        return []
    pool = d.decode_pool
    assert pool is not None and d.units_needed is not None
    carried = pool.units * pool.requests_per_s_per_unit
    other = d.cluster.gpus - pool.gpus
    need = d.units_needed * pool.layout.gpus + other
    return [Verdict("cluster", "gpus", Severity.error,
                    f"{d.pinned_gpus:,} GPUs hold {pool.units} unit(s) of {pool.layout.gpus} GPUs serving "
                    f"{carried:,.2f} requests/s; the demand is {d.requests_per_s:,.2f} "
                    f"({d.requests_per_s / max(carried, 1e-12):.2f}× more)",
                    f"needs {need:,} GPUs at this layout")]


def expert_traffic(d: Deployment) -> Iterable[Verdict]:
    """Whether EP traffic hides under compute, and what crosses the scale-out network."""
    u = d.unit
    if u is None:
        return []
    out = []
    ep = ep_balance_verdict(d.model, d.hardware, u.layout)
    if ep is not None:
        out.append(ep)
    crossing = ep_crossing_verdict(d.model, d.hardware, u.layout, u.decode, d.domain_rows)
    if crossing is not None:
        out.append(crossing)
    return out


def kv_tiers(d: Deployment) -> Iterable[Verdict]:
    return tier_verdicts(d.hardware, d.workload, d.kv) if d.kv is not None else ()


def phase_bound(d: Deployment) -> Iterable[Verdict]:
    u = d.unit
    if u is None:
        return []
    return [phase_verdict("prefill", d.model, d.hardware, u.prefill_layout, u.prefill),
            phase_verdict("decode", d.model, d.hardware, u.layout, u.decode)]


RULES: tuple[Rule, ...] = (
    no_layout,            # most specific first
    does_not_fit,
    prefill_limited,
    slo_missed,
    demand_not_covered,
    expert_traffic,
    kv_tiers,
    phase_bound,
)


def judge(d: Deployment) -> tuple[Verdict, ...]:
    """Every rule in order; errors, then warnings, then information (stable within each)."""
    found = [v for rule in RULES for v in rule(d)]
    return tuple(sorted(found, key=lambda v: SEVERITY_ORDER[v.severity]))
