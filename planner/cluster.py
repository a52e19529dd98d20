"""Cluster count: serving units -> GPUs, nodes, racks, scale-up domains, power and cost."""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.hardware import Hardware

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class Cluster:
    gpus: int
    replicas: int
    prefill_gpus: int
    decode_gpus: int
    nodes: int
    racks: int
    domains: int
    pods: int | None          # racks grouped by the pod-level flash tier (G3.5); None without one
    power_w: float
    cost_per_hour: float | None

    def to_dict(self) -> dict:
        return {"gpus": self.gpus, "replicas": self.replicas, "prefill_gpus": self.prefill_gpus,
                "decode_gpus": self.decode_gpus, "nodes": self.nodes, "racks": self.racks,
                "domains": self.domains, "pods": self.pods, "power_w": self.power_w, "cost_per_hour": self.cost_per_hour,
                "cost_per_month": self.cost_per_hour * HOURS_PER_MONTH if self.cost_per_hour else None}


def power_per_gpu_w(hw: Hardware) -> float:
    """Whole-system watts per GPU when the rack or node figure is known (CPUs, NICs, switches,
    fans and conversion losses included), else the GPU's own TDP."""
    if hw.power.rack_w:
        return hw.power.rack_w / hw.gpus_per_rack
    if hw.power.node_w:
        return hw.power.node_w / hw.gpus_per_node
    return hw.power.gpu_w


def cluster(hw: Hardware, units: list[tuple[int, int]], replicas: int) -> Cluster:
    """`units`: (count, gpus per unit) per pool. Units are packed whole into nodes; a unit larger
    than a node spans several, never sharing them."""
    gpus = sum(n * g for n, g in units)
    nodes = sum(n * math.ceil(g / hw.gpus_per_node) for n, g in units)
    racks = math.ceil(nodes * hw.gpus_per_node / hw.gpus_per_rack)
    domains = math.ceil(gpus / hw.scale_up.domain_size)
    price = hw.price_per_gpu_hour * gpus if hw.price_per_gpu_hour else None
    prefill = units[0][0] * units[0][1] if len(units) > 1 else 0
    pods = math.ceil(racks / hw.pod_flash.scope_racks) if hw.pod_flash else None
    return Cluster(gpus=gpus, replicas=replicas, prefill_gpus=prefill, decode_gpus=gpus - prefill,
                   nodes=nodes, racks=racks, domains=domains, pods=pods, power_w=gpus * power_per_gpu_w(hw),
                   cost_per_hour=price)
