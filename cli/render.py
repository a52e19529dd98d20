"""All terminal output lives here: one console for stdout, one for stderr.

Rich tables in a terminal, plain text when not a TTY (rich detects it), JSON for machines. Both
consoles have markup off: user text (model, workload and file names, messages) is never
interpreted, and styles are applied with Text objects, never with "[bold]" strings.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich import box

from planner import units as U
from planner.io import to_json

if TYPE_CHECKING:
    from planner.check import CheckResult
    from planner.plan import Plan, VerdictOut

_width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
out = Console(width=_width, highlight=False, soft_wrap=False, markup=False, emoji=False)
err = Console(stderr=True, width=_width, highlight=False, markup=False, emoji=False)


def bold(text: str) -> tuple[str, str]:
    return (text, "bold")


def line(*parts: str | tuple[str, str]) -> None:
    """One line on stdout from plain strings and (text, style) pairs, wrapped at word boundaries
    to the terminal width; nothing is parsed."""
    out.print(Text.assemble(*parts))


def error(message: str) -> None:
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def note(message: str) -> None:
    err.print(Text(message), soft_wrap=True)


def json_out(data: Any) -> None:
    # print() bypasses rich so JSON is never wrapped or styled
    print(to_json(data))


def _table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[str]],
           right: tuple[int, ...] = ()) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i in right else "left", overflow="fold", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    return table


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


# ---- models ------------------------------------------------------------------------------------

def model_list(rows: list[dict[str, Any]]) -> None:
    out.print(_table("Model presets", ["name", "attention", "total", "active", "KV/token", "aliases"],
                     ([r["name"], r["attention"], U.format_count(r["total"]), U.format_count(r["active"]),
                       U.format_bytes(r["kv_bytes_per_token"]), ", ".join(r["aliases"])] for r in rows),
                     right=(2, 3, 4)))


def model_show(d: dict[str, Any]) -> None:
    p, w, kv, fl, ep = d["params"], d["weights"], d["kv"], d["flops"], d["ep"]
    line(bold(d["model"]), "  ", d["description"])
    layers = ", ".join(f"{n} {k}" for k, n in d["layers"].items() if n)
    out.print(f"attention: {d['attention']} ({layers})")
    prec = d["precision"]
    out.print("precision: " + ", ".join(f"{k} {v}" for k, v in prec.items() if v))
    rows = [
        ("embeddings", p["embeddings"], w["embeddings_bytes"]),
        ("LM head", p["lm_head"], w["lm_head_bytes"]),
        ("attention", p["attention"], w["attention_bytes"]),
        ("dense MLP", p["dense_mlp"], w["dense_mlp_bytes"]),
        ("routed experts", p["routed_experts"], w["routed_experts_bytes"]),
        ("shared experts", p["shared_experts"], w["shared_experts_bytes"]),
        ("norms, routers", p["norms"] + p["router"], w["small_tensors_bytes"]),
        ("total", p["total"], w["total_bytes"]),
        ("MTP (separate)", p["mtp"], w["mtp_bytes"]),
    ]
    out.print(_table("Parameters and weight bytes", ["component", "params", "bytes"],
                     ((n, U.format_count(a), U.format_bytes(b)) for n, a, b in rows if a), right=(1, 2)))
    out.print(f"activated per token: {U.format_count(p['active'])} "
              f"({U.format_count(p['active_with_embeddings'])} with the input embedding)")
    rep = " (replicated on every TP rank)" if kv["replicated_under_tp"] else " (KV heads shard under TP)"
    out.print(f"KV ({kv['dtype']}): {U.format_bytes(kv['bytes_per_token'])}/token growing"
              + (f" + {U.format_bytes(kv['window_state_bytes'])} fixed state (sliding windows, recurrent layers)"
                 if kv["window_state_bytes"] else "")
              + f"; {U.format_bytes(kv['bytes_per_sequence'])} per sequence at {kv['context']:,} tokens{rep}")
    out.print(f"FLOPs: decode {U.format_flop(fl['decode_per_token'])}/token at {kv['context']:,} tokens; "
              f"training {U.format_flop(fl['train_per_token'])}/token at sequence {fl['train_sequence']:,}")
    if ep["flops_per_comm_byte"]:
        out.print(f"expert parallel: {ep['flops_per_comm_byte']:,.0f} FLOPs per byte of dispatch "
                  f"({ep['dispatch']}) + combine ({ep['combine']}) traffic: links hide EP traffic while "
                  "peak FLOP/s ÷ link bytes/s stays below it")


# ---- hardware ----------------------------------------------------------------------------------

def _peak(x: float | None) -> str:
    return U.format_flops(x) if x else "—"


def _bal(x: float | None) -> str:
    return f"{x:,.0f}" if x else "—"


def hardware_list(rows: list[dict[str, Any]]) -> None:
    out.print(_table("Hardware presets", ["name", "status", "HBM", "HBM B/W", "FP8 dense", "FP4 dense",
                                          "scale-up/GPU", "domain"],
                     ([r["name"], r["status"], U.format_bytes(r["hbm"]["capacity_bytes"]),
                       U.format_rate(r["hbm"]["bandwidth_bytes_per_s"]), _peak(r["peak_flops"]["fp8"]),
                       _peak(r["peak_flops"]["fp4"]), U.format_rate(r["scale_up"]["bandwidth_bytes_per_s"]),
                       str(r["scale_up"]["domain_size"])] for r in rows), right=(2, 3, 4, 5, 6, 7)))


def _label(key: str) -> str:
    """'read_bytes_per_s_per_node' -> 'read per node'."""
    return key.replace("_bytes_per_s", "").replace("_bytes", "").replace("_", " ")


def hardware_show(d: dict[str, Any]) -> None:
    h = d["hbm"]
    line(bold(d["name"]), f" ({d['status']})  ", d["description"])
    pins = f", {h['stacks']} stacks at {h['pin_speed_gbps']:.2f} Gb/s per pin" if h["pin_speed_gbps"] else ""
    out.print(f"HBM: {U.format_bytes(h['capacity_bytes'])} usable ({U.format_gib(h['capacity_bytes'])}), "
              f"{U.format_rate(h['bandwidth_bytes_per_s'])}{pins}")
    su, so = d["scale_up"], d["scale_out"]
    out.print(f"scale-up: {su['technology']}, {U.format_rate(su['bandwidth_bytes_per_s'])} per GPU per direction, "
              f"domain {su['domain_size']} GPUs; scale-out: {so['technology']}, "
              f"{U.format_rate(so['bandwidth_bytes_per_s'])} per GPU")
    pw = d["power"]
    line(f"GPUs per node {d['gpus_per_node']}, per rack {d['gpus_per_rack']}; power {pw['gpu_w']:,.0f} W per GPU (TDP), "
         f"{pw['system_w_per_gpu']:,.0f} W per GPU system IT power ({pw['system_basis']})")
    rows = []
    for cls in ("bf16", "fp8", "fp4"):
        rows.append((cls.upper(), _peak(d["peak_flops"][cls]), _bal(d["balance"]["hbm"][cls]),
                     _bal(d["balance"]["scale_up"][cls]), _bal(d["balance"]["scale_out"][cls])))
    out.print(_table("Dense peaks and balance points (FLOPs per byte; above it the link binds)",
                     ["precision", "dense peak", "HBM", "scale-up", "scale-out"], rows, right=(1, 2, 3, 4)))
    for tier, t in d["tiers"].items():
        parts = [f"{_label(k)} {U.format_rate(v) if 'per_s' in k else U.format_bytes(v) if 'bytes' in k else v}"
                 for k, v in t.items() if v is not None and k != "assumption"]
        out.print(f"{tier}: " + "; ".join(parts))
        if t.get("assumption"):
            out.print(f"    assumption: {t['assumption']}")
    eff = d["efficiency"]
    out.print(f"efficiency: compute {eff['compute']}, HBM {eff['hbm']}, scale-up {eff['scale_up']}, "
              f"scale-out {eff['scale_out']} ({eff['origin']})")
    for n in d["notes"]:
        out.print(f"note: {n}")


# ---- plans (size, estimate, check) ----------------------------------------------------------------

BAR_WIDTH = 24
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "green"}


def _bar(share: float) -> str:
    """A horizontal bar of eighth-blocks, BAR_WIDTH cells for 100%."""
    eighths = max(0, round(min(share, 1.0) * BAR_WIDTH * 8))
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


def _budget(p: "Plan") -> Table:
    b = p.per_gpu
    assert b is not None
    cap = b.capacity_bytes
    rows = [("weights", b.weights_bytes), ("kv", b.kv_bytes), ("activation", b.activation_bytes),
            ("reserve", b.reserve_bytes), ("free", b.free_bytes)]
    return _table(f"HBM per GPU ({U.format_bytes(cap)})", ["", "bytes", "share", ""],
                  ((name, U.format_bytes(v), _pct(v / cap), _bar(v / cap)) for name, v in rows), right=(1, 2))


def _phases(p: "Plan") -> Table:
    assert p.phases is not None
    cols = ["phase", "compute", "HBM", "up", "out", "storage", "time", "bound by"]
    rows = [(name, *(U.format_seconds(v) for v in (t.compute_s, t.hbm_s, t.scale_up_s, t.scale_out_s, t.storage_s,
                                                   t.time_s)), t.bottleneck)
            for name, t in (("prefill", p.phases.prefill), ("decode", p.phases.decode))]
    return _table("Phase times per step, each resource alone (up/out: scale-up/scale-out links)", cols, rows,
                  right=(1, 2, 3, 4, 5, 6))


def verdicts(items: "Iterable[VerdictOut]") -> None:
    """Verdicts of a plan (or of a training run: any objects with severity, message and lever),
    wrapped with a hanging indent."""
    line(bold("Verdicts"))
    grid = Table.grid(padding=(0, 1), pad_edge=False)
    grid.add_column(width=1)
    grid.add_column(width=7, no_wrap=True)
    grid.add_column(ratio=1)
    for v in items:
        severity = str(v.severity)
        grid.add_row("", Text(severity, style=SEVERITY_STYLE[severity]), Text(v.message))
        if v.lever:
            grid.add_row("", Text("      →", no_wrap=True), Text(v.lever))
    out.print(grid)


_RANGE_NOTE = "  (ranges: the central 80% of planner's error against measured-kernel references, docs/validation.md)"


def _ranged(value: float, low: float | None, high: float | None) -> str:
    """'26.2 ms (24.8–37.7 ms)': the value and its validation range when present."""
    text = U.format_seconds(value)
    return text if low is None or high is None else f"{text} ({U.format_seconds(low)}–{U.format_seconds(high)})"


def text_out(text: str) -> None:
    print(text, end="" if text.endswith("\n") else "\n")


def _layout_cell(lay: Any) -> str:
    return f"{lay.tp}/{lay.dp}/{lay.ep}/{lay.pp}"


def _pools_table(p: "Plan") -> Table:
    rows = [(pool.role, str(pool.units), _layout_cell(pool.layout), f"{pool.layout.batch:,}", str(pool.layout.gpus),
             str(pool.gpus), f"{pool.requests_per_s_per_unit:,.2f}") for pool in p.pools]
    return _table("Layout (batch = sequences per attention-DP rank)",
                  ["pool", "units", "tp/dp/ep/pp", "batch", "GPUs/unit", "GPUs", "req/s/unit"], rows, right=(1, 3, 4, 5, 6))


def _domain_lines(p: "Plan") -> list[str]:
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


def _cluster_line(p: "Plan") -> str:
    c = p.cluster
    assert c is not None
    cost = f", ${c.cost_per_hour:,.0f}/hour" if c.cost_per_hour else ""
    split = f" ({c.prefill_gpus:,} prefill + {c.decode_gpus:,} decode)" if c.prefill_gpus else ""
    spare = f" ({c.gpus_provisioned:,} provisioned)" if c.gpus_provisioned != c.gpus else ""
    pods = f", {c.pods:,} pod(s)" if c.pods else ""
    return (f"cluster: {c.gpus:,} GPUs{split} in {c.nodes:,} nodes{spare}, {c.racks:,} racks{pods}, "
            f"{c.domains:,} scale-up domains, {c.power_w / 1e3:,.1f} kW{cost}")


def _latency_lines(p: "Plan") -> list[str]:
    assert p.ttft_s is not None and p.tpot_s is not None and p.decode_step_s is not None
    stretch = (f", stretched {1 / (1 - p.prefill_share):.2f}× by co-located prefills" if p.prefill_share else "")
    mtp = (f", {p.accepted_tokens_per_step:.2f} tokens accepted per step" if p.accepted_tokens_per_step
           and p.accepted_tokens_per_step > 1 else "")
    at_demand = p.tokens_per_s_per_gpu_at_demand
    demand = f"; {at_demand:,.1f} at the demand" if at_demand and abs(at_demand - p.tokens_per_s_per_gpu) > 0.05 else ""
    return [f"TTFT {_ranged(p.ttft_s, p.ttft_s_low, p.ttft_s_high)}, TPOT {_ranged(p.tpot_s, p.tpot_s_low, p.tpot_s_high)} "
            f"({p.tokens_per_s_per_user:,.1f} tokens/s per user; decode step {U.format_seconds(p.decode_step_s)}"
            f"{stretch}{mtp})",
            f"{p.tokens_per_s_per_gpu:,.1f} output tokens/s per GPU at capacity{demand}"]


def _slo_line(p: "Plan") -> str | None:
    if not p.slo:
        return None
    parts = []
    for s in p.slo:
        shown = (lambda x: f"{x:,.1f} tokens/s") if s.unit == "tokens/s" else U.format_seconds
        actual = "no plan" if s.actual is None else shown(s.actual)
        parts.append(f"{s.name.replace('_', ' ')} {actual} {'≥' if s.unit == 'tokens/s' else '≤'} {shown(s.target)} "
                     + ("met" if s.met else "MISSED"))
    return "targets: " + "; ".join(parts)


def plan(p: "Plan", estimate: bool = False) -> None:
    """The plan as `size` and `estimate` print it."""
    if estimate and p.layout is not None:
        lay = p.layout
        line(bold(p.model), " on ", bold(p.hardware), f": {lay.label().replace(',', ' ')}, batch {lay.batch:,} per DP rank, "
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
    verdicts(p.verdicts)
    if not p.feasible:
        first = next((v.message for v in p.verdicts if v.severity == "error"), "see the verdicts")
        line(("infeasible", "bold red"), f": {first}")


def plan_markdown(p: "Plan") -> str:
    """A PR-comment-sized summary."""
    lines = [f"### planner: {p.model} on {p.hardware} ({p.workload})", ""]
    if p.layout is None or p.cluster is None or p.phases is None:
        lines.append("**Infeasible**")
    else:
        c = p.cluster
        assert p.ttft_s is not None and p.tpot_s is not None
        lines += ["| GPUs | nodes | racks | power | TTFT | TPOT |", "|---:|---:|---:|---:|---:|---:|",
                  f"| {c.gpus:,} | {c.nodes:,} | {c.racks:,} | {c.power_w / 1e3:,.1f} kW | "
                  f"{U.format_seconds(p.ttft_s)} | {U.format_seconds(p.tpot_s)} |", "",
                  "| pool | units | parallelism | batch/DP rank |", "|---|---:|---|---:|"]
        for pool in p.pools:
            lay = pool.layout
            lines.append(f"| {pool.role} | {pool.units} | tp={lay.tp} dp={lay.dp} ep={lay.ep} pp={lay.pp} | {lay.batch:,} |")
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


def _tiers_table(p: "Plan") -> Table:
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
    table = _table("KV-cache tiers, cluster-wide (need: what faster tiers do not hold; load: one hit)",
                   ["tier", "hits", "need", "have", "read need", "read have", "write need", "load"],
                   rows, right=(1, 2, 3, 4, 5, 6, 7))
    table.padding = (0, 1)
    return table


def _kv_summary(p: "Plan") -> list[str]:
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


def kv(p: "Plan") -> None:
    line(bold(p.model), " on ", bold(p.hardware), " for ", bold(p.workload))
    if p.kv is None or p.cluster is None:
        verdicts(p.verdicts)
        return
    c = p.cluster
    line(f"cluster from `planner size`: {c.gpus:,} GPUs, {c.nodes:,} nodes, {c.racks:,} racks; "
         f"{p.requests_per_s:,.2f} requests/s, states kept {U.format_seconds(p.kv.retention_s)}")
    for text in _kv_summary(p):
        line(text)
    out.print(_tiers_table(p))
    for t in p.kv_tiers:
        if t.present and t.assumption:
            line(f"{t.tier} assumption: {t.assumption}")
    verdicts(p.verdicts)


# ---- check ---------------------------------------------------------------------------------------

def check_results(results: "list[CheckResult]") -> None:
    for r in results:
        mark = ("pass", "green") if r.passed else ("fail", "bold red")
        line(bold(r.source), f" ({r.kind}): ", mark)
        rows = [(c.name, c.expected, c.actual, "pass" if c.passed else "FAIL", str(c.line)) for c in r.checks]
        out.print(_table(None, ["check", "expected", "actual", "result", "line"], rows))
        for c in r.checks:
            if not c.passed:
                line("  ", ("✗", "red"), " ", c.message)


# ---- diff ----------------------------------------------------------------------------------------

def _diff_value(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return U.format_seconds(value)
    if unit == "W":
        return f"{value / 1e3:,.1f} kW"
    if unit == "B":
        return U.format_bytes(value)
    if unit == "B/s":
        return U.format_rate(value)
    if unit == "share":
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _diff_rows(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    out = []
    for r in rows:
        rel = f"{r['relative_change']:+.1%}" if r["relative_change"] is not None else ""
        out.append((r["field"], _diff_value(r["old"], r["unit"]), _diff_value(r["new"], r["unit"]), rel))
    return out


def diff_table(old: str, new: str, rows: list[dict[str, Any]]) -> None:
    line(bold(old), " → ", bold(new))
    if not rows:
        out.print("no changes")
        return
    out.print(_table(None, ["field", "old", "new", "change"], _diff_rows(rows), right=(1, 2, 3)))


def diff_markdown(old: str, new: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"### planner diff: `{old}` → `{new}`", ""]
    if not rows:
        return "\n".join(lines + ["No changes."]) + "\n"
    lines += ["| field | old | new | change |", "|---|---:|---:|---:|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _diff_rows(rows)]
    return "\n".join(lines) + "\n"


# ---- training ----------------------------------------------------------------------------------

def train(d: dict[str, Any], found: "Iterable[Any]") -> None:
    lay, mem, st, c = d["layout"], d["per_gpu"], d["step"], d["cluster"]
    zero = "FSDP" if lay["zero"] == 3 else f"ZeRO-{lay['zero']}"
    line(bold(d["model"]), " on ", bold(d["hardware"]), f": {U.format_count(d['tokens'])} tokens; "
              f"tp={lay['tp']} cp={lay['cp']} dp={lay['dp']} ep={lay['ep']} pp={lay['pp']}, {zero}, "
              f"{lay['recompute']} recompute, {lay['precision'].upper()} GEMMs; micro-batch {lay['micro_batch']}, "
              f"global batch {lay['global_batch_sequences']:,} × {lay['seq']:,} tokens "
              f"({lay['micro_batches']:,} micro-batches per DP rank)")
    cap = mem["capacity_bytes"]
    rows = [(k.replace("_bytes", ""), mem[k]) for k in ("weights_bytes", "gradients_bytes", "optimizer_bytes",
                                                         "activation_bytes", "reserve_bytes", "free_bytes")]
    out.print(_table("HBM per GPU (heaviest pipeline stage)", ["", "bytes", "share"],
                     ((n, U.format_bytes(v), _pct(v / cap)) for n, v in rows), right=(1, 2)))
    res = [("compute", st["compute_s"]), ("HBM (expert GEMMs, optimizer)", st["hbm_s"]),
           ("scale-up traffic", st["scale_up_s"]), ("scale-out traffic", st["scale_out_s"]),
           ("pipeline bubble", st["pipeline_bubble_s"]), ("exposed communication", st["exposed_comm_s"])]
    out.print(_table("Step time by resource (each alone, per step)", ["resource", "time", "share of step"],
                     ((n, U.format_seconds(v), _pct(v / d["step_time_s"])) for n, v in res), right=(1, 2)))
    if st["comms"]:
        out.print(_table("Collectives (per micro-batch; DP/EDP per step)", ["kind", "fabric", "bytes/GPU", "time", "exposed"],
                         ((x["name"].upper(), x["fabric"].replace("_", "-"), U.format_bytes(x["bytes"]),
                           U.format_seconds(x["time_s"]), U.format_seconds(x["exposed_s"]) if x["exposed_s"] else "")
                          for x in st["comms"]), right=(2, 3, 4)))
    xp = st["expert_gemm"]
    if xp:
        out.print(f"expert GEMMs: {xp['tokens_per_expert']:,.0f} tokens per expert per micro-batch, "
                  f"{xp['flops_per_byte']:,.0f} FLOPs/B vs HBM balance {xp['balance_flops_per_byte']:,.0f} "
                  f"({'HBM-bound' if xp['hbm_bound'] else 'compute-bound'})")
    out.print(f"step {U.format_seconds(d['step_time_s'])} (bubble {_pct(st['bubble_fraction'])}), "
              f"MFU {_pct(d['mfu'])}, {U.format_flop(d['flops_per_token'])}/token; "
              f"{d['steps']:,.0f} steps, {d['days']:,.1f} days, {d['gpu_hours'] / 1e6:,.3f}M GPU-hours")
    out.print(f"cluster: {c['gpus']:,} GPUs ({d['gpus_from']}) in {c['nodes']:,} nodes, {c['racks']:,} racks, "
              f"{c['power_w'] / 1e3:,.1f} kW, {c['energy_mwh']:,.0f} MWh")
    verdicts(found)


# ---- what-if ----------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    """A CSV cell: empty for None, true/false, full-precision floats, JSON for lists."""
    import json
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def sweep_csv(columns: Iterable[str], records: Iterable[dict[str, Any]]) -> str:
    import csv
    import io as _io
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = list(columns)
    writer.writerow(cols)
    for rec in records:
        writer.writerow([_cell(rec[c]) for c in cols])
    return buf.getvalue()


def sweep_jsonl(records: Iterable[dict[str, Any]]) -> str:
    import json
    from planner.io import _finite
    return "".join(json.dumps(_finite(rec), ensure_ascii=False) + "\n" for rec in records)


def _fmt_opt(value: Any, fmt: Any) -> str:
    return "" if value is None else fmt(value)


def _whatif_rows(records: Iterable[dict[str, Any]], lead: list[str]) -> list[list[str]]:
    rows = []
    for r in records:
        rows.append([*(_cell(r[k]) for k in lead),
                     "yes" if r["feasible"] else "no",
                     _fmt_opt(r["gpus"], lambda x: f"{x:,}"),
                     _fmt_opt(r["power_w"], lambda x: f"{x / 1e3:,.1f} kW"),
                     _fmt_opt(r["ttft_s"], U.format_seconds), _fmt_opt(r["tpot_s"], U.format_seconds),
                     _fmt_opt(r["tokens_per_s_per_gpu"], lambda x: f"{x:,.0f}"),
                     r["decode_bottleneck"] or ""])
    return rows


def _reasons(records: Iterable[dict[str, Any]], key: str) -> None:
    for r in records:
        if r["reason"]:
            line(f"{r[key]}: {r['reason']}")


_WHATIF_COLS = ["ok", "GPUs", "power", "TTFT", "TPOT", "tok/s/GPU", "bound"]


def _whatif_table(title: str, columns: list[str], rows: list[list[str]], right: tuple[int, ...]) -> Table:
    """Like _table, but cells stay on one line (reasons follow the table, one line each)."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def sweep_table(keys: list[str], records: list[dict[str, Any]], title: str) -> None:
    lead = ["point", *keys]
    n = len(lead)
    headers = ["#", *(k.split(".")[-1] for k in keys)]
    out.print(_whatif_table(title, [*headers, *_WHATIF_COLS], _whatif_rows(records, lead),
                            right=(0, *range(n + 1, n + 6))))
    _reasons(records, "point")


def compare_table(axis: str, records: list[dict[str, Any]], workload: str) -> None:
    out.print(_whatif_table(f"{axis.capitalize()} compared on {workload}", [axis, *_WHATIF_COLS],
                            _whatif_rows(records, [axis]), right=tuple(range(2, 7))))
    _reasons(records, axis)


class _Progress:
    def __init__(self, total: int, label: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=err, transient=True)
        self.task = self.bar.add_task(label, total=total)

    def __enter__(self) -> Any:
        self.bar.start()
        return lambda done: self.bar.update(self.task, completed=done)

    def __exit__(self, *exc: Any) -> None:
        self.bar.stop()


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def progress(total: int, label: str = "sweep", threshold: int = 1000) -> Any:
    """A context manager yielding a callback(done) that drives a bar on stderr, or None when
    stderr is not a terminal or the job is short."""
    import sys
    if total > threshold and sys.stderr.isatty():
        return _Progress(total, label)
    return _NoProgress()


def balance(d: dict[str, Any]) -> None:
    lay = d["layout"]
    where = (f"tp={lay['tp']} dp={lay['dp']} ep={lay['ep']} pp={lay['pp']}, batch {lay['batch']:,} per DP rank"
             if lay else "no feasible layout")
    line(bold(d["model"]), " on ", bold(d["hardware"]), " for ", bold(d["workload"]), f": {where}")
    h, su, nv = d["hbm"], d["scale_up"], d["nvme"]
    rate = lambda x: "" if x is None else U.format_rate(x)   # noqa: E731
    rows = []
    pin = f" ({h['pin_speed_gbps']:.2f} Gb/s/pin)" if h["pin_speed_gbps"] else ""
    pin_need = f" ({h['pin_speed_gbps_needed']:.2f} Gb/s/pin)" if h["pin_speed_gbps_needed"] else ""
    rows.append(["HBM bandwidth", rate(h["bandwidth_bytes_per_s"]) + pin,
                 rate(h["bandwidth_bytes_per_s_needed"]) + pin_need,
                 "binds decode: this moves the bottleneck" if h["binding"] else "does not bind decode: it could fall to this"])
    if su["rule"] == "ep_hidden":
        note = (f"hides EP traffic at {su['expert_compute_class'].upper()}: {U.format_flops(su['expert_peak_flops'])} ÷ "
                f"{su['ep_flops_per_comm_byte']:,.0f} FLOPs/B; machine {su['machine_flops_per_byte']:,.0f} FLOPs/B"
                + ("" if su["hidden"] else " (exposed)"))
    else:
        note = "balances decode's scale-up time against its next term"
    rows.append(["scale-up per GPU", rate(su["bandwidth_bytes_per_s"]), rate(su["bandwidth_bytes_per_s_needed"]), note])
    rows.append(["scale-up domain", f"{su['domain_size']} GPUs",
                 "" if su["domain_size_needed"] is None else f"{su['domain_size_needed']} GPUs",
                 ("smallest domain that keeps EP inside" if su["rule"] == "ep_hidden" else "smallest domain that holds the TP group")
                 + (f"; knee at {su['knee_domain_size']}" if su["knee_domain_size"] else "")])
    if nv["bandwidth_bytes_per_s_per_gpu_needed"] is not None or nv["bandwidth_bytes_per_s_per_gpu"] is not None:
        parts = []
        if nv["break_even_bytes_per_s_per_gpu"] is not None:
            parts.append(f"break-even vs recompute {rate(nv['break_even_bytes_per_s_per_gpu'])}")
        if nv["ttft_bytes_per_s_per_gpu_needed"] is not None:
            parts.append(f"TTFT {U.format_seconds(nv['ttft_target_s'])} on a hit {rate(nv['ttft_bytes_per_s_per_gpu_needed'])}")
        rows.append(["NVMe read per GPU", rate(nv["bandwidth_bytes_per_s_per_gpu"]) or "absent",
                     rate(nv["bandwidth_bytes_per_s_per_gpu_needed"]), "; ".join(parts)])
    out.print(_table("What each resource would need (per GPU; one direction)", ["resource", "has", "needs", "why"],
                     rows, right=(1, 2)))
    if d["phases"]:
        prow = []
        for name, p in d["phases"].items():
            t = p["terms_s"]
            prow.append([name, p["bottleneck"], *(U.format_seconds(t[k]) for k in ("compute", "hbm", "scale_up", "scale_out")),
                         rate(p["hbm_bandwidth_bytes_per_s_needed"]), rate(p["scale_up_bandwidth_bytes_per_s_needed"])])
        out.print(_table("Per phase: each resource alone, and what would equal the next term",
                         ["phase", "bound by", "compute", "HBM", "scale-up", "scale-out", "HBM needed", "scale-up needed"],
                         prow, right=(2, 3, 4, 5, 6, 7)))
    if not d["feasible"]:
        line(("infeasible", "bold red"), f": {d['reason']}")


# ---- validate ------------------------------------------------------------------------------------

def _err(x: float | None) -> str:
    return "—" if x is None else f"{x:+.0%}"


def validation(d: dict[str, Any]) -> None:
    rows = [(c["id"], U.format_seconds(c["ttft_s"]), U.format_seconds(c["ttft_reference_s"]), _err(c["ttft_error"]),
             U.format_seconds(c["tpot_s"]), U.format_seconds(c["tpot_reference_s"]), _err(c["tpot_error"]))
            for c in d["cases"]]
    out.print(_table("Reference cases (aiconfigurator static mode; error = predicted / reference - 1)",
                     ["case", "TTFT", "ref", "err", "TPOT", "ref", "err"], rows, right=(1, 2, 3, 4, 5, 6)))
    groups = [(g["group"], str(g["cases"]), f"{g['tpot_median_abs_error']:.0%}", f"{g['ttft_median_abs_error']:.0%}",
               f"{g['tpot_worst_abs_error']:.0%}", f"{g['ttft_worst_abs_error']:.0%}",
               "pass" if g["passed"] else "FAIL") for g in d["groups"]]
    out.print(_table(f"Groups (median |error| bound {d['groups'][0]['bound']:.0%})" if d["groups"] else "Groups",
                     ["group", "cases", "TPOT median", "TTFT median", "TPOT worst", "TTFT worst", ""], groups,
                     right=(1, 2, 3, 4, 5)))
    o = d["overall"]
    line(f"overall: {o['cases']} cases, median |TPOT error| {o['tpot_median_abs_error']:.1%} (bound "
         f"{o['tpot_bound']:.0%}), median |TTFT error| {o['ttft_median_abs_error']:.1%} (bound {o['ttft_bound']:.0%}): ",
         ("pass", "green") if d["passed"] else ("fail", "bold red"))
