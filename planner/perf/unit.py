"""The one evaluation of a serving unit: a validated layout + batch + serving mode on a model,
machine and request shape -> HBM budget, phase times, TTFT and TPOT as a user sees them, and the
unit's capacity. `estimate`, sweep rows, the sizing search, pinned proposals and `balance` all get
their numbers from `evaluate_unit`, so the same inputs give the same numbers everywhere.

Serving modes, each at the unit's full batch (the unit runs at capacity; a cluster sized with
headroom does better than this):

- colocated: prefill and decode share the GPUs. A DP rank decodes at r = pp x batch x a / t_d
  tokens/s (a = tokens accepted per step, 1 without speculative decoding; pp micro-batches in
  flight) and spends t_p of its time on each request's prefill, so it serves r / (osl + r t_p)
  requests/s and a fraction f = r t_p / (osl + r t_p) of its time prefilling. The decode steps a
  user sees stretch by 1 / (1 - f) (TPOT = t_d / a / (1 - f)). A new request waits for the step in
  progress ((1 - f) t_d / 2 on average) and for the prefills queued ahead of it: prefills arrive
  as a Poisson stream and take t_p each, an M/D/1 queue at utilisation f, so the mean wait is
  f t_p / (2 (1 - f)) (Pollaczek-Khinchine). TTFT = t_p + that wait + the residual step.
- disaggregated: a prefill pool (its own layout; by default the decode unit's parallelism) runs
  at utilisation PREFILL_UTILIZATION, so TTFT = t_p (1 + rho / (2 (1 - rho))) by the same M/D/1
  formula, with the KV transfer to the decode pool in the prefill's traffic; decode units see
  bare steps (TPOT = t_d / a). Capacity per GPU counts the prefill GPUs a decode unit needs.

The prefill time t_p is the expected time of one request: its new tokens with the reused
prefix already in HBM, plus, for the share of requests whose prefix comes from a KV tier, the
time to load it (or to recompute it, whichever is faster), plus full recomputation for the
share that misses every tier (`PrefixReuse`, from planner.kv.tiers).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.inputs.hardware import Hardware
from planner.inputs.layout import Layout, Serving
from planner.inputs.model import Model
from planner.inputs.workload import RequestShape
from planner.model import facts as M
from planner.perf.memory import HbmBudget, hbm_budget, kv_share
from planner.perf.phases import PhaseTimes, decode_step, mix
from planner.perf.phases import prefill as prefill_phase

# Disaggregated prefill pools run at 70% utilisation, which keeps the M/D/1 wait at
# rho / (2 (1 - rho)) = 1.17 prefill times (DistServe and Splitwise size prefill pools for a
# bounded queueing delay the same way).
PREFILL_UTILIZATION = 0.7


@dataclass(frozen=True)
class TierRead:
    """A share of requests whose prefix is read from one KV tier, at this rate per GPU."""

    tier: str
    share: float
    bytes_per_s_per_gpu: float


@dataclass(frozen=True)
class PrefixReuse:
    """Where a request's reused prefix comes from. `resident`: always already in HBM (what
    `estimate --prefix` assumes); otherwise `reads` from the tiers and the rest is recomputed."""

    reads: tuple[TierRead, ...] = ()
    resident: bool = True

    @property
    def hit_share(self) -> float:
        return 1.0 if self.resident else sum(r.share for r in self.reads)


RESIDENT = PrefixReuse()
NO_HITS = PrefixReuse(resident=False)      # every reused prefix is recomputed


def accepted_tokens(m: Model, layout: Layout) -> float:
    """Tokens a sequence advances per decode step: 1, plus the accepted draft token with MTP."""
    return 1.0 + (layout.mtp_acceptance if layout.mtp and m.mtp_layers else 0.0)


def prefill_layout_for(layout: Layout, prefill_layout: Layout | None) -> Layout:
    """Where prefills run: the unit itself when colocated; the prefill pool's layout when
    disaggregated (the decode unit's parallelism unless one is given)."""
    if not layout.disaggregated:
        return layout
    base = prefill_layout if prefill_layout is not None else layout
    return base.model_copy(update={"batch": 1, "serving": Serving.disaggregated})


def request_prefill(m: Model, hw: Hardware, layout: Layout, shape: RequestShape,
                    reuse: PrefixReuse = RESIDENT) -> PhaseTimes:
    """Expected prefill of one request on `layout`: the new tokens with the prefix in HBM; a tier
    hit first loads the prefix (storage term) unless recomputing it is faster; a miss recomputes."""
    resident = prefill_phase(m, hw, layout, shape.isl, shape.prefix)
    if reuse.resident or shape.prefix == 0:
        return resident
    full = prefill_phase(m, hw, layout, shape.prefix + shape.isl)
    redo = full.time_s - resident.time_s
    prefix_per_gpu = M.kv_bytes_per_sequence(m, shape.prefix) * kv_share(m, layout)
    parts: list[tuple[float, PhaseTimes]] = []
    for read in reuse.reads:
        if read.share <= 0:
            continue
        load = prefix_per_gpu / read.bytes_per_s_per_gpu if read.bytes_per_s_per_gpu > 0 else float("inf")
        if load < redo:
            hit = PhaseTimes(**{**resident.__dict__, "storage_s": resident.storage_s + load,
                                "time_s": resident.time_s + load})
            parts.append((read.share, hit))
        else:
            parts.append((read.share, full))
    parts.append((max(0.0, 1.0 - reuse.hit_share), full))
    return mix(parts)


@dataclass(frozen=True)
class UnitResult:
    """One serving unit at its batch. Times in seconds, rates per second, bytes per GPU."""

    layout: Layout                  # the unit (the decode unit when disaggregated)
    prefill_layout: Layout          # where its prefills run
    budget: HbmBudget               # per GPU of the unit, at the final context
    prefill_budget: HbmBudget | None  # per GPU of a prefill unit (disaggregated)
    prefill: PhaseTimes             # one request's expected prefill
    decode: PhaseTimes              # one bare decode step of a micro-batch through all layers
    accepted_tokens: float          # tokens per sequence per decode step
    prefill_share: float            # colocated: share of a rank's time spent prefilling
    ttft_s: float
    tpot_s: float
    requests_per_s: float           # one unit at capacity
    prefill_requests_per_s: float   # one prefill unit at its utilisation target (= requests_per_s when colocated)
    tokens_per_s_per_gpu: float     # output tokens/s per GPU at capacity, the prefill GPUs it needs included
    osl: int

    @property
    def decode_step_s(self) -> float:
        return self.decode.time_s

    @property
    def output_tokens_per_s(self) -> float:
        return self.requests_per_s * self.osl

    @property
    def weights_fit(self) -> bool:
        return self.budget.weights_fit and (self.prefill_budget is None or self.prefill_budget.weights_fit)

    @property
    def fits(self) -> bool:
        return self.budget.fits and self.budget.weights_fit and (
            self.prefill_budget is None or (self.prefill_budget.fits and self.prefill_budget.weights_fit))


def evaluate_unit(m: Model, hw: Hardware, shape: RequestShape, layout: Layout, *,
                  prefill_layout: Layout | None = None, reuse: PrefixReuse = RESIDENT,
                  prefill: PhaseTimes | None = None) -> UnitResult:
    """Evaluate one serving unit (see the module doc). `layout` must have passed
    `validate_layout`. A caller that already has it may pass `request_prefill` of the prefill
    layout (the sizing search evaluates many batches of one layout)."""
    colocated = not layout.disaggregated
    p_layout = prefill_layout_for(layout, prefill_layout)
    budget = hbm_budget(m, hw, layout, shape.final_context, shape.isl if colocated else 0)
    p_budget = None if colocated else hbm_budget(m, hw, p_layout, shape.final_context, shape.isl)
    pre = prefill if prefill is not None else request_prefill(m, hw, p_layout, shape, reuse)
    dec = decode_step(m, hw, layout, shape.mean_decode_context)
    a = accepted_tokens(m, layout)
    rate = layout.pp * layout.batch * a / dec.time_s           # tokens/s per DP rank
    t_p = pre.time_s
    if colocated:
        busy = shape.osl + rate * t_p                          # rank-seconds x rate per request
        share = rate * t_p / busy
        unit_rps = rate / busy * layout.dp
        tpot = dec.time_s / a / (1 - share)
        ttft = t_p * (1 + share / (2 * (1 - share))) + (1 - share) * dec.time_s / 2
        p_rps = unit_rps
        per_gpu = unit_rps * shape.osl / layout.gpus
    else:
        share = 0.0
        unit_rps = rate / shape.osl * layout.dp
        tpot = dec.time_s / a
        p_rps = p_layout.dp * PREFILL_UTILIZATION / t_p
        ttft = t_p * (1 + PREFILL_UTILIZATION / (2 * (1 - PREFILL_UTILIZATION)))
        per_gpu = unit_rps * shape.osl / (layout.gpus + unit_rps / p_rps * p_layout.gpus)
    return UnitResult(layout=layout, prefill_layout=p_layout, budget=budget, prefill_budget=p_budget,
                      prefill=pre, decode=dec, accepted_tokens=a, prefill_share=share, ttft_s=ttft, tpot_s=tpot,
                      requests_per_s=unit_rps, prefill_requests_per_s=p_rps, tokens_per_s_per_gpu=per_gpu,
                      osl=shape.osl)
