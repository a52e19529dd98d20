"""The model schema: architecture facts and per-component precisions (presets and HF import
both produce one of these). Lists are tuples so a model hashes and its derived facts cache."""

from __future__ import annotations

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
    """Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5): a fixed recurrent state per sequence
    (value heads x key dim x value dim) plus a short causal-convolution state, instead of KV that
    grows with the context (transformers Qwen3NextGatedDeltaNet)."""

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
        return (self.num_value_heads * self.key_head_dim * self.value_head_dim
                + (self.conv_kernel - 1) * (2 * self.key_dim + self.value_dim))


class GqaAttention(StrictModel):
    """Multi-head / grouped-query attention (MHA when kv heads = heads, MQA when 1), optionally
    interleaved with sliding-window layers and linear-attention layers."""

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
    layer_types: tuple[Literal["full", "sliding", "linear"], ...] | None = Field(
        None, description="per layer; omitted: all sliding when a window is set, else all full")
    linear: LinearAttention | None = Field(None, description="the linear-attention layers, when layer_types has any")


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


class Moe(StrictModel):
    num_experts: Dim
    experts_per_token: Dim
    expert_intermediate_size: Dim
    num_shared_experts: Dim0 = 0
    shared_intermediate_size: Dim | None = Field(
        None, description="total width of the shared expert(s); default experts x expert width")
    first_dense_layers: Layers0 = Field(0, description="leading layers with a dense MLP")
    layer_interval: Layers = Field(1, description="every n-th layer is MoE (decoder_sparse_step)")
    expert_bias: bool = False
    router_bias: bool = False
    hash_layers: Layers0 = Field(0, description="leading MoE layers routed by token hash (V4)")

    @model_validator(mode="after")
    def _k_le_e(self) -> Moe:
        if self.experts_per_token > self.num_experts:
            raise ValueError("experts_per_token exceeds num_experts")
        return self

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
    hc_mult: Dim = Field(1, description="mHC residual streams (V4: 4); 1 = plain residual")
    mtp_layers: Layers0 = Field(0, description="next-n prediction layers; reported separately")
    precision: Precision = Precision()
    sources: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Model:
        att = self.attention
        if isinstance(att, GqaAttention):
            if att.num_heads % att.num_kv_heads:
                raise ValueError("attention.num_heads must be a multiple of num_kv_heads")
            if att.layer_types is not None:
                if len(att.layer_types) != self.num_layers:
                    raise ValueError(f"attention.layer_types has {len(att.layer_types)} entries, "
                                     f"num_layers is {self.num_layers}")
                if "sliding" in att.layer_types and att.sliding_window is None:
                    raise ValueError("sliding layers need attention.sliding_window")
                if "linear" in att.layer_types and att.linear is None:
                    raise ValueError("linear layers need attention.linear (heads, head dims, conv kernel)")
        if isinstance(att, CompressedAttention):
            if len(att.compress_ratios) != self.num_layers:
                raise ValueError(f"attention.compress_ratios has {len(att.compress_ratios)} entries, "
                                 f"num_layers is {self.num_layers}")
        if self.moe is None and self.mlp is None:
            raise ValueError("a model needs mlp (dense) or moe")
        if self.moe is not None and self.moe.first_dense_layers and self.mlp is None:
            raise ValueError("moe.first_dense_layers needs mlp.intermediate_size for the dense layers")
        return self

    @property
    def is_moe(self) -> bool:
        return self.moe is not None

    def moe_layer_count(self) -> int:
        if self.moe is None:
            return 0
        return sum(1 for i in range(self.num_layers)
                   if i >= self.moe.first_dense_layers and (i + 1) % self.moe.layer_interval == 0)
