"""Cluster accounting: serving units packed onto scale-up domains, nodes and racks; power and cost.

Packing. A unit's GPUs must share a scale-up domain wherever they talk every layer:
- a unit that fits a domain is placed whole inside one;
- a larger unit whose pipeline stages fit a domain is placed stage by stage (PP sends may cross
  the network; the phase times count them on scale-out when the unit is larger than a domain);
- a stage larger than a domain spans whole domains on purpose (expert parallelism across the
  NICs; `validate_layout` allows nothing else to span).
Blocks are placed best-fit, largest first, into domains of `domain_size` GPUs; inside an
NVLink-switched domain any GPUs can form a block, so a domain occupies ceil(used / gpus_per_node)
nodes. Domains smaller than a node share nodes. Racks hold whole domains (or a domain spans
whole racks). GPUs are the ones the units use; `gpus_provisioned` are all GPUs of the occupied
nodes, and power and cost count those: an idle GPU in a bought node still costs and draws power.

Power. One basis for every machine: the IT power of the occupied nodes at load, GPUs plus their
share of CPUs, memory, NICs, switches and fans. Each hardware preset states the figure it comes
from (`power.basis`): a rack figure (÷ GPUs per rack), a node figure (÷ GPUs per node), or a GPU
TDP times a system overhead.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from planner.inputs.hardware import Hardware
from planner.inputs.layout import Layout
from planner.machine.cost import HOURS_PER_MONTH, gpu_hour_rate

# System IT power per GPU over the GPU's TDP for 8-GPU servers that publish both:
# DGX H100 10.2 kW / (8 x 700 W) = 1.82; DGX B200 14.3 kW / (8 x 1,000 W) = 1.79.
# Used only for presets whose power basis is the GPU alone (stated in the plan as an assumption).
DEFAULT_SYSTEM_OVERHEAD = 1.8


@dataclass(frozen=True)
class PoolUnits:
    """`units` serving units of `layout` (one pool of a deployment)."""

    role: str
    layout: Layout
    units: int


class Cluster(BaseModel):
    """What a deployment occupies: the `cluster` of a plan (typed, as scripts read it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    gpus: int = Field(description="GPUs the serving units use")
    gpus_provisioned: int = Field(description="GPUs of the occupied nodes; power and cost count these")
    replicas: int
    prefill_gpus: int
    decode_gpus: int
    nodes: int
    racks: int
    domains: int
    pods: int | None = Field(None, description="racks grouped by the pod-level flash tier (G3.5); none without one")
    power_w: float = Field(description="system IT power of the occupied nodes at load")
    power_per_gpu_w: float = Field(description="system IT power per provisioned GPU")
    power_basis: str = Field(description="how this machine's figure was converted to the system basis")
    cost_per_hour: float | None = Field(None, description="US$ per hour for the provisioned GPUs (none: no price)")
    cost_per_month: float | None = Field(None, description="US$ per 730-hour month")
    cost_basis: str | None = Field(None, description="the price used: cloud per GPU-hour or owned, dated")


def system_power_per_gpu_w(hw: Hardware) -> tuple[float, str]:
    """(System IT power per GPU in watts, how it was derived) from the preset's stated basis."""
    p = hw.power
    if p.basis == "rack" and p.rack_w is not None:
        return p.rack_w / hw.gpus_per_rack, f"rack figure: {p.rack_w / 1e3:,.4g} kW per {hw.gpus_per_rack} GPUs"
    if p.basis == "node" and p.node_w is not None:
        return p.node_w / hw.gpus_per_node, f"node figure: {p.node_w / 1e3:,.4g} kW per {hw.gpus_per_node} GPUs"
    factor = p.system_overhead or DEFAULT_SYSTEM_OVERHEAD
    label = "stated" if p.system_overhead else "assumed"
    return p.gpu_w * factor, f"GPU TDP {p.gpu_w:,.0f} W × {factor:g} system overhead ({label})"


def _blocks(layout: Layout, units: int, domain: int) -> tuple[list[tuple[int, int]], list[int]]:
    """([(block GPUs, count)], [GPUs used in each whole domain a spanning stage takes])."""
    g, stage = layout.gpus, layout.gpus_per_stage
    if g <= domain:
        return [(g, units)], []
    if stage <= domain:
        return [(stage, units * layout.pp)], []
    # A stage spanning domains fills whole domains and leaves its remainder in one more.
    full, rest = divmod(stage, domain)
    spans = [domain] * full + ([rest] if rest else [])
    return [], spans * (units * layout.pp)


def _place(domains: Counter, domain: int, size: int, count: int) -> None:
    """Best fit in bulk: fill the fullest domains that still take a block, then open new ones."""
    for used in sorted(domains, reverse=True):
        if count == 0:
            break
        fit = (domain - used) // size
        n = domains[used]
        if fit == 0 or n == 0:
            continue
        full = min(n, count // fit)
        if full:
            domains[used] -= full
            domains[used + fit * size] += full
            count -= full * fit
        if count and count < fit and domains[used] > 0:
            domains[used] -= 1
            domains[used + count * size] += 1
            count = 0
    per = domain // size
    full, rest = divmod(count, per)
    if full:
        domains[per * size] += full
    if rest:
        domains[rest * size] += 1


def pack(hw: Hardware, pools: Sequence[PoolUnits]) -> tuple[int, int, int]:
    """(domains, nodes, racks) the pools occupy, packed as the module doc says."""
    D, n, R = hw.scale_up.domain_size, hw.gpus_per_node, hw.gpus_per_rack
    domains: Counter = Counter()
    blocks: Counter = Counter()
    for p in pools:
        if p.units <= 0:
            continue
        placed, spans = _blocks(p.layout, p.units, D)
        for used in spans:
            domains[used] += 1
        for size, count in placed:
            blocks[size] += count
    for size in sorted(blocks, reverse=True):
        _place(domains, D, size, blocks[size])
    count = sum(domains.values())
    used = sum(u * c for u, c in domains.items())
    # Presets nest nodes, domains and racks (Hardware validates it); the what-if domain sizes of
    # `size`'s comparison may not, and then GPUs are counted contiguously.
    if D >= n and D % n == 0:
        nodes = sum(c * math.ceil(u / n) for u, c in domains.items())
    elif D < n and n % D == 0:                     # several domains per node
        nodes = math.ceil(count / (n // D))
    else:
        nodes = math.ceil(used / n)
    if D >= R and D % R == 0:
        racks = sum(c * math.ceil(u / R) for u, c in domains.items())
    elif n <= D < R and R % D == 0:
        racks = math.ceil(count / (R // D))
    else:
        racks = math.ceil(nodes / (R // n))
    return count, nodes, racks


def cluster(hw: Hardware, pools: Sequence[PoolUnits]) -> Cluster:
    """GPUs, nodes, racks, domains, pods, power and cost of a deployment's pools."""
    gpus = sum(p.units * p.layout.gpus for p in pools)
    prefill = sum(p.units * p.layout.gpus for p in pools if p.role == "prefill")
    domains, nodes, racks = pack(hw, pools)
    provisioned = nodes * hw.gpus_per_node
    per_gpu, basis = system_power_per_gpu_w(hw)
    rate = gpu_hour_rate(hw, per_gpu)
    price = rate.usd_per_gpu_hour * provisioned if rate else None
    monthly = price * HOURS_PER_MONTH if price is not None else None
    pods = math.ceil(racks / hw.pod_flash.scope_racks) if hw.pod_flash else None
    return Cluster(gpus=gpus, gpus_provisioned=provisioned, replicas=sum(p.units for p in pools),
                   prefill_gpus=prefill, decode_gpus=gpus - prefill, nodes=nodes, racks=racks, domains=domains,
                   pods=pods, power_w=provisioned * per_gpu, power_per_gpu_w=per_gpu, power_basis=basis,
                   cost_per_hour=price, cost_per_month=monthly, cost_basis=rate.note if rate else None)
