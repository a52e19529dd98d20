"""The serving engine's contract (issue "one serving engine"): layouts validated in one place for
every command, cluster accounting a procurement person would sign, one meaning per output key,
`size` failing exactly when `check` fails, and properties of the unit evaluation.

Each case named in the issue ("Seen on the current main") is a test here or in
test_consistency.py, test_sizing.py and test_markup.py; each failed on the code before.
"""

from __future__ import annotations

import json
import math

import pytest
from clihelp import run, stderr_of
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.inputs import io
from planner.inputs.layout import Layout, layout_problem
from planner.inputs.workload import RequestShape
from planner.perf.phases import mixed_step
from planner.perf.unit import evaluate_unit

# ---- impossible layouts: one rule, every command ----------------------------------------------------

IMPOSSIBLE = [
    # (model, hardware, layout, what the one line must name)
    ("llama-3.1-70b", "h200-sxm", "tp=3", "tp=3 does not divide the 64 attention heads"),
    ("qwen3-32b", "h200-sxm", "tp=16", "tp=16 exceeds the 8-GPU scale-up domain"),
    ("llama-3.1-70b", "h200-sxm", "tp=128", "tp=128 exceeds the 8-GPU scale-up domain"),
    ("llama-3.1-70b", "h200-sxm", "tp=8,pp=81", "pp=81 exceeds the 80 layers"),
    ("llama-3.1-70b", "h200-sxm", "tp=1,ep=4", "ep=4 on a dense model"),
    ("deepseek-v3", "h200-sxm", "tp=1,dp=7,ep=7", "ep=7 does not divide the 256 experts"),
    ("deepseek-v3", "h200-sxm", "tp=1,dp=6,ep=3", "ep=3 is not a multiple of dp=6"),
    ("deepseek-v3", "h200-sxm", "tp=2,dp=8,ep=8", "only expert parallelism may cross domains"),
    ("llama-3.1-70b", "h200-sxm", "tp=1,dp=2", "dp=2 on a dense model"),
]


def test_kv_heads_rule():
    # Qwen3-32B: 64 query heads, 8 KV heads. tp=16 replicates each KV head on 2 GPUs (16 is a
    # multiple of 8): allowed, with a warning that counts the copies.
    hw = io.load_hardware("gb200-nvl72")
    m = io.load_model("qwen3-32b")
    assert layout_problem(m, hw, Layout(tp=16)) is None
    # 48 query heads and 12 KV heads: tp=8 divides the query heads, but a GPU would hold 1.5 KV heads
    odd = io.load_model("qwen3-32b", {"model.attention.num_heads": 48, "model.attention.num_kv_heads": 12})
    assert layout_problem(odd, hw, Layout(tp=8)) == \
        "tp=8 neither divides the 12 KV heads nor is a multiple of them (each GPU must hold whole heads)"
    assert layout_problem(odd, hw, Layout(tp=4)) is None and layout_problem(odd, hw, Layout(tp=24)) is None


@pytest.mark.parametrize("model, hardware, layout, message", IMPOSSIBLE)
def test_impossible_layout_is_exit_2_in_estimate(model, hardware, layout, message):
    r = run("estimate", "-m", model, "-H", hardware, "--layout", layout, "--batch", "1", "--isl", "1k", "--osl", "64")
    assert r.exit_code == 2, r.output
    lines = stderr_of(r).strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "--layout" in lines[0], lines


@pytest.mark.parametrize("model, hardware, layout, message", IMPOSSIBLE[:4] + IMPOSSIBLE[5:6])
def test_impossible_layout_is_exit_2_in_size_and_check(tmp_path, model, hardware, layout, message):
    r = run("size", "-m", model, "-H", hardware, "-w", "chat", "--layout", layout, "--batch", "1")
    assert r.exit_code == 2 and message in stderr_of(r), r.output
    words = dict(part.split("=") for part in layout.split(","))
    proposal = tmp_path / "p.toml"
    proposal.write_text(f'model = "{model}"\nhardware = "{hardware}"\nworkload = "chat"\n\n[layout]\n'
                        + "".join(f"{k} = {v}\n" for k, v in words.items()) + "batch = 1\n", encoding="utf-8")
    r = run("check", str(proposal))
    assert r.exit_code == 2, r.output
    line = stderr_of(r).strip()
    assert line.startswith(f"error: {proposal}: layout: ") and message in line, line


def test_impossible_layout_is_a_sweep_row():
    r = run("sweep", "-m", "deepseek-v3", "-H", "h200-sxm", "-w", "chat", "--fixed-layout", "tp=1,dp=8,ep=8",
            "--vary", "layout.ep=7,8", "--format", "jsonl")
    assert r.exit_code == 0, stderr_of(r)
    bad, good = (json.loads(x) for x in r.stdout.splitlines())
    assert not bad["feasible"] and "ep=7" in bad["reason"] and "layout" in bad["reason"]
    assert good["gpus"] == 8


# ---- cluster accounting ------------------------------------------------------------------------------

def _size(*args: str, ok=(0,)) -> dict:
    r = run("size", *args, "--format", "json")
    assert r.exit_code in ok, stderr_of(r)
    return json.loads(r.stdout)


def test_llama70b_h200_chat_nodes_are_packed():
    # was: "52 GPUs … in 26 nodes, 7 racks" (a node per 2-GPU unit). Units of ≤ 8 GPUs that divide
    # a node share it: nodes = ceil(GPUs / 8), racks = ceil(nodes / 4).
    d = _size("-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat")
    c = d["cluster"]
    assert all(p["layout"]["gpus"] <= 8 for p in d["pools"])
    assert c["nodes"] == math.ceil(c["gpus"] / 8) and c["racks"] == math.ceil(c["nodes"] / 4)
    assert c["racks"] <= 2


def test_b200_37_gpu_proposal_fits_two_racks(tmp_path):
    # was: a 37-GPU B200 proposal failed `max_racks = 2` with "7 racks". 37 one-GPU units on 8-GPU
    # nodes: 5 nodes (40 GPUs provisioned), 4 nodes per rack -> 2 racks.
    p = tmp_path / "b200.toml"
    p.write_text('model = "llama-3.1-70b"\nhardware = "b200-hgx"\nworkload = "chat"\n\n'
                 '[layout]\ntp = 1\nbatch = 64\ngpus = 37\n\n[assert]\nmax_racks = 2\nno_errors = false\n',
                 encoding="utf-8")
    r = run("check", str(p), "--format", "json")
    assert r.exit_code in (0, 1), stderr_of(r)
    (result,) = json.loads(r.stdout)
    c = result["summary"]["cluster"]
    assert (c["gpus"], c["nodes"], c["gpus_provisioned"], c["racks"]) == (37, 5, 40, 2)
    assert next(x for x in result["checks"] if x["name"] == "max_racks")["passed"]


def test_power_has_one_meaning_in_every_command():
    # was: cluster.power_w was GPU TDP in `estimate` (1,200 W/GPU on gb200-nvl72) and rack power ÷ GPUs
    # in `size` (1,667 W/GPU). Now both are system IT power: 120 kW per 72-GPU rack.
    est = json.loads(run("estimate", "-m", "qwen3-30b-a3b", "-H", "gb200-nvl72", "--layout", "tp=1,dp=4,ep=4",
                         "--batch", "16", "--isl", "2k", "--osl", "256", "--format", "json").stdout)
    size = _size("-m", "qwen3-30b-a3b", "-H", "gb200-nvl72", "-w", "chat")
    for d in (est, size):
        c = d["cluster"]
        assert c["power_per_gpu_w"] == pytest.approx(120_000 / 72)
        assert c["power_w"] == pytest.approx(c["gpus_provisioned"] * 120_000 / 72)
        assert c["power_basis"].startswith("rack figure")


def test_tokens_per_s_per_gpu_is_capacity_and_demand_is_its_own_key():
    # was: capacity in `estimate`, demand ÷ GPUs in `size` under the same key
    d = _size("-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat")
    assert d["tokens_per_s_per_gpu_at_demand"] == pytest.approx(d["requests_per_s"] * d["osl"] / d["cluster"]["gpus"])
    pool = d["pools"][-1]
    # capacity: one unit's output tokens/s at its batch over its GPUs (plus the prefill GPUs it needs)
    if not d["disaggregated"]:
        assert d["tokens_per_s_per_gpu"] == pytest.approx(
            pool["requests_per_s_per_unit"] * d["osl"] / pool["layout"]["gpus"])
    assert d["tokens_per_s_per_gpu"] >= d["tokens_per_s_per_gpu_at_demand"] * (1 - 1e-12)


# ---- feasible means every target holds ----------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("-H", "tpu-v7"),                                                  # was: TTFT 12.9 s vs 5 s, exit 0
    ("-H", "tpu-v7", "--set", "workload.slo.ttft_ms=2000"),
    ("-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat", "--set", "workload.slo.tpot_ms=20"),
])
def test_size_fails_exactly_when_check_fails(tmp_path, args):
    r = run("size", *args, "--format", "json")
    assert r.exit_code in (0, 1), stderr_of(r)
    d = json.loads(r.stdout)
    # every target the workload sets holds in an exit-0 plan
    for s in d["slo"]:
        assert s["met"] == (s["actual"] is not None and s["actual"] <= s["target"] * (1 + 1e-12)), s
    assert (r.exit_code == 0) == d["feasible"] == all(s["met"] for s in d["slo"])
    # `check` on the same inputs agrees
    model = args[args.index("-m") + 1] if "-m" in args else "deepseek-v4-pro"
    hardware = args[args.index("-H") + 1]
    workload = args[args.index("-w") + 1] if "-w" in args else "agentic"
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    p = tmp_path / "p.toml"
    p.write_text(f'model = "{model}"\nhardware = "{hardware}"\nworkload = "{workload}"\n\n[set]\n'
                 + "".join(f'"{k}" = {v}\n' for k, v in (s.split("=") for s in sets)), encoding="utf-8")
    checked = run("check", str(p))
    assert checked.exit_code == r.exit_code, checked.output


def test_default_tpu_plan_meets_its_ttft():
    d = _size("-H", "tpu-v7")
    assert d["feasible"] and d["ttft_s"] <= 5.0


# ---- estimate: serving modes and the two TPOTs ----------------------------------------------------------

def test_estimate_serving_modes():
    args = ("estimate", "-m", "llama-3.1-70b", "-H", "h200-sxm", "--layout", "tp=4", "--batch", "64",
            "--isl", "2048", "--osl", "512", "--format", "json")
    co = json.loads(run(*args).stdout)
    sep = json.loads(run(*args, "--engine", "sglang").stdout)
    dis = json.loads(run(*args, "--serving", "disaggregated").stdout)
    assert co["serving"] == "colocated" and dis["serving"] == "disaggregated"
    # co-located, mixed steps (TensorRT-LLM): to keep 64 sequences decoding each step prefills
    # 64 x 2048 / 512 = 256 prompt tokens beside the 64 decode tokens, inside the 8192-token budget.
    step, dec = co["step_s"], co["decode_step_s"]
    assert co["tpot_s"] == pytest.approx(step, rel=1e-12) and step > dec
    assert co["prefill_share"] == pytest.approx(1 - dec / step, rel=1e-12)
    # a new prompt takes the free budget (8128 tokens: one step carrying all 2048 of its tokens) after
    # an M/D/1 wait at utilisation 256 / 8128, plus half the step in progress
    m, hw = io.load_model("llama-3.1-70b"), io.load_hardware("h200-sxm")
    lay = Layout(tp=4, batch=64)
    whole = mixed_step(m, hw, lay, SHAPE.mean_decode_context, 2048, 2048, 0, engine=io.default_engine()).time_s
    rho = 256 / 8128
    assert co["ttft_s"] == pytest.approx(whole * (1 + rho / (2 * (1 - rho))) + step / 2, rel=1e-12)
    assert evaluate_unit(m, hw, SHAPE, lay).ttft_s == co["ttft_s"]
    # co-located, separate prefill steps (SGLang): 8192 // 2048 = 4 prompts per prefill step; the
    # decode steps a user sees stretch by the share of time spent prefilling
    pre, f = sep["phases"]["prefill"]["time_s"], sep["prefill_share"]
    assert sep["step_s"] == sep["decode_step_s"] and 0 < f < 1
    assert sep["tpot_s"] == pytest.approx(sep["decode_step_s"] / (1 - f), rel=1e-12)
    assert sep["ttft_s"] == pytest.approx(pre * (1 + f / (2 * (1 - f))) + (1 - f) * sep["decode_step_s"] / 2,
                                          rel=1e-12)
    # disaggregated: bare decode steps; a prefill pool at 70% utilisation; its GPUs counted
    assert dis["tpot_s"] == dis["decode_step_s"] and dis["prefill_share"] == 0
    assert dis["ttft_s"] == pytest.approx(dis["phases"]["prefill"]["time_s"] * (1 + 0.7 / 0.6), rel=1e-12)
    assert [p["role"] for p in dis["pools"]] == ["prefill", "decode"]
    assert dis["cluster"]["gpus"] == sum(p["gpus"] for p in dis["pools"])


# ---- properties of the unit evaluation ---------------------------------------------------------------

SHAPE = RequestShape(isl=2048, osl=512)


@settings(max_examples=30, deadline=None)
@given(case=st.sampled_from([("llama-3.1-70b", "h100-sxm", 8, 1), ("qwen3-30b-a3b", "h200-sxm", 1, 8),
                             ("llama-3.1-405b", "gb200-nvl72", 8, 1)]),
       batch=st.integers(1, 256), serving=st.sampled_from(["colocated", "disaggregated"]))
def test_adding_pp_at_a_fixed_micro_batch_never_raises_tokens_per_gpu(case, batch, serving):
    # pp micro-batches of `batch` sequences per DP rank are in flight (the stated assumption): more
    # stages hold more sequences on more GPUs, but each GPU still does its share of every step and
    # the steps only gain PP sends, so capacity per GPU cannot rise.
    model, hardware, tp, dp = case
    m, hw = io.load_model(model), io.load_hardware(hardware)
    per_gpu = []
    for pp in (1, 2, 4):
        lay = Layout(tp=tp, dp=dp, ep=tp * dp if m.is_moe else 1, pp=pp, batch=batch, serving=serving)
        assert layout_problem(m, hw, lay) is None
        per_gpu.append(evaluate_unit(m, hw, SHAPE, lay).tokens_per_s_per_gpu)
    assert all(b <= a * (1 + 1e-9) for a, b in zip(per_gpu, per_gpu[1:], strict=False)), per_gpu


@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 512), factor=st.floats(1.0, 3.0), serving=st.sampled_from(["colocated", "disaggregated"]))
def test_faster_hbm_never_lowers_unit_capacity(batch, factor, serving):
    m = io.load_model("llama-3.1-70b")
    slow = io.load_hardware("h200-sxm")
    fast = io.load_hardware("h200-sxm", {"hardware.hbm.bandwidth_tbps": 4.8 * factor})
    lay = Layout(tp=4, batch=batch, serving=serving)
    a, b = evaluate_unit(m, slow, SHAPE, lay), evaluate_unit(m, fast, SHAPE, lay)
    assert b.tokens_per_s_per_gpu >= a.tokens_per_s_per_gpu * (1 - 1e-12)
    assert b.tpot_s <= a.tpot_s * (1 + 1e-12)
    # A faster co-located unit admits more requests at capacity, so more prefills queue: its TTFT
    # at capacity may rise. A disaggregated prefill pool's TTFT depends on the prefill alone.
    if serving == "disaggregated":
        assert b.ttft_s <= a.ttft_s * (1 + 1e-12)
