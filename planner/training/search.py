"""Training layout search: TP, CP, PP (virtual stages and schedule), EP, ZeRO stage, recompute and
micro-batch for a fixed GPU count (DP fills the rest), maximising MFU (the same as minimising time
and GPU-hours at a fixed GPU count and global batch) among the layouts whose memory fits.

Method: a coarse grid over the shape (tp, cp, pp, ep, schedule) at middle knobs, then steepest-ascent
hill climbing from the best few, one knob at a time over the whole `knob_values` list, until no
neighbour improves. The answer is therefore a local optimum: no layout one knob away fits and beats
it (tests/test_training_search.py checks that property). Every layout is judged by
`planner.training.run.evaluate`, the same function a pinned `--layout` uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError
from planner.inputs.hardware import Hardware
from planner.inputs.model import GqaAttention, Model
from planner.training.run import (
    DEFAULT_DAYS,
    Recompute,
    TrainLayout,
    TrainResult,
    evaluate,
)
from planner.training.schedule import Schedule

KNOBS = ("tp", "cp", "pp", "vp", "ep", "schedule", "zero", "recompute", "micro_batch")
CLIMB_STARTS = 4          # best coarse layouts the climb starts from
MIN_CP_CHUNK = 2048       # context parallel only when each rank keeps at least this many tokens


def _powers(limit: int) -> tuple[int, ...]:
    return tuple(2**i for i in range(int(math.log2(limit)) + 1)) if limit >= 1 else (1,)


def knob_values(m: Model, hw: Hardware, base: TrainLayout, gpus: int) -> dict[str, tuple[Any, ...]]:
    """The values each knob may take. TP stays inside the scale-up domain and divides the heads (and
    the KV heads or a multiple of them); EP divides the routed experts; PP up to the layers."""
    a = m.attention
    kv = a.num_kv_heads if isinstance(a, GqaAttention) else None
    tps = tuple(t for t in _powers(min(hw.scale_up.domain_size, gpus))
                if a.num_heads % t == 0 and (kv is None or kv % t == 0 or t % kv == 0))
    cps = tuple(c for c in _powers(8) if base.seq % c == 0 and (c == 1 or base.seq // c >= MIN_CP_CHUNK))
    eps = (1,) if m.moe is None else tuple(e for e in _powers(min(m.moe.num_experts, gpus))
                                            if m.moe.num_experts % e == 0)
    return {"tp": tps, "cp": cps, "pp": _powers(min(m.num_layers, gpus, 64)), "vp": (1, 2, 4, 8),
            "ep": eps, "schedule": tuple(Schedule), "zero": (0, 1, 2, 3), "recompute": tuple(Recompute),
            "micro_batch": (1, 2, 4)}


def candidate(m: Model, base: TrainLayout, gpus: int, knobs: dict[str, Any]) -> TrainLayout | None:
    """The layout with these knobs and dp = gpus / (tp·cp·pp), or None when it cannot run."""
    fixed = knobs["tp"] * knobs["cp"] * knobs["pp"]
    if gpus % fixed:
        return None
    lay = TrainLayout.model_validate({**base.model_dump(), **knobs, "dp": gpus // fixed})
    if lay.stage_gpus % lay.ep or lay.problem(m.num_layers) is not None:
        return None
    return lay


def knobs_of(lay: TrainLayout) -> dict[str, Any]:
    return {k: getattr(lay, k) for k in KNOBS}


def objective(r: TrainResult) -> tuple[bool, float]:
    """Larger is better: fitting first, then MFU; among layouts that do not fit, less memory."""
    return (True, r.mfu) if r.memory.fits else (False, -r.memory.used_bytes)


def neighbours(knobs: dict[str, Any], values: dict[str, tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """Every knob setting one knob away."""
    for k in KNOBS:
        for v in values[k]:
            if v != knobs[k]:
                yield {**knobs, k: v}


@dataclass(frozen=True)
class TrainSearch:
    best: TrainResult
    alternatives: tuple[TrainResult, ...]
    evaluated: int

    def to_dict(self) -> dict:
        return {**self.best.to_dict(), "search": {
            "evaluated": self.evaluated, "objective": "mfu",
            "alternatives": [{"layout": r.layout.label(), "mfu": r.mfu, "gpu_hours": r.gpu_hours, "days": r.days,
                              "step_time_s": r.step.step_s, "free_bytes": r.memory.free_bytes}
                             for r in self.alternatives]}}


class _Searcher:
    def __init__(self, m: Model, hw: Hardware, base: TrainLayout, tokens: float, gpus: int,
                 pinned: dict[str, Any], budget_days: float | None, gpus_from: str) -> None:
        self.m, self.hw, self.base, self.tokens, self.gpus = m, hw, base, tokens, gpus
        self.values = {k: ((pinned[k],) if k in pinned else v) for k, v in knob_values(m, hw, base, gpus).items()}
        self.budget_days, self.gpus_from = budget_days, gpus_from
        self.seen: dict[tuple, TrainResult | None] = {}

    def judge(self, knobs: dict[str, Any]) -> TrainResult | None:
        key = tuple(knobs[k] for k in KNOBS)
        if key not in self.seen:
            lay = candidate(self.m, self.base, self.gpus, knobs)
            self.seen[key] = None if lay is None else evaluate(self.m, self.hw, lay, self.tokens,
                                                                budget_days=self.budget_days,
                                                                gpus_from=self.gpus_from)
        return self.seen[key]

    def coarse(self) -> list[dict[str, Any]]:
        mid = {"zero": 1 if 1 in self.values["zero"] else self.values["zero"][0],
               "recompute": Recompute.selective if Recompute.selective in self.values["recompute"]
               else self.values["recompute"][0],
               "micro_batch": self.values["micro_batch"][0]}
        starts = []
        for tp in self.values["tp"]:
            for cp in self.values["cp"]:
                for pp in self.values["pp"]:
                    for ep in self.values["ep"]:
                        for sched in self.values["schedule"]:
                            vp = 2 if sched == Schedule.interleaved and 2 in self.values["vp"] else self.values["vp"][0]
                            knobs = {"tp": tp, "cp": cp, "pp": pp, "vp": vp, "ep": ep, "schedule": sched, **mid}
                            if self.judge(knobs) is not None:
                                starts.append(knobs)
        return starts

    def climb(self, knobs: dict[str, Any]) -> dict[str, Any]:
        here = self.judge(knobs)
        assert here is not None
        while True:
            best_n, best_r = None, here
            for n in neighbours(knobs, self.values):
                r = self.judge(n)
                if r is not None and objective(r) > objective(best_r):
                    best_n, best_r = n, r
            if best_n is None:
                return knobs
            knobs, here = best_n, best_r


def search_layout(m: Model, hw: Hardware, base: TrainLayout, tokens: float, gpus: int, *,
                  pinned: dict[str, Any] | None = None, top: int = 5, budget_days: float | None = None,
                  gpus_from: str = "--gpus") -> TrainSearch:
    """The best layout on `gpus` GPUs (see the module docstring) and the next `top` by MFU.
    `pinned` fixes knobs (e.g. {"zero": 1}); `base` gives seq, global batch, precision and routing."""
    s = _Searcher(m, hw, base, tokens, gpus, pinned or {}, budget_days, gpus_from)
    starts = s.coarse()
    if not starts:
        raise InputError(f"no layout of {m.name} runs on {gpus:,} GPUs of {hw.name} (tp·cp·pp must divide the "
                         "GPUs, ep the experts)", field="--gpus")
    ranked = sorted(starts, key=lambda k: objective(s.seen[tuple(k[x] for x in KNOBS)]), reverse=True)  # type: ignore[arg-type]
    finals = [s.climb(k) for k in ranked[:CLIMB_STARTS]]
    results = [s.judge(k) for k in finals]
    best = max((r for r in results if r is not None), key=objective)
    others = sorted((r for r in s.seen.values() if r is not None and r is not best and r.memory.fits),
                    key=objective, reverse=True)
    return TrainSearch(best=best, alternatives=tuple(others[:top]), evaluated=len(s.seen))


def search_days(m: Model, hw: Hardware, base: TrainLayout, tokens: float, days: float | None, *,
                pinned: dict[str, Any] | None = None, top: int = 5, max_gpus: int = 65536) -> TrainSearch:
    """The fewest GPUs (a scale-up domain times a power of two) whose best layout trains `tokens`
    within `days` (None: DEFAULT_DAYS), i.e. the least cost that meets the budget."""
    budget = DEFAULT_DAYS if days is None else days
    source = f"a {budget:g}-day budget" + (" (no --days or --gpus given)" if days is None else "")
    gpus = hw.scale_up.domain_size
    found: TrainSearch | None = None
    while gpus <= max_gpus:
        try:
            found = search_layout(m, hw, base, tokens, gpus, pinned=pinned, top=top, budget_days=budget,
                                  gpus_from=source)
        except InputError:
            found = None
        if found is not None and found.best.memory.fits and found.best.days <= budget:
            return found
        gpus *= 2
    if found is None:
        raise InputError(f"no layout of {m.name} runs on {hw.name} within {max_gpus:,} GPUs", field="--days")
    return found
