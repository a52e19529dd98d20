"""Collective traffic of one step and where it travels (scale-up domain or scale-out network)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.inputs.hardware import Hardware
from planner.inputs.layout import Layout
from planner.inputs.model import Model
from planner.model import facts as M
from planner.precision import element_bytes

ALLREDUCE_BYTES = 2.0  # TP all-reduces run in BF16 whatever the GEMM precision


@dataclass(frozen=True)
class Traffic:
    """Bytes one GPU sends in one step, and how many collective launches that took, per fabric."""

    scale_up_bytes: float = 0.0
    scale_out_bytes: float = 0.0
    scale_up_collectives: float = 0       # launches; a probability-weighted mix of phases may be fractional
    scale_out_collectives: float = 0
    ep_scale_out_bytes: float = 0.0   # the part of scale_out that is expert-parallel traffic
    ep_bytes: float = 0.0

    def __add__(self, other: Traffic) -> Traffic:
        # field by field: a step adds three bundles, and the search evaluates thousands of steps
        return Traffic(self.scale_up_bytes + other.scale_up_bytes, self.scale_out_bytes + other.scale_out_bytes,
                       self.scale_up_collectives + other.scale_up_collectives,
                       self.scale_out_collectives + other.scale_out_collectives,
                       self.ep_scale_out_bytes + other.ep_scale_out_bytes, self.ep_bytes + other.ep_bytes)

    def astuple(self) -> tuple:
        return (self.scale_up_bytes, self.scale_out_bytes, self.scale_up_collectives,
                self.scale_out_collectives, self.ep_scale_out_bytes, self.ep_bytes)


def tp_allreduce(m: Model, hw: Hardware, layout: Layout, tokens_per_rank: float) -> Traffic:
    """Ring all-reduce after attention (and after the MLP when experts are not EP-combined):
    each GPU sends 2(tp-1)/tp of the message (Patarasuk & Yuan 2009)."""
    if layout.tp == 1:
        return Traffic()
    f = M.facts(m)
    per_layer = 1 if (m.is_moe and layout.ep > 1) else 2
    count = per_layer * f.moe_layers + 2 * f.dense_layers
    message = tokens_per_rank * m.hidden_size * ALLREDUCE_BYTES
    sent = count * 2 * (layout.tp - 1) / layout.tp * message
    if layout.tp <= hw.scale_up.domain_size:
        return Traffic(scale_up_bytes=sent, scale_up_collectives=count)
    return Traffic(scale_out_bytes=sent, scale_out_collectives=count)


def ep_fraction_in_domain(layout: Layout, domain: int) -> float:
    """Share of a GPU's EP peers that sit inside its scale-up domain (uniform routing)."""
    if layout.ep <= 1:
        return 1.0
    return (min(domain, layout.ep) - 1) / (layout.ep - 1)


def ep_all_to_all(m: Model, hw: Hardware, layout: Layout, tokens_per_rank: float) -> Traffic:
    """Dispatch (h values per token-expert pair at the dispatch precision) and combine (the same
    back at the combine precision), per MoE layer. ISCA '25 §2.3.2 computes the same way:
    (1 B + 2 B) x tokens x experts x hidden / bandwidth.

    Across scale-up domains the dispatch is deduplicated per destination domain, as DeepEP's
    internode kernels do (DeepSeek-V3 §3.2.2): a token crosses the NICs once for each remote
    domain holding at least one of its k experts, 1 - (1 - 1/D)^k of the D - 1 others (2.7 copies
    instead of 6 for k = 8 on four 8-GPU nodes), and is forwarded over NVLink to the experts'
    GPUs there. Peers inside the token's own domain are reached over NVLink directly."""
    if m.moe is None or layout.ep == 1:
        return Traffic()
    tokens_per_gpu = tokens_per_rank * layout.dp / layout.ep
    pair_bytes = m.moe.token_width(m.hidden_size) * (element_bytes(m.precision.dispatch)
                                                    + element_bytes(m.precision.combine))
    k, ep = m.moe.experts_per_token, layout.ep
    moe_layers = M.facts(m).moe_layers
    group = min(hw.scale_up.domain_size, ep)                 # EP peers per domain
    domains = math.ceil(ep / group)
    local_pairs = k * (group - 1) / ep                          # pairs to other GPUs of this domain
    remote_pairs = k * (ep - group) / ep                        # pairs whose expert is in another domain
    copies = (domains - 1) * (1 - (1 - 1 / domains) ** k) if domains > 1 else 0.0
    forwarded = remote_pairs * (group - 1) / group              # relayed inside the destination domain
    up = moe_layers * tokens_per_gpu * (local_pairs + forwarded) * pair_bytes
    out = moe_layers * tokens_per_gpu * copies * pair_bytes
    collectives = 2 * moe_layers
    return Traffic(scale_up_bytes=up, scale_out_bytes=out,
                   scale_up_collectives=collectives if group > 1 else 0,
                   scale_out_collectives=collectives if domains > 1 else 0,
                   ep_scale_out_bytes=out, ep_bytes=up + out)


def pp_sends(m: Model, hw: Hardware, layout: Layout, tokens_per_rank: float) -> Traffic:
    if layout.pp == 1:
        return Traffic()
    sent = (layout.pp - 1) / layout.pp * tokens_per_rank * m.hidden_size * ALLREDUCE_BYTES
    if layout.gpus <= hw.scale_up.domain_size:
        return Traffic(scale_up_bytes=sent, scale_up_collectives=1)
    return Traffic(scale_out_bytes=sent, scale_out_collectives=1)


def kv_transfer(m: Model, layout: Layout, context: int) -> Traffic:
    """Disaggregated serving: the prefilled KV moves to the decode pool over the NICs."""
    from planner.perf.memory import kv_share
    sent = M.kv_bytes_per_sequence(m, context) * kv_share(m, layout)
    return Traffic(scale_out_bytes=sent, scale_out_collectives=1)
