"""The non-GEMM kernels of training (planner/training/memory_bound.py): the serving engine's forward
elementwise count reused, the backward by kernel kind, recompute, and the FP8/FP4 casts."""

from __future__ import annotations

import pytest

from planner.inputs.io import load_hardware, load_model
from planner.perf.phases import elementwise_bytes
from planner.training.memory_bound import (
    BACKWARD_NORM,
    BACKWARD_RESIDUAL,
    BACKWARD_ROPE,
    BACKWARD_SWIGLU,
    MEMORY_KERNEL_LATENCY_S,
    memory_bound,
    quantised_bytes,
)
from planner.training.run import train, train_layout

L8, V3 = load_model("llama-3.1-8b"), load_model("deepseek-v3")
H100 = load_hardware("h100-sxm")


def run(m, precision="bf16", full=False, tokens=4096.0, tp=1):
    return memory_bound(m, H100, tokens=tokens, tp=tp, layers=m.num_layers, moe_layers=0, precision=precision,
                        full_recompute=full, weights_params=1e9)


def test_dense_bf16_is_the_serving_forward_plus_its_backward():
    ew = elementwise_bytes(L8)
    fwd = ew.norms + ew.residual + ew.rope + ew.swiglu_dense
    bwd = (ew.norms * BACKWARD_NORM + ew.residual * BACKWARD_RESIDUAL + ew.rope * BACKWARD_ROPE
           + ew.swiglu_dense * BACKWARD_SWIGLU)
    r = run(L8)
    assert r.quantise_s == 0 and r.permute_s == 0 and r.routing_s == 0
    assert r.hbm_bytes == pytest.approx(4096 * (fwd + bwd))
    assert r.elementwise_s == pytest.approx(r.hbm_bytes / (H100.hbm.bandwidth_bytes_per_s * H100.efficiency.hbm))
    assert r.seconds == pytest.approx(r.elementwise_s + r.latency_s)
    assert r.latency_s == pytest.approx(r.kernels * MEMORY_KERNEL_LATENCY_S)
    # full recompute runs every forward kernel again
    assert run(L8, full=True).hbm_bytes - r.hbm_bytes == pytest.approx(4096 * fwd)
    # sequence parallelism splits every activation over the TP group
    assert run(L8, tp=8).hbm_bytes == pytest.approx(r.hbm_bytes / 8)


def test_low_precision_adds_casts_and_transposes():
    bf16, fp8, fp4 = run(L8), run(L8, "fp8"), run(L8, "fp4")
    assert quantised_bytes("fp8") == pytest.approx(1 + 4 / 128)     # V3 §3.3.2: 1x128 tiles, FP32 scales
    assert quantised_bytes("fp4") == pytest.approx(0.5625)          # NVFP4: 16-element blocks, FP8 scales
    assert fp8.quantise_s > fp4.quantise_s > 0 == bf16.quantise_s
    assert fp8.kernels > bf16.kernels


def test_moe_counts_routing_and_permutes():
    r = memory_bound(V3, H100, tokens=4096, tp=1, layers=4, moe_layers=4, precision="fp8", full_recompute=False,
                     weights_params=4e8)
    h, k = V3.hidden_size, V3.moe.experts_per_token
    # per token-expert pair: gather forward at FP8 dispatch, scatter-add at BF16 combine, both again in BF16
    per_pair = 2 * h * (1 + 2) + 2 * 2 * h * 2
    assert r.permute_s * H100.hbm.bandwidth_bytes_per_s * H100.efficiency.hbm == pytest.approx(4096 * 4 * k * per_pair)
    assert 0 < r.routing_s < r.permute_s / 50


def test_step_reports_the_non_gemm_kernels():
    r = train(L8, H100, train_layout("tp=2", seq=4096, global_batch=64), 1e12, gpus=16)
    mb = r.to_dict()["step"]["memory_bound"]
    assert mb["time_s"] > 0 and mb["hbm_bytes"] > 0
    assert r.step.hbm_s >= r.layout.micro_batches * mb["time_s"]
