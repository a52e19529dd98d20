"""KV-cache tiers: G1 HBM, G2 host memory, G3 local NVMe, G3.5 pod flash, G4 shared storage.

Reuse model. A session's KV waits between turns (the turn gap) and is worth keeping for the
session lifetime. Turns end at rate r = requests/s x (1 - 1/turns); each leaves a state of
`bytes_per_session` behind. By Little's law a tier system holding C bytes keeps each state for
tau = C / (r x bytes_per_session) seconds. States age through the tiers fastest first (LRU
demotion), so tier i holds the states aged tau_{i-1} .. tau_i. With turn gaps exponentially
distributed around their mean g, the share of returning turns that find their state in tier i
is exp(-tau_{i-1}/g) - exp(-tau_i/g); states older than the session lifetime are not worth a hit.

Bandwidth. Reads: hits served by the tier x the prefix bytes each loads. Writes: every state
that is demoted into the tier (all states not reused before reaching it). A hit is worth having
only when loading beats recomputing: break-even read bandwidth per GPU = prefix bytes per GPU /
time to recompute the prefix.

Shared storage link. Pod flash (G3.5) and shared storage (G4) are reached through the node's
DPU or storage NIC (BlueField-4 class, `hardware.storage_link`). Each tier on it reads at most
the link's rate, and the two together cannot exceed it: reads needed by both are summed against
the link (and writes likewise), and a verdict names the link when the sum is over. A tier's load
time is its latency plus the prefix bytes over its read rate.

On-disk format (DeepSeek-V4 §3.5.2, general for any model with sliding-window layers): the
growing (compressed) entries are stored; the window state follows a policy: `full` stores the
window layers' entries for every token, `checkpoint` stores the window state every p tokens,
`recompute` stores none and recomputes the last window x layers tokens on a hit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from planner import units as U
from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.model import CompressedAttention, Model
from planner.inputs.workload import Workload
from planner.machine.cluster import Cluster
from planner.memo import IdentityMemo
from planner.model import facts as M
from planner.perf.memory import kv_share
from planner.perf.phases import prefill
from planner.perf.unit import PrefixReuse, TierRead, UnitResult
from planner.verdict import Severity, Verdict

HOST_MEMORY_FOR_KV = 0.8      # share of host DRAM a KV cache may take (OS, runtime, pinned buffers)
RETENTION_GAPS = 5.0          # keep a state 5 mean gaps: 99.3% of exponentially distributed returns
NOT_WORTH_MARGIN = 1.0        # a tier slower than break-even is not worth reading from
REUSE_SHARE_DIGITS = 6        # hit shares the engine uses, to a millionth of requests


class WindowPolicy(StrEnum):
    full = "full"
    checkpoint = "checkpoint"
    recompute = "recompute"


@dataclass(frozen=True)
class DiskFormat:
    """Bytes of one session's KV in a persistent tier, and what a hit must recompute."""

    policy: WindowPolicy
    stored_bytes: float             # per session at its context
    window_bytes: float             # the part that is window state
    recompute_tokens: int           # tokens recomputed on a hit (tail block + window policy)


# A session's on-disk format depends on the model and the context only; the tier sizing of every
# settle round (and of every sweep point) asks for the same two.
_DISK_FORMATS: IdentityMemo[DiskFormat] = IdentityMemo(4_096)


def disk_format(m: Model, context: int, policy: WindowPolicy = WindowPolicy.checkpoint,
                period: int = 4096) -> DiskFormat:
    """One session's KV as a persistent tier stores it at `context` tokens (see `DiskFormat`)."""
    return _DISK_FORMATS.get(m, None, None, (context, policy, period),
                             lambda: _compute_disk_format(m, context, policy, period))


def _compute_disk_format(m: Model, context: int, policy: WindowPolicy, period: int) -> DiskFormat:
    f = M.facts(m)
    # Growing entries, plus recurrent states (cap 1): a linear-attention state cannot be recomputed
    # without the whole prefix, so it is always stored as it stands.
    grow = sum(t.at(context) for t in f.kv_stored if not math.isfinite(t.cap) or t.cap == 1)
    windows = [t for t in f.kv_stored if math.isfinite(t.cap) and t.cap > 1 and t.ratio == 1]
    window_per_token = sum(t.coef for t in windows)
    window_tokens = max((int(t.cap) for t in windows), default=0)
    # V4: tokens of an unfinished compression block are not stored; a hit recomputes them
    # (at most ratio - 1 tokens of the coarsest compression).
    tail = 0
    if isinstance(m.attention, CompressedAttention):
        coarsest = max(m.attention.compress_ratios)
        tail = context % coarsest
    if window_per_token == 0:
        return DiskFormat(policy, grow, 0.0, tail)
    if policy == WindowPolicy.full:
        window = window_per_token * context
        recompute = 0
    elif policy == WindowPolicy.checkpoint:
        window = window_per_token * window_tokens * (context // max(1, period))
        recompute = min(context, context % max(1, period))
    else:
        window = 0.0
        recompute = min(context, window_tokens * m.num_layers)    # V4 §3.5.2: n_win x L tokens
    return DiskFormat(policy, grow + window, window, max(tail, recompute))


@dataclass(frozen=True)
class Tier:
    tier: str                          # G1, G2, G3, G3.5, G4
    name: str
    present: bool
    capacity_available_bytes: float    # cluster-wide, for caching sessions
    read_bytes_per_s_available: float  # cluster-wide
    write_bytes_per_s_available: float | None
    read_bytes_per_s_per_gpu: float
    scope: str                         # "per GPU", "per node", "per rack", "pod", "cluster"
    units: int                         # how many of the scope the cluster has
    assumption: str | None
    capacity_needed_bytes: float = 0.0
    read_bytes_per_s_needed: float = 0.0
    write_bytes_per_s_needed: float = 0.0
    hit_rate: float = 0.0
    load_time_s: float | None = None
    latency_s: float = 0.0                    # per load, request to first byte
    link: str | None = None                   # the storage link this tier shares with others
    alone_capacity_bytes: float = 0.0         # this tier serving every reuse by itself (write-through)
    alone_read_bytes_per_s: float = 0.0
    alone_write_bytes_per_s: float = 0.0

    def to_dict(self) -> dict:
        per = self.units or 1
        return {
            "tier": self.tier, "name": self.name, "present": self.present, "scope": self.scope,
            "units": self.units,
            "capacity_needed_bytes": self.capacity_needed_bytes,
            "capacity_available_bytes": self.capacity_available_bytes,
            "read_bytes_per_s_needed": self.read_bytes_per_s_needed,
            "read_bytes_per_s_available": self.read_bytes_per_s_available,
            "write_bytes_per_s_needed": self.write_bytes_per_s_needed,
            "write_bytes_per_s_available": self.write_bytes_per_s_available,
            "hit_rate": self.hit_rate,
            "per_unit": {"capacity_needed_bytes": self.capacity_needed_bytes / per,
                         "capacity_available_bytes": self.capacity_available_bytes / per,
                         "read_bytes_per_s_needed": self.read_bytes_per_s_needed / per,
                         "write_bytes_per_s_needed": self.write_bytes_per_s_needed / per},
            "read_bytes_per_s_per_gpu": self.read_bytes_per_s_per_gpu,
            "load_time_s": self.load_time_s, "latency_s": self.latency_s, "link": self.link,
            "alone": {"capacity_needed_bytes": self.alone_capacity_bytes,
                      "read_bytes_per_s_needed": self.alone_read_bytes_per_s,
                      "write_bytes_per_s_needed": self.alone_write_bytes_per_s,
                      "per_unit": {"capacity_needed_bytes": self.alone_capacity_bytes / per,
                                   "read_bytes_per_s_needed": self.alone_read_bytes_per_s / per,
                                   "write_bytes_per_s_needed": self.alone_write_bytes_per_s / per}},
            "assumption": self.assumption,
        }


@dataclass(frozen=True)
class KvTiers:
    bytes_per_session: float
    disk: DiskFormat
    prefix_bytes: float               # KV a returning turn reloads (its prefix)
    prefix_bytes_per_gpu: float       # the part one prefill GPU loads (its TP share of its stage's layers)
    turn_end_rate: float              # states left behind per second
    retention_s: float
    recompute_s: float                # time to recompute the prefix alone where prefill runs
    break_even_bytes_per_s_per_gpu: float
    reusable_token_share: float       # prefix / (prefix + isl): the most a cache can save
    prefill_resident_s: float         # a request's prefill with its prefix already in HBM
    prefill_recompute_s: float        # a request's prefill recomputing its whole prefix
    retained_bytes: float             # session KV to keep for the retention (all tiers together)
    tiers: tuple[Tier, ...]
    nodes: int = 0                    # nodes of the cluster (a storage link is per node)

    @property
    def hit_rate(self) -> float:
        return sum(t.hit_rate for t in self.tiers)

    @property
    def reuse(self) -> PrefixReuse:
        """What the serving engine needs: the share of requests each tier serves, at its read rate
        per GPU (the rest recompute their prefix). Shares are rounded to REUSE_SHARE_DIGITS so that
        the tiers -> prefill -> cluster loop of planner.serving.deployment.settle reaches an exact fixed point,
        whichever way a deployment is evaluated (one replica, or the same replica's demand given)."""
        reads = tuple(TierRead(t.tier, round(t.hit_rate, REUSE_SHARE_DIGITS), t.read_bytes_per_s_per_gpu)
                      for t in self.tiers if round(t.hit_rate, REUSE_SHARE_DIGITS) > 0)
        return PrefixReuse(reads=reads, resident=False)


def available_tiers(hw: Hardware, gpus: int, nodes: int, racks: int, free_hbm_per_gpu: float) -> list[Tier]:
    """What each tier of this machine offers a cluster of this size. Absent tiers are kept in the
    list (present=False) so that the output says plainly which the hardware lacks."""
    tiers = [Tier("G1", "HBM (spare after weights and active KV)", True, max(0.0, free_hbm_per_gpu) * gpus,
                  hw.hbm.bandwidth_bytes_per_s * gpus, None, hw.hbm.bandwidth_bytes_per_s, "per GPU", gpus, None)]
    if hw.host:
        h = hw.host
        per_gpu = h.link_bandwidth_gbps * 1e9
        tiers.append(Tier("G2", f"host memory over {h.link}", True,
                          h.capacity_gb_per_node * 1e9 * HOST_MEMORY_FOR_KV * nodes,
                          per_gpu * gpus, per_gpu * gpus, per_gpu, "per node", nodes, None))
    else:
        tiers.append(Tier("G2", "host memory", False, 0.0, 0.0, 0.0, 0.0, "per node", nodes, None))
    if hw.nvme and hw.nvme.drives_per_node:
        n = hw.nvme
        read = n.drives_per_node * n.drive_read_gbps * 1e9
        tiers.append(Tier("G3", f"local NVMe ({n.drives_per_node} × {n.drive_capacity_tb:g} TB per node)", True,
                          n.drives_per_node * n.drive_capacity_tb * 1e12 * nodes, read * nodes,
                          n.drives_per_node * n.drive_write_gbps * 1e9 * nodes, read / hw.gpus_per_node,
                          "per node", nodes, n.assumption))
    else:
        tiers.append(Tier("G3", "local NVMe", False, 0.0, 0.0, 0.0, 0.0, "per node", nodes, None))
    link = hw.storage_link
    # a tier on the shared link reads (and writes) at most the link's rate per node
    link_per_node = link.bandwidth_gbps_per_node * 1e9 if link else math.inf

    def on_link(tier: str) -> str | None:
        return link.name if link and tier in link.shared_by else None

    if hw.pod_flash:
        p = hw.pod_flash
        cap = link_per_node / hw.gpus_per_node if on_link("pod_flash") else math.inf
        read = min(p.bandwidth_gbps_per_gpu * 1e9, cap)
        write = (min(p.write_bandwidth_gbps_per_gpu * 1e9, cap) * gpus
                 if p.write_bandwidth_gbps_per_gpu is not None else None)
        pods = math.ceil(racks / p.scope_racks)   # as Cluster.pods
        tiers.append(Tier("G3.5", f"pod flash (ICMS, {p.scope_racks} racks per pod, {pods} pod(s))", True,
                          p.capacity_tb_per_rack * 1e12 * racks, read * gpus, write, read, "per rack", racks,
                          p.assumption, latency_s=p.latency_us * 1e-6, link=on_link("pod_flash")))
    else:
        tiers.append(Tier("G3.5", "pod flash (ICMS)", False, 0.0, 0.0, 0.0, 0.0, "per rack", racks,
                          f"{hw.name} has no pod-level flash tier"))
    if hw.shared_storage:
        s = hw.shared_storage
        cap_link = link_per_node if on_link("shared_storage") else math.inf
        read = min(s.bandwidth_gbps_per_node * 1e9, cap_link)
        write = min(s.write_bandwidth_gbps_per_node * 1e9, cap_link) if s.write_bandwidth_gbps_per_node else read
        cap = s.capacity_pb * 1e15 if s.capacity_pb else math.inf
        tiers.append(Tier("G4", "shared storage", True, cap, read * nodes, write * nodes, read / hw.gpus_per_node,
                          "per node", nodes, s.assumption, latency_s=s.latency_us * 1e-6,
                          link=on_link("shared_storage")))
    else:
        tiers.append(Tier("G4", "shared storage", False, 0.0, 0.0, 0.0, 0.0, "per node", nodes, None))
    return tiers


def plan_tiers(m: Model, hw: Hardware, w: Workload, unit: UnitResult, requests_per_s: float,
               cluster: Cluster, engine: Engine) -> KvTiers:
    """Size every tier for the workload's reuse on this cluster (see module doc). Prefixes are
    loaded or recomputed where prefill runs (`unit.prefill_layout`: the prefill pool when
    disaggregated, otherwise the unit itself). Spare HBM (G1) is the unit GPUs' free memory."""
    policy, period = WindowPolicy(w.kv_window_policy), w.kv_checkpoint_tokens
    layout = unit.prefill_layout
    gpus, nodes, racks = cluster.gpus, cluster.nodes, cluster.racks
    final_ctx = w.final_context
    bytes_session = M.kv_bytes_per_sequence(m, final_ctx)
    disk = disk_format(m, final_ctx, policy, period)
    prefix_bytes = M.kv_bytes_per_sequence(m, w.prefix) if w.prefix else 0.0
    prefix_per_gpu = prefix_bytes * kv_share(m, layout)
    turns = max(1.0, w.turns_per_session)
    turn_end_rate = requests_per_s * (1 - 1 / turns) if turns > 1 else requests_per_s * (1.0 if w.prefix else 0.0)
    gap = max(w.turn_gap_s, 1e-3)
    # A state must outlive the gap before its session's next turn; past 5 mean gaps almost no turn
    # returns, and past the session lifetime none does.
    retention = min(w.session_lifetime_s or math.inf, RETENTION_GAPS * gap)
    needed_total = turn_end_rate * retention * disk.stored_bytes
    recompute_s = prefill(m, hw, layout, w.prefix, engine=engine).time_s if w.prefix else 0.0
    break_even = prefix_per_gpu / recompute_s if recompute_s > 0 else math.inf
    reusable = w.prefix / (w.prefix + w.isl) if (w.prefix + w.isl) else 0.0
    tiers = available_tiers(hw, gpus, nodes, racks, unit.budget.free_bytes)
    # One tier alone, write-through (DeepSeek's 3FS KV cache): it holds every retained state, serves
    # every hit within the retention, and receives every turn's new KV.
    alone_hits = (requests_per_s * (1 - math.exp(-retention / gap)) * (1 if w.prefix else 0)
                  * (1 - 1 / turns if turns > 1 else 1))
    new_bytes_per_turn = disk.stored_bytes - (disk_format(m, w.prefix, policy, period).stored_bytes
                                              if w.prefix else 0.0)
    alone = {"alone_capacity_bytes": needed_total, "alone_read_bytes_per_s": alone_hits * prefix_bytes,
             "alone_write_bytes_per_s": requests_per_s * new_bytes_per_turn}
    # Tiers are filled in sessions, not bytes: G1 keeps a state in its HBM format, the others in
    # the on-disk format, so a byte count would mix the two.
    # LRU demotion runs through the tiers fastest first: G1, then the others by read bandwidth per GPU
    # (the usual G2 > G3 > G3.5 > G4 order, unless a what-if makes a lower tier faster).
    results: dict[str, Tier] = {}
    tau_before = 0.0
    sessions_left = turn_end_rate * retention
    hit_rate_of = lambda tau: 1 - math.exp(-min(tau, retention) / gap)   # noqa: E731
    cascade = tiers[:1] + sorted(tiers[1:], key=lambda t: -t.read_bytes_per_s_per_gpu)
    for t in cascade:
        state_bytes = bytes_session if t.tier == "G1" else disk.stored_bytes
        # A tier that cannot be read, or reads slower than recomputing (below break-even), is not
        # used to hold reusable state: the states go on to the next tier (the verdicts say so).
        usable = t.present and t.read_bytes_per_s_per_gpu > 0 and (
            t.tier == "G1" or t.read_bytes_per_s_per_gpu >= break_even)
        capacity_sessions = t.capacity_available_bytes / state_bytes if state_bytes else 0.0
        held = min(sessions_left, capacity_sessions) if usable else 0.0
        tau_after = tau_before + (held / turn_end_rate if turn_end_rate else 0.0)
        hit = (hit_rate_of(tau_after) - hit_rate_of(tau_before)) if w.prefix else 0.0
        demoted = turn_end_rate * (1 - hit_rate_of(tau_before)) if held > 0 else 0.0
        load = t.latency_s + prefix_per_gpu / t.read_bytes_per_s_per_gpu if t.read_bytes_per_s_per_gpu else None
        results[t.tier] = (Tier(**{**t.__dict__,
                           "capacity_needed_bytes": sessions_left * state_bytes if usable else 0.0,
                           "read_bytes_per_s_needed": requests_per_s * hit * prefix_bytes,
                           "write_bytes_per_s_needed": demoted * state_bytes if t.tier != "G1" else 0.0,
                           "hit_rate": hit, "load_time_s": load, **alone}))
        sessions_left = max(0.0, sessions_left - held)
        tau_before = tau_after
    out = [results[t.tier] for t in tiers]
    resident = prefill(m, hw, layout, w.isl, w.prefix, engine=engine).time_s
    recompute_all = prefill(m, hw, layout, w.prefix + w.isl, engine=engine).time_s
    return KvTiers(bytes_per_session=bytes_session, disk=disk, prefix_bytes=prefix_bytes,
                   prefix_bytes_per_gpu=prefix_per_gpu, turn_end_rate=turn_end_rate, retention_s=retention,
                   recompute_s=recompute_s, break_even_bytes_per_s_per_gpu=break_even,
                   reusable_token_share=reusable, prefill_resident_s=resident, prefill_recompute_s=recompute_all,
                   retained_bytes=needed_total, tiers=tuple(out), nodes=nodes)


def tier_verdicts(hw: Hardware, w: Workload, kv: KvTiers) -> tuple[Verdict, ...]:
    """What the tiers say (built only when a plan's verdicts are wanted, not in sweeps)."""
    tiers, break_even, needed, disk = kv.tiers, kv.break_even_bytes_per_s_per_gpu, kv.retained_bytes, kv.disk
    out: list[Verdict] = []
    if not w.prefix:
        out.append(Verdict("kv", "storage", Severity.info,
                           "the workload reuses no prefix: KV tiers cannot save prefill"))
        return tuple(out)
    holding = [t for t in tiers if t.present and t.hit_rate > 0]
    deepest = holding[-1] if holding else None
    covered = sum(t.capacity_available_bytes for t in tiers if t.present)
    if deepest is not None:
        out.append(Verdict("kv", "storage", Severity.info,
                           f"{U.format_bytes(needed)} of session KV must be retained "
                           f"({U.format_bytes(disk.stored_bytes)} "
                           f"per session on disk, {disk.policy.value} window policy); "
                           f"it reaches down to {deepest.tier} "
                           f"({deepest.name}) for a {sum(t.hit_rate for t in tiers):.0%} hit rate"))
    if covered < needed:
        out.append(Verdict("kv", "storage", Severity.warning,
                           f"tiers hold {U.format_bytes(covered)} of the {U.format_bytes(needed)} the sessions need: "
                           "the oldest states are dropped and recomputed",
                           "more capacity in the deepest tier (drives per node or pod flash)"))
    store = next((t for t in tiers if t.tier in ("G3", "G3.5", "G4") and t.present), None)
    if store is not None:
        per = max(1, store.units)
        scope = store.scope.replace("per ", "")
        out.append(Verdict("kv", "storage", Severity.info,
                           f"as the only, write-through KV store, {store.tier} ({store.name}) needs "
                           f"{U.format_bytes(store.alone_capacity_bytes)} "
                           f"({U.format_bytes(store.alone_capacity_bytes / per)} per {scope}), "
                           f"{U.format_rate(store.alone_read_bytes_per_s)} read "
                           f"({U.format_rate(store.alone_read_bytes_per_s / per)} per {scope}) "
                           f"and {U.format_rate(store.alone_write_bytes_per_s)} write "
                           f"({U.format_rate(store.alone_write_bytes_per_s / per)} per {scope}); "
                           f"it has {U.format_bytes(store.capacity_available_bytes / per)}, "
                           f"{U.format_rate(store.read_bytes_per_s_available / per)} read"
                           + (f" and {U.format_rate(store.write_bytes_per_s_available / per)} write"
                              if store.write_bytes_per_s_available else "")
                           + f" per {scope}"))
    linked = [t for t in tiers if t.present and t.link]
    if linked and hw.storage_link is not None:
        available = hw.storage_link.bandwidth_gbps_per_node * 1e9 * kv.nodes
        for what, needed in (("read", sum(t.read_bytes_per_s_needed for t in linked)),
                             ("write", sum(t.write_bytes_per_s_needed for t in linked))):
            if needed > available > 0:
                names = " and ".join(t.tier for t in linked)
                out.append(Verdict("kv", "storage", Severity.warning,
                                   f"{names} share the {hw.storage_link.name}: together they need "
                                   f"{U.format_rate(needed)} of {what}, the link has {U.format_rate(available)}",
                                   f"{needed / available:.1f}× the storage-link bandwidth per node, or keep "
                                   "reuse in the faster tiers"))
    for t in tiers:
        if not t.present:
            if t.tier in ("G3", "G3.5"):
                out.append(Verdict("kv", "storage", Severity.info, f"{hw.name} has no {t.name} tier"))
            continue
        if t.tier != "G1" and 0 < t.read_bytes_per_s_per_gpu < break_even * NOT_WORTH_MARGIN:
            out.append(Verdict("kv", "storage", Severity.warning,
                               f"{t.tier} reads at {U.format_rate(t.read_bytes_per_s_per_gpu)} per GPU, below the "
                               f"{U.format_rate(break_even)} break-even: "
                               "recomputing the prefix is faster than loading it",
                               f"skip {t.tier} for reuse, or give it ≥ {U.format_rate(break_even)} per GPU"))
        if t.read_bytes_per_s_needed > t.read_bytes_per_s_available > 0:
            out.append(Verdict("kv", "storage", Severity.warning,
                               f"{t.tier} is read-bound: needs {U.format_rate(t.read_bytes_per_s_needed)}, has "
                               f"{U.format_rate(t.read_bytes_per_s_available)}",
                               f"{t.read_bytes_per_s_needed / t.read_bytes_per_s_available:.1f}× the read bandwidth "
                               f"({t.scope})"))
        if t.write_bytes_per_s_available and t.write_bytes_per_s_needed > t.write_bytes_per_s_available:
            out.append(Verdict("kv", "storage", Severity.warning,
                               f"{t.tier} is write-bound: needs {U.format_rate(t.write_bytes_per_s_needed)}, has "
                               f"{U.format_rate(t.write_bytes_per_s_available)}",
                               f"{t.write_bytes_per_s_needed / t.write_bytes_per_s_available:.1f}× the write "
                               f"bandwidth ({t.scope}), or the checkpoint window policy"))
    return tuple(out)
