"""The model schema: architecture facts and per-component precisions (presets and HF import
both produce one of these). Lists are tuples so a model hashes and its derived facts cache."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from planner.inputs.base import StrictModel
from planner.inputs.limits import Dim, Dim0, Layers, Layers0, Tokens
from planner.precision import Dtype


class PackedEntry(StrictModel):
    """How a serving kernel packs one cached vector when it is stored in FP8.

    FlashMLA keeps the RoPE dims in BF16 and quantises the rest to FP8 with one scale per
    group: DeepSeek-V3.2 `FP8Sparse` = 512 FP8 + 4 FP32 scales + 64 BF16 = 656 B;
    DeepSeek-V4 `MODEL1_FP8Sparse` = 448 FP8 + 7 ue8m0 scales + 64 BF16, padded to 584 B
    (FlashMLA tests/quant.py). Only used when the dtype is fp8.
    """

    rope_dims_in_bf16: Dim0 = 0
    scale_group_dims: Dim = 128
    scale_bytes: Dim0 = 4
    align_bytes: Dim = 1


class Indexer(StrictModel):
    """Lightning indexer of DeepSeek Sparse Attention (V3.2) and CSA (V4)."""

    num_heads: Dim
    head_dim: Dim
    topk: Dim = Field(description="entries each query attends to (tokens in V3.2, compressed entries in V4)")
    key_dtype: Dtype = Dtype.fp8
    key_layout: PackedEntry = PackedEntry(scale_group_dims=128, scale_bytes=4)


class LinearAttention(StrictModel):
    """Linear attention: a fixed recurrent state per sequence (value heads x key dim x value dim)
    instead of KV that grows with the context.
    - gated_deltanet (Qwen3-Next, Qwen3.5; transformers Qwen3NextGatedDeltaNet): q/k/v/z and the
      beta/alpha gates from the input, a short causal convolution (its last kernel-1 inputs are
      state too), a gated RMSNorm;
    - lightning (MiniMax-01/M1; transformers MiniMaxLightningAttention): one q/k/v projection, a
      sigmoid output gate from the input and an RMSNorm; no convolution."""

    form: Literal["gated_deltanet", "lightning"] = "gated_deltanet"
    num_key_heads: Dim
    num_value_heads: Dim
    key_head_dim: Dim
    value_head_dim: Dim
    conv_kernel: Dim = 4
    state_dtype: Dtype = Field(Dtype.fp32, description="recurrent state; "
                                                       "llama.cpp and vLLM keep it in FP32 for accuracy")

    @property
    def key_dim(self) -> int:
        return self.num_key_heads * self.key_head_dim

    @property
    def value_dim(self) -> int:
        return self.num_value_heads * self.value_head_dim

    @property
    def state_elements(self) -> int:
        """Recurrent state plus the last (kernel - 1) inputs of the q/k/v convolution, per layer."""
        conv = (self.conv_kernel - 1) * (2 * self.key_dim + self.value_dim) if self.form == "gated_deltanet" else 0
        return self.num_value_heads * self.key_head_dim * self.value_head_dim + conv

    def params(self, hidden: int) -> int:
        """Weights of one layer (projections, convolution, gates, norm)."""
        h, kd, vd, nv = hidden, self.key_dim, self.value_dim, self.num_value_heads
        if self.form == "lightning":
            # qkv_proj, output_gate, out_proj, norm over heads x head_dim
            return h * (2 * kd + vd) + h * vd + vd * h + vd
        conv_dim = 2 * kd + vd
        # in_proj_qkvz, in_proj_ba, depthwise conv, dt_bias, A_log, gated norm, out_proj
        return (h * (2 * kd + 2 * vd) + h * 2 * nv + conv_dim * self.conv_kernel + 2 * nv
                + self.value_head_dim + vd * h)


class MambaMixer(StrictModel):
    """Selective state-space (Mamba) mixer: a fixed state per sequence, like linear attention.
    - version 2 (Nemotron-H, Granite-4.0-H, Falcon-H1, Zamba2; transformers Mamba2Mixer): heads x
      head_dim channels, B and C shared by n_groups, one decay per head;
    - version 1 (Jamba; transformers JambaMambaMixer): every inner channel (expand x hidden) its
      own state, the step size from a rank-dt_rank projection; Jamba norms dt, B and C.
    State per layer: inner x state_size SSM state plus the last kernel-1 convolution inputs
    (vLLM's MambaStateShapeCalculator keeps kernel-1 columns)."""

    version: Literal[1, 2] = 2
    num_heads: Dim = Field(description="Mamba-2 heads; Mamba-1: the inner channels")
    head_dim: Dim = Field(1, description="Mamba-2 head dim; Mamba-1: 1")
    state_size: Dim = Field(description="d_state (N)")
    n_groups: Dim = Field(1, description="Mamba-2 B/C groups")
    conv_kernel: Dim = 4
    dt_rank: Dim | None = Field(None, description="Mamba-1 step-size projection rank")
    conv_bias: bool = True
    proj_bias: bool = False
    inner_norms: bool = Field(False, description="RMSNorms on dt, B and C (Jamba)")
    state_dtype: Dtype = Field(Dtype.bf16, description="SSM and convolution state; vLLM's default is the model "
                                                       "dtype, FP32 when the config's mamba_ssm_cache_dtype asks")

    @property
    def inner(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def conv_dim(self) -> int:
        return self.inner + 2 * self.n_groups * self.state_size if self.version == 2 else self.inner

    @property
    def state_elements(self) -> int:
        ssm = self.inner * self.state_size
        return ssm + (self.conv_kernel - 1) * self.conv_dim

    def params(self, hidden: int) -> int:
        h, d, n = hidden, self.inner, self.state_size
        conv = self.conv_dim * self.conv_kernel + (self.conv_dim if self.conv_bias else 0)
        out = d * h + (h if self.proj_bias else 0)
        if self.version == 2:
            proj = d + self.conv_dim + self.num_heads              # gate z, x/B/C, dt per head
            in_proj = h * proj + (proj if self.proj_bias else 0)
            return in_proj + conv + 3 * self.num_heads + d + out   # dt_bias, A_log, D; gated norm
        rank = self.dt_rank or math.ceil(h / 16)
        in_proj = h * 2 * d + (2 * d if self.proj_bias else 0)
        x_proj = d * (rank + 2 * n)
        dt_proj = rank * d + d
        norms = rank + 2 * n if self.inner_norms else 0
        return in_proj + conv + x_proj + dt_proj + d * n + d + out + norms    # A_log, D

    @property
    def scan_flops_per_token(self) -> int:
        """Decay, input and read-out of an inner x state_size state: about 6 FLOPs per element."""
        return 6 * self.inner * self.state_size


MixerKind = Literal["full", "sliding", "linear", "mamba", "none"]


class GqaAttention(StrictModel):
    """Multi-head / grouped-query attention (MHA when kv heads = heads, MQA when 1), optionally
    interleaved with sliding-window, linear-attention and Mamba layers, and with blocks that have
    no token mixer at all (Nemotron-H's MLP-only blocks)."""

    kind: Literal["gqa"] = "gqa"
    num_heads: Dim
    num_kv_heads: Dim
    head_dim: Dim
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: bool = False
    output_gate: bool = Field(False, description="sigmoid gate on the attention output (Qwen3-Next): q_proj doubles")
    sinks: bool = Field(False, description="learned per-head attention sinks (gpt-oss)")
    sliding_window: Tokens | None = Field(None, description="tokens kept by sliding layers")
    full_head_dim: Dim | None = Field(None, description="head dim of the full layers when it differs "
                                                        "from the sliding layers' (Gemma 4 global_head_dim)")
    full_num_kv_heads: Dim | None = Field(None, description="KV heads of the full layers when they differ "
                                                            "(Gemma 4 num_global_key_value_heads)")
    full_k_eq_v: bool = Field(False, description="full layers project K once and use it as V too (Gemma 4 "
                                                 "attention_k_eq_v); the cache still holds K and V")
    layer_types: tuple[MixerKind, ...] | None = Field(
        None, description="token mixer per layer; omitted: all sliding when a window is set, else all full")
    linear: LinearAttention | None = Field(None, description="the linear-attention layers, when layer_types has any")
    mamba: MambaMixer | None = Field(None, description="the Mamba layers, when layer_types has any")


class MlaAttention(StrictModel):
    """Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2), optionally with DSA (V3.2)."""

    kind: Literal["mla"] = "mla"
    num_heads: Dim
    q_lora_rank: Dim | None
    kv_lora_rank: Dim
    qk_nope_head_dim: Dim
    qk_rope_head_dim: Dim
    v_head_dim: Dim
    indexer: Indexer | None = None
    kv_layout: PackedEntry = PackedEntry(rope_dims_in_bf16=64, scale_group_dims=128, scale_bytes=4, align_bytes=8)


class CompressedAttention(StrictModel):
    """DeepSeek-V4 attention: shared-KV MQA over a sliding window plus compressed entries.

    compress_ratios has one entry per main layer: 0 = sliding window only, 4 = CSA (compressed
    4:1, top-k selected by the indexer), 128 = HCA (compressed 128:1, attended densely).
    """

    kind: Literal["compressed"] = "compressed"
    num_heads: Dim
    head_dim: Dim
    rope_dim: Dim
    q_lora_rank: Dim
    o_groups: Dim
    o_lora_rank: Dim
    window: Tokens
    compress_ratios: tuple[Dim0, ...]
    indexer: Indexer
    kv_layout: PackedEntry = PackedEntry(rope_dims_in_bf16=64, scale_group_dims=64, scale_bytes=1, align_bytes=8)


Attention = Annotated[GqaAttention | MlaAttention | CompressedAttention, Field(discriminator="kind")]


class DenseMlp(StrictModel):
    intermediate_size: Dim
    gated: bool = Field(True, description="SwiGLU (gate, up, down) when true; up, down otherwise")
    bias: bool = False


FfnKind = Literal["dense", "moe", "dense+moe", "none"]


class Moe(StrictModel):
    num_experts: Dim
    experts_per_token: Dim
    expert_intermediate_size: Dim
    num_shared_experts: Dim0 = 0
    shared_intermediate_size: Dim | None = Field(
        None, description="total width of the shared expert(s); default experts x expert width")
    first_dense_layers: Layers0 = Field(0, description="leading layers with a dense MLP")
    layer_interval: Layers = Field(1, description="every n-th layer is MoE (decoder_sparse_step)")
    gated: bool = Field(True, description="experts are SwiGLU (gate, up, down); false: up, down (relu2)")
    latent_size: Dim | None = Field(
        None, description="LatentMoE (Nemotron 3 Super): tokens are projected to this width before dispatch and "
                          "the routed experts work in it; one down and one up projection per MoE layer")
    expert_bias: bool = False
    router_bias: bool = False
    hash_layers: Layers0 = Field(0, description="leading MoE layers routed by token hash (V4)")

    @model_validator(mode="after")
    def _k_le_e(self) -> Moe:
        if self.experts_per_token > self.num_experts:
            raise ValueError("experts_per_token exceeds num_experts")
        return self

    def token_width(self, hidden: int) -> int:
        """Width of a token as the routed experts see it (and as dispatch and combine move it)."""
        return self.latent_size or hidden

    @property
    def shared_width(self) -> int:
        if self.shared_intermediate_size is not None:
            return self.shared_intermediate_size
        return self.num_shared_experts * self.expert_intermediate_size


class Precision(StrictModel):
    """Per-component formats. `weights` covers attention, dense MLP, norms, router and MTP."""

    weights: Dtype = Dtype.bf16
    experts: Dtype | None = Field(None, description="routed experts; default: weights")
    shared_experts: Dtype | None = Field(None, description="default: weights")
    embeddings: Dtype = Dtype.bf16
    kv: Dtype = Dtype.bf16
    activations: Dtype = Field(Dtype.bf16, description="GEMM inputs outside the experts")
    expert_activations: Dtype | None = Field(None, description="GEMM inputs of the experts; default: activations")
    dispatch: Dtype = Field(Dtype.bf16, description="EP dispatch messages")
    combine: Dtype = Field(Dtype.bf16, description="EP combine messages")

    @property
    def expert_weights(self) -> Dtype:
        return self.experts or self.weights

    @property
    def shared_expert_weights(self) -> Dtype:
        return self.shared_experts or self.weights

    @property
    def expert_inputs(self) -> Dtype:
        return self.expert_activations or self.activations


class Model(StrictModel):
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    family: str = Field(description="deepseek, llama, qwen, mistral, openai, moonshot ...")
    hidden_size: Dim
    num_layers: Layers = Field(description="main decoder layers, MTP excluded")
    vocab_size: Dim
    tie_word_embeddings: bool = False
    max_context: Tokens = Field(description="max_position_embeddings, tokens")
    attention: Attention
    mlp: DenseMlp | None = Field(None, description="dense MLP (dense models and dense-first layers)")
    moe: Moe | None = None
    ffn_types: tuple[FfnKind, ...] | None = Field(
        None, description="feed-forward block per layer: dense MLP, MoE, both in parallel (Arctic's residual "
                          "MLP) or none (Nemotron-H's mixer-only blocks); omitted: from moe.first_dense_layers "
                          "and moe.layer_interval")
    hc_mult: Dim = Field(1, description="mHC residual streams (V4: 4); 1 = plain residual")
    mtp_layers: Layers0 = Field(0, description="next-n prediction layers; reported separately")
    precision: Precision = Precision()
    sources: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Model:
        att = self.attention
        if isinstance(att, GqaAttention):
            for kv in (att.num_kv_heads, att.full_num_kv_heads or att.num_kv_heads):
                if att.num_heads % kv:
                    raise ValueError("attention.num_heads must be a multiple of its KV heads")
            if att.layer_types is not None:
                if len(att.layer_types) != self.num_layers:
                    raise ValueError(f"attention.layer_types has {len(att.layer_types)} entries, "
                                     f"num_layers is {self.num_layers}")
                if "sliding" in att.layer_types and att.sliding_window is None:
                    raise ValueError("sliding layers need attention.sliding_window")
                if "linear" in att.layer_types and att.linear is None:
                    raise ValueError("linear layers need attention.linear (heads, head dims, conv kernel)")
                if "mamba" in att.layer_types and att.mamba is None:
                    raise ValueError("mamba layers need attention.mamba (heads, head dim, state size)")
        if isinstance(att, CompressedAttention):
            if len(att.compress_ratios) != self.num_layers:
                raise ValueError(f"attention.compress_ratios has {len(att.compress_ratios)} entries, "
                                 f"num_layers is {self.num_layers}")
        if self.moe is None and self.mlp is None:
            raise ValueError("a model needs mlp (dense) or moe")
        if self.moe is not None and self.moe.first_dense_layers and self.mlp is None:
            raise ValueError("moe.first_dense_layers needs mlp.intermediate_size for the dense layers")
        if self.ffn_types is not None:
            if len(self.ffn_types) != self.num_layers:
                raise ValueError(f"ffn_types has {len(self.ffn_types)} entries, num_layers is {self.num_layers}")
            if any("moe" in t for t in self.ffn_types) and self.moe is None:
                raise ValueError("ffn_types has MoE layers but the model has no moe section")
            if any("dense" in t for t in self.ffn_types) and self.mlp is None:
                raise ValueError("ffn_types has dense layers but the model has no mlp section")
            if isinstance(att, GqaAttention) and att.layer_types is not None and any(
                    a == "none" and f == "none" for a, f in zip(att.layer_types, self.ffn_types, strict=True)):
                raise ValueError("a layer needs a token mixer or a feed-forward block (both are none)")
        elif self.moe is not None and self.mlp is None and self.moe.layer_interval > 1:
            raise ValueError("moe.layer_interval > 1 leaves dense layers: the model needs mlp.intermediate_size")
        return self

    @property
    def is_moe(self) -> bool:
        return self.moe is not None

    def ffn_kinds(self) -> tuple[FfnKind, ...]:
        """The feed-forward block of every layer."""
        if self.ffn_types is not None:
            return self.ffn_types
        if self.moe is None:
            dense: tuple[FfnKind, ...] = ("dense",)
            return dense * self.num_layers
        e = self.moe
        kinds: list[FfnKind] = ["moe" if i >= e.first_dense_layers and (i + 1) % e.layer_interval == 0 else "dense"
                                for i in range(self.num_layers)]
        return tuple(kinds)

    def moe_layer_count(self) -> int:
        return sum(1 for k in self.ffn_kinds() if "moe" in k)
