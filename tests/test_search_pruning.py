"""The sizing search's branch and bound (planner/serving/deployment.py, _Search.ranked) prunes
layouts by a lower bound on their GPUs; it must return exactly what evaluating every layout at
its largest feasible batch returns. The reference below does that with no bound at all."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.inputs.io import load_engine, load_hardware, load_model, load_workload
from planner.inputs.layout import Serving
from planner.perf.unit import NO_HITS, RESIDENT, PrefixReuse, TierRead
from planner.serving.deployment import _Search, candidate_layouts, demand_requests_per_s, weights_fit


def exhaustive(s: _Search, keep: int) -> list:
    """Every fitting layout's unit at its largest feasible batch, co-located then disaggregated,
    ranked by the search's key with ties in layout order: no pruning."""
    fitting = sorted((lay for lay in candidate_layouts(s.m, s.hw, s.engine, s.w.expert_routing)
                      if weights_fit(s.m, s.hw, lay, s.engine)), key=lambda lay: lay.gpus)
    ttft = s.w.slo.ttft_s
    options = []
    for i, lay in enumerate(fitting):
        if ttft is not None and s.prefill(lay).time_s > ttft:
            continue
        top = s.at_cap(lay, None)
        u = s.largest_batch(lay, None, top) if top is not None else None
        if u is not None:
            options.append(((*s.option(u).key(), 0, i), s.option(u)))
    options.sort(key=lambda entry: entry[0])
    colocated = [opt for _, opt in options[:keep]]
    bound = colocated[keep - 1].cluster.gpus_provisioned if len(colocated) >= keep else math.inf
    p_lay = s.best_prefill(fitting, bound)
    if p_lay is not None:
        for i, lay in enumerate(fitting):
            lay = lay.with_(serving=Serving.disaggregated)
            top = s.at_cap(lay, p_lay)
            u = s.largest_batch(lay, p_lay, top) if top is not None else None
            if u is not None:
                options.append(((*s.option(u).key(), 1, i), s.option(u)))
    options.sort(key=lambda entry: entry[0])
    return [opt for _, opt in options[:keep]]


def picks(options: list) -> list:
    return [(o.unit.layout, o.unit.prefill_layout, o.cluster.gpus_provisioned, o.unit.tpot_s) for o in options]


# prefixes from the tiers: most from host memory, some from NVMe, the rest recomputed (a settled
# plan's kind of reuse; loading is only taken where it beats recomputing)
TIERED = PrefixReuse(reads=(TierRead("G2", 0.6, 50e9), TierRead("G3", 0.3, 5e9)), resident=False)
REUSES = {"resident": RESIDENT, "none": NO_HITS, "tiered": TIERED}

CASES = [("deepseek-v4-pro", "gb200-nvl72", "agentic"), ("deepseek-v3", "h200-sxm", "chat"),
         ("llama-3.1-70b", "h100-sxm", "rag"), ("qwen3-30b-a3b", "b200-hgx", "chat"),
         ("gpt-oss-120b", "mi300x", "reasoning"), ("llama-3.1-8b", "l40s", "chat"),
         ("kimi-k2", "gb300-nvl72", "batch")]


@settings(max_examples=14, deadline=None)
@given(case=st.sampled_from(CASES), engine=st.sampled_from(["trtllm", "vllm", "sglang"]),
       keep=st.sampled_from([1, 3]), tpot_scale=st.sampled_from([0.5, 1.0, 2.0]),
       demand_scale=st.sampled_from([0.05, 1.0, 8.0]), reuse=st.sampled_from(sorted(REUSES)))
def test_pruned_search_equals_exhaustive(case, engine, keep, tpot_scale, demand_scale, reuse):
    m, hw = load_model(case[0]), load_hardware(case[1])
    w = load_workload(case[2])
    slo = w.slo.model_copy(update={"tpot_ms": w.slo.tpot_ms * tpot_scale if w.slo.tpot_ms else None})
    w = w.model_copy(update={"slo": slo})
    e = load_engine(engine)
    demand = demand_requests_per_s(w) * demand_scale
    pruned = _Search(m, hw, w, e, demand, REUSES[reuse]).ranked(keep)
    assert picks(pruned) == picks(exhaustive(_Search(m, hw, w, e, demand, REUSES[reuse]), keep))


@pytest.mark.parametrize("case", CASES[:3])
@pytest.mark.parametrize("reuse", sorted(REUSES))
def test_cap_unit_carries_the_most_requests(case, reuse):
    """The bound's premises: below a layout's HBM cap no batch carries more requests per second
    than the cap itself, and no reuse carries more than resident prefixes (checked on spread
    batches of the smallest fitting layouts)."""
    m, hw, w = load_model(case[0]), load_hardware(case[1]), load_workload(case[2])
    s = _Search(m, hw, w, load_engine("trtllm"), demand_requests_per_s(w), REUSES[reuse])
    resident = s.resident()
    fitting = sorted((lay for lay in candidate_layouts(m, hw, s.engine, w.expert_routing)
                      if weights_fit(m, hw, lay, s.engine)), key=lambda lay: lay.gpus)[:3]
    checked = 0
    for lay in fitting:
        for variant, p_lay in ((lay, None), (lay.with_(serving=Serving.disaggregated), lay)):
            top = s.at_cap(variant, p_lay)
            if top is None or top.prefill_limited:
                continue
            best = resident.at_cap(variant, p_lay)
            assert best.prefill_limited or top.requests_per_s <= best.requests_per_s * (1 + 1e-12), variant
            for b in range(1, top.layout.batch, max(1, top.layout.batch // 40)):
                u = s.unit(variant, p_lay, b)
                checked += 1
                assert u.prefill_limited or u.requests_per_s <= top.requests_per_s * (1 + 1e-12), (variant, b)
    assert checked > 20


@pytest.mark.parametrize(("slo", "values"), [("workload.slo.tpot_ms", [45, 22, 30, 23, 60, 31]),
                                            ("workload.slo.ttft_ms", [3000, 800, 1500, 801, 5000])])
def test_a_slo_sweep_equals_each_point_sized_afresh(slo, values):
    """A sweep's points share every cache (units, prefills, steps) with the points before them; each
    row must still be the plan a fresh search gives. A new Evaluator loads new input objects, so it
    shares nothing: the searches must not depend on what earlier points evaluated (a batch search's
    path, for one, is not free to: TTFT can fall as the batch grows, where a longer decode step
    lowers the prefill share and its queueing wait, so the boundary a search finds may depend on it)."""
    from planner.whatif.sweep import Evaluator, make_plan

    def plan(vals: list) -> object:
        return make_plan({slo: vals}, model="deepseek-v4-pro", hardware="gb200-nvl72", workload="agentic",
                         layout=None, sets=None, zipped=False, batch=None)
    swept = Evaluator(plan(values))
    rows = [swept.row(i) for i in range(len(values))]
    for i, value in enumerate(values):
        fresh = Evaluator(plan([value])).row(0)
        assert rows[i].metrics() == fresh.metrics(), value
