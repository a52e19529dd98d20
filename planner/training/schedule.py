"""Pipeline schedules: the bubble each leaves and the memory each holds, from the papers that define them.

Notation (Qi et al. 2023, "Zero Bubble Pipeline Parallelism", §2; DeepSeek-V3 report §3.2.1,
Table 2): per micro-batch and stage, F is the forward chunk, B the backward for inputs, W the
backward for weights; p pipeline stages, m micro-batches per step, v virtual stages per GPU.

- 1f1b: bubble (p−1)(F+B+W); parameters 1×; activations p (Narayanan et al. 2021 §2.2.1);
- interleaved: bubble (p−1)(F+B+W)/v; parameters 1×; activations p(1 + (p−1)/(p·v))
  (Narayanan et al. 2021 §2.2.2; Korthikanti et al. 2022 §4.2.3);
- zb-h1: bubble (p−1)(F+B−W); parameters 1×; activations p (Qi et al. 2023, Table 1);
- dualpipe: bubble (p/2−1)(F&B+B−3W); parameters 2×; activations p+1 (DeepSeek-V3 report §3.2.1,
  Table 2).

F&B is a forward and a backward chunk run together; DualPipe overlaps their communication, not
their compute, so F&B = F + B here (assumption), plus whatever communication the pair cannot hide
(`dualpipe_segments`). DualPipe's warm-up and cool-down chunks run unpaired (`dualpipe_unpaired`).
The activation column is what the first stage holds at its peak, in units of one micro-batch
through that stage's layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Schedule(StrEnum):
    one_f_one_b = "1f1b"
    interleaved = "interleaved"
    zb_h1 = "zb-h1"
    dualpipe = "dualpipe"


@dataclass(frozen=True)
class Chunks:
    """Seconds of one micro-batch on one stage: forward, backward for inputs, backward for weights."""

    f: float
    b: float
    w: float

    @property
    def total(self) -> float:
        return self.f + self.b + self.w


def schedule_problem(schedule: Schedule, p: int, m: int, v: int, layers: int) -> str | None:
    """Why the schedule cannot run this pipeline, or None.

    Interleaving needs v·p ≤ layers and m ≥ p (Megatron-LM's interleaved schedule runs micro-batches in
    groups of p); DualPipe needs an even p and an even m ≥ 2p (DeepSeek-V3 §3.2.1: "the pipeline stages
    and micro-batches be divisible by 2"; deepseek-ai/DualPipe dualpipe.py step() @3da1bbe asserts
    num_chunks >= num_ranks * 2: each direction carries half the micro-batches and must fill all p
    ranks); v > 1 only interleaves."""
    if v > 1 and schedule != Schedule.interleaved:
        return f"vp={v} needs the interleaved schedule"
    if schedule == Schedule.interleaved:
        if p < 2 or v < 2:
            return "the interleaved schedule needs pp ≥ 2 and vp ≥ 2"
        if v * p > layers:
            return f"pp×vp = {p * v} exceeds the {layers} layers"
        if m < p:
            return f"the interleaved schedule needs at least pp={p} micro-batches per step, has {m}"
    if schedule == Schedule.dualpipe and (p < 2 or p % 2 or m % 2 or m < 2 * p):
        return (f"DualPipe needs an even pp ≥ 2 and an even number of micro-batches ≥ 2×pp "
                f"(pp={p}, {m} micro-batches)")
    if schedule == Schedule.zb_h1 and p < 2:
        return "zb-h1 needs pp ≥ 2"
    return None


def bubble_s(schedule: Schedule, p: int, v: int, c: Chunks) -> float:
    """Idle time per step that the schedule adds to m × (F+B+W) (table in the module docstring)."""
    if p <= 1:
        return 0.0
    if schedule == Schedule.interleaved:
        return (p - 1) * c.total / v
    if schedule == Schedule.zb_h1:
        return (p - 1) * max(0.0, c.f + c.b - c.w)
    if schedule == Schedule.dualpipe:
        return (p / 2 - 1) * max(0.0, (c.f + c.b) + c.b - 3 * c.w)
    return (p - 1) * c.total


@dataclass(frozen=True)
class PairParts:
    """One micro-batch's components on one GPU for DualPipe's overlap (DeepSeek-V3 report §3.2.1):
    computation (attention, MLP; forward F, backward for inputs B, backward for weights W) and the
    communication that runs beside it (EP all-to-all dispatch and combine, forward and backward; the
    PP sends), seconds each."""

    attn_f: float
    attn_b: float
    attn_w: float
    mlp_f: float
    mlp_b: float
    mlp_w: float
    dispatch_f: float
    combine_f: float
    dispatch_b: float
    combine_b: float
    pp: float = 0.0

    @property
    def computation(self) -> float:
        return self.attn_f + self.attn_b + self.attn_w + self.mlp_f + self.mlp_b + self.mlp_w

    @property
    def forward_comm(self) -> float:
        return self.dispatch_f + self.combine_f

    @property
    def backward_comm(self) -> float:
        return self.dispatch_b + self.combine_b


def dualpipe_segments(p: PairParts) -> tuple[tuple[float, float, float], ...]:
    """The segments of a paired forward and backward chunk, in order: (computation, EP all-to-all
    that overlaps it, other communication that overlaps it).

    DeepSeek-V3 report §3.2.1 and Figure 4: the compute stream runs MLP(B), MLP(W), MLP(F), ATTN(B),
    ATTN(W), ATTN(F) while the communication stream runs DISPATCH(F), DISPATCH(B), COMBINE(F), PP,
    COMBINE(B), with barriers between. Each communication pairs with the computation its data
    dependencies leave free: the forward dispatch (which needs ATTN(F)) runs under the backward
    MLP(B), which does not need it; the backward dispatch (which needs MLP(B)) under MLP(W) and the
    forward MLP(F), whose input the forward dispatch has delivered; the forward combine (which needs
    MLP(F)) under ATTN(B); the PP sends under ATTN(W); the backward combine (which needs ATTN(B))
    under the next ATTN(F). Megatron-LM's fine-grained 1F1B overlap (schedule_layer_1f1b in
    megatron/core/models/common/model_chunk_schedule_plan.py) issues the same order: f.attn with
    b.combine, f.dispatch with b.mlp, b.dispatch with b.mlp.dw and f.mlp, f.combine with b.attn.
    The transformer-block boundaries are not aligned (Figure 4's caption), so the segments repeat
    per layer; with alike layers the sum over a chunk's layers is the sum of these segments over
    the chunk's totals."""
    return ((p.mlp_b, p.dispatch_f, 0.0), (p.mlp_w + p.mlp_f, p.dispatch_b, 0.0), (p.attn_b, p.combine_f, 0.0),
            (p.attn_w, 0.0, p.pp), (p.attn_f, p.combine_b, 0.0))


def dualpipe_unpaired(p: int, m: int) -> int:
    """Forward chunks (and as many backward chunks) a DualPipe rank runs unpaired, at the busiest
    rank: warm-up forwards and cool-down backwards that have no partner chunk to overlap their
    all-to-all with (DeepSeek-V3 report Figure 5).

    Counted from deepseek-ai/DualPipe dualpipe/dualpipe.py step() @bb214e8, for rank r with
    half-rank h = min(r, p−1−r): steps 1 (2(p/2−h−1) forwards), 2 (2(h+1) forwards) and 3
    (p/2−h−1 backward + forward) run alone; step 4 pairs F0B1 and F1B0, except that the middle ranks
    (h = p/2−1) run their first pair unoverlapped; step 5 runs p/2−h−1 backwards alone, steps 6
    and 7 the remaining backwards. Forwards unpaired: 3p/2 − h − 1, plus 1 on a middle rank; the
    most at h = 0. At most the m chunks there are."""
    if p < 2:
        return 0
    half = p // 2
    return min(m, max(3 * p // 2 - h - 1 + (1 if h == half - 1 else 0) for h in range(half)))


def parameter_copies(schedule: Schedule) -> int:
    """DualPipe keeps two copies of the model parameters (stage i and p−1−i on each GPU)."""
    return 2 if schedule == Schedule.dualpipe else 1


def activation_microbatches(schedule: Schedule, p: int, m: int, v: int) -> float:
    """Micro-batches of activations (through one stage's layers) the first stage holds at its peak."""
    if p <= 1:
        return 1.0
    if schedule == Schedule.interleaved:
        return min(p, m) * (1 + (p - 1) / (p * v))
    if schedule == Schedule.dualpipe:
        return min(p + 1, m)
    return min(p, m)
