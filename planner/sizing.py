"""Sizing: the cheapest layout that meets a workload's demand and SLOs.

For every candidate layout (TP x attention-DP x PP; EP = TP x DP for MoE; co-located or
disaggregated prefill/decode) the largest batch that fits HBM and meets TPOT is found by
interpolation search (decode time grows almost linearly with batch), each unit's request rate
follows, and the replica
count covers the demand. Fewest GPUs wins, then lower power, then lower TPOT.

Co-located units spend part of each second on prefill: with per-rank decode rate r tokens/s
and prefill time t_p per request, a rank serves r / (osl + r * t_p) requests/s and decode
steps stretch by 1 / (1 - f), f = prefill share. Disaggregated prefill ranks run at a target
utilisation so that M/D/1 queueing keeps TTFT bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from planner.cluster import Cluster, cluster
from planner.estimate import Estimate, estimate
from planner.kvtier import KvTiers, plan_tiers
from planner.hardware import Hardware
from planner.layout import Layout
from planner.memory import hbm_budget, weights_per_gpu, RUNTIME_RESERVE_BYTES, FRAGMENTATION
from planner.modelspec import Model
from planner.perf import decode_step, prefill
from planner.verdicts import Severity, Verdict, ep_crossing_verdict
from planner.workload import Workload, check_context
from planner import units as U

PREFILL_UTILIZATION = 0.7   # disaggregated prefill ranks run at 70%: M/D/1 wait = rho / (2 mu (1 - rho))
MAX_BATCH = 4096            # per DP rank; beyond this engines split the batch anyway
TP_CHOICES = (1, 2, 4, 8, 16)
DP_CHOICES = (1, 2, 4, 8, 16, 32, 36, 64, 72, 128, 144, 256, 288, 576)
PP_CHOICES = (1, 2, 4, 8)
DOMAIN_SIZES = (8, 36, 72, 144, 576)
KNEE_GAIN = 0.05            # a larger domain "pays" while it saves at least 5% of the GPUs


@dataclass(frozen=True)
class Pool:
    role: str                  # "colocated", "prefill" or "decode"
    layout: Layout
    units: int
    requests_per_s_per_unit: float

    @property
    def gpus(self) -> int:
        return self.units * self.layout.gpus

    def to_dict(self) -> dict:
        return {"role": self.role, "units": self.units, "gpus": self.gpus, "layout": self.layout.to_dict(),
                "requests_per_s_per_unit": self.requests_per_s_per_unit}


@dataclass(frozen=True)
class Option:
    """One evaluated candidate: its pools, user-visible latencies and cluster."""

    pools: tuple[Pool, ...]
    ttft_s: float
    tpot_s: float
    cluster: Cluster
    disaggregated: bool

    @property
    def decode(self) -> Pool:
        return self.pools[-1]

    def key(self) -> tuple:
        return (self.cluster.gpus, self.cluster.power_w, self.tpot_s)


@dataclass(frozen=True)
class DomainRow:
    domain_size: int
    gpus: int | None
    ep_crosses_domain: bool
    tpot_s: float | None


@dataclass(frozen=True)
class Sizing:
    model: Model
    hardware: Hardware
    workload: Workload
    requests_per_s: float
    best: Option | None
    verdicts: tuple[Verdict, ...]
    estimates: tuple[Estimate, ...] = field(default_factory=tuple)   # one per pool of `best`
    kv: KvTiers | None = None
    domain_rows: tuple[DomainRow, ...] = field(default_factory=tuple)
    smallest_domain: int | None = None
    knee_domain: int | None = None

    @property
    def feasible(self) -> bool:
        return self.best is not None and not any(v.severity == Severity.error for v in self.verdicts)


def demand_requests_per_s(w: Workload) -> float:
    """Requests (turns) per second. From concurrency by Little's law: a session issues one turn
    per (TTFT + osl x TPOT + turn gap) seconds, at the SLO targets."""
    if w.requests_per_s is not None:
        return w.requests_per_s
    tpot = w.slo.tpot_s or 0.05
    ttft = w.slo.ttft_s or 1.0
    return w.concurrent_sessions / (ttft + w.osl * tpot + w.turn_gap_s)


def _layouts(m: Model, hw: Hardware, routing: str = "power_law") -> list[Layout]:
    heads = m.attention.num_heads
    out = []
    for tp in TP_CHOICES:
        if tp > hw.scale_up.domain_size or heads % tp:
            continue
        for dp in (DP_CHOICES if m.is_moe else (1,)):
            for pp in PP_CHOICES:
                if pp > 1 and m.num_layers < 4 * pp:
                    continue
                lay = Layout(tp=tp, dp=dp, ep=tp * dp if m.is_moe else 1, pp=pp, routing=routing)
                out.append(lay)
                # Pipeline stages only pay for memory: stop at the first depth that fits.
                if _fits_weights(m, hw, lay):
                    break
    return out


def _fits_weights(m: Model, hw: Hardware, layout: Layout) -> bool:
    reserve = RUNTIME_RESERVE_BYTES + FRAGMENTATION * hw.hbm.capacity_bytes
    return weights_per_gpu(m, layout) + reserve < hw.hbm.capacity_bytes


def _largest_batch(m: Model, hw: Hardware, layout: Layout, w: Workload, tpot_target: float | None,
                   prefill_time: float, colocated: bool) -> tuple[int, float] | None:
    """Largest batch per DP rank meeting memory and TPOT (with co-located prefill stretch);
    returns (batch, user-visible TPOT) or None when even batch 1 fails."""
    chunk = 0 if not colocated else w.isl
    cap = min(MAX_BATCH, hbm_budget(m, hw, layout.model_copy(update={"batch": 1}), w.final_context, chunk).max_batch)
    if cap < 1:
        return None
    mid_ctx = w.mean_decode_context
    accepted = 1 + (layout.mtp_acceptance if layout.mtp and m.mtp_layers else 0.0)

    def visible_tpot(b: int) -> float:
        step = decode_step(m, hw, layout.model_copy(update={"batch": b}), mid_ctx).time_s / accepted
        if not colocated:
            return step
        rate = layout.pp * b / step                       # tokens/s per rank
        share = rate * prefill_time / (w.osl + rate * prefill_time)   # prefill share of rank time
        return step / max(1e-9, 1 - share)

    if tpot_target is None:
        return cap, visible_tpot(cap)
    t_hi = visible_tpot(cap)
    if t_hi <= tpot_target:
        return cap, t_hi
    t_lo = visible_tpot(1)
    if t_lo > tpot_target:
        return None
    # Interpolation search for the largest b with visible_tpot(b) <= target: TPOT is close to
    # linear in the batch, so this takes a few evaluations where bisection takes ~12. Falls back
    # to the midpoint whenever the interpolated guess would not shrink the bracket.
    lo, hi = 1, cap                                   # invariant: ok(lo), not ok(hi)
    while hi - lo > 1:
        guess = lo + int((tpot_target - t_lo) / (t_hi - t_lo) * (hi - lo))
        if not lo < guess < hi:
            guess = (lo + hi) // 2
        t = visible_tpot(guess)
        if t <= tpot_target:
            lo, t_lo = guess, t
            # probe just above: on a near-linear curve the answer is usually lo or lo + 1
            if hi - lo > 2:
                t_next = visible_tpot(lo + 1)
                if t_next > tpot_target:
                    return lo, t
                lo, t_lo = lo + 1, t_next
        else:
            hi, t_hi = guess, t
    return lo, visible_tpot(lo) if lo != 1 else t_lo


def _best_prefill(m: Model, hw: Hardware, w: Workload, rps: float, fitting: list[Layout],
                  max_gpus: float = math.inf) -> tuple[Layout, float, float] | None:
    """Disaggregated prefill pool: the layout whose whole units cover the demand with the fewest
    GPUs while meeting TTFT (queueing included), among units smaller than `max_gpus`. The prefill
    and decode pools are independent given the demand, so minimising each is exact.
    Returns (layout, TTFT, req/s per unit)."""
    best = None
    for lay in fitting:
        if lay.gpus >= max_gpus:
            break
        lay = lay.model_copy(update={"disaggregated": True})
        t_p = prefill(m, hw, lay, w.isl, w.prefix).time_s
        ttft = t_p + PREFILL_UTILIZATION / (2 * (1 - PREFILL_UTILIZATION)) * t_p
        if w.slo.ttft_s is not None and ttft > w.slo.ttft_s:
            continue
        rps_unit = lay.dp * PREFILL_UTILIZATION / t_p
        score = (math.ceil(rps / rps_unit) * lay.gpus, lay.gpus)
        if best is None or score < best[0]:
            best = (score, lay, ttft, rps_unit)
    return None if best is None else best[1:]


def _evaluate(m: Model, hw: Hardware, w: Workload, rps: float, lay: Layout, t_p: float,
              prefill_pool: tuple[Layout, float, float] | None) -> Option | None:
    """One candidate decode layout, co-located (prefill_pool None) or disaggregated."""
    colocated = prefill_pool is None
    found = _largest_batch(m, hw, lay, w, w.slo.tpot_s, t_p, colocated)
    if found is None:
        return None
    batch, tpot = found
    unit = lay.model_copy(update={"batch": batch, "disaggregated": not colocated})
    rate = unit.pp * batch / decode_step(m, hw, unit, w.mean_decode_context).time_s
    rank_rps = rate / (w.osl + rate * t_p) if colocated else rate / w.osl
    unit_rps = rank_rps * unit.dp
    units = max(1, math.ceil(rps / unit_rps))
    if colocated:
        return Option(pools=(Pool("colocated", unit, units, unit_rps),), ttft_s=t_p, tpot_s=tpot,
                      cluster=cluster(hw, [(units, unit.gpus)], units), disaggregated=False)
    p_lay, p_ttft, p_rps = prefill_pool
    p_units = max(1, math.ceil(rps / p_rps))
    return Option(pools=(Pool("prefill", p_lay, p_units, p_rps), Pool("decode", unit, units, unit_rps)),
                  ttft_s=p_ttft, tpot_s=tpot, disaggregated=True,
                  cluster=cluster(hw, [(p_units, p_lay.gpus), (units, unit.gpus)], p_units + units))


def _search(m: Model, hw: Hardware, w: Workload, rps: float) -> Option | None:
    """Branch and bound over layouts in order of unit size: a unit with more GPUs than the best
    plan so far cannot win, since every pool needs at least one unit. Co-located plans first;
    their best bounds the disaggregated pass."""
    fitting = sorted((lay for lay in _layouts(m, hw, w.expert_routing) if _fits_weights(m, hw, lay)),
                     key=lambda lay: lay.gpus)
    if not fitting:
        return None
    best: Option | None = None
    prefill_time: dict[Layout, float] = {}
    for lay in fitting:
        if best is not None and lay.gpus > best.cluster.gpus:
            break
        t_p = prefill_time[lay] = prefill(m, hw, lay, w.isl, w.prefix).time_s
        if w.slo.ttft_s is not None and t_p > w.slo.ttft_s:
            continue
        option = _evaluate(m, hw, w, rps, lay, t_p, None)
        if option is not None and (best is None or option.key() < best.key()):
            best = option
    bound = best.cluster.gpus if best is not None else math.inf
    prefill_pool = _best_prefill(m, hw, w, rps, fitting, bound)
    if prefill_pool is None:
        return best
    for lay in fitting:
        if lay.gpus + prefill_pool[0].gpus > bound:
            break
        option = _evaluate(m, hw, w, rps, lay, prefill_time.get(lay, 0.0), prefill_pool)
        if option is not None and (best is None or option.key() < best.key()):
            best = option
            bound = best.cluster.gpus
    return best


def _why_infeasible(m: Model, hw: Hardware, w: Workload) -> list[Verdict]:
    """Name the constraint that fails and by how much, from the most generous layout."""
    layouts = [lay for lay in _layouts(m, hw, w.expert_routing) if _fits_weights(m, hw, lay)]
    if not layouts:
        biggest = max(_layouts(m, hw), key=lambda lay: lay.gpus)
        need = weights_per_gpu(m, biggest)
        return [Verdict("memory", "hbm", Severity.error,
                        f"weights need {U.format_bytes(need)} per GPU even at {biggest.label()} "
                        f"({biggest.gpus} GPUs); HBM holds {U.format_bytes(hw.hbm.capacity_bytes)}",
                        "a narrower precision or a machine with more HBM")]
    out = []
    fastest_tpot = min(decode_step(m, hw, lay, w.mean_decode_context).time_s for lay in layouts)
    if w.slo.tpot_s is not None and fastest_tpot > w.slo.tpot_s:
        out.append(Verdict("decode", "slo", Severity.error,
                           f"no layout meets TPOT {U.format_seconds(w.slo.tpot_s)}: the fastest reaches "
                           f"{U.format_seconds(fastest_tpot)} at batch 1 ({fastest_tpot / w.slo.tpot_s:.2f}× over)",
                           "faster HBM, narrower precision, or a looser TPOT target"))
    fastest_ttft = min(prefill(m, hw, lay, w.isl, w.prefix).time_s for lay in layouts)
    if w.slo.ttft_s is not None and fastest_ttft > w.slo.ttft_s:
        out.append(Verdict("prefill", "slo", Severity.error,
                           f"no layout meets TTFT {U.format_seconds(w.slo.ttft_s)}: the fastest prefill takes "
                           f"{U.format_seconds(fastest_ttft)} ({fastest_ttft / w.slo.ttft_s:.2f}× over)",
                           "more GPUs per prefill (TP), prefix caching, or a looser TTFT target"))
    if not out:
        budget = hbm_budget(m, hw, layouts[0], w.final_context, w.isl)
        out.append(Verdict("memory", "hbm", Severity.error,
                           f"not even one sequence of {w.final_context:,} tokens fits beside the weights "
                           f"({U.format_bytes(budget.kv_per_sequence_bytes)} of KV per GPU)",
                           "more attention-DP ranks or GPUs per unit"))
    return out


def _domain_rows(m: Model, hw: Hardware, w: Workload, rps: float, own: Option) -> tuple[DomainRow, ...]:
    rows = []
    # Placement only changes for units larger than the domain: when both this domain and the
    # machine's own are at least as large as the best plan (the bound on every unit evaluated) and
    # the largest TP choice, every evaluated layout places identically, so the answer is `own`.
    same_as_own = max(own.cluster.gpus, max(TP_CHOICES))
    for size in sorted(set(DOMAIN_SIZES) | {hw.scale_up.domain_size}):
        if size == hw.scale_up.domain_size or (size >= same_as_own and hw.scale_up.domain_size >= same_as_own):
            opt: Option | None = own
        else:
            variant = hw.model_copy(update={"scale_up": hw.scale_up.model_copy(update={"domain_size": size})})
            opt = _search(m, variant, w, rps)
        if opt is None:
            rows.append(DomainRow(size, None, False, None))
            continue
        crosses = opt.decode.layout.ep > size
        rows.append(DomainRow(size, opt.cluster.gpus, crosses, opt.tpot_s))
    return tuple(rows)


def _with_tier_loads(best: Option, estimates: tuple[Estimate, ...], kv: KvTiers) -> tuple[Option, tuple[Estimate, ...]]:
    """Fold the KV tiers into the plan. The search times prefill with each reused prefix resident in
    HBM; a real turn loads it from its tier (or recomputes it on a miss). The prefill phase gains the
    expected load time as its storage term, and TTFT the extra time, scaled like the prefill itself
    (by the M/D/1 queueing factor of a disaggregated prefill pool)."""
    extra = max(0.0, kv.ttft_with_s - kv.prefill_resident_s)
    if extra == 0.0 and kv.expected_load_s == 0.0:
        return best, estimates
    queueing = 1 + PREFILL_UTILIZATION / (2 * (1 - PREFILL_UTILIZATION)) if best.disaggregated else 1.0
    pre = estimates[0]
    phase = replace(pre.prefill, storage_s=kv.expected_load_s, time_s=pre.prefill.time_s + extra)
    first = replace(pre, prefill=phase, ttft_s=pre.ttft_s + extra)
    return replace(best, ttft_s=best.ttft_s + extra * queueing), (first,) + estimates[1:]


def _tier_ttft_verdict(best: Option, w: Workload) -> Verdict | None:
    if w.slo.ttft_s is None or best.ttft_s <= w.slo.ttft_s:
        return None
    return Verdict("prefill", "storage", Severity.warning,
                   f"with prefix reloads from the KV tiers (and recompute on misses) TTFT is "
                   f"{U.format_seconds(best.ttft_s)}, over the {U.format_seconds(w.slo.ttft_s)} target "
                   f"({best.ttft_s / w.slo.ttft_s:.2f}×); the layout search assumed prefixes resident in HBM",
                   "more tier bandwidth (drives per node, pod flash), a higher hit rate, or more prefill GPUs")


def domain_knee(rows: tuple[DomainRow, ...]) -> tuple[int | None, int | None]:
    """(smallest domain that is feasible with EP inside it, the knee): the knee is the first such
    domain that no larger domain improves on by KNEE_GAIN or more GPUs."""
    ok = [r for r in rows if r.gpus is not None and not r.ep_crosses_domain]
    if not ok:
        return None, None
    for i, row in enumerate(ok):
        if all(later.gpus > row.gpus * (1 - KNEE_GAIN) for later in ok[i + 1:]):
            return ok[0].domain_size, row.domain_size
    return ok[0].domain_size, ok[-1].domain_size


def size(model: Model, hardware: Hardware, workload: Workload, compare_domains: bool = True) -> Sizing:
    """The cheapest feasible plan for the workload, its verdicts and the domain comparison."""
    check_context(model.name, model.max_context, workload.final_context)
    rps = demand_requests_per_s(workload)
    best = _search(model, hardware, workload, rps)
    if best is None:
        return _finish(model, hardware, workload, rps, None, list(_why_infeasible(model, hardware, workload)))
    rows: tuple[DomainRow, ...] = ()
    if compare_domains and model.is_moe:
        rows = _domain_rows(model, hardware, workload, rps, best)
    return _finish(model, hardware, workload, rps, best, [], rows)


def evaluate_layout(model: Model, hardware: Hardware, workload: Workload, layout: Layout,
                    gpus: int | None = None) -> Sizing:
    """A pinned layout, checked as given rather than searched: the layout's own batch per DP rank,
    co-located or disaggregated per `layout.disaggregated` (a disaggregated layout is the decode
    pool; prefill gets the best prefill pool). With `gpus`, the cluster is that many GPUs and a
    verdict says whether it covers the demand."""
    check_context(model.name, model.max_context, workload.final_context)
    rps = demand_requests_per_s(workload)
    verdicts: list[Verdict] = []
    fits = _fits_weights(model, hardware, layout)
    colocated = not layout.disaggregated
    t_p = prefill(model, hardware, layout, workload.isl, workload.prefix).time_s
    prefill_pool = None
    if not colocated:
        fitting = sorted((lay for lay in _layouts(model, hardware, workload.expert_routing)
                          if _fits_weights(model, hardware, lay)),
                         key=lambda lay: lay.gpus)
        prefill_pool = _best_prefill(model, hardware, workload, rps, fitting)
        if prefill_pool is None:
            verdicts.append(Verdict("prefill", "slo", Severity.error,
                                    "no prefill layout meets the TTFT target for the disaggregated pool"))
    if not fits or (not colocated and prefill_pool is None):
        return _finish(model, hardware, workload, rps, None, verdicts or [], pinned=layout)
    accepted = 1 + (layout.mtp_acceptance if layout.mtp and model.mtp_layers else 0.0)
    step = decode_step(model, hardware, layout, workload.mean_decode_context).time_s / accepted
    rate = layout.pp * layout.batch / step
    if colocated:
        share = rate * t_p / (workload.osl + rate * t_p)
        tpot = step / max(1e-9, 1 - share)
        rank_rps = rate / (workload.osl + rate * t_p)
    else:
        tpot, rank_rps = step, rate / workload.osl
    unit_rps = rank_rps * layout.dp
    needed_units = max(1, math.ceil(rps / unit_rps))
    units = needed_units
    if gpus is not None:
        p_gpus = 0
        if prefill_pool is not None:
            p_gpus = max(1, math.ceil(rps / prefill_pool[2])) * prefill_pool[0].gpus
        units = max(0, (gpus - p_gpus) // layout.gpus)
        if units < needed_units:
            verdicts.append(Verdict("cluster", "gpus", Severity.error,
                                    f"{gpus:,} GPUs hold {units} unit(s) of {layout.gpus} GPUs serving "
                                    f"{units * unit_rps:,.2f} requests/s; the demand is {rps:,.2f} "
                                    f"({rps / max(units * unit_rps, 1e-12):.2f}× more)",
                                    f"needs {needed_units * layout.gpus + p_gpus:,} GPUs at this layout"))
        units = max(1, units)
    if colocated:
        option = Option(pools=(Pool("colocated", layout, units, unit_rps),), ttft_s=t_p, tpot_s=tpot,
                        cluster=cluster(hardware, [(units, layout.gpus)], units), disaggregated=False)
    else:
        p_lay, p_ttft, p_rps = prefill_pool
        p_units = max(1, math.ceil(rps / p_rps))
        option = Option(pools=(Pool("prefill", p_lay, p_units, p_rps), Pool("decode", layout, units, unit_rps)),
                        ttft_s=p_ttft, tpot_s=tpot, disaggregated=True,
                        cluster=cluster(hardware, [(p_units, p_lay.gpus), (units, layout.gpus)], p_units + units))
    return _finish(model, hardware, workload, rps, option, verdicts, pinned=layout)


def _finish(model: Model, hardware: Hardware, workload: Workload, rps: float, best: Option | None,
            verdicts: list[Verdict], rows: tuple[DomainRow, ...] = (), pinned: Layout | None = None) -> Sizing:
    """Estimates, verdicts and KV tiers for the chosen option (shared by search and pinned layouts)."""
    from planner.verdicts import ep_balance_verdict, memory_verdicts, phase_verdict, slo_verdicts
    w = workload
    estimates: tuple[Estimate, ...] = ()
    kv: KvTiers | None = None
    smallest = knee = None
    if best is None:
        if pinned is not None and not _fits_weights(model, hardware, pinned):
            budget = hbm_budget(model, hardware, pinned, w.final_context, w.isl)
            verdicts = verdicts + memory_verdicts(model, hardware, pinned, budget)
    else:
        estimates = tuple(estimate(model, hardware, p.layout, w.isl, w.osl, w.prefix, w.slo.ttft_s, w.slo.tpot_s)
                          for p in best.pools)
        dec, pre_est = estimates[-1], estimates[0]
        verdicts += memory_verdicts(model, hardware, dec.layout, dec.budget)
        if pinned is not None:
            verdicts += slo_verdicts(best.ttft_s, best.tpot_s, w.slo.ttft_s, w.slo.tpot_s)
        ep = ep_balance_verdict(model, hardware, dec.layout)
        if ep is not None:
            verdicts.append(ep)
        verdicts.append(phase_verdict("prefill", model, hardware, pre_est.layout, pre_est.prefill))
        verdicts.append(phase_verdict("decode", model, hardware, dec.layout, dec.decode))
        if rows:
            smallest, knee = domain_knee(rows)
        crossing = ep_crossing_verdict(model, hardware, dec.layout, dec.decode, rows)
        if crossing is not None:
            verdicts.append(crossing)
        c = best.cluster
        kv = plan_tiers(model, hardware, workload, dec, rps, c.gpus, c.nodes, c.racks, prefill_layout=pre_est.layout)
        verdicts += kv.verdicts
        best, estimates = _with_tier_loads(best, estimates, kv)
        slow = _tier_ttft_verdict(best, workload)
        if slow is not None:
            verdicts.append(slow)
    order = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}
    verdicts.sort(key=lambda v: order[v.severity])
    return Sizing(model=model, hardware=hardware, workload=workload, requests_per_s=rps, best=best,
                  verdicts=tuple(verdicts), estimates=estimates, kv=kv, domain_rows=rows,
                  smallest_domain=smallest, knee_domain=knee)
