"""The one evaluation of a serving unit: a validated layout + batch + serving mode on a model,
machine and request shape -> HBM budget, phase times, TTFT and TPOT as a user sees them, and the
unit's capacity. `estimate`, sweep rows, the sizing search, pinned proposals and `balance` all get
their numbers from `evaluate_unit`, so the same inputs give the same numbers everywhere.

Serving modes, each at the unit's full batch (the unit runs at capacity; a cluster sized with
headroom does better than this). `a` is the tokens a sequence advances per step (1 without
speculative decoding), b the batch per DP rank, and the engine's token budget per step
(`max_num_tokens`) bounds what one step may process:

- colocated, mixed steps (vLLM V1, TensorRT-LLM in-flight batching): every step carries the decode
  tokens of the batch and prompt chunks. To keep b sequences decoding, a step must prefill
  b a / osl requests' prompts (c = b a n / osl tokens, n the prompt tokens a request computes,
  recomputed prefixes included), within the budget left after the decode tokens (if not, the
  batch cannot be kept full: `prefill_limited`). TPOT = T / a with T the mixed step. A new prompt
  is served by the free budget, n / room steps that each carry up to `room` of its tokens, after
  an M/D/1 wait at utilisation c / room (Pollaczek-Khinchine), plus half a step for the step in
  progress.
- colocated, separate prefill steps (SGLang's default): a rank alternates decode steps with
  prefill steps of k = budget // isl prompts; it decodes at r = pp b a / t_d tokens/s and spends
  t_p / k per request prefilling, so a fraction f = r t_p/k / (osl + r t_p/k) of its time goes to
  prefill and the decode steps a user sees stretch by 1 / (1 - f). TTFT = t_p + the M/D/1 wait at
  utilisation f + the residual decode step.
- disaggregated: a prefill pool (its own layout; by default the decode unit's parallelism) runs
  steps of k prompts at utilisation PREFILL_UTILIZATION, so TTFT = t_p (1 + rho / (2 (1 - rho))),
  with the KV transfer to the decode pool in the prefill's traffic; decode units see bare steps
  (TPOT = t_d / a). Capacity per GPU counts the prefill GPUs a decode unit needs.

A prompt's prefill is its expected cost: the new tokens with the reused prefix already in HBM,
plus, for the share of requests whose prefix comes from a KV tier, the time to load it (or to
recompute it, whichever is faster), plus full recomputation for the share that misses every tier
(`PrefixReuse`, from planner.kv.tiers).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.io import default_engine
from planner.inputs.layout import Layout, Serving
from planner.inputs.model import Model
from planner.inputs.workload import RequestShape
from planner.model import facts as M
from planner.perf.memory import HbmBudget, hbm_budget, kv_share
from planner.perf.phases import PhaseTimes, decode_step, mix, mixed_step
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
    """Tokens a sequence advances per decode step: 1, plus the accepted drafts with MTP."""
    return layout.accepted_tokens() if m.mtp_layers else 1.0


def prefill_layout_for(layout: Layout, prefill_layout: Layout | None) -> Layout:
    """Where prefills run: the unit itself when colocated; the prefill pool's layout when
    disaggregated (the decode unit's parallelism unless one is given)."""
    if not layout.disaggregated:
        return layout
    base = prefill_layout if prefill_layout is not None else layout
    return base.with_(batch=1, serving=Serving.disaggregated)


@dataclass(frozen=True)
class ReuseOutcome:
    """How a request's reused prefix is served on a layout: the share of requests that recompute it
    (misses, and hits whose tier reads slower than recomputing), and the expected load time."""

    recompute_share: float
    load_s: float


def reuse_outcome(m: Model, hw: Hardware, layout: Layout, shape: RequestShape, reuse: PrefixReuse,
                  engine: Engine) -> ReuseOutcome:
    if reuse.resident or shape.prefix == 0:
        return ReuseOutcome(0.0, 0.0)
    resident = prefill_phase(m, hw, layout, shape.isl, shape.prefix, engine=engine)
    full = prefill_phase(m, hw, layout, shape.prefix + shape.isl, engine=engine)
    redo = full.time_s - resident.time_s
    prefix_per_gpu = M.kv_bytes_per_sequence(m, shape.prefix) * kv_share(m, layout)
    recompute, load = max(0.0, 1.0 - reuse.hit_share), 0.0
    for read in reuse.reads:
        t = prefix_per_gpu / read.bytes_per_s_per_gpu if read.bytes_per_s_per_gpu > 0 else float("inf")
        if t < redo:
            load += read.share * t
        else:
            recompute += read.share
    return ReuseOutcome(recompute, load)


def request_prefill(m: Model, hw: Hardware, layout: Layout, shape: RequestShape,
                    reuse: PrefixReuse = RESIDENT, engine: Engine | None = None, requests: int = 1) -> PhaseTimes:
    """Expected prefill step of `requests` prompts on `layout`: the new tokens with the prefix in
    HBM; a tier hit first loads the prefix (storage term) unless recomputing it is faster; a miss
    recomputes it."""
    e = engine or default_engine()
    resident = prefill_phase(m, hw, layout, shape.isl, shape.prefix, requests=requests, engine=e)
    outcome = reuse_outcome(m, hw, layout, shape, reuse, e)
    if not outcome.recompute_share and not outcome.load_s:
        return resident
    full = prefill_phase(m, hw, layout, shape.prefix + shape.isl, requests=requests, engine=e)
    loaded = PhaseTimes(**{**resident.__dict__, "storage_s": resident.storage_s + outcome.load_s * requests,
                           "time_s": resident.time_s + outcome.load_s * requests})
    share = outcome.recompute_share
    return mix([(1 - share, loaded), (share, full)])


def prefill_batch(engine: Engine, shape: RequestShape) -> int:
    """Prompts one prefill step takes: as many whole prompts as fit the engine's token budget (at
    least one; a longer prompt is chunked over several steps of the same work)."""
    return max(1, engine.max_num_tokens // max(1, shape.isl))


@dataclass(frozen=True)
class PrefillPoolUnit:
    """A disaggregated prefill unit as evaluate_unit runs it: steps of `requests_per_step` prompts,
    the pool held at PREFILL_UTILIZATION, each request waiting in an M/D/1 queue for its step."""

    step: PhaseTimes
    requests_per_step: int
    requests_per_s: float            # one unit at the utilisation target
    ttft_s: float                    # its step plus the queueing wait


def prefill_pool_unit(m: Model, hw: Hardware, layout: Layout, shape: RequestShape, reuse: PrefixReuse = RESIDENT,
                      engine: Engine | None = None, one: PhaseTimes | None = None) -> PrefillPoolUnit:
    """One unit of a disaggregated prefill pool (`one`: a single request's prefill, when known)."""
    e = engine or default_engine()
    k = prefill_batch(e, shape)
    step = request_prefill(m, hw, layout, shape, reuse, e, requests=k) if k > 1 or one is None else one
    return PrefillPoolUnit(step=step, requests_per_step=k,
                           requests_per_s=layout.dp * k * PREFILL_UTILIZATION / step.time_s,
                           ttft_s=step.time_s + _md1_wait(PREFILL_UTILIZATION, step.time_s))


@dataclass(frozen=True)
class UnitResult:
    """One serving unit at its batch. Times in seconds, rates per second, bytes per GPU."""

    layout: Layout                  # the unit (the decode unit when disaggregated)
    prefill_layout: Layout          # where its prefills run
    budget: HbmBudget               # per GPU of the unit, at the final context
    prefill_budget: HbmBudget | None  # per GPU of a prefill unit (disaggregated)
    request: PhaseTimes             # one request's expected prefill, alone
    prefill: PhaseTimes             # the prefill step the unit (or its prefill pool) runs
    decode: PhaseTimes              # one bare decode step of a micro-batch through all layers
    step: PhaseTimes                # the step a user's tokens come from (mixed steps carry prefill chunks)
    prefill_requests_per_step: float
    accepted_tokens: float          # tokens per sequence per decode step
    prefill_share: float            # co-located: share of the unit's GPU time spent prefilling
    prefill_limited: bool           # co-located: the engine's token budget cannot keep the batch full
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


def _md1_wait(utilisation: float, service_s: float) -> float:
    """Mean wait in an M/D/1 queue (Pollaczek-Khinchine with deterministic service); unbounded when
    the server is saturated."""
    if utilisation >= 1:
        return float("inf")
    return utilisation / (2 * (1 - utilisation)) * service_s


def evaluate_unit(m: Model, hw: Hardware, shape: RequestShape, layout: Layout, *,
                  engine: Engine | None = None, prefill_layout: Layout | None = None,
                  reuse: PrefixReuse = RESIDENT, prefill: PhaseTimes | None = None) -> UnitResult:
    """Evaluate one serving unit (see the module doc). `layout` must have passed
    `validate_layout`. A caller that already has it may pass `request_prefill` of one request on
    the prefill layout (the sizing search evaluates many batches of one layout)."""
    e = engine or default_engine()
    colocated = not layout.disaggregated
    p_layout = prefill_layout_for(layout, prefill_layout)
    chunk = min(shape.isl, e.max_num_tokens)
    budget = hbm_budget(m, hw, layout, shape.final_context, chunk if colocated else 0, e)
    p_budget = None if colocated else hbm_budget(m, hw, p_layout, shape.final_context, chunk, e)
    one = prefill if prefill is not None else request_prefill(m, hw, p_layout, shape, reuse, e)
    dec = decode_step(m, hw, layout, shape.mean_decode_context, e)
    a = accepted_tokens(m, layout)
    b = layout.batch
    limited = False
    if colocated and e.mixed_steps:
        # Every step carries decode tokens and prompt chunks. To keep b sequences decoding, each step
        # must prefill b·a / osl new requests' worth of prompt tokens (plus recomputed prefixes).
        outcome = reuse_outcome(m, hw, layout, shape, reuse, e)
        per_request = shape.isl + outcome.recompute_share * shape.prefix
        room = max(1.0, e.max_num_tokens - b * (1 + layout.mtp_depth))
        needed = b * a * per_request / shape.osl
        chunk_tokens = min(needed, room)
        limited = needed > room
        starts = chunk_tokens / per_request                        # requests whose prefill a step completes
        attended = int(shape.prefix * (1 - outcome.recompute_share))   # cached prefix the new tokens attend to
        step = mixed_step(m, hw, layout, shape.mean_decode_context, chunk_tokens, int(per_request), attended,
                          starts * outcome.load_s, e)
        rank_rps = layout.pp * starts / step.time_s                # pp micro-batches in flight
        share = max(0.0, 1.0 - dec.time_s / step.time_s)            # the step time the prompt chunks add
        tpot = step.time_s / a
        # a new prompt takes the free budget: steps carrying up to `room` of its tokens each
        whole = mixed_step(m, hw, layout, shape.mean_decode_context, min(per_request, room), int(per_request),
                           attended, outcome.load_s, e)
        service = max(1.0, per_request / room) * whole.time_s
        ttft = service + _md1_wait(chunk_tokens / room, service) + step.time_s / 2 + outcome.load_s
        pre, per_step = one, starts
        unit_rps = rank_rps * layout.dp
        p_rps = unit_rps
        per_gpu = unit_rps * shape.osl / layout.gpus
    elif colocated:
        # Prefill batches run as steps of their own; a rank alternates them with decode steps.
        k = prefill_batch(e, shape)
        pre = request_prefill(m, hw, layout, shape, reuse, e, requests=k) if k > 1 else one
        step = dec
        rate = layout.pp * b * a / dec.time_s                      # tokens/s per DP rank while decoding
        per_request = pre.time_s / k
        busy = shape.osl + rate * per_request
        share = rate * per_request / busy
        unit_rps = rate / busy * layout.dp
        tpot = dec.time_s / a / (1 - share)
        ttft = pre.time_s + _md1_wait(share, pre.time_s) + (1 - share) * dec.time_s / 2
        per_step, p_rps = float(k), unit_rps
        per_gpu = unit_rps * shape.osl / layout.gpus
    else:
        # A prefill pool at PREFILL_UTILIZATION; decode units see bare steps.
        pool = prefill_pool_unit(m, hw, p_layout, shape, reuse, e, one)
        pre, step = pool.step, dec
        share = 0.0
        unit_rps = layout.pp * b * a / dec.time_s / shape.osl * layout.dp
        tpot = dec.time_s / a
        p_rps, ttft, per_step = pool.requests_per_s, pool.ttft_s, float(pool.requests_per_step)
        per_gpu = unit_rps * shape.osl / (layout.gpus + unit_rps / p_rps * p_layout.gpus)
    return UnitResult(layout=layout, prefill_layout=p_layout, budget=budget, prefill_budget=p_budget, request=one,
                      prefill=pre, decode=dec, step=step, prefill_requests_per_step=per_step, accepted_tokens=a,
                      prefill_share=share, prefill_limited=limited, ttft_s=ttft, tpot_s=tpot,
                      requests_per_s=unit_rps, prefill_requests_per_s=p_rps, tokens_per_s_per_gpu=per_gpu,
                      osl=shape.osl)
