"""`planner balance`: the resource levels that would move the bottleneck."""

from __future__ import annotations

import json

import pytest
from clihelp import run

from planner import load_hardware, load_model, load_workload
from planner.whatif.balance import balance

FP4 = {"model.precision.expert_activations": "nvfp4"}




def test_v4_pro_gb200_fp4_scale_up_needed():
    # DeepSeek-V4 §3.1: 6144 FLOPs per byte of EP traffic; GB200 dense FP4 10 PFLOP/s -> 10e15 / 6144
    res = run("balance", "--model", "deepseek-v4-pro", "--hardware", "gb200-nvl72",
              "--set", "model.precision.expert_activations=nvfp4", "--format", "json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["scale_up"]["bandwidth_bytes_per_s_needed"] == pytest.approx(10e15 / 6144, rel=0.01)
    assert d["scale_up"]["bandwidth_bytes_per_s_needed"] == pytest.approx(1.628e12, rel=0.01)
    assert d["scale_up"]["bandwidth_bytes_per_s"] == pytest.approx(0.9e12)
    assert d["scale_up"]["hidden"] is False
    assert d["scale_up"]["ep_flops_per_comm_byte"] == pytest.approx(6144)
    for key in ("bandwidth_bytes_per_s_needed", "pin_speed_gbps_needed"):
        assert d["hbm"][key] is not None
    assert d["scale_up"]["domain_size_needed"] in (8, 36, 72, 144, 576)


def test_hbm_needed_matches_pin_speed_and_moves_decode():
    # Dense decode on GB200 is HBM-bound (MoE decode with measured grouped-GEMM efficiency is not).
    m, hw, w = load_model("llama-3.1-70b"), load_hardware("gb200-nvl72"), load_workload("chat")
    b = balance(m, hw, w)
    assert b.hbm_binding
    # gb200: 8 stacks x 1024 bits -> bandwidth = 1.024e12 B/s per Gb/s of pin speed
    assert b.hbm_pin_speed_gbps_needed == pytest.approx(b.hbm_bandwidth_bytes_per_s_needed / 1.024e12, rel=1e-9)
    dec = b.phases[1]
    others = max(v for k, v in dec.terms_s.items() if k != "hbm")
    assert (dec.terms_s["hbm"] * hw.hbm.bandwidth_bytes_per_s / b.hbm_bandwidth_bytes_per_s_needed
            == pytest.approx(others))


def test_fp8_experts_hide_better():
    # at FP8 the expert peak halves, and so does the scale-up bandwidth needed
    m = load_model("deepseek-v4-pro", {"model.precision.expert_activations": "fp8", "model.precision.experts": "fp8"})
    b = balance(m, load_hardware("gb200-nvl72"), load_workload("agentic"))
    assert b.scale_up_bandwidth_bytes_per_s_needed == pytest.approx(5e15 / 6144, rel=0.01)
    assert b.scale_up_hidden


def test_dense_model_with_layout_table():
    res = run("balance", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat",
              "--layout", "tp=8", "--batch", "32")
    assert res.exit_code == 0, res.output
    assert "HBM bandwidth" in res.stdout and "scale-up per GPU" in res.stdout
    res = run("balance", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--layout", "tp=8", "--format", "json")
    d = json.loads(res.stdout)
    assert d["scale_up"]["rule"] == "decode_balance" and d["scale_up"]["domain_size_needed"] == 8


def test_batch_without_layout_exits_2():
    assert run("balance", "--batch", "8").exit_code == 2
