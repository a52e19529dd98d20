"""The non-GEMM kernels of training (planner/training/memory_bound.py): the serving engine's forward
elementwise count reused, the backward by kernel kind, recompute, and the FP8/FP4 casts."""

from __future__ import annotations

import pytest

from planner.inputs.io import load_hardware, load_model
from planner.machine.efficiency import kernels
from planner.perf.phases import elementwise_bytes
from planner.training.memory_bound import (
    BACKWARD_NORM,
    BACKWARD_RESIDUAL,
    BACKWARD_ROPE,
    BACKWARD_SWIGLU,
    MEMORY_KERNEL_LATENCY_S,
    memory_bound,
    mla_copy_bytes,
    quantised_bytes,
    router_gemm_s,
    routing_bytes,
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
    # the norms stream at the measured RMSNorm rate for one call's bytes, the rest at the HBM efficiency
    bw, h = H100.hbm.bandwidth_bytes_per_s, L8.hidden_size
    norm_rate = bw * kernels(H100).memory_kernel("rmsnorm", 4096 * h * 2 * 2)
    norms = 4096 * ew.norms * (1 + BACKWARD_NORM)
    assert r.elementwise_s == pytest.approx(norms / norm_rate + (r.hbm_bytes - norms) / (bw * H100.efficiency.hbm))
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
    # the gate's kernels by their bytes plus the BF16 router GEMM's roofline, per MoE layer
    rb = routing_bytes(V3.moe.num_experts, k, V3.moe.router_bias)
    rate = H100.hbm.bandwidth_bytes_per_s * H100.efficiency.hbm
    assert r.routing_s == pytest.approx(4 * (4096 * (rb.forward + rb.backward) / rate
                                             + router_gemm_s(H100, 4096, h, V3.moe.num_experts)))
    assert 0 < r.routing_s < r.permute_s / 5


def test_routing_kernels_follow_the_reference_gate():
    # DeepSeek-V3 inference/model.py Gate.forward: sigmoid, bias add, top-k, gather, sum, divide,
    # scale, cast; E = 256 FP32 scores dominate
    rb = routing_bytes(256, 8, True)
    assert rb.forward_kernels == 8 and rb.backward_kernels == 6
    assert 5 * 256 * 4 < rb.forward < 5 * 256 * 4 + 8 * 64
    assert 4 * 256 * 4 < rb.backward < 4 * 256 * 4 + 8 * 64
    assert routing_bytes(128, 8, False).forward_kernels == 6     # no selection bias: no add, no gather
    # V3's router GEMM at 4096 tokens on H800 is bound by its bytes, not its BF16 FLOPs
    h800 = load_hardware("h800-sxm")
    bytes_s = (4096 * (3 * 7168 * 2 + 3 * 256 * 4) + 3 * 7168 * 256 * 2) / (3.35e12 * 0.8)
    assert router_gemm_s(h800, 4096, 7168, 256) == pytest.approx(bytes_s)


def test_mla_copies_from_the_reference_implementations():
    # DeepSeek-V3 (128 heads, nope 128, rope 64, v 128, latent 512), BF16: forward q cat 2·128·192,
    # k cat 128·128 + 64 + 128·192, v contiguous 2·128·128; backward broadcast sum 128·64 + 64,
    # split gradients 2·128·192 + 2·128·256 + 2·576
    fwd, bwd = mla_copy_bytes(V3)
    assert fwd == 2 * (49_152 + 41_024 + 32_768)
    assert bwd == 2 * (8_256 + 49_152 + 65_536 + 1_152)
    assert mla_copy_bytes(L8) == (0.0, 0.0)
    r = memory_bound(V3, H100, tokens=4096, tp=1, layers=4, moe_layers=4, precision="fp8", full_recompute=False,
                     weights_params=4e8)
    assert r.copies_s == pytest.approx(4096 * 4 * (fwd + bwd) / (H100.hbm.bandwidth_bytes_per_s * H100.efficiency.hbm))
    assert run(L8).copies_s == 0


def test_memory_kernel_bandwidths_are_the_published_measurements():
    k = kernels(H100)
    # Liger-Kernel PR #1462, H100 RMSNorm forward: 8192 x 4096 BF16 in 51.968 µs
    assert k.memory_kernel("rmsnorm", 134_225_920) == pytest.approx(134_225_920 / 51.968e-6 / 3.35e12, rel=0.01)
    # torchao blockwise FP8 casts, H100: median 2696.8 GB/s at 32768 x 4096; held below the smallest size
    assert k.memory_kernel("fp8_quant", 1e6) == pytest.approx(2696.8e9 / 3.35e12, rel=0.01)
    # interpolated in log(bytes) between measured sizes, and no table -> the preset's flat factor
    assert 0.679 < k.memory_kernel("rmsnorm", 1e8) < 0.771
    b200 = load_hardware("b200-hgx")
    assert kernels(b200).memory_kernel("rmsnorm", 1e8) == b200.efficiency.hbm


def test_step_reports_the_non_gemm_kernels():
    r = train(L8, H100, train_layout("tp=2", seq=4096, global_batch=64), 1e12, gpus=16)
    mb = r.to_dict()["step"]["memory_bound"]
    assert mb["time_s"] > 0 and mb["hbm_bytes"] > 0
    assert r.step.hbm_s >= r.layout.micro_batches * mb["time_s"]
