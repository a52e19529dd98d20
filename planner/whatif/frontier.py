"""The throughput–interactivity frontier of one model on one machine for one request shape.

Every option a deployment can take is a point: each layout that fits (TP × attention-DP × PP, EP
for MoE), co-located or disaggregated, at batches from 1 to the largest that fits HBM, for every
combination of the `vary` values (precisions, speculative decoding depth, any `--set` key). Each
point is one serving unit evaluated by `planner.perf.unit.evaluate_unit`, the function every
command uses, so a point's numbers are what `estimate` (or `size --layout`) gives for it:

- tokens/s per user = 1 / TPOT (the decode rate a user sees, drafts included),
- tokens/s per GPU = output tokens per second per GPU at capacity, prefill GPUs included,
- $ per million output tokens = price per GPU-hour / (tokens/s per GPU × 3600) × 10⁶, from the
  machine's dated price (planner.machine.cost) or the one given.

The frontier is the Pareto set: no other point gives more tokens/s per GPU at the same or higher
tokens/s per user. Sorted by tokens/s per user, its tokens/s per GPU falls monotonically, which is
the trade a user makes (aiconfigurator draws the same curve). Points whose engine step budget
cannot keep the batch full (`prefill_limited`) are left out: their throughput is not attainable.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.io import load_engine, load_hardware, load_model, load_workload
from planner.inputs.layout import Layout, Serving
from planner.inputs.model import Model
from planner.inputs.workload import Workload, check_context
from planner.machine.cluster import system_power_per_gpu_w
from planner.machine.cost import gpu_hour_rate, usd_per_million_tokens
from planner.perf.memory import hbm_budget
from planner.perf.unit import RESIDENT, evaluate_unit, request_prefill
from planner.serving.deployment import MAX_BATCH, fitting_layouts, prefill_pools

MODES = ("colocated", "disaggregated")


@dataclass(frozen=True, slots=True)
class FrontierPoint:
    """One deployment option. Times in seconds; rates per second; money in US dollars."""

    variant: tuple[tuple[str, Any], ...]     # the `vary` values of this point, as --set keys
    layout: Layout                           # with its batch and serving mode
    prefill_layout: Layout | None            # the prefill unit when disaggregated
    ttft_s: float
    tpot_s: float
    tokens_per_s_per_user: float
    tokens_per_s_per_gpu: float
    meets_targets: bool                      # the workload's TTFT and TPOT targets hold
    usd_per_million_output_tokens: float | None = None

    @property
    def label(self) -> str:
        """The layout as `--layout`, `--batch` and `--serving` spell it, with its variant."""
        parts = [self.layout.label(), f"batch={self.layout.batch}", self.layout.serving.value]
        if self.prefill_layout is not None:
            parts.append(f"prefill {self.prefill_layout.label()}")
        parts += [f"{k}={v}" for k, v in self.variant]
        return " ".join(parts)

    def to_row(self) -> dict[str, Any]:
        """A flat record (base units) for CSV, JSON and pandas.DataFrame."""
        row: dict[str, Any] = {k: v for k, v in self.variant}
        row.update({"layout": self.layout.label(), "serving": self.layout.serving.value, "batch": self.layout.batch,
                    "gpus": self.layout.gpus,
                    "prefill_layout": self.prefill_layout.label() if self.prefill_layout else None,
                    "prefill_gpus": self.prefill_layout.gpus if self.prefill_layout else None,
                    "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
                    "tokens_per_s_per_user": self.tokens_per_s_per_user,
                    "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
                    "usd_per_million_output_tokens": self.usd_per_million_output_tokens,
                    "meets_targets": self.meets_targets})
        return row


@dataclass(frozen=True)
class Frontier:
    model: str
    hardware: str
    workload: str
    vary: tuple[str, ...]
    tpot_target_s: float | None              # the workload's TPOT target (a floor on tokens/s per user)
    points: tuple[FrontierPoint, ...]        # everything evaluated
    pareto: tuple[FrontierPoint, ...]        # the frontier, by tokens/s per user, ascending

    def to_rows(self, frontier_only: bool = True) -> list[dict[str, Any]]:
        return [p.to_row() for p in (self.pareto if frontier_only else self.points)]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "hardware": self.hardware, "workload": self.workload, "vary": list(self.vary),
                "tpot_target_s": self.tpot_target_s, "points_evaluated": len(self.points), "frontier": self.to_rows()}


def pareto_front(points: Sequence[FrontierPoint]) -> tuple[FrontierPoint, ...]:
    """The points no other point dominates (at least as fast per user and strictly more tokens/s
    per GPU, or the reverse), ascending in tokens/s per user and so descending in tokens/s per GPU."""
    best = -math.inf
    front: list[FrontierPoint] = []
    for p in sorted(points, key=lambda p: (-p.tokens_per_s_per_user, -p.tokens_per_s_per_gpu)):
        if p.tokens_per_s_per_gpu > best:
            front.append(p)
            best = p.tokens_per_s_per_gpu
    return tuple(reversed(front))


def _batches(cap: int) -> list[int]:
    """1, 2, 4, ... below `cap`, and `cap`: the frontier's batch grid per layout."""
    out = [1 << i for i in range(cap.bit_length()) if (1 << i) < cap]
    return out + [cap]


def _prefill_layout(m: Model, hw: Hardware, w: Workload, e: Engine, fitting: list[Layout]) -> Layout | None:
    """The prefill unit with the most requests/s per GPU that meets TTFT."""
    pools = list(prefill_pools(m, hw, w, e, fitting))
    return max(pools, key=lambda p: p[1].requests_per_s / p[0].gpus)[0] if pools else None


def _variant_points(m: Model, hw: Hardware, w: Workload, e: Engine, variant: tuple[tuple[str, Any], ...],
                    modes: Sequence[str], price: float | None) -> list[FrontierPoint]:
    check_context(m.name, m.max_context, w.final_context, "workload.context")
    fitting = list(fitting_layouts(m, hw, e, w.expert_routing))
    prefill = _prefill_layout(m, hw, w, e, fitting) if "disaggregated" in modes else None
    slo = w.slo
    out = []
    for mode in modes:
        if mode == "disaggregated" and prefill is None:
            continue
        for base in fitting:
            lay = base.model_copy(update={"serving": Serving(mode), "batch": 1})
            chunk = min(w.isl, e.max_num_tokens) if mode == "colocated" else 0
            cap = min(MAX_BATCH, e.max_batch, hbm_budget(m, hw, lay, w.final_context, chunk, e).max_batch)
            if cap < 1:
                continue
            p_lay = prefill if mode == "disaggregated" else None
            one = request_prefill(m, hw, p_lay or lay, w.shape, RESIDENT, e)
            for batch in _batches(cap):
                u = evaluate_unit(m, hw, w.shape, lay.with_(batch=batch), engine=e,
                                  prefill_layout=p_lay, prefill=one)
                if u.prefill_limited or not u.fits or not u.tpot_s > 0:
                    continue
                meets = ((slo.tpot_s is None or u.tpot_s <= slo.tpot_s)
                         and (slo.ttft_s is None or u.ttft_s <= slo.ttft_s))
                usd = usd_per_million_tokens(price, u.tokens_per_s_per_gpu)   # one GPU-hour over its tokens
                out.append(FrontierPoint(variant=variant, layout=u.layout, prefill_layout=p_lay, ttft_s=u.ttft_s,
                                         tpot_s=u.tpot_s, tokens_per_s_per_user=1 / u.tpot_s,
                                         tokens_per_s_per_gpu=u.tokens_per_s_per_gpu, meets_targets=meets,
                                         usd_per_million_output_tokens=usd))
    return out


def frontier(model: str | dict[str, Any], hardware: str | dict[str, Any], workload: str | dict[str, Any], *,
             engine: str | dict[str, Any], sets: Mapping[str, Any] | None = None,
             vary: Mapping[str, Sequence[Any]] | None = None, modes: Sequence[str] = MODES,
             price_per_gpu_hour: float | None = None, ttft_target_only: bool = False) -> Frontier:
    """Evaluate every option (see the module doc) and return the points and their Pareto set.
    `vary` maps --set keys to values (cartesian product); `ttft_target_only` keeps only points that
    meet the workload's TTFT target (the TPOT target is what the frontier trades)."""
    base = dict(sets or {})
    keys = tuple((vary or {}).keys())
    points: list[FrontierPoint] = []
    names = ("", "", "")
    tpot_target = None
    for combo in itertools.product(*[list(v) for v in (vary or {}).values()]):
        variant = tuple(zip(keys, combo, strict=True))
        overrides = {**base, **dict(variant)}
        m, hw, w = load_model(model, overrides), load_hardware(hardware, overrides), load_workload(workload, overrides)
        e = load_engine(engine, overrides)
        names, tpot_target = (m.name, hw.name, w.name), w.slo.tpot_s
        price = price_per_gpu_hour
        if price is None:
            rate = gpu_hour_rate(hw, system_power_per_gpu_w(hw)[0])
            price = rate.usd_per_gpu_hour if rate else None
        found = _variant_points(m, hw, w, e, variant, modes, price)
        if ttft_target_only and w.slo.ttft_s is not None:
            found = [p for p in found if p.ttft_s <= w.slo.ttft_s]
        points += found
    return Frontier(model=names[0], hardware=names[1], workload=names[2], vary=keys, tpot_target_s=tpot_target,
                    points=tuple(points), pareto=pareto_front(points))
