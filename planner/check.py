"""`planner check`: judge a proposal (or an exported plan) against its assertions.

Every assertion becomes a `Check` with the expected and actual values and the TOML key it came
from, so a CI annotation can point at the line. An exported plan is checked against its own
targets: it must still fit, meet its workload's SLOs and need no more GPUs than it recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner import io
from planner import units as U
from planner.errors import InputError
from planner.layout import Layout
from planner.plan import build_plan, load_plan_inputs
from planner.proposal import Assertions, Proposal
from planner.sizing import Sizing, evaluate_layout, size
from planner.verdicts import Severity


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    expected: str
    actual: str
    message: str
    key: str                 # dotted TOML key the assertion comes from, for file:line annotations
    line: int = 1

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "expected": self.expected, "actual": self.actual,
                "message": self.message, "key": self.key, "line": self.line}


@dataclass(frozen=True)
class CheckResult:
    source: str
    kind: str                # "proposal" or "plan"
    name: str
    checks: tuple[Check, ...]
    plan: dict

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        return {"file": self.source, "kind": self.kind, "name": self.name, "passed": self.passed,
                "checks": [c.to_dict() for c in self.checks],
                "summary": _summary(self.plan), "verdicts": self.plan.get("verdicts", [])}


def _summary(plan: dict) -> dict:
    keys = ("model", "hardware", "workload", "feasible", "ttft_s", "tpot_s", "tokens_per_s_per_gpu")
    out = {k: plan.get(k) for k in keys}
    out["cluster"] = plan.get("cluster")
    out["layout"] = plan.get("layout")
    return out


def find_line(text: str, key: str) -> int:
    """Line (1-based) of a dotted key in a TOML text: `assert.tpot_ms` is the `tpot_ms =` line
    inside `[assert]`; falls back to the section header, then to line 1."""
    parts = key.split(".")
    section, leaf = ".".join(parts[:-1]), parts[-1]
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]\s*(#.*)?$") if section else None
    leaf_re = re.compile(r'^\s*"?' + re.escape(leaf) + r'"?\s*=')
    in_section = header is None
    section_line = None
    table = re.compile(r"^\s*\[\[?\s*" + re.escape(key) + r"\s*\]\]?\s*(#.*)?$")
    for number, line in enumerate(lines, start=1):
        if table.match(line):
            return number
        if re.match(r"^\s*\[", line):
            in_section = bool(header and header.match(line))
            if in_section:
                section_line = number
            continue
        if in_section and leaf_re.match(line):
            return number
    return section_line or 1


def _resolve(spec: str | dict[str, Any], folder: Path) -> str | dict[str, Any]:
    """A file named in a proposal is relative to the proposal's folder; anything else is a preset."""
    if isinstance(spec, dict):
        return spec
    candidate = folder / spec
    if ("/" in spec or spec.endswith((".toml", ".json"))) and candidate.exists():
        return str(candidate)
    return spec


def _overrides(raw: dict[str, Any], source: str) -> dict[str, Any]:
    out = {}
    for key, value in raw.items():
        if key.split(".")[0] not in io.SECTIONS:
            raise InputError("override keys start with model., hardware. or workload.", source=source, field=f"set.{key}")
        out[key] = value
    return out


def _pinned(p: Proposal, model, routing: str) -> tuple[Layout, int | None]:
    lay = p.layout
    ep = lay.ep if lay.ep is not None else (lay.tp * lay.dp if model.is_moe else 1)
    try:
        layout = Layout(tp=lay.tp, dp=lay.dp, ep=ep, pp=lay.pp, batch=lay.batch, disaggregated=lay.disaggregated,
                        dual_microbatch=lay.dual_microbatch, mtp=lay.mtp, routing=routing)
    except ValueError as exc:
        raise InputError(str(exc).splitlines()[-1].strip(), field="layout") from None
    return layout, lay.gpus


def check_file(path: str | Path) -> CheckResult:
    path = Path(path)
    data = io.read_toml(path)
    text = path.read_text(encoding="utf-8")
    source = str(path)
    if "inputs" in data and "tool" in data:
        return _check_plan(path, data, text)
    proposal = io.validate(Proposal, data, source)
    sets = _overrides(proposal.set, source)
    folder = path.parent
    model = io.load_model(_resolve(proposal.model, folder), sets)
    hardware = io.load_hardware(_resolve(proposal.hardware, folder), sets)
    workload = io.load_workload(_resolve(proposal.workload, folder), sets)
    if proposal.layout is not None:
        layout, gpus = _pinned(proposal, model, workload.expert_routing)
        sizing = evaluate_layout(model, hardware, workload, layout, gpus)
    else:
        sizing = size(model, hardware, workload, compare_domains=False)
    plan = build_plan(sizing)
    pinned_gpus = proposal.layout.gpus if proposal.layout is not None else None
    checks = evaluate(sizing, plan, proposal.assertions, text, pinned_gpus=pinned_gpus)
    return CheckResult(source=source, kind="proposal", name=proposal.name or path.stem, checks=checks, plan=plan)


def _check_plan(path: Path, data: dict, text: str) -> CheckResult:
    model, hardware, workload = load_plan_inputs(path)
    sizing = size(model, hardware, workload, compare_domains=False)
    plan = build_plan(sizing)
    recorded = (data.get("cluster") or {}).get("gpus")
    assertions = Assertions(max_gpus=recorded) if recorded else Assertions()
    checks = evaluate(sizing, plan, assertions, text, plan_file=True)
    return CheckResult(source=str(path), kind="plan", name=path.stem, checks=checks, plan=plan)


def evaluate(s: Sizing, plan: dict, a: Assertions, text: str, plan_file: bool = False,
             pinned_gpus: int | None = None) -> tuple[Check, ...]:
    """Each assertion against the evaluated plan."""
    checks: list[Check] = []

    def add(name: str, passed: bool, expected: str, actual: str, message: str, key: str) -> None:
        checks.append(Check(name, passed, expected, actual, message, key, find_line(text, key)))

    best = s.best
    errors = [v for v in s.verdicts if v.severity == Severity.error]
    if a.fits:
        fit_errors = [v.message for v in errors if v.resource == "hbm"]
        ok = best is not None and not fit_errors
        add("fits", ok, "fits", "fits" if ok else "does not fit",
            "weights and KV fit" if ok else "; ".join(fit_errors) or "no layout fits the workload",
            "assert.fits" if not plan_file else "inputs.model")
    ttft_ms = a.ttft_ms or (s.workload.slo.ttft_ms if s.workload.slo else None)
    tpot_ms = a.tpot_ms or (s.workload.slo.tpot_ms if s.workload.slo else None)
    slo_key = "inputs.workload.slo" if plan_file else "assert"
    for name, limit, actual in (("ttft_ms", ttft_ms, best.ttft_s * 1e3 if best else None),
                                ("tpot_ms", tpot_ms, best.tpot_s * 1e3 if best else None)):
        if limit is None:
            continue
        ok = actual is not None and actual <= limit
        shown = f"{actual:,.2f} ms" if actual is not None else "no plan"
        key = f"{slo_key}.{name}" if (plan_file or getattr(a, name)) else "workload"
        add(name, ok, f"≤ {limit:,.2f} ms", shown,
            f"{name.split('_')[0].upper()} {shown} {'meets' if ok else 'misses'} the {limit:,.2f} ms target"
            + ("" if ok or actual is None else f" by {actual / limit:.2f}×"), key)
    cluster = plan.get("cluster") or {}
    for name, limit, actual, unit in (
            ("max_gpus", a.max_gpus, cluster.get("gpus"), "GPUs"),
            ("max_racks", a.max_racks, cluster.get("racks"), "racks"),
            ("max_power_kw", a.max_power_kw, (cluster.get("power_w") or 0) / 1e3 if cluster else None, "kW"),
            ("max_cost_per_hour", a.max_cost_per_hour, cluster.get("cost_per_hour"), "$/hour")):
        if limit is None:
            continue
        ok = actual is not None and actual <= limit
        value = f"{actual:,}" if isinstance(actual, int) else f"{actual:,.1f}" if actual is not None else ""
        shown = "no plan" if not cluster else ("no price given" if actual is None else f"{value} {unit}")
        add(name, ok, f"≤ {limit:,} {unit}", shown,
            f"{shown} {'within' if ok else 'over'} the budget of {limit:,} {unit}",
            "cluster.gpus" if (plan_file and name == "max_gpus") else f"assert.{name}")
    per_gpu = plan.get("per_gpu") or {}
    if a.min_hbm_headroom is not None:
        free = per_gpu.get("free_bytes", 0) / per_gpu["capacity_bytes"] if per_gpu else 0.0
        ok = bool(per_gpu) and free >= a.min_hbm_headroom
        add("min_hbm_headroom", ok, f"≥ {a.min_hbm_headroom:.0%} free", f"{free:.1%} free",
            f"{U.format_bytes(per_gpu.get('free_bytes', 0))} of HBM free per GPU ({free:.1%})", "assert.min_hbm_headroom")
    phases = plan.get("phases") or {}
    if a.min_resource_headroom is not None:
        for phase, t in phases.items():
            terms = {k: t[f"{k}_s"] for k in ("compute", "hbm", "scale_up", "scale_out", "storage")}
            load = max(terms.values()) / t["time_s"] if t["time_s"] else 0.0
            slack = 1 - load
            ok = slack >= a.min_resource_headroom
            add(f"min_resource_headroom[{phase}]", ok, f"≥ {a.min_resource_headroom:.0%}", f"{slack:.1%}",
                f"{phase}: {t['bottleneck']} takes {load:.0%} of the step", "assert.min_resource_headroom")
    for rule in a.forbid_bottleneck:
        phase, _, resource = rule.partition(":")
        actual = phases.get(phase, {}).get("bottleneck")
        ok = actual != resource
        add(f"forbid_bottleneck[{rule}]", ok, f"{phase} not {resource}-bound", f"{phase} {actual}-bound",
            f"{phase} is bound by {actual}" + ("" if ok else " (forbidden)"), "assert.forbid_bottleneck")
    demand = [v for v in errors if v.resource == "gpus"]
    if pinned_gpus is not None:
        add("demand", not demand, f"{s.requests_per_s:,.2f} requests/s", "covered" if not demand else "not covered",
            demand[0].message if demand else f"{pinned_gpus:,} GPUs carry the demand", "layout.gpus")
    others = [v for v in errors if v not in demand]
    if a.no_errors:
        add("no_errors", not others, "no error verdicts", f"{len(others)} error(s)",
            "; ".join(v.message for v in others) or "no error verdicts", "assert.no_errors" if not plan_file else "tool")
    return tuple(checks)
