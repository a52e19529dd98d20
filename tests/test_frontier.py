"""planner frontier: the Pareto set of tokens/s per GPU against tokens/s per user, each point one
serving unit from the same engine as `estimate`."""

from __future__ import annotations

import json

import pytest
from clihelp import run
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.api import estimate
from planner.inputs import io
from planner.inputs.layout import Layout
from planner.whatif.frontier import FrontierPoint, frontier, pareto_front


def point(user: float, gpu: float) -> FrontierPoint:
    return FrontierPoint(variant=(), layout=Layout(), prefill_layout=None, ttft_s=0.1, tpot_s=1 / user,
                         tokens_per_s_per_user=user, tokens_per_s_per_gpu=gpu, meets_targets=True)


rates = st.floats(min_value=0.1, max_value=1e4, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(rates, rates), min_size=1, max_size=60))
def test_front_is_pareto_and_monotone(pairs):
    points = [point(u, g) for u, g in pairs]
    front = pareto_front(points)
    assert front
    # no point of the grid dominates a frontier point
    for f in front:
        assert not any((p.tokens_per_s_per_user >= f.tokens_per_s_per_user
                        and p.tokens_per_s_per_gpu >= f.tokens_per_s_per_gpu
                        and (p.tokens_per_s_per_user, p.tokens_per_s_per_gpu)
                        != (f.tokens_per_s_per_user, f.tokens_per_s_per_gpu)) for p in points)
    # every grid point is dominated by (or equal to) a frontier point
    for p in points:
        assert any(f.tokens_per_s_per_user >= p.tokens_per_s_per_user
                   and f.tokens_per_s_per_gpu >= p.tokens_per_s_per_gpu for f in front)
    users = [f.tokens_per_s_per_user for f in front]
    gpus = [f.tokens_per_s_per_gpu for f in front]
    assert users == sorted(users) and gpus == sorted(gpus, reverse=True)
    assert len(set(gpus)) == len(gpus)


@pytest.fixture(scope="module")
def llama_h200():
    return frontier("llama-3.1-70b", "h200-sxm", "chat", engine="trtllm")


def test_real_frontier_is_monotone_and_spans_the_trade(llama_h200):
    f = llama_h200
    assert len(f.pareto) >= 5 and len(f.points) > len(f.pareto)
    users = [p.tokens_per_s_per_user for p in f.pareto]
    gpus = [p.tokens_per_s_per_gpu for p in f.pareto]
    assert users == sorted(users) and gpus == sorted(gpus, reverse=True)
    # the trade is large: batch 1 on the widest layout vs the fullest batch on the narrowest
    assert gpus[0] / gpus[-1] > 20 and users[-1] / users[0] > 3


def test_every_frontier_point_is_what_estimate_gives(llama_h200):
    w = io.load_workload("chat")
    for p in llama_h200.pareto[::3]:
        plan = estimate("llama-3.1-70b", "h200-sxm", p.layout.label(), batch=p.layout.batch,
                        serving=p.layout.serving.value, isl=w.isl, osl=w.osl, prefix=w.prefix,
                        prefill_layout=p.prefill_layout.label() if p.prefill_layout else None)
        assert plan.tpot_s == pytest.approx(p.tpot_s, rel=1e-9)
        assert plan.tokens_per_s_per_gpu == pytest.approx(p.tokens_per_s_per_gpu, rel=1e-9)


def test_price_gives_dollars_per_million_output_tokens(llama_h200):
    f = frontier("llama-3.1-70b", "h200-sxm", "chat", engine="trtllm", price_per_gpu_hour=3.5,
                 modes=("colocated",))
    for p in f.pareto:
        # $/GPU-hour over output tokens per GPU-hour, per million
        assert p.usd_per_million_output_tokens == pytest.approx(3.5 / (p.tokens_per_s_per_gpu * 3600) * 1e6)


def test_vary_crosses_options():
    f = frontier("qwen3-30b-a3b", "h200-sxm", "chat", engine="trtllm", modes=("colocated",),
                 vary={"model.precision.weights": ["bf16", "fp8"]})
    assert {dict(p.variant)["model.precision.weights"] for p in f.points} == {"bf16", "fp8"}
    # FP8 weights halve the bytes a decode step streams: the fastest per-user point is FP8
    assert dict(f.pareto[-1].variant)["model.precision.weights"] == "fp8"


def test_cli_json_and_csv():
    result = run("frontier", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--mode", "colocated",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["frontier"] and data["points_evaluated"] >= len(data["frontier"])
    assert {"layout", "batch", "tokens_per_s_per_user", "tokens_per_s_per_gpu"} <= set(data["frontier"][0])
    csv = run("frontier", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--mode", "colocated",
              "--format", "csv")
    assert csv.exit_code == 0 and csv.output.splitlines()[0].startswith("layout,serving,batch")


def test_cli_bad_mode_is_one_line():
    result = run("frontier", "-m", "llama-3.1-8b", "--mode", "colo")
    assert result.exit_code == 2 and "--mode" in result.stderr and len(result.stderr.strip().splitlines()) == 1
