"""Training sizing: memory per GPU, step time by resource, MFU, time to train, cluster size, and
where MoE expert GEMMs turn HBM-bound.

Placement (outermost last): TP innermost, then CP, then DP (EP is carved out of the TP·CP·DP
GPUs of one pipeline stage, Megatron "MoE parallel folding" with expert-TP 1), then PP across
nodes. A group sits on the scale-up fabric when its GPUs fit in `hardware.scale_up.domain_size`.

Overlap rule (one step = m micro-batches per DP rank through p pipeline stages, 1F1B):
- per micro-batch and stage, GPU time = Σ over roofline classes of max(compute, HBM):
  non-expert GEMMs and the attention core are compute only; expert GEMMs are max(compute, HBM);
- the TP all-reduces (4 per layer: 2 forward, 2 backward; the same bytes as SP's all-gather +
  reduce-scatter) are a data dependency inside every layer and stay on the critical path;
- EP all-to-all, CP ring exchanges and PP point-to-point sends overlap with compute (DualPipe,
  1F1B with asynchronous sends): they hide under GPU time up to it, each fabric separately, and
  the excess is exposed; under DualPipe the EP all-to-all hides per component instead
  (DeepSeek-V3 §3.2.1, Figure 4: each dispatch and combine under the computation of the paired
  chunk its data dependencies leave free, `schedule.dualpipe_segments`), and the warm-up and
  cool-down chunks that run unpaired expose theirs (`schedule.dualpipe_unpaired`);
- the EP all-to-all kernels run on `comm_sms` of the GPU's SMs (DeepSeek-V3 §3.2.2: 20 of 132
  on H800), so while they run compute advances at (SMs − comm SMs)/SMs of its speed
  (`comm_sm_loss_s`);
- the pipeline adds the 1F1B bubble: step = (m + p − 1) × micro-batch time, i.e. a bubble
  fraction (p−1)/(m+p−1) (Narayanan et al. 2021, "Efficient Large-Scale Language Model
  Training on GPU Clusters Using Megatron-LM");
- the non-GEMM kernels (norms, RoPE, SwiGLU, residual adds, MoE routing and token permutes, FP8/FP4
  casts and transposes) run between the GEMMs on the compute stream, HBM-bound, and add to the GPU
  time (`planner.training.memory_bound`); their forward share is F, the rest B;
- the DP gradient reduce-scatter / all-reduce (and ZeRO parameter all-gathers) runs bucketed
  under the backward pass of the last micro-batch: what exceeds that backward time is exposed,
  and the last bucket always is;
- the optimizer step reads and writes its states once (HBM) after that.
MFU = model FLOPs per step (3 × forward, no recompute) ÷ (GPUs × dense peak at the training
precision × step time) (PaLM, Chowdhery et al. 2022, appendix B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from planner import units as U
from planner.errors import InputError
from planner.inputs.base import StrictModel
from planner.inputs.hardware import Hardware
from planner.inputs.layout import layout_words
from planner.inputs.model import GqaAttention, Model
from planner.machine.cluster import system_power_per_gpu_w
from planner.machine.efficiency import kernels
from planner.model import facts as M
from planner.precision import ComputeClass, Dtype, element_bytes, weight_bytes_per_param
from planner.training.memory_bound import MemoryBound, memory_bound
from planner.training.schedule import (
    Chunks,
    PairParts,
    Schedule,
    activation_microbatches,
    bubble_s,
    dualpipe_segments,
    dualpipe_unpaired,
    parameter_copies,
    schedule_problem,
)
from planner.verdict import BALANCED_WITHIN, Severity, Verdict

# ZeRO paper (Rajbhandari et al. 2020, §3.1): mixed-precision Adam keeps 16 bytes per parameter:
# 2 (BF16/FP16 weights) + 2 (gradients) + 12 (FP32 master weights, momentum, variance).
# aiconfigurator systems/*.yaml keep `other_mem: 3.5 GiB` per GPU "for safer deployment" (CUDA
# context, NCCL buffers, allocator slack); training keeps the same plus 3% of HBM for fragmentation.
RUNTIME_RESERVE_BYTES = 3.5 * 2**30
FRAGMENTATION = 0.03
WEIGHT_BYTES = 2.0
GRAD_BYTES = 2.0
MASTER_BYTES = 4.0
MOMENT_BYTES = 8.0        # two FP32 Adam moments
OPTIMIZER_BYTES = MASTER_BYTES + MOMENT_BYTES
# Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", eq. 1-5:
# a GPT layer stores s·b·h·(34 + 5·a·s/h) bytes of 16-bit activations; with sequence parallel
# everything divides by t. 34 = 11 (attention) + 19 (4h MLP: 2 input, 8 up, 8 GeLU, 1 mask) + 4
# (two layer norms). Selective recompute drops the 5·a·s²·b attention-score term; full recompute
# keeps only the layer input, 2·s·b·h.
ACT_ATTENTION = 11.0
ACT_MLP_4H = 19.0         # scaled by the layer's activated MLP width / 4h
ACT_NORMS = 4.0
ACT_SCORES = 5.0
ACT_FULL_RECOMPUTE = 2.0
COMM_BYTES = 2.0          # TP/PP activations and EP/DP gradients travel in BF16
EP_BACKWARD_BYTES = 2.0   # backward dispatch/combine carry BF16 gradients (DeepSeek-V3 report §3.3)
# Megatron-LM DistributedDataParallel bucket_size default: max(40M params, 1M × DP size); the last
# bucket cannot overlap with the backward pass.
DP_BUCKET_PARAMS = 40e6
# SMs an SM-driven EP all-to-all (DeepEP-style dispatch/combine kernels) occupies while it overlaps
# compute. DeepSeek-V3 report §3.2.2: "20 out of the 132 SMs available in the H800 GPU" run the
# warp-specialised IB/NVLink dispatch and combine, and §3.5.1 notes those SMs are lost to computation;
# deepseek-ai/DeepEP deep_ep/buffer.py keeps Buffer.num_sms = 20 as its default, and Megatron-LM's
# moe_deepep_num_sms defaults to the same 20.
EP_COMM_SMS = 20
DEFAULT_DAYS = 30.0
DEFAULT_GLOBAL_BATCH_SEQUENCES = 1024


class Recompute(StrEnum):
    none = "none"
    selective = "selective"
    full = "full"


class TrainPrecision(StrEnum):
    bf16 = "bf16"
    fp8 = "fp8"   # DeepSeek-V3 recipe: GEMMs (Fprop, Dgrad, Wgrad) in FP8, attention core in BF16
    fp4 = "fp4"   # NVFP4 W4A4 GEMMs (block-scaled), attention core in BF16


GEMM_CLASS = {TrainPrecision.bf16: ComputeClass.bf16, TrainPrecision.fp8: ComputeClass.fp8,
              TrainPrecision.fp4: ComputeClass.fp4}
GEMM_WEIGHT_DTYPE = {TrainPrecision.bf16: Dtype.bf16, TrainPrecision.fp8: Dtype.fp8,
                     TrainPrecision.fp4: Dtype.nvfp4}


class TrainLayout(StrictModel):
    """How a training job is parallelised. GPUs = tp × cp × dp × pp."""

    tp: PositiveInt = 1
    pp: PositiveInt = 1
    dp: PositiveInt = 1
    ep: PositiveInt = Field(1, description="expert parallel, carved out of the tp·cp·dp GPUs of a stage")
    cp: PositiveInt = Field(1, description="context parallel: the sequence splits cp-way")
    zero: Literal[0, 1, 2, 3] = Field(1, description="ZeRO stage; 3 = FSDP")
    recompute: Recompute = Recompute.selective
    micro_batch: PositiveInt = Field(1, description="sequences per micro-batch per DP rank")
    global_batch: PositiveInt = Field(DEFAULT_GLOBAL_BATCH_SEQUENCES, description="sequences per step")
    seq: PositiveInt = Field(4096, description="tokens per sequence")
    precision: TrainPrecision = TrainPrecision.bf16
    activations: Literal["bf16", "fp8"] = Field(
        "bf16", description="precision of the activations the expert GEMMs read and write (DeepSeek-V3 §3.3 "
                            "caches and dispatches FP8 activations)")
    vp: PositiveInt = Field(1, description="virtual pipeline stages per GPU (interleaved schedule)")
    schedule: Schedule = Schedule.one_f_one_b
    route_nodes: PositiveInt | None = Field(
        None, description="node-limited routing: a token's experts sit in at most this many scale-up domains "
                          "(DeepSeek-V3 §2.1.2: M = 4); None: unlimited")
    comm_sms: NonNegativeInt | None = Field(
        None, description="SMs per GPU that drive the EP all-to-all while it overlaps compute, taken from "
                          "compute (DeepSeek-V3 §3.2.2: 20 of 132); None: DeepEP's default 20 when ep > 1, "
                          "else 0")

    @field_validator("zero", mode="before")
    @classmethod
    def _fsdp(cls, v: object) -> object:
        if isinstance(v, str):
            text = v.strip().lower()
            if text == "fsdp":
                return 3
            if text.isdigit():
                return int(text)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TrainLayout:
        if self.seq % self.cp:
            raise ValueError(f"seq={self.seq} must be a multiple of cp={self.cp}")
        return self

    def check(self) -> None:
        """Checks that need dp, which --gpus or --days may decide after parsing."""
        if self.stage_gpus % self.ep:
            raise InputError(f"ep={self.ep} must divide tp*cp*dp={self.stage_gpus} (experts live on a stage's GPUs)",
                             field="--layout")
        problem = self.problem(None)
        if problem:
            raise InputError(problem, field="--schedule")

    def problem(self, layers: int | None) -> str | None:
        """Why the pipeline schedule cannot run this layout (layers: the model's, when known)."""
        return schedule_problem(self.schedule, self.pp, self.micro_batches, self.vp,
                                layers if layers is not None else self.pp * self.vp)

    @property
    def stage_gpus(self) -> int:
        return self.tp * self.cp * self.dp

    @property
    def gpus(self) -> int:
        return self.stage_gpus * self.pp

    @property
    def ep_comm_sms(self) -> int:
        """SMs the overlapped EP all-to-all takes from compute (`comm_sms`, or its default)."""
        if self.comm_sms is not None:
            return self.comm_sms
        return EP_COMM_SMS if self.ep > 1 else 0

    @property
    def edp(self) -> int:
        """Expert data-parallel degree: replicas of each expert shard."""
        return self.stage_gpus // self.ep

    @property
    def micro_batches(self) -> int:
        """Micro-batches per DP rank per step (gradient accumulation), at least 1."""
        return max(1, math.ceil(self.global_batch / (self.dp * self.micro_batch)))

    def label(self) -> str:
        zero = "fsdp" if self.zero == 3 else f"zero{self.zero}"
        vp = f",vp={self.vp}" if self.vp > 1 else ""
        return (f"tp={self.tp},cp={self.cp},dp={self.dp},ep={self.ep},pp={self.pp}{vp}, {self.schedule.value}, {zero}, "
                f"{self.recompute.value} recompute, micro-batch {self.micro_batch}, {self.precision.value}")

    def to_dict(self) -> dict:
        return {"tp": self.tp, "pp": self.pp, "dp": self.dp, "ep": self.ep, "cp": self.cp, "zero": self.zero,
                "recompute": self.recompute.value, "micro_batch": self.micro_batch,
                "global_batch_sequences": self.global_batch, "global_batch_tokens": self.global_batch * self.seq,
                "seq": self.seq, "precision": self.precision.value, "gpus": self.gpus,
                "micro_batches": self.micro_batches, "vp": self.vp, "schedule": self.schedule.value,
                "activations": self.activations, "route_nodes": self.route_nodes, "comm_sms": self.ep_comm_sms}


LAYOUT_WORDS = ("tp", "pp", "dp", "ep", "cp", "vp")


def train_layout(text: str = "", **extra: object) -> TrainLayout:
    """'tp=8,pp=16,dp=128' plus keyword fields -> TrainLayout; every mistake is an InputError."""
    values: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    values.update(layout_words(text, LAYOUT_WORDS, "tp=8,pp=16,dp=128"))
    try:
        return TrainLayout.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "layout"
        msg = err["msg"]
        if where == "zero":
            msg = f"unknown ZeRO stage {err.get('input')!r}; use 0, 1, 2, 3 or fsdp"
        raise InputError(f"{where}: {msg}",
                         field="--layout" if where in LAYOUT_WORDS else f"--{where.replace('_', '-')}") from None


# ---- memory ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageParams:
    """Parameters held by one GPU of the heaviest pipeline stage, before ZeRO sharding."""

    dense: float      # TP-sharded, replicated over DP (attention, dense MLP, shared experts, embeddings)
    experts: float    # EP-sharded, replicated over expert-DP


def _layers_per_stage(n: int, pp: int) -> int:
    return math.ceil(n / pp) if n else 0


def stage_params(m: Model, lay: TrainLayout) -> StageParams:
    """Heaviest stage: ceil(L/pp) layers, plus the input embedding or the LM head (both at pp=1)."""
    p = M.facts(m).params
    L = m.num_layers
    n_moe = M.facts(m).moe_layers
    per_layer = (p.attention + p.dense_mlp + p.shared_experts + p.router + p.norms) / L
    ends = p.embeddings + p.lm_head if lay.pp == 1 else max(p.embeddings, p.lm_head)
    dense = (per_layer * _layers_per_stage(L, lay.pp) + ends) / lay.tp
    experts = (p.routed_experts / n_moe * _layers_per_stage(n_moe, lay.pp) / lay.ep) if n_moe else 0.0
    return StageParams(dense=dense, experts=experts)


def _mlp_width(m: Model) -> float:
    """Activated MLP width per token, averaged over layers (experts: k·d + shared width)."""
    f = M.facts(m)
    dense = m.mlp.intermediate_size if m.mlp else 0
    moe = (m.moe.experts_per_token * m.moe.expert_intermediate_size + m.moe.shared_width) if m.moe else 0
    return (f.dense_layers * dense + f.moe_layers * moe) / m.num_layers


def _heads(m: Model) -> int:
    return m.attention.num_heads


def activation_bytes_per_layer(m: Model, lay: TrainLayout) -> float:
    """Stored activations of one layer for one micro-batch on one GPU (Korthikanti et al. 2022,
    with sequence parallel: everything divides by t; context parallel divides s)."""
    s, b, h = lay.seq / lay.cp, lay.micro_batch, m.hidden_size
    if lay.recompute == Recompute.full:
        return ACT_FULL_RECOMPUTE * s * b * h / lay.tp
    linear = ACT_ATTENTION + ACT_NORMS + ACT_MLP_4H * _mlp_width(m) / (4 * h)
    total = linear * s * b * h
    if lay.recompute == Recompute.none:
        # attention scores: with CP each rank scores its s/cp queries against all s keys over the ring
        total += ACT_SCORES * _heads(m) * s * lay.seq * b
    return total / lay.tp


@dataclass(frozen=True)
class TrainMemory:
    capacity_bytes: float
    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activation_bytes: float
    reserve_bytes: float

    @property
    def used_bytes(self) -> float:
        return (self.weights_bytes + self.gradients_bytes + self.optimizer_bytes + self.activation_bytes
                + self.reserve_bytes)

    @property
    def free_bytes(self) -> float:
        return self.capacity_bytes - self.used_bytes

    @property
    def fits(self) -> bool:
        return self.free_bytes >= 0

    def to_dict(self) -> dict:
        return {"capacity_bytes": self.capacity_bytes, "weights_bytes": self.weights_bytes,
                "gradients_bytes": self.gradients_bytes, "optimizer_bytes": self.optimizer_bytes,
                "activation_bytes": self.activation_bytes, "reserve_bytes": self.reserve_bytes,
                "free_bytes": self.free_bytes}


def train_memory(m: Model, hw: Hardware, lay: TrainLayout) -> TrainMemory:
    """Per-GPU HBM of the heaviest stage. ZeRO shards over the data-parallel group of each
    parameter (dense: cp·dp ranks, the Megatron distributed-optimizer group; experts: expert-DP):
    stage 1 the optimizer states, stage 2 also the gradients, stage 3 (FSDP) also the weights.
    The first stage keeps the schedule's peak of micro-batches in flight (1F1B: min(p, m)), and
    DualPipe holds two stages' parameters (planner.training.schedule)."""
    sp = stage_params(m, lay)
    copies = parameter_copies(lay.schedule)
    dense_shards, expert_shards = lay.cp * lay.dp, lay.edp

    def sharded(bytes_per_param: float, stage: int) -> float:
        if lay.zero >= stage:
            return copies * bytes_per_param * (sp.dense / dense_shards + sp.experts / expert_shards)
        return copies * bytes_per_param * (sp.dense + sp.experts)

    layers = _layers_per_stage(m.num_layers, lay.pp)
    in_flight = activation_microbatches(lay.schedule, lay.pp, lay.micro_batches, lay.vp)
    act = activation_bytes_per_layer(m, lay) * layers * in_flight
    capacity = hw.hbm.capacity_bytes
    return TrainMemory(capacity_bytes=capacity, weights_bytes=sharded(WEIGHT_BYTES, 3),
                       gradients_bytes=sharded(GRAD_BYTES, 2), optimizer_bytes=sharded(OPTIMIZER_BYTES, 1),
                       activation_bytes=act, reserve_bytes=RUNTIME_RESERVE_BYTES + FRAGMENTATION * capacity)


# ---- FLOPs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainFlops:
    """Per token, at the training sequence length (3 × forward). `per_token` is the main model's, the
    MFU numerator (ISCA '25 Table 2 convention); the MTP modules' work is `mtp`, counted in time only."""

    per_token: float
    gemm: float            # 6 × activated matmul parameters
    attention: float       # causal attention core, 3 × forward
    expert_gemm: float     # the routed-expert part of `gemm`
    head: float = 0.0      # the output projection, part of `gemm`
    mtp: float = 0.0       # MTP modules: their block, eh_proj, the shared head again, their attention
    mtp_expert_gemm: float = 0.0   # the routed-expert part of `mtp`
    mtp_attention: float = 0.0     # the attention-core part of `mtp`


def train_flops(m: Model, seq: int) -> TrainFlops:
    """Main-model FLOPs per token, and the MTP modules' (DeepSeek-V3 §2.2: each of the D modules runs
    one more transformer block and the projection M on every token, then the output head it shares
    with the main model; V3 trains with D = 1). An MTP block is a layer of the model's last kind,
    attending like an average layer."""
    f = M.facts(m)
    total = M.train_flops_per_token(m, seq)
    gemm = 6 * f.params.active_matmul
    attention = total - gemm
    head = 6 * f.params.head_matmul
    d = m.mtp_layers
    mtp_experts = 0.0
    if d and f.moe_layers and m.moe is not None and "moe" in m.ffn_kinds()[-1]:
        mtp_experts = 6 * d * f.params.active_routed_experts / f.moe_layers
    mtp_attention = attention * d / m.num_layers
    mtp = 6 * f.params.mtp_active + d * head + mtp_attention
    return TrainFlops(per_token=total, gemm=gemm, attention=attention, expert_gemm=6 * f.params.active_routed_experts,
                      head=head, mtp=mtp, mtp_expert_gemm=mtp_experts, mtp_attention=mtp_attention)


# ---- step time -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExpertGemm:
    """Routed-expert GEMMs of one micro-batch on one GPU: tokens per expert vs the HBM balance."""

    tokens_per_expert: float
    intensity: float          # FLOPs per HBM byte of the expert GEMMs (forward + backward)
    balance: float            # peak × compute eff ÷ (HBM bandwidth × HBM eff) at the training precision
    compute_s: float
    hbm_s: float
    hbm_bytes: float

    @property
    def hbm_bound(self) -> bool:
        return self.hbm_s > self.compute_s

    def to_dict(self) -> dict:
        return {"tokens_per_expert": self.tokens_per_expert, "flops_per_byte": self.intensity,
                "balance_flops_per_byte": self.balance, "compute_s": self.compute_s, "hbm_s": self.hbm_s,
                "hbm_bytes": self.hbm_bytes, "hbm_bound": self.hbm_bound}


def _moe_slots(m: Model) -> int:
    """MoE layers a step runs: the main model's plus the MTP blocks when the last layer kind is MoE
    (they split over the pipeline stages with the main layers, see step_time)."""
    mtp = m.mtp_layers if m.moe is not None and "moe" in m.ffn_kinds()[-1] else 0
    return M.facts(m).moe_layers + mtp


def expert_gemm(m: Model, hw: Hardware, lay: TrainLayout) -> ExpertGemm | None:
    """Each local expert sees T = b·s·k·ep / (tp·cp·E) tokens per micro-batch (uniform routing).
    Per expert parameter a micro-batch costs 6·T FLOPs (forward 2T, backward 4T) and reads the
    weight twice (forward, data-gradient) at the GEMM precision and reads and writes its gradient
    accumulator once (weight-gradient GEMM with beta=1); per token the GEMMs move their inputs and
    outputs, (2h + 3d) values forward and twice that backward, at the activation precision."""
    if m.moe is None:
        return None
    e = m.moe
    layers = _layers_per_stage(_moe_slots(m), lay.pp)
    experts_here = e.num_experts / lay.ep
    T = lay.micro_batch * lay.seq * e.experts_per_token * lay.ep / (lay.tp * lay.cp * e.num_experts)
    shape = ExpertShape.of(m, lay.precision, lay.activations)
    per_expert_bytes = shape.bytes(T)
    flops = 6 * T * shape.params
    peak, bw = _expert_peak_bw(hw, lay.precision)
    rate = _expert_peak_bw(hw, lay.precision, T)[0]
    n = layers * experts_here
    return ExpertGemm(tokens_per_expert=T, intensity=flops / per_expert_bytes, balance=peak / bw,
                      compute_s=n * flops / rate, hbm_s=n * per_expert_bytes / bw, hbm_bytes=n * per_expert_bytes)


@dataclass(frozen=True)
class ExpertShape:
    """One expert's GEMMs per micro-batch, as `expert_gemm` counts them: HBM bytes = params·(2w + 2g)
    (weights read forward and for the data gradient, gradient accumulator read and written) + T·3(2h+3d)·a
    (inputs and outputs, forward once and backward twice, at a bytes per activation), against 6·T·params FLOPs."""

    params: float
    weight_bytes: float
    act_bytes: float
    h: int
    d: int

    @classmethod
    def of(cls, m: Model, precision: TrainPrecision, activations: str) -> ExpertShape:
        assert m.moe is not None
        h, d = m.hidden_size, m.moe.expert_intermediate_size
        return cls(params=3 * h * d, weight_bytes=weight_bytes_per_param(GEMM_WEIGHT_DTYPE[precision]),
                   act_bytes=element_bytes(Dtype(activations)), h=h, d=d)

    def bytes(self, tokens: float) -> float:
        per_token = 3 * (2 * self.h + 3 * self.d) * self.act_bytes
        return self.params * (2 * self.weight_bytes + 2 * GRAD_BYTES) + tokens * per_token

    def intensity(self, tokens: float) -> float:
        return 6 * tokens * self.params / self.bytes(tokens)

    @property
    def max_intensity(self) -> float:
        """The limit as tokens per expert grow: 6·3hd / (3(2h+3d)·a) = 6hd / ((2h+3d)·a); with BF16
        activations (a = 2) that is 3hd/(2h+3d), whatever the micro-batch."""
        return 6 * self.params / (3 * (2 * self.h + 3 * self.d) * self.act_bytes)

    def tokens_for(self, balance: float) -> float | None:
        """Tokens per expert at which the intensity reaches `balance`; None when it never does."""
        if self.max_intensity <= balance:
            return None
        fixed = self.params * (2 * self.weight_bytes + 2 * GRAD_BYTES)
        per_token = 3 * (2 * self.h + 3 * self.d) * self.act_bytes
        return balance * fixed / (6 * self.params - balance * per_token)


def _expert_peak_bw(hw: Hardware, precision: TrainPrecision, tokens_per_expert: float = math.inf
                    ) -> tuple[float, float]:
    """Achievable expert-GEMM FLOP/s at the training precision and achievable HBM bytes/s. Where the
    hardware's kernel table has measured training grouped GEMMs at this precision
    (`Kernels.moe_train`: DeepGEMM's block-scaled FP8 on H800) they set the rate at these tokens per
    expert; otherwise the flat compute factor. The balance point uses the rate of many tokens per
    expert (the compute-bound kernel), so a lever that crosses it crosses at any micro-batch."""
    cls = GEMM_CLASS[precision]
    measured = kernels(hw).moe_train(cls, tokens_per_expert)
    return (hw.peak.flops_per_s(cls) * (measured if measured is not None else hw.efficiency.compute),
            hw.hbm.bandwidth_bytes_per_s * hw.efficiency.hbm)


@dataclass(frozen=True)
class Lever:
    """A change that moves HBM-bound expert GEMMs past the balance point: the intensity and the
    balance after the change (a lever is offered only when intensity ≥ balance)."""

    text: str
    intensity: float
    balance: float


def expert_levers(m: Model, hw: Hardware, lay: TrainLayout, xp: ExpertGemm) -> list[Lever]:
    """Only the changes that cross the balance: more tokens per expert when the largest reachable
    intensity (`ExpertShape.max_intensity`) is above the balance; FP8 activation traffic; FP8 GEMMs
    (a lower peak, so a lower balance); faster HBM."""
    levers: list[Lever] = []
    shape = ExpertShape.of(m, lay.precision, lay.activations)
    T = xp.tokens_per_expert
    need = shape.tokens_for(xp.balance)
    if need is not None:
        t = math.ceil(need)
        mb = math.ceil(lay.micro_batch * t / T)
        levers.append(Lever(f"≥ {t:,} tokens per expert (micro-batch {mb}, or wider EP), reaching "
                            f"{shape.intensity(t):,.0f} FLOPs/B (at most {shape.max_intensity:,.0f})",
                            shape.intensity(t), xp.balance))
    if lay.activations == "bf16":
        fp8 = ExpertShape.of(m, lay.precision, "fp8")
        if fp8.intensity(T) >= xp.balance:
            levers.append(Lever(f"FP8 activations in the expert GEMMs: {fp8.intensity(T):,.0f} FLOPs/B",
                                fp8.intensity(T), xp.balance))
        elif (t8 := fp8.tokens_for(xp.balance)) is not None:
            t = math.ceil(t8)
            levers.append(Lever(f"FP8 activations and ≥ {t:,} tokens per expert: {fp8.intensity(t):,.0f} FLOPs/B",
                                fp8.intensity(t), xp.balance))
    if lay.precision == TrainPrecision.fp4 and hw.peak.flops_per_s(ComputeClass.fp8):
        peak8, bw = _expert_peak_bw(hw, TrainPrecision.fp8)
        i8 = ExpertShape.of(m, TrainPrecision.fp8, lay.activations).intensity(T)
        if i8 >= peak8 / bw:
            levers.append(Lever(f"FP8 GEMMs (balance {peak8 / bw:,.0f} FLOPs/B; a lower peak, not a faster step)",
                                i8, peak8 / bw))
    bw_needed = xp.hbm_bytes / xp.compute_s / hw.efficiency.hbm
    pin = hw.hbm.pin_speed_for(bw_needed)
    levers.append(Lever(f"HBM at {U.format_rate(bw_needed)}" + (f" ({pin:.1f} Gb/s per pin)" if pin else "")
                        + f", has {U.format_rate(hw.hbm.bandwidth_bytes_per_s)}",
                        xp.intensity, xp.intensity))
    return levers


@dataclass(frozen=True)
class Comm:
    """Seconds of one collective kind per micro-batch (DP: per step) and the fabric it uses."""

    name: str
    bytes: float
    fabric: Literal["scale_up", "scale_out"]
    seconds: float
    exposed_s: float = 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "fabric": self.fabric, "time_s": self.seconds,
                "exposed_s": self.exposed_s}


def _link(hw: Hardware, fabric: str) -> tuple[float, float]:
    if fabric == "scale_up":
        return hw.scale_up.bandwidth_bytes_per_s * hw.efficiency.scale_up, hw.scale_up.latency_us * 1e-6
    return hw.scale_out.bandwidth_bytes_per_s * hw.efficiency.scale_out, hw.scale_out.latency_us * 1e-6


def _comm(hw: Hardware, name: str, sent: float, inside: bool, launches: int) -> Comm:
    fabric: Literal["scale_up", "scale_out"] = "scale_up" if inside else "scale_out"
    bw, lat = _link(hw, fabric)
    return Comm(name, sent, fabric, sent / bw + launches * lat if sent > 0 else 0.0)


def ep_traffic(k: int, ep: int, per_domain: int, route_nodes: int | None) -> tuple[float, float]:
    """Copies of a token sent per token (scale-up, scale-out) by the EP all-to-all of one direction.

    The EP group spans D = ⌈ep / per_domain⌉ scale-up domains. Across domains a token is sent once
    per remote domain it needs and forwarded inside it over the scale-up fabric (DeepSeek-V3 report
    §3.2.2; DeepEP's internode kernels): with k experts routed uniformly a token touches
    D·(1 − (1 − 1/D)^k) domains, at most `route_nodes` under node-limited routing (V3 §2.1.2: 4),
    of which a fraction (D−1)/D are remote. Inside the domain each of the k pairs moves to another
    GPU with probability (per_domain − 1)/per_domain. One domain: k·(ep−1)/ep copies, all inside."""
    if ep <= 1:
        return 0.0, 0.0
    domains = math.ceil(ep / per_domain)
    if domains <= 1:
        return k * (ep - 1) / ep, 0.0
    touched = domains * (1 - (1 - 1 / domains) ** k)
    if route_nodes is not None:
        touched = min(touched, route_nodes)
    return k * (per_domain - 1) / per_domain, touched * (domains - 1) / domains


@dataclass(frozen=True)
class StepTime:
    compute_s: float          # per step: Σ micro-batches × stage compute (non-expert + expert compute)
    hbm_s: float              # per step: expert-GEMM HBM time + the non-GEMM kernels + optimizer step
    scale_up_s: float         # per step, all collectives on the scale-up fabric
    scale_out_s: float
    bubble_s: float
    exposed_comm_s: float
    microbatch_s: float
    step_s: float
    bubble_fraction: float
    comms: tuple[Comm, ...]
    experts: ExpertGemm | None
    memory_bound: MemoryBound | None = None   # per micro-batch: the non-GEMM kernels

    def resources(self) -> dict[str, float]:
        return {"compute": self.compute_s, "hbm": self.hbm_s, "scale_up": self.scale_up_s,
                "scale_out": self.scale_out_s, "pipeline_bubble": self.bubble_s}

    def to_dict(self) -> dict:
        return {"compute_s": self.compute_s, "hbm_s": self.hbm_s, "scale_up_s": self.scale_up_s,
                "scale_out_s": self.scale_out_s, "pipeline_bubble_s": self.bubble_s,
                "bubble_fraction": self.bubble_fraction, "exposed_comm_s": self.exposed_comm_s,
                "microbatch_s": self.microbatch_s, "step_s": self.step_s,
                "comms": [c.to_dict() for c in self.comms],
                "expert_gemm": self.experts.to_dict() if self.experts else None,
                "memory_bound": self.memory_bound.to_dict() if self.memory_bound else None}


def compute_share(hw: Hardware, lay: TrainLayout) -> float:
    """Share of the GPU's SMs left to compute while the EP all-to-all kernels run beside it:
    (SMs − comm SMs) / SMs (DeepSeek-V3 §3.2.2: 112 of 132 on H800). 1 when the hardware preset gives
    no SM count, which the output then cannot charge."""
    sms, comm = hw.sms_per_gpu, lay.ep_comm_sms
    if not sms or not comm:
        return 1.0
    if comm >= sms:
        raise InputError(f"comm_sms={comm} leaves none of the {sms} SMs of {hw.name} to compute", field="--comm-sms")
    return (sms - comm) / sms


def comm_sm_loss_s(gpu_s: float, comm_s: float, share: float) -> float:
    """Time added to `gpu_s` seconds of GPU work when an SM-driven collective of `comm_s` seconds
    overlaps it and leaves `share` of the SMs: during the collective the work advances at `share`
    speed, so it takes gpu_s + (1 − share)·comm_s while the collective ends first, and comm_s when the
    work would finish inside it (the collective then binds, and the caller exposes the excess)."""
    if comm_s <= 0 or share >= 1:
        return 0.0
    return (1 - share) * min(comm_s, gpu_s / share)


def pair_parts(m: Model, non_expert: float, attn: float, expert: float, mb: MemoryBound, g_extra: float,
               a_extra: float, ep: dict[str, float], pp: float) -> PairParts:
    """One micro-batch's computation split into DualPipe's components (V3 §3.2.1): ATTN holds the
    attention core and the attention projections' share of the non-expert GEMMs (by parameters; the
    output head and MTP projections split with them, an assumption); MLP holds the routed experts
    (max of compute and HBM) and the dense MLPs and shared experts. Each GEMM's work is a third F, B
    and W (Qi et al. 2023 §2), the attention core's forward F and backward (twice) B, recompute in B.
    The non-GEMM kernels: token permutes and routing go with the MLP, MLA's copies with attention,
    the rest (norms, casts, kernel latency) in proportion to each side's GEMM time; their forward
    share is F, the rest B."""
    p = M.facts(m).params
    dense = p.attention + p.dense_mlp + p.shared_experts
    attn_share = p.attention / dense if dense else 1.0
    ga = attn_share * non_expert / (1 + g_extra)
    gm = ((1 - attn_share) * non_expert + expert) / (1 + g_extra)
    core = attn / (1 + a_extra)
    gemm_a, gemm_m = ga * (1 + g_extra) + attn, gm * (1 + g_extra)
    shared = mb.seconds - mb.permute_s - mb.routing_s - mb.copies_s
    to_attn = gemm_a / (gemm_a + gemm_m) if gemm_a + gemm_m else 0.5
    mem_a = mb.copies_s + shared * to_attn
    mem_m = mb.permute_s + mb.routing_s + shared * (1 - to_attn)
    fwd = mb.forward_s / mb.seconds if mb.seconds else 0.0
    return PairParts(attn_f=ga / 3 + core / 3 + fwd * mem_a,
                     attn_b=ga / 3 + g_extra * ga + 2 * core / 3 + a_extra * core + (1 - fwd) * mem_a,
                     attn_w=ga / 3,
                     mlp_f=gm / 3 + fwd * mem_m, mlp_b=gm / 3 + g_extra * gm + (1 - fwd) * mem_m, mlp_w=gm / 3,
                     dispatch_f=ep["dispatch_f"], combine_f=ep["combine_f"], dispatch_b=ep["dispatch_b"],
                     combine_b=ep["combine_b"], pp=pp)


def step_time(m: Model, hw: Hardware, lay: TrainLayout, mem: TrainMemory | None = None) -> StepTime:
    """One optimizer step, per the overlap rule in the module docstring."""
    fl = train_flops(m, lay.seq)
    tokens = lay.micro_batch * lay.seq                          # per DP rank per micro-batch
    share = tokens / (lay.tp * lay.cp)                          # each GPU's share of a stage's work
    # Non-expert GEMMs and the attention core reach the measured kernel-class efficiency of the
    # hardware's table (planner.machine.efficiency: GEMMs by rows, attention by sequence), the same
    # curves serving uses; a preset without a table keeps its flat factor.
    k = kernels(hw)
    gemm_cls = GEMM_CLASS[lay.precision]
    # FP8 training is DeepSeek-V3's recipe: 1x128 / 128x128 block scales (§3.3), so the non-expert
    # GEMMs take the block-scaled FP8 curve. Cross-check on H800 (DeepGEMM README @a6d97a1, M = 4096,
    # V3's six projection shapes, FLOP-weighted, with PR #95's Wgrad at K = 4096): 0.54 of the FP8
    # peak per training FLOP, against this curve's 0.54-0.57 at 2048-4096 rows.
    block_scaled = lay.precision == TrainPrecision.fp8
    gemm_peak = hw.peak.flops_per_s(gemm_cls) * k.gemm(gemm_cls, share, block_scaled=block_scaled)
    attn_eff, attn_cls = k.attention_prefill(lay.seq / lay.cp, not isinstance(m.attention, GqaAttention), False)
    attn_peak = hw.peak.flops_per_s(attn_cls) * attn_eff
    # The pipeline runs at the pace of its heaviest stage. The D MTP modules are pipeline layers too,
    # placed with the output head on the last stage (DeepSeek-V3 §2.2: with DualPipe the deepest layers,
    # the head and the MTP module share a PP rank), so the stages split L + D layer slots and the
    # heaviest holds ceil((L + D)/pp) of them plus the output head, applied 1 + D times (the Llama 3
    # paper §3.3.2 removes a layer from the first and last stages for this imbalance).
    slots = m.num_layers + m.mtp_layers
    stage = _layers_per_stage(slots, lay.pp) / slots
    # Recompute redoes forward work: full = one more forward of everything; selective = the
    # attention core again (Korthikanti et al. 2022 §5).
    extra = {Recompute.none: (0.0, 0.0), Recompute.full: (1 / 3, 1 / 3), Recompute.selective: (0.0, 1 / 3)}
    g_extra, a_extra = extra[lay.recompute]
    xp = expert_gemm(m, hw, lay)
    # Low-precision recipes keep the output head in BF16 (DeepSeek-V3 §3.3.1: embedding, output head,
    # MoE gating, normalisation and attention stay in BF16/FP32; FP4 assumed to keep it likewise).
    head_peak = gemm_peak if gemm_cls == ComputeClass.bf16 else \
        hw.peak.flops_per_s(ComputeClass.bf16) * k.gemm(ComputeClass.bf16, share)
    body = fl.gemm - fl.expert_gemm - fl.head + fl.mtp - fl.mtp_expert_gemm - fl.mtp_attention - m.mtp_layers * fl.head
    # the router GEMMs run with the routing kernels, in BF16 (planner.training.memory_bound.router_gemm_s)
    f_m = M.facts(m)
    if f_m.moe_layers:
        body -= 6 * f_m.params.active_router / f_m.moe_layers * _moe_slots(m)
    non_expert = (body * stage / gemm_peak + (1 + m.mtp_layers) * fl.head / head_peak) * (1 + g_extra) * share
    attn = (fl.attention + fl.mtp_attention) * (1 + a_extra) * share * stage / attn_peak
    expert_c = xp.compute_s * (1 + g_extra) if xp else 0.0
    expert_h = xp.hbm_s if xp else 0.0
    # The non-GEMM kernels (norms, RoPE, SwiGLU, routing, token permutes, FP8 casts and transposes)
    # run between the GEMMs on the same stream, HBM-bound (planner.training.memory_bound).
    slots_here = _layers_per_stage(slots, lay.pp)
    moe_here = _layers_per_stage(_moe_slots(m), lay.pp)
    pc = M.facts(m).params
    gemm_weights = ((pc.attention + pc.dense_mlp + pc.shared_experts) / m.num_layers * slots_here / lay.tp
                    + (pc.routed_experts / M.facts(m).moe_layers * moe_here / lay.ep if moe_here else 0.0))
    mb = memory_bound(m, hw, tokens=tokens / lay.cp, tp=lay.tp, layers=slots_here, moe_layers=moe_here,
                      precision=lay.precision.value, full_recompute=lay.recompute == Recompute.full,
                      weights_params=gemm_weights)
    gpu_mb = non_expert + attn + max(expert_c, expert_h) + mb.seconds
    compute_mb = non_expert + attn + expert_c

    domain = hw.scale_up.domain_size
    h = m.hidden_size
    layers = _layers_per_stage(m.num_layers + m.mtp_layers, lay.pp)
    comms: list[Comm] = []
    # TP: 4 all-reduce-equivalents per layer (2 forward, 2 backward; +2 when the forward is
    # recomputed), ring 2(t-1)/t of a b·(s/cp)·h BF16 message (Patarasuk & Yuan 2009).
    tp_c = Comm("tp", 0.0, "scale_up", 0.0)
    if lay.tp > 1:
        n = (6 if lay.recompute == Recompute.full else 4) * layers
        msg = lay.micro_batch * lay.seq / lay.cp * h * COMM_BYTES
        tp_c = _comm(hw, "tp", n * 2 * (lay.tp - 1) / lay.tp * msg, lay.tp <= domain, n)
        comms.append(tp_c)
    hidden: list[Comm] = []
    ep_parts: dict[str, float] = {}
    # EP: per MoE layer, dispatch + combine forward (model precisions) and again backward with BF16
    # gradients, for the b·s/(tp·cp)·k token-expert pairs of a GPU's share of tokens.
    if m.moe and lay.ep > 1:
        n_moe = _layers_per_stage(_moe_slots(m), lay.pp)
        per_token = h * (element_bytes(m.precision.dispatch) + element_bytes(m.precision.combine)
                         + 2 * EP_BACKWARD_BYTES)
        inside_bytes, outside_bytes = ep_traffic(m.moe.experts_per_token, lay.ep,
                                                 max(1, min(domain // lay.tp, lay.ep)) if lay.tp <= domain else 1,
                                                 lay.route_nodes)
        if inside_bytes > 0:
            hidden.append(_comm(hw, "ep", n_moe * share * per_token * inside_bytes, True, 4 * n_moe))
        if outside_bytes > 0:
            hidden.append(_comm(hw, "ep", n_moe * share * per_token * outside_bytes, False, 4 * n_moe))
        # Each of the four all-to-alls on its own (DualPipe pairs them with different computation):
        # one kernel drives both fabrics at once (IB sends forwarded into NVLink, §3.2.2), so each
        # takes its slower fabric's time, one launch per MoE layer.
        for name, width in (("dispatch_f", element_bytes(m.precision.dispatch)),
                            ("combine_f", element_bytes(m.precision.combine)),
                            ("dispatch_b", EP_BACKWARD_BYTES), ("combine_b", EP_BACKWARD_BYTES)):
            ep_parts[name] = max(_comm(hw, "ep", n_moe * share * h * width * copies, inside, n_moe).seconds
                                 for copies, inside in ((inside_bytes, True), (outside_bytes, False)))
    # CP: ring attention passes K and V of each chunk to the cp-1 others, forward and twice backward.
    if lay.cp > 1:
        kv_width = (2 * m.attention.num_kv_heads * m.attention.head_dim if isinstance(m.attention, GqaAttention)
                    else 2 * _heads(m) * 192)
        sent = 3 * layers * (lay.cp - 1) * lay.micro_batch * lay.seq / lay.cp * kv_width / lay.tp * COMM_BYTES
        hidden.append(_comm(hw, "cp", sent, lay.tp * lay.cp <= domain, 3 * layers * (lay.cp - 1)))
    # PP: activations forward and their gradients backward at each stage boundary (SP-sharded);
    # interleaving crosses vp boundaries per GPU per micro-batch (Narayanan et al. 2021 §2.2.2).
    if lay.pp > 1:
        sent = 2 * lay.vp * lay.micro_batch * lay.seq / lay.cp * h * COMM_BYTES / lay.tp
        hidden.append(_comm(hw, "pp", sent, lay.gpus <= domain, 2 * lay.vp))
    comms += hidden
    by_fabric = {f: sum(c.seconds for c in hidden if c.fabric == f) for f in ("scale_up", "scale_out")}
    # The EP dispatch/combine kernels forward IB traffic into NVLink on the GPU's own SMs (one kernel
    # drives both fabrics), so while they run compute keeps only a share of the SMs.
    ep_s = max((sum(c.seconds for c in hidden if c.name == "ep" and c.fabric == f) for f in ("scale_up", "scale_out")),
               default=0.0)
    comm_share = compute_share(hw, lay)
    unpaired_s = 0.0
    if lay.schedule == Schedule.dualpipe and ep_parts:
        # DualPipe overlaps per component, not per chunk (planner.training.schedule.dualpipe_segments):
        # each segment of a forward + backward chunk pair takes max(its computation slowed by the
        # all-to-all's SMs, the communication beside it); the CP ring hides under the whole pair.
        parts = pair_parts(m, non_expert, attn, max(expert_c, expert_h), mb, g_extra, a_extra, ep_parts,
                           sum(c.seconds for c in hidden if c.name == "pp"))
        pair = 0.0
        sm_loss = 0.0
        for work, ep_comm, other in dualpipe_segments(parts):
            loss = comm_sm_loss_s(work, ep_comm, comm_share)
            sm_loss += loss
            pair += max(work + loss, ep_comm, other)
        rest = {f: sum(c.seconds for c in hidden if c.name == "cp" and c.fabric == f)
                for f in ("scale_up", "scale_out")}
        hidden_exposed = pair - gpu_mb - sm_loss + max(0.0, max(rest.values(), default=0.0) - pair)
        gpu_mb += sm_loss
        # Warm-up and cool-down chunks run unpaired (schedule.dualpipe_unpaired): a forward chunk's
        # dispatch and combine, and a backward's, sit between its own computations with nothing to
        # overlap them, so such a chunk takes its computation plus its all-to-all.
        unpaired_s = dualpipe_unpaired(lay.pp, lay.micro_batches) * max(
            0.0, parts.computation + parts.forward_comm + parts.backward_comm - pair)
    else:
        sm_loss = comm_sm_loss_s(gpu_mb, ep_s, comm_share)
        gpu_mb += sm_loss
        hidden_exposed = max(0.0, max(by_fabric.values(), default=0.0) - gpu_mb)
    microbatch = gpu_mb + tp_c.seconds + hidden_exposed

    mbs, p = lay.micro_batches, lay.pp
    # F, B, W of one micro-batch (Qi et al. 2023 §2): a third of the parameter-GEMM work each (W is
    # the weight gradient, which only the GEMMs have); the attention core's forward is F and its
    # backward (twice the forward) is B; recomputed forwards run inside B. Exposed communication
    # is spread over the three in proportion.
    gemm_base = (non_expert + max(expert_c, expert_h)) / (1 + g_extra)
    attn_base = attn / (1 + a_extra)
    scale = microbatch / gpu_mb if gpu_mb else 0.0
    chunks = Chunks(f=scale * ((gemm_base + attn_base) / 3 + mb.forward_s),
                    b=scale * (gemm_base / 3 + g_extra * gemm_base + 2 * attn_base / 3 + a_extra * attn_base
                               + mb.backward_s),
                    w=scale * gemm_base / 3)
    bubble = bubble_s(lay.schedule, p, lay.vp, chunks)
    pipeline = mbs * microbatch + bubble + unpaired_s
    bubble_fraction = bubble / pipeline if pipeline else 0.0

    # DP: gradient reduce-scatter + parameter all-gather (ZeRO 1/2, the same bytes as a ring
    # all-reduce), plus the forward and backward parameter all-gathers of ZeRO-3/FSDP.
    sp = stage_params(m, lay)
    copies = parameter_copies(lay.schedule)       # DualPipe reduces both copies' gradients
    sp = StageParams(dense=copies * sp.dense, experts=copies * sp.experts)
    factor = 3.0 if lay.zero == 3 else 2.0
    dp_comms: list[Comm] = []
    for name, group, params in (("dp", lay.cp * lay.dp, sp.dense), ("edp", lay.edp, sp.experts)):
        if group > 1 and params > 0:
            sent = factor * (group - 1) / group * params * GRAD_BYTES
            # DP ranks of one stage sit tp·cp apart: inside the domain only if the whole stage is
            dp_comms.append(_comm(hw, name, sent, lay.stage_gpus <= domain,
                                  2 * max(1, math.ceil(params / DP_BUCKET_PARAMS))))
    dp_time = max((sum(c.seconds for c in dp_comms if c.fabric == f) for f in ("scale_up", "scale_out")), default=0.0)
    all_params = sp.dense + sp.experts
    last_bucket = min(1.0, DP_BUCKET_PARAMS / all_params) if all_params else 0.0
    backward_last = compute_mb * 2 / 3
    dp_exposed = max(dp_time - backward_last, dp_time * last_bucket) if dp_time else 0.0
    dp_comms = [Comm(c.name, c.bytes, c.fabric, c.seconds, c.seconds / dp_time * dp_exposed if dp_time else 0.0)
                for c in dp_comms]
    comms += dp_comms
    # Optimizer step: read weights, grads, master and moments, write weights, master and moments.
    mem = mem or train_memory(m, hw, lay)
    opt_bytes = 2 * mem.weights_bytes + mem.gradients_bytes + 2 * mem.optimizer_bytes
    opt_s = opt_bytes / (hw.hbm.bandwidth_bytes_per_s * hw.efficiency.hbm)

    step = pipeline + dp_exposed + opt_s
    fabric_total = {f: sum(c.seconds * (mbs if c.name not in ("dp", "edp") else 1) for c in comms if c.fabric == f)
                    for f in ("scale_up", "scale_out")}
    exposed = mbs * (tp_c.seconds + hidden_exposed) + unpaired_s + dp_exposed
    return StepTime(compute_s=mbs * (compute_mb + sm_loss), hbm_s=mbs * (expert_h + mb.seconds) + opt_s,
                    scale_up_s=fabric_total["scale_up"], scale_out_s=fabric_total["scale_out"],
                    bubble_s=bubble, exposed_comm_s=exposed, microbatch_s=microbatch,
                    step_s=step, bubble_fraction=bubble_fraction, comms=tuple(comms), experts=xp,
                    memory_bound=mb)


# ---- the whole job ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainResult:
    model: str
    hardware: str
    tokens: float
    layout: TrainLayout
    memory: TrainMemory
    step: StepTime
    flops: TrainFlops
    mfu: float
    steps: float
    gpu_hours: float
    days: float
    nodes: int
    racks: int
    power_w: float
    energy_j: float
    budget_days: float | None
    gpus_from: str
    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)

    @property
    def feasible(self) -> bool:
        return all(v.severity != Severity.error for v in self.verdicts)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "hardware": self.hardware, "tokens": self.tokens,
            "layout": self.layout.to_dict(),
            "per_gpu": self.memory.to_dict(),
            "step_time_s": self.step.step_s, "step": self.step.to_dict(),
            "tokens_per_step": self.layout.global_batch * self.layout.seq,
            "steps": self.steps, "mfu": self.mfu, "gpus": self.layout.gpus, "gpus_from": self.gpus_from,
            "gpu_hours": self.gpu_hours, "days": self.days, "budget_days": self.budget_days,
            "flops_per_token": self.flops.per_token,
            "cluster": {"gpus": self.layout.gpus, "nodes": self.nodes, "racks": self.racks,
                        "power_w": self.power_w, "energy_j": self.energy_j, "energy_mwh": self.energy_j / 3.6e9},
            "verdicts": [v.to_dict() for v in self.verdicts],
            "feasible": self.feasible,
        }

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat row (dotted keys; verdicts left out) for pandas.DataFrame."""
        return [U.flat_record({k: v for k, v in self.to_dict().items() if k != "verdicts"})]


def evaluate(m: Model, hw: Hardware, lay: TrainLayout, tokens: float, *, budget_days: float | None = None,
             gpus_from: str = "layout") -> TrainResult:
    """Memory, step time, MFU and time to train `tokens` tokens with a fixed layout."""
    if tokens <= 0:
        raise InputError("must be positive", field="--tokens")
    lay.check()
    mem = train_memory(m, hw, lay)
    st = step_time(m, hw, lay, mem)
    fl = train_flops(m, lay.seq)
    tokens_per_step = lay.global_batch * lay.seq
    peak = hw.peak.flops_per_s(GEMM_CLASS[lay.precision])
    mfu = fl.per_token * tokens_per_step / (lay.gpus * peak * st.step_s)
    steps = tokens / tokens_per_step
    seconds = steps * st.step_s
    # GPUs fill whole nodes in order; power counts the occupied nodes on the system basis every
    # plan uses (planner.machine.cluster)
    nodes = math.ceil(lay.gpus / hw.gpus_per_node)
    racks = math.ceil(nodes * hw.gpus_per_node / hw.gpus_per_rack)
    power = nodes * hw.gpus_per_node * system_power_per_gpu_w(hw)[0]
    result = TrainResult(model=m.name, hardware=hw.name, tokens=tokens, layout=lay, memory=mem, step=st, flops=fl,
                         mfu=mfu, steps=steps, gpu_hours=seconds * lay.gpus / 3600, days=seconds / 86400,
                         nodes=nodes, racks=racks, power_w=power, energy_j=power * seconds,
                         budget_days=budget_days, gpus_from=gpus_from)
    return TrainResult(**{**result.__dict__, "verdicts": tuple(train_verdicts(m, hw, result))})


def train(m: Model, hw: Hardware, lay: TrainLayout, tokens: float, *, gpus: int | None = None,
          days: float | None = None) -> TrainResult:
    """Size a training run. With `gpus`, DP fills them (tp·cp·pp must divide it). With `days`,
    the smallest DP whose time to train fits the budget. With neither and no dp in the layout
    beyond 1, a DEFAULT_DAYS budget."""
    if gpus is not None and days is not None:
        raise InputError("give --days or --gpus, not both")
    if days is not None and not (days > 0 and math.isfinite(days)):
        raise InputError("must be a positive number of days", field="--days")
    if tokens <= 0:
        raise InputError("must be positive", field="--tokens")
    fixed = lay.tp * lay.cp * lay.pp
    if gpus is not None:
        if gpus < 1 or gpus % fixed:
            raise InputError(f"{gpus} GPUs is not a multiple of tp*cp*pp = {fixed}", field="--gpus")
        if lay.dp not in (1, gpus // fixed) and lay.gpus != gpus:
            raise InputError(f"layout dp={lay.dp} gives {lay.gpus} GPUs, not {gpus}", field="--gpus")
        lay = _with(lay, dp=gpus // fixed)
        return evaluate(m, hw, lay, tokens, gpus_from="--gpus")
    if days is None:
        days, source = DEFAULT_DAYS, f"a {DEFAULT_DAYS:g}-day budget (no --days or --gpus given)"
    else:
        source = f"a {days:g}-day budget"
    best: TrainResult | None = None
    max_dp = max(1, lay.global_batch // lay.micro_batch)
    for dp in range(1, max_dp + 1):
        if (lay.tp * lay.cp * dp) % lay.ep:
            continue
        cand = evaluate(m, hw, _with(lay, dp=dp), tokens, budget_days=days, gpus_from=source)
        best = cand
        if cand.days <= days:
            break
    assert best is not None
    if best.days > days:
        extra = Verdict("train", "time", Severity.error,
                        f"even dp={best.layout.dp} ({best.layout.gpus:,} GPUs, one micro-batch per DP rank) takes "
                        f"{best.days:,.1f} days, over the {days:g}-day budget",
                        "a larger global batch, more TP/PP/CP, or a longer budget")
        best = TrainResult(**{**best.__dict__, "verdicts": (extra, *best.verdicts)})
    return best


def _with(lay: TrainLayout, **update: object) -> TrainLayout:
    return TrainLayout.model_validate({**lay.model_dump(), **update})


# ---- verdicts --------------------------------------------------------------------------------------

def peak_basis(hw: Hardware, precision: TrainPrecision) -> str:
    """'FP4 (dense training peak 69,444 TFLOP/s, derived; preset peak: <provenance>)': the figure the
    balance uses, its basis and where the preset says it comes from."""
    cls = GEMM_CLASS[precision]
    basis = getattr(hw.peak, f"{cls.value}_basis", "dense")
    source = hw.provenance.get("peak")
    return (f"{precision.value.upper()} (dense training peak {hw.peak.flops_per_s(cls) / 1e12:,.0f} TFLOP/s, "
            f"basis {basis}" + (f"; preset peak: {source}" if source else "") + ")")


def train_verdicts(m: Model, hw: Hardware, r: TrainResult) -> list[Verdict]:
    """Ordered rules: does not fit; HBM-bound expert GEMMs; what binds the step; the bubble."""
    out: list[Verdict] = []
    mem, lay, st = r.memory, r.layout, r.step
    if not mem.fits:
        levers = (["raise the ZeRO stage"] if lay.zero < 3 else []) + \
            (["more activation recompute"] if lay.recompute != Recompute.full else []) + \
            ["more TP/PP/EP to shard weights and activations"]
        lever = "; ".join(levers)
        out.append(Verdict("memory", "hbm", Severity.error,
                           f"needs {U.format_bytes(mem.used_bytes)} per GPU "
                           f"(weights {U.format_bytes(mem.weights_bytes)}, "
                           f"gradients {U.format_bytes(mem.gradients_bytes)}, "
                           f"optimizer {U.format_bytes(mem.optimizer_bytes)}, "
                           f"activations {U.format_bytes(mem.activation_bytes)}, "
                           f"reserve {U.format_bytes(mem.reserve_bytes)}); "
                           f"HBM holds {U.format_bytes(mem.capacity_bytes)}", lever))
    xp = st.experts
    if xp is not None and xp.hbm_bound:
        found = expert_levers(m, hw, lay, xp)
        shape = ExpertShape.of(m, lay.precision, lay.activations)
        out.append(Verdict("train", "hbm", Severity.warning,
                           f"MoE expert GEMMs are HBM-bound: {xp.tokens_per_expert:,.0f} tokens per expert "
                           "per micro-batch give "
                           f"{xp.intensity:,.0f} FLOPs/B against a balance of {xp.balance:,.0f} FLOPs/B at "
                           f"{peak_basis(hw, lay.precision)} "
                           f"({U.format_seconds(xp.hbm_s)} HBM vs {U.format_seconds(xp.compute_s)} "
                           f"compute per micro-batch); with {lay.activations.upper()} activation traffic the "
                           f"intensity tops out at {shape.max_intensity:,.0f} FLOPs/B",
                           "needs " + "; or ".join(lv.text for lv in found)))
    ranked = sorted(st.resources().items(), key=lambda kv: kv[1], reverse=True)
    (first, t1), (second, t2) = ranked[0], ranked[1]
    names = {"compute": "compute", "hbm": "HBM", "scale_up": "scale-up traffic", "scale_out": "scale-out traffic",
             "pipeline_bubble": "the pipeline bubble"}
    detail = (f"step {U.format_seconds(st.step_s)} is bound by {names[first]}: {U.format_seconds(t1)} vs "
              f"{U.format_seconds(t2)} {names[second]}; MFU {r.mfu:.1%}")
    if t2 > 0 and t1 / t2 < 1 + BALANCED_WITHIN:
        detail = (f"step {U.format_seconds(st.step_s)} is balanced between {names[first]} and {names[second]} "
                  f"({U.format_seconds(t1)} vs {U.format_seconds(t2)}); MFU {r.mfu:.1%}")
    lever = {"compute": "a narrower precision (FP8) or faster GPUs",
             "hbm": "larger micro-batches (more tokens per expert) or faster HBM",
             "scale_up": "less TP, or a faster scale-up fabric",
             "scale_out": "keep TP/EP inside the scale-up domain, or faster NICs",
             "pipeline_bubble": "more micro-batches per step (larger global batch, smaller micro-batch) "
                                "or fewer PP stages"}[first]
    if first in ("scale_up", "scale_out"):
        def per_step(c: Comm) -> float:
            return c.seconds * (1 if c.name in ("dp", "edp") else lay.micro_batches)
        worst = max((c for c in st.comms if c.fabric == first), key=per_step, default=None)
        if worst is not None:
            detail += f" (mostly {worst.name.upper()}: {U.format_seconds(per_step(worst))} per step)"
        exposed = st.exposed_comm_s
        detail += f"; {U.format_seconds(exposed)} of communication is exposed per step"
    out.append(Verdict("train", first, Severity.info, detail, lever))
    if lay.pp > 1 and st.bubble_fraction > 0.25:
        out.append(Verdict("train", "pipeline_bubble", Severity.warning,
                           f"{lay.schedule.value} bubble is {st.bubble_fraction:.0%} of the step: "
                           f"{lay.micro_batches} micro-batches per "
                           f"DP rank through {lay.pp} stages",
                           "more micro-batches per step, or an interleaved, zero-bubble or DualPipe schedule"))
    return out
