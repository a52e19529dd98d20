"""The non-GEMM kernels of a training step: memory-bound, no FLOPs to speak of, each a pass over
activations in HBM, and each run as a kernel of its own on the compute stream, so their time adds to
the GEMMs' rather than hiding under them.

Classes (bytes per token of one GPU's share, per layer pass; see each function for the count):
- elementwise: the serving engine's forward count (`planner.perf.phases.elementwise_bytes`: norms,
  residual adds, RoPE, SwiGLU), its backward by kernel kind, and again when the forward is recomputed;
- MoE routing: the router GEMM (BF16, a roofline of its FLOPs and bytes) and the gate's kernels
  after it (score function, selection bias, top-k, weights), and the token permute / unpermute
  around the experts;
- MLA's copies that assemble the attention kernel's contiguous q, k and v (`mla_copy_bytes`);
- FP8 / FP4 block-scaled quantisation: the casts in front of every low-precision GEMM operand and the
  transposed copies the backward needs (DeepSeek-V3 report §3.3).
The norms and the FP8 casts stream at the published H100 measurements of the hardware's kernel
table (`planner.machine.efficiency.Kernels.memory_kernel`, by the bytes of one call), the other
classes at the HBM bandwidth × the hardware's HBM efficiency; each kernel adds a fixed latency
(`MEMORY_KERNEL_LATENCY_S`).

Checked against DeepSeek's published training profile (deepseek-ai/profile-data train.json
@4496024, tests/test_training_search.py): the bytes here give 23.4 of its 33.0 ms. Not modelled:
the idle gaps on the compute stream (10.4 ms of the profile's 128.5 ms chunk pair), which no source
here derives; and the shortfall of DeepSeek's own kernels from the published bandwidths (its norm
and FP8 cast kernels stream at ~1.1-1.7 TB/s; the published H100 measurements of such kernels reach
1.8-2.6 TB/s for norms and 2.6-2.9 TB/s for casts, ~3 TB/s for tuned reductions).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.inputs.hardware import Hardware
from planner.inputs.model import CompressedAttention, GqaAttention, MlaAttention, Model
from planner.machine.efficiency import kernels
from planner.model import facts as M
from planner.perf.phases import ACTIVATION_BYTES, elementwise_bytes, fixed_kernels
from planner.precision import ComputeClass, Dtype, element_bytes, weight_bytes_per_param

# aiconfigurator systems/h100_sxm.yaml@095f58a (and every other system file): a memory-bound
# operation takes bytes / (mem_bw × mem_bw_empirical_scaling_factor 0.8) + mem_empirical_constant_latency
# 3 µs "based on observations". The 0.8 is the hardware presets' efficiency.hbm; this is its latency.
MEMORY_KERNEL_LATENCY_S = 3e-6
# DeepSeek-V3 §3.3.2: activations quantise in 1x128 tiles (per token per 128 channels), one FP32
# scale each; DeepGEMM takes the scales in FP32.
FP8_TILE = 128
FP8_SCALE_BYTES = 4.0
# Backward of each forward elementwise kernel, bytes moved ÷ the forward's (per kernel kind):
# - RMSNorm: forward reads x, writes y (2 h); backward reads x and dy, writes dx (3 h): 1.5;
# - residual add: forward reads 2 h, writes h; backward adds the branch's input gradient to the
#   residual gradient, again read 2 h, write h: 1;
# - RoPE: the backward rotates dq and dk back, read + write as forward: 1;
# - SwiGLU: forward (as counted) writes and reads gate and up and the product (6 I); backward: the
#   down-projection's data gradient writes d(out) (I), the kernel reads gate, up and d(out) (3 I) and
#   writes d(gate), d(up) (2 I), the up-projection's data gradient reads them (2 I): 8 I, 4/3.
BACKWARD_NORM = 1.5
BACKWARD_RESIDUAL = 1.0
BACKWARD_ROPE = 1.0
BACKWARD_SWIGLU = 8 / 6


def quantised_bytes(precision: str) -> float:
    """Bytes per element of a GEMM operand after quantisation, scales included: FP8 with 1x128 tiles
    and FP32 scales (V3 §3.3.2), NVFP4 with 16-element blocks and FP8 scales; 0 for BF16 (no casts)."""
    if precision == "fp8":
        return element_bytes(Dtype.fp8) + FP8_SCALE_BYTES / FP8_TILE
    if precision == "fp4":
        return weight_bytes_per_param(Dtype.nvfp4)
    return 0.0


@dataclass(frozen=True)
class GemmWidths:
    """Per token, per layer (averaged over the layers of its kind): the widths of the GEMM inputs and
    outputs, for the quantisation traffic. `*_in` sums K over the distinct input tensors (a tensor
    two GEMMs read is cast once), `*_out` sums N; GEMMs counts the weight matrices."""

    attention_in: float
    attention_out: float
    attention_gemms: float
    dense_in: float = 0.0        # a dense-MLP layer
    dense_out: float = 0.0
    shared_in: float = 0.0       # a MoE layer's shared experts
    shared_out: float = 0.0
    expert_in: float = 0.0       # one routed token-expert pair
    expert_out: float = 0.0


def gemm_widths(m: Model) -> GemmWidths:
    """The GEMM input and output widths of each layer kind (weights listed as in
    `planner.perf.phases.dense_matrices`; the router and the output head stay BF16, V3 §3.3.1)."""
    h, a = m.hidden_size, m.attention
    if isinstance(a, GqaAttention):
        kinds = M.facts(m).layer_kinds
        L = m.num_layers
        softmax = kinds.get("full", 0) + kinds.get("sliding", 0)
        q = a.num_heads * a.head_dim * (2 if a.output_gate else 1)
        attn_in = softmax * (h + a.num_heads * a.head_dim)
        attn_out = softmax * (q + 2 * a.num_kv_heads * a.head_dim + h)
        if a.linear is not None and kinds.get("linear"):
            lin = a.linear
            attn_in += kinds["linear"] * (h + lin.value_dim)
            attn_out += kinds["linear"] * (2 * lin.key_dim + 2 * lin.value_dim + h)
        if a.mamba is not None and kinds.get("mamba"):
            mb = a.mamba
            attn_in += kinds["mamba"] * (h + mb.inner)
            attn_out += kinds["mamba"] * (2 * mb.inner + 2 * mb.n_groups * mb.state_size + h)
        widths = (attn_in / L, attn_out / L, 2 * (L - kinds.get("no_mixer", 0)) / L)
    elif isinstance(a, MlaAttention):
        # x -> [q_a | kv_a] (or q and kv_a from x), q_a norm -> q_b, kv_a norm -> kv_b, attention -> o
        q_a = a.q_lora_rank or 0
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        heads = a.num_heads
        widths = (h + q_a + a.kv_lora_rank + heads * a.v_head_dim,
                  (q_a or heads * qk) + a.kv_lora_rank + a.qk_rope_head_dim + (heads * qk if q_a else 0)
                  + heads * (a.qk_nope_head_dim + a.v_head_dim) + h,
                  4 if q_a else 3)
    else:
        assert isinstance(a, CompressedAttention)
        # x -> q_a and the shared KV head, q_a norm -> q_b, attention -> grouped o_a -> o_b
        o = a.o_groups * a.o_lora_rank
        widths = (h + a.q_lora_rank + a.num_heads * a.head_dim + o,
                  a.q_lora_rank + a.head_dim + a.num_heads * a.head_dim + o + h, 5)
    gate = 2 if (m.mlp is None or m.mlp.gated) else 1
    dense = m.mlp.intermediate_size if m.mlp else 0
    out = GemmWidths(attention_in=widths[0], attention_out=widths[1], attention_gemms=widths[2],
                     dense_in=h + dense, dense_out=gate * dense + h)
    if m.moe is not None:
        e_gate = 2 if m.moe.gated else 1
        s, d = m.moe.shared_width, m.moe.expert_intermediate_size
        out = GemmWidths(**{**out.__dict__, "shared_in": (h + s) if s else 0.0,
                            "shared_out": (e_gate * s + h) if s else 0.0,
                            "expert_in": h + d, "expert_out": e_gate * d + h})
    return out


def mla_copy_bytes(m: Model) -> tuple[float, float]:
    """(forward, backward) HBM bytes per token per MLA layer of the copies that assemble the attention
    kernel's contiguous operands (BF16; 0 for other attention kinds). MLA's q and k heads are
    [nope | rope] with the rope part of k one head broadcast to all, so the up-projections' split
    outputs are concatenated before the attention kernel: deepseek-ai/DeepSeek-V3 inference/model.py
    @1ea5a1a (MLA.forward: `q = torch.cat([q_nope, q_pe])`, `k = torch.cat([k_nope,
    k_pe.expand(...)])`), NVIDIA/Megatron-LM megatron/core/transformer/multi_latent_attention.py
    @13f8f52 (the same two concatenations, then `value.contiguous()` on v, a slice of kv_up's output).
    With n heads, d_n / d_r / d_v the nope, rope and value head widths and c the KV latent:
    - forward: q read and written (2 n (d_n + d_r)); k reads n d_n and the one shared rope head d_r,
      writes n (d_n + d_r); v read and written (2 n d_v);
    - backward (autograd of those views): the broadcast's gradient sums n rope heads into one
      (n d_r + d_r); the gradients of the three splits (q into nope|rope, kv_up's output into k_nope|v,
      kv_down's into latent|rope) are concatenations, each read and written: 2 n (d_n + d_r),
      2 n (d_n + d_v), 2 (c + d_r)."""
    a = m.attention
    if not isinstance(a, MlaAttention):
        return 0.0, 0.0
    n, dn, dr, dv, c = a.num_heads, a.qk_nope_head_dim, a.qk_rope_head_dim, a.v_head_dim, a.kv_lora_rank
    b = ACTIVATION_BYTES
    forward = b * (2 * n * (dn + dr) + (n * dn + dr + n * (dn + dr)) + 2 * n * dv)
    backward = b * ((n * dr + dr) + 2 * n * (dn + dr) + 2 * n * (dn + dv) + 2 * (c + dr))
    return forward, backward


MLA_COPY_KERNELS = (3, 4)     # forward: q, k, v; backward: the broadcast's sum and three concatenations


@dataclass(frozen=True)
class RoutingBytes:
    """HBM bytes per token of one MoE layer's routing kernels (the router GEMM aside), and their count."""

    forward: float
    backward: float
    forward_kernels: int
    backward_kernels: int


def routing_bytes(experts: int, k: int, selection_bias: bool) -> RoutingBytes:
    """The gate's kernels after its GEMM, as deepseek-ai/DeepSeek-V3 inference/model.py @1ea5a1a
    `Gate.forward` runs them, on FP32 scores (E experts, top-k): the score function (sigmoid or
    softmax: read E, write E); with an auxiliary-loss-free selection bias (V3 §2.1.2) the bias add
    (read E, write E); top-k (read E, write k values and k int64 indices); with the bias, the
    gather of the unbiased scores at the indices (read k indices and k scores, write k); the
    weights' sum and division (read k, write 1; read k + 1, write k), the route scale (read k, write
    k) and the cast to the activations' BF16 (read k, write k at 2 B). Backward (autograd): the
    cast, scale and division again (k-wide, as forward), a zero E-wide gradient with the k weights'
    gradients scattered into it (write E, read k, write k), and the score function's backward
    (read the gradient and the scores, write E). Not counted: group-limited selection (V3's 8 groups,
    top 4: the schema has no group fields) and the sequence-wise balance loss (V3 §2.1.2, a
    per-sequence reduction of the normalised scores)."""
    e, f = 4.0 * experts, 4.0 * k
    bias = 1 if selection_bias else 0
    tail = (f + 4) + (f + 4 + f) + 2 * f + (f + 2 * k)        # sum, divide, scale, cast
    forward = 2 * e + bias * 2 * e + (e + k * (4 + 8)) + bias * (k * 8 + f + f) + tail
    backward = tail + (e + f + f) + 3 * e
    return RoutingBytes(forward, backward, 6 + 2 * bias, 6)


# The router GEMM (h x E, BF16 by V3 §3.3.1) in its three passes: forward, data gradient, weight
# gradient. At E = 256 its output is too narrow to reuse the token's h-wide input much: V3's 6·h·E
# FLOPs per token against ~2·(3h + 3E·2) bytes of activations and gradients sit below the H800 BF16
# ridge, so each pass takes the longer of its FLOPs at the BF16 GEMM curve and its bytes at the HBM
# rate (a roofline; aiconfigurator applies the same max() to every op).
ROUTER_GEMM_PASSES = 3


def router_gemm_s(hw: Hardware, tokens: float, h: int, experts: int) -> float:
    """Seconds of one MoE layer's router GEMM, three passes, on `tokens` tokens: forward reads x (h
    BF16) and writes the FP32 scores (E); the data gradient reads their gradient (E, FP32) and writes
    dx (h, BF16); the weight gradient reads x and the scores' gradient. The weight (h·E BF16) is read
    once a pass."""
    flops = 3 * 2 * tokens * h * experts
    compute = flops / (hw.peak.flops_per_s(ComputeClass.bf16) * kernels(hw).gemm(ComputeClass.bf16, tokens))
    act = tokens * (3 * h * ACTIVATION_BYTES + 3 * experts * 4.0) + 3 * h * experts * ACTIVATION_BYTES
    return max(compute, act / (hw.hbm.bandwidth_bytes_per_s * hw.efficiency.hbm))


@dataclass(frozen=True)
class MemoryBound:
    """Seconds of one micro-batch's non-GEMM kernels on one GPU of the heaviest stage, by class,
    split into the forward (F) and what the backward runs (B: backward kernels and recomputed
    forwards), and the HBM bytes behind them."""

    elementwise_s: float
    routing_s: float
    permute_s: float
    quantise_s: float
    copies_s: float
    latency_s: float
    forward_s: float
    backward_s: float
    hbm_bytes: float
    kernels: float

    @property
    def seconds(self) -> float:
        return self.forward_s + self.backward_s

    def to_dict(self) -> dict:
        return {"elementwise_s": self.elementwise_s, "routing_s": self.routing_s, "permute_s": self.permute_s,
                "quantise_s": self.quantise_s, "copies_s": self.copies_s,
                "latency_s": self.latency_s, "time_s": self.seconds,
                "hbm_bytes": self.hbm_bytes, "kernels": self.kernels}


def memory_bound(m: Model, hw: Hardware, *, tokens: float, tp: int, layers: int, moe_layers: int,
                 precision: str, full_recompute: bool, weights_params: float) -> MemoryBound:
    """The non-GEMM kernels of one micro-batch on one GPU.

    `tokens`: the micro-batch's tokens this GPU's stage handles before TP (b·s/cp); every activation
    tensor splits over the TP group (Megatron sequence parallelism: norms and adds run on s/t
    tokens, head- and MLP-wide tensors shard by heads and columns). `layers`, `moe_layers`: the
    stage's layer slots and how many are MoE (the MTP blocks included). `weights_params`: the stage's
    GEMM weights on this GPU, which the FP8 backward transposes once per micro-batch.

    Counts, per token and layer pass (h hidden, k experts per token, q bytes per quantised element):
    - elementwise forward: `elementwise_bytes` per layer; backward per kind (BACKWARD_*); the
      forward again under full recompute;
    - routing, per MoE layer: the router GEMM (`router_gemm_s`) and the gate's kernels
      (`routing_bytes`);
    - MLA copies, per layer: `mla_copy_bytes`;
    - permute / unpermute, per token-expert pair: a gather of one h-wide row (read + write) into the
      experts' order before the expert GEMMs and a weighted scatter-add back after them, forward at
      the dispatch / combine precisions, backward (the same two, reversed) in BF16 gradients;
    - quantisation (FP8, FP4), per GEMM input element: cast forward (read BF16, write q), transpose to
      the other tile direction for the weight gradient (read q, write q), V3 §3.3.3 (cached in FP8,
      1x128 tiles turned into 128x1 in the backward); per output-gradient element: read BF16 once,
      write q for the data gradient and q transposed for the weight gradient; per weight element once
      a micro-batch: a transposed quantised copy for the data gradient (read q, write q; Hopper FP8
      tensor cores take K-major operands only, and 1-D block scales run along K). The routed
      experts' up-projection input is cast per token before the dispatch (V3 §3.3.3: dispatched in
      FP8), not per pair. The router and the output head stay BF16 (§3.3.1)."""
    L = m.num_layers
    ew = elementwise_bytes(m)
    dense_layers = max(0, layers - moe_layers)
    per_main = layers / L
    b = ACTIVATION_BYTES
    t = tokens / tp                                    # sequence parallel: every tensor splits t-way
    f = M.facts(m)

    def swiglu(layer_bytes: float, count: int, have: int) -> float:
        return layer_bytes / have * count if have else 0.0

    sw = swiglu(ew.swiglu_moe, moe_layers, f.moe_layers) + swiglu(ew.swiglu_dense, dense_layers, f.dense_layers)
    fwd_ew = (ew.norms + ew.residual + ew.rope) * per_main + sw
    bwd_ew = ((ew.norms * BACKWARD_NORM + ew.residual * BACKWARD_RESIDUAL + ew.rope * BACKWARD_ROPE) * per_main
              + sw * BACKWARD_SWIGLU)
    h = m.hidden_size
    routing_f = routing_b = permute_f = permute_b = router_s = 0.0
    routing_kernels = (0.0, 0.0)
    if m.moe is not None and moe_layers:
        E, k = m.moe.num_experts, m.moe.experts_per_token
        r = routing_bytes(E, k, m.moe.router_bias)
        routing_f, routing_b = moe_layers * r.forward, moe_layers * r.backward
        routing_kernels = (moe_layers * r.forward_kernels, moe_layers * r.backward_kernels)
        router_s = moe_layers * router_gemm_s(hw, t, h, E)
        pairs = moe_layers * k
        permute_f = pairs * 2 * h * (element_bytes(m.precision.dispatch) + element_bytes(m.precision.combine))
        permute_b = pairs * 2 * 2 * h * b
    copy_f, copy_b = (layers * x for x in mla_copy_bytes(m))
    copy_kernels = tuple(layers * n for n in MLA_COPY_KERNELS) if copy_f else (0, 0)
    q = quantised_bytes(precision)
    quant_f = quant_b = weight_q = 0.0
    gemms = 0.0
    if q:
        gw = gemm_widths(m)
        ins = gw.attention_in * layers + gw.dense_in * dense_layers + gw.shared_in * moe_layers
        outs = gw.attention_out * layers + gw.dense_out * dense_layers + gw.shared_out * moe_layers
        gemms = gw.attention_gemms * layers + 2 * dense_layers
        expert_in = expert_out = up_per_token = 0.0
        if m.moe is not None:
            k, d = m.moe.experts_per_token, m.moe.expert_intermediate_size
            expert_in, expert_out = gw.expert_in * k * moe_layers, gw.expert_out * k * moe_layers
            # cast forward: the down-projection's input per pair, the up-projection's per token
            up_per_token = (h + k * d) * moe_layers
            gemms += (4 if m.moe.shared_width else 2) * moe_layers
        quant_f = (ins + up_per_token) * (b + q)
        quant_b = (ins + expert_in) * 2 * q + (outs + expert_out) * (b + 2 * q)
        weight_q = 2 * q * weights_params
    # Each class streams at the share of the HBM bandwidth its kernels reach: the norms and the FP8
    # casts at the published measurements of the hardware's kernel table, by the bytes one call
    # moves (an h-wide activation: read + write for a norm, read BF16 + write q and its scales for a
    # cast); the rest, and any GPU without measurements, at the preset's HBM efficiency.
    bw = hw.hbm.bandwidth_bytes_per_s
    kt = kernels(hw)
    rate = bw * hw.efficiency.hbm
    norm_rate = bw * kt.memory_kernel("rmsnorm", t * h * 2 * b)
    quant_rate = bw * kt.memory_kernel("fp8_quant", t * h * (b + q)) if precision == "fp8" else rate
    again = 2 if full_recompute else 1
    norm_f, norm_b = ew.norms * per_main, ew.norms * BACKWARD_NORM * per_main
    classes = {   # class: (forward bytes, all bytes, bytes/s)
        "norms": (t * norm_f, t * (norm_f * again + norm_b), norm_rate),
        "elementwise": (t * (fwd_ew - norm_f), t * ((fwd_ew - norm_f) * again + bwd_ew - norm_b), rate),
        "routing": (t * routing_f, t * (routing_f * again + routing_b), rate),
        "permute": (t * permute_f, t * (permute_f * again + permute_b), rate),
        "copies": (t * copy_f, t * (copy_f * again + copy_b), rate),
        "quantise": (t * quant_f, t * (quant_f * again + quant_b) + weight_q, quant_rate),
    }
    secs = {c: total / r for c, (_, total, r) in classes.items()}
    # kernels: the forward's non-GEMM kernels (the serving table), as many in the backward, again
    # when recomputed; per quantised GEMM a forward cast, two backward casts and a weight transpose;
    # the routing kernels beyond the serving table's one fused top-k, and MLA's copies
    forward_kernels = fixed_kernels(m) / (L + 0.0) * layers + routing_kernels[0] - moe_layers + copy_kernels[0]
    backward_kernels = fixed_kernels(m) / (L + 0.0) * layers - moe_layers + routing_kernels[1] + copy_kernels[1]
    count = forward_kernels * again + backward_kernels + 4 * gemms
    latency = count * MEMORY_KERNEL_LATENCY_S
    forward_router = router_s / ROUTER_GEMM_PASSES
    forward_s = (sum(fwd / r for fwd, _, r in classes.values()) + forward_router
                 + (forward_kernels + gemms) * MEMORY_KERNEL_LATENCY_S)
    all_s = sum(secs.values()) + router_s * (again + 2) / ROUTER_GEMM_PASSES + latency
    return MemoryBound(elementwise_s=secs["norms"] + secs["elementwise"],
                       routing_s=secs["routing"] + router_s * (again + 2) / ROUTER_GEMM_PASSES,
                       permute_s=secs["permute"], quantise_s=secs["quantise"], copies_s=secs["copies"],
                       latency_s=latency, forward_s=forward_s, backward_s=max(0.0, all_s - forward_s),
                       hbm_bytes=sum(total for _, total, _ in classes.values()), kernels=count)
