"""A plan as `size` and `estimate` print it (and its Markdown), its verdicts, and the KV tiers (`planner kv`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from cli.render.console import FittedTable, bold, line, out, pct, table
from planner import units as U

if TYPE_CHECKING:
    from planner.plan.schema import Plan, VerdictOut


BAR_WIDTH = 24
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "green"}


def _bar(share: float) -> str:
    """A horizontal bar of eighth-blocks, BAR_WIDTH cells for 100%."""
    eighths = max(0, round(min(share, 1.0) * BAR_WIDTH * 8))
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


def _budget(p: Plan) -> FittedTable:
    b = p.per_gpu
    assert b is not None
    cap = b.capacity_bytes
    rows = [("weights", b.weights_bytes), ("kv", b.kv_bytes), ("activation", b.activation_bytes),
            ("reserve", b.reserve_bytes), ("free", b.free_bytes)]
    return table(f"HBM per GPU ({U.format_bytes(cap)})", ["", "bytes", "share", ""],
                  ((name, U.format_bytes(v), pct(v / cap), _bar(v / cap)) for name, v in rows), right=(1, 2))


def _phases(p: Plan) -> FittedTable:
    assert p.phases is not None
    cols = ["phase", "compute", "HBM", "up", "out", "storage", "time", "bound by"]
    rows = [(name, *(U.format_seconds(v) for v in (t.compute_s, t.hbm_s, t.scale_up_s, t.scale_out_s, t.storage_s,
                                                   t.time_s)), t.bottleneck)
            for name, t in (("prefill", p.phases.prefill), ("decode", p.phases.decode))]
    return table("Phase times per step, each resource alone (up/out: scale-up/scale-out links)", cols, rows,
                  right=(1, 2, 3, 4, 5, 6))


def verdicts(items: Iterable[VerdictOut]) -> None:
    """Verdicts of a plan (or of a training run: any objects with severity, message and lever),
    wrapped with a hanging indent."""
    line(bold("Verdicts"))
    grid = Table.grid()
    grid.add_column(width=10, no_wrap=True)
    grid.add_column(ratio=1)
    for v in items:
        severity = str(v.severity)
        grid.add_row(Text.assemble("  ", (f"{severity:8s}", SEVERITY_STYLE[severity])), Text(v.message))
        if v.lever:
            grid.add_row(Text("        → "), Text(v.lever))
    out.print(grid)


_RANGE_NOTE = "  (ranges: the central 80% of planner's error against published measurements, docs/validation.md)"


def _ranged(value: float, low: float | None, high: float | None) -> str:
    """'26.2 ms (24.8–37.7 ms)': the value and its validation range when present."""
    text = U.format_seconds(value)
    return text if low is None or high is None else f"{text} ({U.format_seconds(low)}–{U.format_seconds(high)})"


def _layout_cell(lay: Any) -> str:
    return f"{lay.tp}/{lay.dp}/{lay.ep}/{lay.pp}"


def _pools_table(p: Plan) -> FittedTable:
    rows = [(pool.role, str(pool.units), _layout_cell(pool.layout), f"{pool.layout.batch:,}", str(pool.layout.gpus),
             str(pool.gpus), f"{pool.requests_per_s_per_unit:,.2f}") for pool in p.pools]
    return table("Layout (batch = sequences per attention-DP rank)",
                  ["pool", "units", "tp/dp/ep/pp", "batch", "GPUs/unit", "GPUs", "req/s/unit"], rows,
                  right=(1, 3, 4, 5, 6))


def _domain_lines(p: Plan) -> list[str]:
    dom = p.domain
    lines = [f"scale-up domain: {dom.size} GPUs on this machine"]
    if dom.comparison:
        parts = []
        for r in dom.comparison:
            gpus = "infeasible" if r.gpus is None else f"{r.gpus:,} GPUs"
            parts.append(f"{r.domain_size}: {gpus}" + (" (EP crosses NICs)" if r.ep_crosses_domain else ""))
        lines.append("  same workload by domain size — " + "; ".join(parts))
        if dom.smallest_working:
            lines.append(f"  smallest domain that keeps EP inside: {dom.smallest_working}; "
                         f"larger domains stop paying beyond {dom.knee}")
    return lines


def _cluster_line(p: Plan) -> str:
    c = p.cluster
    assert c is not None
    split = f" ({c.prefill_gpus:,} prefill + {c.decode_gpus:,} decode)" if c.prefill_gpus else ""
    spare = f" ({c.gpus_provisioned:,} provisioned)" if c.gpus_provisioned != c.gpus else ""
    pods = f", {c.pods:,} pod(s)" if c.pods else ""
    return (f"cluster: {c.gpus:,} GPUs{split} in {c.nodes:,} nodes{spare}, {c.racks:,} racks{pods}, "
            f"{c.domains:,} scale-up domains, {c.power_w / 1e3:,.1f} kW")


def _alternatives_table(p: Plan) -> FittedTable:
    """The chosen layout and the next cheapest ones (size --top N), each as pinning it gives."""
    assert p.layout is not None and p.cluster is not None and p.ttft_s is not None and p.tpot_s is not None
    c = p.cluster
    priced = c.cost_per_hour is not None
    head = ["#", "layout", "serving", "batch", "GPUs", "racks", "power", *(["$/M out"] if priced else []),
            "TTFT", "TPOT", "tok/s/GPU", "ok"]
    rows = [("1 (chosen)", p.layout.label(), p.layout.serving, p.layout.batch, c.gpus, c.racks, c.power_w,
             p.usd_per_million_output_tokens, p.ttft_s, p.tpot_s, p.tokens_per_s_per_gpu, p.feasible)]
    rows += [(str(i), a.layout.label() + (f" + prefill {a.prefill_layout}" if a.prefill_layout else ""),
              a.layout.serving, a.layout.batch, a.gpus, a.racks, a.power_w, a.usd_per_million_output_tokens,
              a.ttft_s, a.tpot_s, a.tokens_per_s_per_gpu, a.feasible) for i, a in enumerate(p.alternatives, 2)]
    cells = [[n, lay, serving, f"{b:,}", f"{g:,}", f"{r:,}", f"{w / 1e3:,.1f} kW",
              *([f"${usd:,.3f}" if usd is not None else ""] if priced else []),
              U.format_seconds(t1), U.format_seconds(t2), f"{tps:,.0f}" if tps else "", "yes" if ok else "no"]
             for n, lay, serving, b, g, r, w, usd, t1, t2, tps, ok in rows]
    return table(f"The {len(rows)} cheapest layouts (each as `size --layout` pins it)", head, cells,
                 right=tuple(range(3, len(head) - 1)))


def _cost_line(p: Plan) -> str | None:
    """Dollars per hour and month and per million tokens (the price's basis is an assumption line)."""
    c = p.cluster
    if c is None or c.cost_per_hour is None:
        return None
    money = lambda x: f"${x:,.3f}" if x < 10 else f"${x:,.2f}"   # noqa: E731
    per_m = []
    if p.usd_per_million_output_tokens is not None:
        at_cap = p.usd_per_million_output_tokens_at_capacity
        per_m.append(f"{money(p.usd_per_million_output_tokens)} per million output tokens at the demand"
                     + (f" ({money(at_cap)} at capacity)" if at_cap is not None else ""))
    if p.usd_per_million_input_tokens is not None:
        per_m.append(f"{money(p.usd_per_million_input_tokens)} per million prompt tokens")
    return (f"cost: ${c.cost_per_hour:,.0f}/hour, ${c.cost_per_month:,.0f}/month"
            + (f"; {'; '.join(per_m)} (each charges the whole cluster to that token kind)" if per_m else ""))


def _latency_lines(p: Plan) -> list[str]:
    assert p.ttft_s is not None and p.tpot_s is not None and p.decode_step_s is not None
    stretch = (f", stretched {1 / (1 - p.prefill_share):.2f}× by co-located prefills" if p.prefill_share else "")
    mtp = (f", {p.accepted_tokens_per_step:.2f} tokens accepted per step" if p.accepted_tokens_per_step
           and p.accepted_tokens_per_step > 1 else "")
    at_demand, capacity = p.tokens_per_s_per_gpu_at_demand, p.tokens_per_s_per_gpu
    assert capacity is not None
    demand = f"; {at_demand:,.1f} at the demand" if at_demand and abs(at_demand - capacity) > 0.05 else ""
    return [f"TTFT {_ranged(p.ttft_s, p.ttft_s_low, p.ttft_s_high)}, "
            f"TPOT {_ranged(p.tpot_s, p.tpot_s_low, p.tpot_s_high)} "
            f"({p.tokens_per_s_per_user:,.1f} tokens/s per user; decode step {U.format_seconds(p.decode_step_s)}"
            f"{stretch}{mtp})",
            f"{p.tokens_per_s_per_gpu:,.1f} output tokens/s per GPU at capacity{demand}"]


def _slo_line(p: Plan) -> str | None:
    if not p.slo:
        return None
    parts = []
    for s in p.slo:
        shown = (lambda x: f"{x:,.1f} tokens/s") if s.unit == "tokens/s" else U.format_seconds
        actual = "no plan" if s.actual is None else shown(s.actual)
        parts.append(f"{s.name.replace('_', ' ')} {actual} {'≥' if s.unit == 'tokens/s' else '≤'} {shown(s.target)} "
                     + ("met" if s.met else "MISSED"))
    return "targets: " + "; ".join(parts)


def plan(p: Plan, estimate: bool = False) -> None:
    """The plan as `size` and `estimate` print it."""
    if estimate and p.layout is not None:
        lay = p.layout
        line(bold(p.model), " on ", bold(p.hardware),
             f": {lay.label().replace(',', ' ')}, batch {lay.batch:,} per DP rank, "
             f"{lay.serving}; ISL {p.isl:,} + prefix {p.prefix:,}, OSL {p.osl:,}; one replica at its capacity, "
             f"{p.requests_per_s:,.2f} requests/s")
    else:
        line(bold(p.model), " on ", bold(p.hardware), " for ", bold(p.workload),
             f": {p.requests_per_s:,.2f} requests/s, ISL {p.isl:,} + prefix {p.prefix:,}, OSL {p.osl:,}")
    if p.layout is None or p.cluster is None:
        slo = _slo_line(p)
        if slo:
            line(slo)
        verdicts(p.verdicts)
        line(("infeasible", "bold red"), ": no layout meets the workload")
        return
    out.print(_pools_table(p))
    out.print(_budget(p))
    assert p.per_gpu is not None
    line(f"largest batch that fits: {p.per_gpu.max_batch:,} sequences per DP rank")
    for text in _domain_lines(p):
        line(text)
    line(_cluster_line(p))
    cost = _cost_line(p)
    if cost:
        line(cost)
    out.print(_phases(p))
    for text in _latency_lines(p):
        line(text)
    slo = _slo_line(p)
    if slo:
        line(slo)
    line(_RANGE_NOTE)
    for a in p.assumptions:
        line(f"  assumed: {a}")
    if p.kv is not None:
        for text in _kv_summary(p):
            line(text)
        out.print(_tiers_table(p))
    if p.alternatives:
        out.print(_alternatives_table(p))
    verdicts(p.verdicts)
    if not p.feasible:
        first = next((v.message for v in p.verdicts if v.severity == "error"), "see the verdicts")
        line(("infeasible", "bold red"), f": {first}")


def plan_markdown(p: Plan) -> str:
    """A PR-comment-sized summary."""
    lines = [f"### planner: {p.model} on {p.hardware} ({p.workload})", ""]
    if p.layout is None or p.cluster is None or p.phases is None:
        lines.append("**Infeasible**")
    else:
        c = p.cluster
        assert p.ttft_s is not None and p.tpot_s is not None
        cost = "" if c.cost_per_hour is None else f"${c.cost_per_hour:,.0f}/hour"
        per_m = "" if p.usd_per_million_output_tokens is None else f"${p.usd_per_million_output_tokens:,.3f}"
        lines += ["| GPUs | nodes | racks | power | cost | $/M output tokens | TTFT | TPOT |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {c.gpus:,} | {c.nodes:,} | {c.racks:,} | {c.power_w / 1e3:,.1f} kW | {cost} | {per_m} | "
                  f"{U.format_seconds(p.ttft_s)} | {U.format_seconds(p.tpot_s)} |", "",
                  "| pool | units | parallelism | batch/DP rank |", "|---|---:|---|---:|"]
        for pool in p.pools:
            lay = pool.layout
            lines.append(f"| {pool.role} | {pool.units} | "
                         f"tp={lay.tp} dp={lay.dp} ep={lay.ep} pp={lay.pp} | {lay.batch:,} |")
        lines += ["", "| phase | bound by | time |", "|---|---|---:|"]
        for name, t in (("prefill", p.phases.prefill), ("decode", p.phases.decode)):
            lines.append(f"| {name} | {t.bottleneck} | {U.format_seconds(t.time_s)} |")
        if not p.feasible:
            lines += ["", "**Infeasible**: a target is missed (see the verdicts)"]
    lines += ["", "**Verdicts**", ""]
    for v in p.verdicts:
        lever = f" — {v.lever}" if v.lever else ""
        lines.append(f"- `{v.severity}` {v.message}{lever}")
    return "\n".join(lines) + "\n"


# ---- KV tiers ------------------------------------------------------------------------------------

TIER_LABELS = {"G1": "G1 HBM", "G2": "G2 host", "G3": "G3 NVMe", "G3.5": "G3.5 pod", "G4": "G4 shared"}


def _tiers_table(p: Plan) -> FittedTable:
    """Cluster-wide tier figures; 'need' is what faster tiers do not already hold."""
    rows = []
    for t in p.kv_tiers:
        label = TIER_LABELS.get(t.tier, t.tier)
        if not t.present:
            rows.append((label, "absent", "", "", "", "", "", ""))
            continue
        load = U.format_seconds(t.load_time_s, 3) if t.load_time_s is not None else ""
        have = U.format_bytes(t.capacity_available_bytes, 3) if t.capacity_available_bytes is not None else "∞"
        rows.append((label, f"{t.hit_rate:.1%}", U.format_bytes(t.capacity_needed_bytes, 3), have,
                     U.format_rate(t.read_bytes_per_s_needed, 3), U.format_rate(t.read_bytes_per_s_available, 3),
                     U.format_rate(t.write_bytes_per_s_needed, 3), load))
    tiers = table("KV-cache tiers, cluster-wide (need: what faster tiers do not hold; load: one hit)",
                  ["tier", "hits", "need", "have", "read need", "read have", "write need", "load"],
                  rows, right=(1, 2, 3, 4, 5, 6, 7))
    tiers.padding = (0, 1)
    return tiers


def _kv_summary(p: Plan) -> list[str]:
    k = p.kv
    assert k is not None
    wins = (f"loading wins above {U.format_rate(k.break_even_bytes_per_s_per_gpu)} per GPU"
            if k.break_even_bytes_per_s_per_gpu is not None else "nothing to reload")
    return [
        f"KV per session {U.format_bytes(k.bytes_per_session)} in HBM, {U.format_bytes(k.disk_bytes_per_session)} "
        f"on disk ({k.window_policy} window policy, {U.format_bytes(k.window_state_bytes_on_disk)} of window state; "
        f"a hit recomputes {k.recompute_tokens_on_hit:,} tokens)",
        f"a returning turn reloads {U.format_bytes(k.prefix_bytes)} ({U.format_bytes(k.prefix_bytes_per_gpu)} per GPU) "
        f"or recomputes it in {U.format_seconds(k.recompute_s)}: {wins}",
        f"prefill (before queueing) {U.format_seconds(k.ttft_with_tiers_s)} with the tiers vs "
        f"{U.format_seconds(k.ttft_without_tiers_s)} recomputing the prefix; {k.hit_rate:.1%} of returning turns "
        f"hit, {k.prefix_token_hit_rate:.1%} of prompt tokens",
    ]


def kv(p: Plan) -> None:
    line(bold(p.model), " on ", bold(p.hardware), " for ", bold(p.workload))
    if p.kv is None or p.cluster is None:
        verdicts(p.verdicts)
        return
    c = p.cluster
    line(f"cluster from `planner size`: {c.gpus:,} GPUs, {c.nodes:,} nodes, {c.racks:,} racks; "
         f"{p.requests_per_s:,.2f} requests/s, states kept "
         + (U.format_seconds(p.kv.retention_s) if p.kv.retention_s is not None else "for the session"))
    for text in _kv_summary(p):
        line(text)
    out.print(_tiers_table(p))
    for t in p.kv_tiers:
        if t.present and t.assumption:
            line(f"{t.tier} assumption: {t.assumption}")
    verdicts(p.verdicts)
