"""Serving a workload: demand, pools of units, the cluster they need, and the layout search.

Every serving result is a `Deployment`, made in one place (`settle`): a layout (and, when
disaggregated, a prefill layout) evaluated by `planner.perf.unit.evaluate_unit`, pools sized for the
demand (or pinned), packed into a cluster, and the KV tiers sized for that cluster. The tiers
decide how often a reused prefix must be reloaded or recomputed, which changes the prefill time,
the unit's capacity and so the cluster: `settle` iterates that loop to a fixed point. `size`
searches layouts and then settles its choice, so a searched plan and the same layout pinned in a
proposal (or given to `estimate`) give the same numbers.

Search: for every candidate layout (TP x attention-DP x PP; EP = TP x DP for MoE, with redundant
experts when EP does not divide the experts; co-located or disaggregated) the largest batch that
fits HBM and meets TPOT and TTFT is found by interpolation search (both grow almost linearly
with the batch). The cheapest candidate wins: fewest provisioned GPUs, then fewest GPUs in use,
then the lowest TPOT. Branch and bound (`_Search.ranked`): a lower bound on each layout's GPUs
from its unit at the HBM cap orders the batch searches and ends them when none can beat the best
plan so far.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Generator, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import cast

from planner import units as U
from planner.background import Background, worker_count
from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.io import default_engine
from planner.inputs.layout import Layout, Serving, layout_problem, validate_layout
from planner.inputs.model import Model
from planner.inputs.workload import Workload, check_context
from planner.kv.tiers import KvTiers, plan_tiers
from planner.machine.cluster import Cluster, PoolUnits, cluster
from planner.machine.cost import usd_per_million_tokens
from planner.memo import IdentityMemo
from planner.perf.memory import hbm_budget, max_batch, weights_fit, weights_per_gpu
from planner.perf.phases import PhaseTimes, machine_key
from planner.perf.unit import (
    NO_HITS,
    RESIDENT,
    PrefillPoolUnit,
    PrefixReuse,
    UnitResult,
    evaluate_unit,
    prefill_layout_for,
    prefill_pool_unit,
    request_prefill,
)
from planner.verdict import Severity, Verdict

MAX_BATCH = 4096            # per DP rank; beyond this engines split the batch anyway
TP_CHOICES = (1, 2, 4, 8, 16)
DP_CHOICES = (1, 2, 4, 8, 16, 32, 36, 64, 72, 128, 144, 256, 288, 576)
PP_CHOICES = (1, 2, 4, 8)
DOMAIN_SIZES = (8, 36, 72, 144, 576)
KNEE_GAIN = 0.05            # a larger domain "pays" while it saves at least 5% of the GPUs
# Redundant experts the search may add so that EP divides the physical experts: at most 1/8 of the
# routed experts, DeepSeek-V3's own ratio (§3.4: 32 redundant experts for 256 routed in prefill;
# 256 + 32 = 288 spreads evenly over EP 8, 16, 32, 36, 72, 144 and 288).
MAX_REDUNDANT_SHARE = 1 / 8
# Rounds of the reuse fixed point (tiers -> prefill time -> cluster -> tiers); it settles in two
# or three when the hit rates barely move with the cluster size.
REUSE_ROUNDS = 8


@dataclass(frozen=True)
class Pool:
    role: str                  # "colocated", "prefill" or "decode"
    layout: Layout
    units: int
    requests_per_s_per_unit: float   # one unit at capacity (prefill: at its utilisation target)

    @property
    def gpus(self) -> int:
        return self.units * self.layout.gpus


@dataclass(frozen=True)
class DomainRow:
    domain_size: int
    gpus: int | None
    ep_crosses_domain: bool
    tpot_s: float | None


@dataclass(frozen=True)
class SloResult:
    name: str                  # "ttft", "tpot" or "tokens_per_s_per_user"
    target: float              # seconds, or tokens/s for the per-user speed
    actual: float | None
    unit: str                  # "s" or "tokens/s"

    @property
    def met(self) -> bool:
        if self.actual is None:
            return False
        return self.actual >= self.target if self.unit == "tokens/s" else self.actual <= self.target


@dataclass(frozen=True)
class Deployment:
    """A workload served by pools of units on a cluster: the result of `size`, of a pinned
    proposal and of `estimate`. `unit` is the decode (or co-located) unit; None when no layout
    works, and then `problems` say why."""

    model: Model
    hardware: Hardware
    workload: Workload
    engine: Engine
    requests_per_s: float               # the demand the pools are sized for
    unit: UnitResult | None
    pools: tuple[Pool, ...] = ()
    cluster: Cluster | None = None
    kv: KvTiers | None = None
    reuse: PrefixReuse = RESIDENT       # what the unit's prefill time assumed (from `kv`)
    pinned: bool = False                # the layout was given, not searched
    pinned_gpus: int | None = None
    one_replica: bool = False           # one replica at its own capacity (estimate), not sized to a demand
    units_needed: int | None = None     # decode (or co-located) units the demand needs
    problems: tuple[Verdict, ...] = ()  # why no layout works (search failures)
    domain_rows: tuple[DomainRow, ...] = ()
    smallest_domain: int | None = None
    knee_domain: int | None = None
    alternatives: tuple[Deployment, ...] = ()   # the next cheapest layouts, settled (size --top)

    @property
    def decode_pool(self) -> Pool | None:
        return self.pools[-1] if self.pools else None

    @property
    def units_short(self) -> bool:
        """Pinned GPUs hold fewer units than the demand needs."""
        pool = self.decode_pool
        return pool is not None and self.units_needed is not None and pool.units < self.units_needed

    @property
    def slos(self) -> tuple[SloResult, ...]:
        """Each workload target against what the plan delivers."""
        slo = self.workload.slo
        u = self.unit
        out = []
        if slo.ttft_ms is not None:
            out.append(SloResult("ttft", slo.ttft_ms / 1e3, u.ttft_s if u else None, "s"))
        if slo.tpot_ms is not None:
            out.append(SloResult("tpot", slo.tpot_ms / 1e3, u.tpot_s if u else None, "s"))
        if slo.tokens_per_s_per_user is not None:
            out.append(SloResult("tokens_per_s_per_user", slo.tokens_per_s_per_user, 1 / u.tpot_s if u else None,
                                 "tokens/s"))
        return tuple(out)

    @property
    def feasible(self) -> bool:
        """Every target holds: a layout exists, it fits HBM, every SLO is met, the (pinned)
        cluster carries the demand. The verdict rules give an error for each of these."""
        return (self.unit is not None and self.unit.fits and not self.unit.prefill_limited and not self.problems
                and not self.units_short and all(s.met for s in self.slos))

    @property
    def tokens_per_s_per_gpu_at_demand(self) -> float | None:
        if self.cluster is None or not self.cluster.gpus:
            return None
        return self.requests_per_s * self.workload.osl / self.cluster.gpus

    # Dollars per million tokens (planner.machine.cost): the cluster's cost per hour over the tokens
    # it serves in an hour, each figure charging the whole cluster to one kind of token.
    @property
    def usd_per_million_output_tokens(self) -> float | None:
        """At the demand."""
        c = self.cluster
        return usd_per_million_tokens(c.cost_per_hour if c else None, self.requests_per_s * self.workload.osl)

    @property
    def usd_per_million_output_tokens_at_capacity(self) -> float | None:
        """With every unit at its capacity."""
        c, u = self.cluster, self.unit
        if c is None or u is None:
            return None
        return usd_per_million_tokens(c.cost_per_hour, u.tokens_per_s_per_gpu * c.gpus)

    @property
    def usd_per_million_input_tokens(self) -> float | None:
        """Prompt tokens (reused prefix + new input) at the demand."""
        c, w = self.cluster, self.workload
        return usd_per_million_tokens(c.cost_per_hour if c else None, self.requests_per_s * (w.isl + w.prefix))


# ---- demand and pools ------------------------------------------------------------------------------

def demand_requests_per_s(w: Workload) -> float:
    """Requests (turns) per second. From concurrency by Little's law: a session issues one turn
    per (TTFT + osl x TPOT + turn gap) seconds, at the SLO targets."""
    if w.requests_per_s is not None:
        return w.requests_per_s
    assert w.concurrent_sessions is not None      # the schema requires one or the other
    tpot = w.slo.tpot_s or 0.05
    ttft = w.slo.ttft_s or 1.0
    return w.concurrent_sessions / (ttft + w.osl * tpot + w.turn_gap_s)


def pools_for(unit: UnitResult, demand: float, gpus: int | None = None) -> tuple[tuple[Pool, ...], int]:
    """(pools, decode units the demand needs). Each pool is sized to carry the demand; with pinned
    `gpus`, the prefill pool is still sized to the demand and the decode pool gets what is left."""
    lay = unit.layout
    needed = max(1, math.ceil(demand / unit.requests_per_s))
    if not lay.disaggregated:
        units = needed if gpus is None else max(1, gpus // lay.gpus)
        return (Pool("colocated", lay, units, unit.requests_per_s),), needed
    p_lay = unit.prefill_layout
    p_units = max(1, math.ceil(demand / unit.prefill_requests_per_s))
    units = needed if gpus is None else max(1, (gpus - p_units * p_lay.gpus) // lay.gpus)
    return (Pool("prefill", p_lay, p_units, unit.prefill_requests_per_s),
            Pool("decode", lay, units, unit.requests_per_s)), needed


def _cluster_of(hw: Hardware, pools: tuple[Pool, ...]) -> Cluster:
    return cluster(hw, [PoolUnits(p.role, p.layout, p.units) for p in pools])


# ---- one deployment ---------------------------------------------------------------------------------

def settle(m: Model, hw: Hardware, w: Workload, layout: Layout, *, engine: Engine | None = None,
           prefill_layout: Layout | None = None, gpus: int | None = None, one_replica: bool = False,
           reuse: PrefixReuse = RESIDENT, pinned: bool = False) -> Deployment:
    """Evaluate a fixed layout for the workload: the unit, pools for the demand (one replica at its
    capacity with `one_replica`; `gpus` pins the cluster size), the cluster, and the KV tiers,
    iterating tiers -> prefill time -> cluster until the reuse stops changing."""
    e = engine or default_engine()
    shape = w.shape
    tiers = w.prefix_cache == "tiers"
    if not tiers:
        reuse = RESIDENT
    deployment: Deployment | None = None
    for _ in range(REUSE_ROUNDS):
        unit = evaluate_unit(m, hw, shape, layout, engine=e, prefill_layout=prefill_layout, reuse=reuse)
        demand = unit.requests_per_s if one_replica else demand_requests_per_s(w)
        pools, needed = pools_for(unit, demand, gpus)
        c = _cluster_of(hw, pools)
        kv = plan_tiers(m, hw, w, unit, demand, c, e) if tiers else None
        deployment = Deployment(model=m, hardware=hw, workload=w, engine=e, requests_per_s=demand, unit=unit,
                                pools=pools,
                                cluster=c, kv=kv, reuse=reuse, pinned=pinned, pinned_gpus=gpus,
                                one_replica=one_replica, units_needed=needed)
        if kv is None or not shape.prefix or kv.reuse == reuse:
            break
        reuse = kv.reuse
    assert deployment is not None
    return deployment


def evaluate_layout(m: Model, hw: Hardware, w: Workload, layout: Layout, *, engine: Engine | None = None,
                    prefill_layout: Layout | None = None, gpus: int | None = None,
                    one_replica: bool = False) -> Deployment:
    """A pinned layout, checked as given rather than searched (proposals with [layout], `size
    --layout`, `estimate`). The layout is validated first: an impossible one is an InputError."""
    check_context(m.name, m.max_context, w.final_context)
    validate_layout(m, hw, layout)
    if prefill_layout is not None:
        validate_layout(m, hw, prefill_layout, field="prefill layout")
    return settle(m, hw, w, layout, engine=engine, prefill_layout=prefill_layout, gpus=gpus,
                  one_replica=one_replica, pinned=True)


# ---- the search ---------------------------------------------------------------------------------------

def redundant_for(m: Model, ep: int) -> int | None:
    """Redundant experts that make `ep` divide the physical experts (0 when it already does), or
    None when that would take more than MAX_REDUNDANT_SHARE of the routed experts."""
    if m.moe is None or ep <= 1:
        return 0
    extra = (-m.moe.num_experts) % ep
    return extra if extra <= MAX_REDUNDANT_SHARE * m.moe.num_experts else None


def candidate_layouts(m: Model, hw: Hardware, engine: Engine, routing: str = "power_law") -> list[Layout]:
    """Every layout the search considers, each valid by `layout_problem`; PP only as deep as it
    takes for the weights to fit (pipeline stages pay only for memory)."""
    out = []
    for tp in TP_CHOICES:
        for dp in (DP_CHOICES if m.is_moe else (1,)):
            ep = tp * dp if m.is_moe else 1
            redundant = redundant_for(m, ep)
            if redundant is None:
                continue
            for pp in PP_CHOICES:
                if pp > 1 and m.num_layers < 4 * pp:
                    continue
                lay = engine.speculate(Layout(tp=tp, dp=dp, ep=ep, pp=pp, redundant_experts=redundant,
                                              routing=routing))
                if layout_problem(m, hw, lay) is not None:
                    break
                out.append(lay)
                if weights_fit(m, hw, lay, engine):
                    break
    return out


_FITTING: IdentityMemo[tuple[Layout, ...]] = IdentityMemo(256)


def fitting_layouts(m: Model, hw: Hardware, engine: Engine, routing: str = "power_law") -> tuple[Layout, ...]:
    """The candidate layouts whose weights fit, fewest GPUs first. The same objects every time for
    the same inputs (by identity, as units are cached): every search round, sweep point and domain
    size asks again, and caches keyed by a layout object then hit."""
    def compute() -> tuple[Layout, ...]:
        fit = (lay for lay in candidate_layouts(m, hw, engine, routing) if weights_fit(m, hw, lay, engine))
        return tuple(sorted(fit, key=lambda lay: lay.gpus))
    return _FITTING.get(m, hw, engine, routing, compute)


@dataclass
class _Option:
    unit: UnitResult
    pools: tuple[Pool, ...]
    cluster: Cluster

    def key(self) -> tuple:
        return (self.cluster.gpus_provisioned, self.cluster.gpus, self.unit.tpot_s)


def prefill_pools(m: Model, hw: Hardware, w: Workload, engine: Engine, fitting: list[Layout],
                  reuse: PrefixReuse = RESIDENT, one: Callable[[Layout], PhaseTimes] | None = None,
                  ) -> Iterator[tuple[Layout, PrefillPoolUnit]]:
    """The disaggregated prefill units among `fitting` that hold one request and meet TTFT, as
    evaluate_unit runs them (batched steps, the pool's queue); `one` gives a single request's
    prefill when the caller caches it. The search and the frontier choose among these."""
    ttft = w.slo.ttft_s
    for lay in fitting:
        lay = lay.with_(serving=Serving.disaggregated, batch=1)
        if not hbm_budget(m, hw, lay, w.final_context, min(w.isl, engine.max_num_tokens), engine).fits:
            continue
        pool = prefill_pool_unit(m, hw, lay, w.shape, reuse, engine, one(lay) if one else None)
        if ttft is None or pool.ttft_s <= ttft:
            yield lay, pool


# Units and single prefills the searches evaluated (see _Search.unit): a size search settles ~2,000
# units; a sweep needs no more.
_UNITS: IdentityMemo[UnitResult] = IdentityMemo(8_000)
_PREFILLS: IdentityMemo[PhaseTimes] = IdentityMemo(8_000)


@dataclass
class _Search:
    """One pass of the search for one machine at one prefix-reuse assumption."""

    m: Model
    hw: Hardware
    w: Workload
    engine: Engine
    demand: float
    reuse: PrefixReuse
    modes: tuple[str, ...] = ("colocated", "disaggregated")
    # (layout, prefill layout or None) choices of a related search (an earlier reuse round, the
    # main domain size), evaluated first so that the bound is tight from the start. A hint only
    # changes how fast the search is, never what it returns.
    hints: tuple[tuple[Layout, Layout | None], ...] = ()
    _resident: _Search | None = None

    def __post_init__(self) -> None:
        self.shape = self.w.shape
        slo = self.w.slo
        self.targets = tuple((name, t) for name, t in (("tpot", slo.tpot_s), ("ttft", slo.ttft_s)) if t is not None)

    def prefill(self, layout: Layout) -> PhaseTimes:
        """One request's expected prefill on `layout`, cached across searches as units are (the
        rounds and the domain comparison ask for the same ones)."""
        machine, domain = machine_key(self.hw, layout.gpus)
        return _PREFILLS.get(self.m, machine, self.engine, (domain, self.shape, layout.shape_key(), self.reuse),
                             lambda: request_prefill(self.m, self.hw, layout, self.shape, self.reuse, self.engine))

    def unit(self, layout: Layout, prefill_layout: Layout | None, batch: int) -> UnitResult:
        """The unit at `batch`. Cached across searches: the reuse rounds and the domain comparison
        evaluate the same units again (a unit sees the domain only up to its GPUs)."""
        lay = layout.with_(batch=batch)
        p_lay = prefill_layout_for(lay, prefill_layout)
        machine, domain = machine_key(self.hw, max(lay.gpus, p_lay.gpus))
        return _UNITS.get(self.m, machine, self.engine, (domain, self.shape, lay, prefill_layout, self.reuse),
                          lambda: evaluate_unit(self.m, self.hw, self.shape, lay, engine=self.engine,
                                                prefill_layout=prefill_layout, reuse=self.reuse,
                                                prefill=self.prefill(p_lay)))

    def excess(self, u: UnitResult) -> float:
        """Largest ratio of a time to its target (≤ 1: every latency target met); a batch the
        engine's token budget cannot keep full never qualifies."""
        if u.prefill_limited:
            return float("inf")
        times = {"tpot": u.tpot_s, "ttft": u.ttft_s}
        return max((times[name] / t for name, t in self.targets), default=0.0)

    def resident(self) -> _Search:
        """This search with every reused prefix resident in HBM: the most requests any reuse lets
        a unit carry."""
        if self._resident is None:
            self._resident = _Search(self.m, self.hw, self.w, self.engine, self.demand, RESIDENT, self.modes)
        return self._resident

    def at_cap(self, layout: Layout, prefill_layout: Layout | None) -> UnitResult | None:
        """The unit at the largest batch per DP rank that fits HBM (None when not even one does)."""
        chunk = 0 if layout.disaggregated else min(self.w.isl, self.engine.max_num_tokens)
        fits = max_batch(self.m, self.hw, layout, self.w.final_context, chunk, self.engine)
        cap = min(MAX_BATCH, self.engine.max_batch, fits)
        return self.unit(layout, prefill_layout, cap) if cap >= 1 else None

    def largest_batch(self, layout: Layout, prefill_layout: Layout | None, hi_u: UnitResult) -> UnitResult | None:
        """The unit at the largest batch per DP rank that fits HBM (`hi_u`, the unit at that cap)
        and meets TPOT and TTFT, or None when batch 1 already fails (`batch_steps` run through)."""
        steps = self.batch_steps(layout, prefill_layout, hi_u)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return cast(UnitResult | None, done.value)

    def batch_steps(self, layout: Layout, prefill_layout: Layout | None,
                    hi_u: UnitResult) -> Generator[UnitResult, None, UnitResult | None]:
        """The search behind `largest_batch`, yielding the unit at each batch found too large (a
        tighter ceiling on the layout's throughput) and returning the answer. Both times grow
        nearly linearly with the batch, so an interpolation search takes a few evaluations where
        bisection takes ~12; it falls back to the midpoint whenever the guess would not shrink the
        bracket."""
        e_hi = self.excess(hi_u)
        if e_hi <= 1:
            return hi_u
        lo_u = self.unit(layout, prefill_layout, 1)
        e_lo = self.excess(lo_u)
        if e_lo > 1:
            return None
        lo, hi = 1, hi_u.layout.batch                     # invariant: ok(lo), not ok(hi)
        while hi - lo > 1:
            guess = lo + int((1 - e_lo) / (e_hi - e_lo) * (hi - lo))
            if not lo < guess < hi:
                guess = (lo + hi) // 2
            u = self.unit(layout, prefill_layout, guess)
            e = self.excess(u)
            if e <= 1:
                lo, lo_u, e_lo = guess, u, e
                # probe just above: on a near-linear curve the answer is usually lo or lo + 1
                if hi - lo > 2:
                    nxt = self.unit(layout, prefill_layout, lo + 1)
                    e_next = self.excess(nxt)
                    if e_next > 1:
                        return lo_u
                    lo, lo_u, e_lo = lo + 1, nxt, e_next
            else:
                hi, e_hi = guess, e
                yield u
        return lo_u

    def fewest_gpus(self, unit: UnitResult) -> int:
        """GPUs the demand needs in units like `unit` (and its prefill pool), before packing them
        into whole nodes: a lower bound on the option's provisioned GPUs."""
        return sum(p.units * p.layout.gpus for p in pools_for(unit, self.demand)[0])

    def option(self, unit: UnitResult) -> _Option:
        pools, _ = pools_for(unit, self.demand)
        return _Option(unit, pools, _cluster_of(self.hw, pools))

    def best_prefill(self, fitting: list[Layout], max_gpus: float) -> Layout | None:
        """Disaggregated prefill pool: the layout whose whole units cover the demand with the fewest
        GPUs, among units smaller than `max_gpus`. Prefill and decode pools are independent given
        the demand, so minimising each is exact."""
        best = None
        smaller = [lay for lay in fitting if lay.gpus < max_gpus]
        for lay, pool in prefill_pools(self.m, self.hw, self.w, self.engine, smaller, self.reuse, self.prefill):
            score = (math.ceil(self.demand / pool.requests_per_s) * lay.gpus, lay.gpus)
            if best is None or score < best[0]:
                best = (score, lay)
        return None if best is None else best[1]

    def run(self) -> _Option | None:
        ranked = self.ranked(1)
        return ranked[0] if ranked else None

    def ranked(self, keep: int) -> list[_Option]:
        """The `keep` cheapest options, one per layout (and prefill layout), cheapest first (ties in
        layout order, co-located first).

        Best-first branch and bound: each layout's unit at its HBM cap comes first. A unit's
        throughput never falls as its batch grows (each term of a step's time, over the batch, is
        flat or falling: fixed costs and weight streaming are shared, expert hits saturate, kernel
        efficiency rises with rows), so the cap unit carries the most requests any batch of the
        layout can, and the units the demand then needs bound its GPUs from below. The batch
        searches advance in the order of that bound, each batch found too large tightening its
        layout's bound, and stop when the lowest cannot beat the keep-th option found. A cap step
        the token budget cannot keep full bounds nothing; its layout is bounded by its own GPUs.
        Hinted layouts are searched first: a layout that belongs in the result is never pruned,
        whatever the bound, so hints change the speed, not the result."""
        fitting = list(fitting_layouts(self.m, self.hw, self.engine, self.w.expert_routing))
        found: list[tuple[tuple, _Option]] = []
        ttft = self.w.slo.ttft_s

        def bound() -> float:
            return found[keep - 1][1].cluster.gpus_provisioned if len(found) >= keep else math.inf

        def add(opt: _Option, order: tuple[int, int]) -> None:
            found.append(((*opt.key(), *order), opt))
            found.sort(key=lambda entry: entry[0])
            del found[keep:]

        def search(layouts: list[Layout], prefill_layout: Layout | None, mode: int) -> None:
            extra = prefill_layout.gpus if prefill_layout is not None else 0
            index = {lay.shape_key(): i for i, lay in enumerate(layouts)}
            hinted = list(dict.fromkeys(index[h.shape_key()] for h, p in self.hints
                                        if p == prefill_layout and h.shape_key() in index))
            # (lower bound on GPUs, layout index, its batch search or None before its cap unit)
            pending: list[tuple[float, int, Generator[UnitResult, None, UnitResult | None] | None]] = []

            def bounded(i: int, top: UnitResult, floor: float = 0.0) -> None:
                """Add the layout's cap unit if it meets the targets, else queue its batch search."""
                if self.excess(top) <= 1:
                    add(self.option(top), (mode, i))
                    return
                least = layouts[i].gpus + extra if top.prefill_limited else self.fewest_gpus(top)
                heapq.heappush(pending, (max(floor, least), i, self.batch_steps(layouts[i], prefill_layout, top)))

            for i in (*hinted, *(i for i in range(len(layouts)) if i not in hinted)):
                lay = layouts[i]
                if i not in hinted and lay.gpus + extra > bound():
                    break                                  # sorted by GPUs: no later layout fits either
                if prefill_layout is None and ttft is not None and self.prefill(lay).time_s > ttft:
                    continue                               # not even an empty unit prefills in time
                if i in hinted:
                    top = self.at_cap(lay, prefill_layout)
                    u = self.largest_batch(lay, prefill_layout, top) if top is not None else None
                    if u is not None:
                        add(self.option(u), (mode, i))
                    continue
                if self.reuse == RESIDENT:
                    top = self.at_cap(lay, prefill_layout)
                    if top is not None:
                        bounded(i, top)
                    continue
                # Under any other reuse, the layout's cap unit with every prefix resident (shared by
                # every round, domain size and sweep point) bounds it first: hits and loads only
                # ever shorten prefills, so no reuse carries more requests than resident prefixes.
                resident = self.resident().at_cap(lay, prefill_layout)
                if resident is not None:
                    heapq.heappush(pending, (lay.gpus + extra if resident.prefill_limited
                                             else self.fewest_gpus(resident), i, None))
            # the batch searches advance one too-large batch at a time, always the one whose bound
            # is lowest; each too-large batch it finds lowers the layout's ceiling and raises its bound
            while pending and pending[0][0] <= bound():
                floor, i, steps = heapq.heappop(pending)
                if steps is None:                        # its own cap unit, now that it may win
                    top = self.at_cap(layouts[i], prefill_layout)
                    assert top is not None               # the cap does not depend on the reuse
                    bounded(i, top, floor)
                    continue
                try:
                    ceiling = next(steps)
                except StopIteration as done:
                    if done.value is not None:
                        add(self.option(done.value), (mode, i))
                    continue
                if not ceiling.prefill_limited:
                    floor = max(floor, self.fewest_gpus(ceiling))
                heapq.heappush(pending, (floor, i, steps))

        if "colocated" in self.modes:
            search(fitting, None, 0)
        if "disaggregated" in self.modes:
            p_lay = self.best_prefill(fitting, bound())
            if p_lay is not None:
                search([lay.with_(serving=Serving.disaggregated) for lay in fitting], p_lay, 1)
        return [opt for _, opt in found]


def why_infeasible(m: Model, hw: Hardware, w: Workload, engine: Engine) -> tuple[Verdict, ...]:
    """Name the constraint that fails and by how much, from the most generous layouts."""
    layouts = candidate_layouts(m, hw, engine, w.expert_routing)
    fitting = [lay for lay in layouts if weights_fit(m, hw, lay, engine)]
    if not fitting:
        biggest = max(layouts, key=lambda lay: lay.gpus) if layouts else Layout()
        need = weights_per_gpu(m, biggest)
        return (Verdict("memory", "hbm", Severity.error,
                        f"weights need {U.format_bytes(need)} per GPU even at {biggest.label()} "
                        f"({biggest.gpus} GPUs); HBM holds {U.format_bytes(hw.hbm.capacity_bytes)}",
                        "a narrower precision or a machine with more HBM"),)
    shape = w.shape
    search = _Search(m, hw, w, engine, demand_requests_per_s(w), RESIDENT)
    out = []
    # the bare decode step at batch 1 (a disaggregated unit's TPOT) is the fastest any layout decodes
    fastest_tpot = min(evaluate_unit(m, hw, shape, lay.model_copy(update={"serving": Serving.disaggregated}),
                                     engine=engine).tpot_s
                       for lay in fitting)
    if w.slo.tpot_s is not None and fastest_tpot > w.slo.tpot_s:
        out.append(Verdict("decode", "slo", Severity.error,
                           f"no layout meets TPOT {U.format_seconds(w.slo.tpot_s)}: the fastest reaches "
                           f"{U.format_seconds(fastest_tpot)} at batch 1 ({fastest_tpot / w.slo.tpot_s:.2f}× over)",
                           "faster HBM, narrower precision, or a looser TPOT target"))
    fastest_ttft = min(search.prefill(lay).time_s for lay in fitting)
    if w.slo.ttft_s is not None and fastest_ttft > w.slo.ttft_s:
        out.append(Verdict("prefill", "slo", Severity.error,
                           f"no layout meets TTFT {U.format_seconds(w.slo.ttft_s)}: the fastest prefill takes "
                           f"{U.format_seconds(fastest_ttft)} ({fastest_ttft / w.slo.ttft_s:.2f}× over)",
                           "more GPUs per prefill (TP), prefix caching, or a looser TTFT target"))
    if not out:
        budget = hbm_budget(m, hw, fitting[0], w.final_context, min(w.isl, engine.max_num_tokens), engine)
        if budget.max_batch < 1:
            out.append(Verdict("memory", "hbm", Severity.error,
                               f"not even one sequence of {w.final_context:,} tokens fits beside the weights "
                               f"({U.format_bytes(budget.kv_per_sequence_bytes)} of KV per GPU)",
                               "more attention-DP ranks or GPUs per unit"))
        else:
            out.append(Verdict("serving", "slo", Severity.error,
                               "no layout meets TTFT and TPOT together: prefills stretch the co-located decode steps "
                               "and decode batches delay the prefills",
                               "disaggregated prefill, a looser target, or faster hardware"))
    return tuple(out)


def _deployment_key(d: Deployment) -> tuple:
    c, u = d.cluster, d.unit
    assert c is not None and u is not None
    return (not d.feasible, c.gpus_provisioned, c.gpus, u.tpot_s)


def _choice(d: Deployment) -> tuple[Layout, Layout | None] | None:
    """The (layout, prefill layout or None) a deployment chose: a hint for a related search."""
    u = d.unit
    return None if u is None else (u.layout, u.prefill_layout if u.layout.disaggregated else None)


def _search_rounds(m: Model, hw: Hardware, w: Workload, engine: Engine, demand: float,
                   modes: tuple[str, ...] = ("colocated", "disaggregated"),
                   hints: tuple[tuple[Layout, Layout | None], ...] = ()) -> Deployment | None:
    """Search, settle the choice, and search again with the reuse its tiers imply, until a choice
    repeats. The prefix reuse depends on the cluster the search picks (spare HBM and host memory
    grow with it), so one assumption cannot serve every candidate: the rounds start twice, once
    from prefixes always resident (the cheapest plans when hits are plentiful) and once from every
    prefix recomputed (a plan that meets its targets this way only gets faster when it settles with
    its tiers). Every settled plan is a self-consistent evaluation; the cheapest feasible one wins
    (else the cheapest). Each search takes the choices so far as hints."""
    tiers = w.prefix_cache == "tiers" and w.prefix > 0
    starts = (RESIDENT, NO_HITS) if tiers else (RESIDENT,)
    settled: list[Deployment] = []
    seen: set = set()
    for start in starts:
        reuse = start
        for _ in range(REUSE_ROUNDS):
            chosen = tuple(c for c in map(_choice, settled) if c is not None)
            best = _Search(m, hw, w, engine, demand, reuse, modes, hints=chosen + hints).run()
            if best is None:
                break
            u = best.unit
            choice = (u.layout, u.prefill_layout)
            if choice in seen:
                break
            seen.add(choice)
            d = settle(m, hw, w, u.layout, engine=engine,
                       prefill_layout=u.prefill_layout if u.layout.disaggregated else None, reuse=reuse)
            settled.append(d)
            if not tiers or d.reuse == reuse:
                break
            reuse = d.reuse
    return min(settled, key=_deployment_key) if settled else None


def _domain_sizes(hw: Hardware) -> tuple[int, ...]:
    """The scale-up domain sizes the comparison shows: the standard ones and the machine's own."""
    return tuple(sorted(set(DOMAIN_SIZES) | {hw.scale_up.domain_size}))


def _domain_row(m: Model, hw: Hardware, w: Workload, engine: Engine, demand: float, size: int,
                own: Deployment | None = None) -> DomainRow:
    """The workload sized, and settled, with a scale-up domain of `size` GPUs (`own`: the plan on
    the machine as it is, whose choice is a hint: it speeds the search and never changes it)."""
    if size == hw.scale_up.domain_size and own is not None:
        d: Deployment | None = own
    else:
        variant = hw.model_copy(update={"scale_up": hw.scale_up.model_copy(update={"domain_size": size})})
        hint = None if own is None else _choice(own)
        d = _search_rounds(m, variant, w, engine, demand, hints=(hint,) if hint else ())
    if d is None or d.unit is None or d.cluster is None or not d.feasible:
        return DomainRow(size, None, False, None)
    return DomainRow(size, d.cluster.gpus, d.unit.layout.ep > size, d.unit.tpot_s)


def _domain_rows(m: Model, hw: Hardware, w: Workload, engine: Engine, demand: float, own: Deployment,
                 elsewhere: Background[dict[int, DomainRow]] | None = None) -> tuple[DomainRow, ...]:
    """The same workload sized, and settled, at each standard scale-up domain size. `elsewhere`
    computes some of the rows on another core (`_background_domains`); the rest are found here
    first, then its rows are collected."""
    away = _background_sizes(hw) if elsewhere is not None else ()
    rows = {size: _domain_row(m, hw, w, engine, demand, size, own) for size in _domain_sizes(hw) if size not in away}
    if elsewhere is not None:
        rows.update(elsewhere.result())
    return tuple(rows[size] for size in _domain_sizes(hw))


def _background_sizes(hw: Hardware) -> tuple[int, ...]:
    """The smaller half of the other domain sizes: they share the fewest units with the machine's
    own search (every layout wider than the smaller domain crosses it)."""
    others = [size for size in _domain_sizes(hw) if size != hw.scale_up.domain_size]
    return tuple(others[:(len(others) + 1) // 2])


def _background_domains(m: Model, hw: Hardware, w: Workload, engine: Engine,
                        demand: float) -> Background[dict[int, DomainRow]]:
    """The rows of `_background_sizes`, searched on a second core from the start, while this
    process runs the machine's own search and then the larger half. Without the main plan as a
    hint those searches take longer, but they find the same rows."""
    return Background(lambda: {size: _domain_row(m, hw, w, engine, demand, size) for size in _background_sizes(hw)})


def domain_knee(rows: tuple[DomainRow, ...]) -> tuple[int | None, int | None]:
    """(smallest domain that is feasible with EP inside it, the knee): the knee is the first such
    domain that no larger domain improves on by KNEE_GAIN or more GPUs."""
    ok = [(r.domain_size, r.gpus) for r in rows if r.gpus is not None and not r.ep_crosses_domain]
    if not ok:
        return None, None
    for i, (size, gpus) in enumerate(ok):
        if all(later > gpus * (1 - KNEE_GAIN) for _, later in ok[i + 1:]):
            return ok[0][0], size
    return ok[0][0], ok[-1][0]


def alternatives(m: Model, hw: Hardware, w: Workload, engine: Engine, chosen: Deployment, count: int,
                 modes: tuple[str, ...] = ("colocated", "disaggregated")) -> tuple[Deployment, ...]:
    """The next `count` cheapest layouts after the chosen one, each settled as `size --layout`
    would settle it (so their numbers are what pinning them gives), cheapest first."""
    if count < 1 or chosen.unit is None:
        return ()
    taken = (chosen.unit.layout.with_(batch=1), chosen.unit.prefill_layout)
    options = _Search(m, hw, w, engine, demand_requests_per_s(w), chosen.reuse, modes).ranked(count + 1)
    out = []
    for opt in options:
        u = opt.unit
        if (u.layout.with_(batch=1), u.prefill_layout) == taken:
            continue
        out.append(settle(m, hw, w, u.layout, engine=engine, reuse=chosen.reuse,
                          prefill_layout=u.prefill_layout if u.layout.disaggregated else None))
    return tuple(sorted(out, key=_deployment_key)[:count])


def size_deployment(model: Model, hardware: Hardware, workload: Workload, compare_domains: bool = True,
                    engine: Engine | None = None, modes: tuple[str, ...] = ("colocated", "disaggregated"),
                    top: int = 1, jobs: int | None = 1) -> Deployment:
    """The cheapest plan that meets the workload's demand and targets, settled with its KV tiers,
    and (for MoE models) the same workload at other scale-up domain sizes. When no layout meets
    every target, `problems` say why; when the tiers' reloads push the best plan past a target,
    the plan is returned with `feasible` False and its SLO results say which. With more than one
    worker (`jobs`; None: every core), half the domain comparison runs on a second core
    (planner.background); the result is the same."""
    check_context(model.name, model.max_context, workload.final_context)
    e = engine or default_engine()
    demand = demand_requests_per_s(workload)
    compare = compare_domains and model.is_moe
    with (_background_domains(model, hardware, workload, e, demand) if compare and worker_count(jobs) > 1
          else nullcontext()) as background:
        chosen = _search_rounds(model, hardware, workload, e, demand, modes)
        if chosen is None:
            return Deployment(model=model, hardware=hardware, workload=workload, engine=e, requests_per_s=demand,
                              unit=None, problems=why_infeasible(model, hardware, workload, e))
        if compare:
            rows = _domain_rows(model, hardware, workload, e, demand, chosen, background)
            smallest, knee = domain_knee(rows)
            chosen = Deployment(**{**chosen.__dict__, "domain_rows": rows, "smallest_domain": smallest,
                                   "knee_domain": knee})
    if top > 1:
        chosen = Deployment(**{**chosen.__dict__,
                               "alternatives": alternatives(model, hardware, workload, e, chosen, top - 1, modes)})
    return chosen
