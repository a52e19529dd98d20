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
their compute, so F&B = F + B here (assumption). The activation column is what the first stage
holds at its peak, in units of one micro-batch through that stage's layers.
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
    groups of p); DualPipe needs an even p and an even m ≥ p (DeepSeek-V3 §3.2.1: "the pipeline stages
    and micro-batches be divisible by 2"; m ≥ p so that both directions fill); v > 1 only interleaves."""
    if v > 1 and schedule != Schedule.interleaved:
        return f"vp={v} needs the interleaved schedule"
    if schedule == Schedule.interleaved:
        if p < 2 or v < 2:
            return "the interleaved schedule needs pp ≥ 2 and vp ≥ 2"
        if v * p > layers:
            return f"pp×vp = {p * v} exceeds the {layers} layers"
        if m < p:
            return f"the interleaved schedule needs at least pp={p} micro-batches per step, has {m}"
    if schedule == Schedule.dualpipe and (p < 2 or p % 2 or m % 2 or m < p):
        return f"DualPipe needs an even pp ≥ 2 and an even number of micro-batches ≥ pp (pp={p}, {m} micro-batches)"
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
