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

from planner import units as U
from planner.errors import InputError
from planner.files import read_input
from planner.inputs import io
from planner.inputs.proposal import Assertions, Proposal
from planner.plan.schema import (
    Plan,
    build_plan,
    evaluate_inputs,
    is_plan_file,
    load_plan_inputs,
    plan_integrity,
)
from planner.serving.deployment import evaluate_layout, size_deployment


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
    plan: Plan

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def summary(self) -> dict:
        p = self.plan
        return {"model": p.model, "hardware": p.hardware, "workload": p.workload, "feasible": p.feasible,
                "ttft_s": p.ttft_s, "tpot_s": p.tpot_s, "tokens_per_s_per_gpu": p.tokens_per_s_per_gpu,
                "cluster": p.cluster.model_dump(mode="json") if p.cluster else None,
                "layout": p.layout.model_dump(mode="json") if p.layout else None}

    def to_dict(self) -> dict:
        return {"file": self.source, "kind": self.kind, "name": self.name, "passed": self.passed,
                "checks": [c.to_dict() for c in self.checks], "summary": self.summary(),
                "verdicts": [v.model_dump(mode="json") for v in self.plan.verdicts]}


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
            raise InputError("override keys start with model., hardware., workload. or engine.", source=source,
                             field=f"set.{key}")
        out[key] = value
    return out


def check_file(path: str | Path) -> CheckResult:
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise InputError("is a directory, expected a TOML file", source=source)
    text = read_input(path)
    data = io.parse_toml(text, source)
    if is_plan_file(data):
        return _check_plan(path, text)
    proposal = io.validate(Proposal, data, source)
    sets = _overrides(proposal.set, source)
    folder = path.parent
    model = io.load_model(_resolve(proposal.model, folder), sets)
    hardware = io.load_hardware(_resolve(proposal.hardware, folder), sets)
    workload = io.load_workload(_resolve(proposal.workload, folder), sets)
    engine = io.load_engine(_resolve(proposal.engine, folder), sets)
    pin = proposal.layout
    if pin is not None:
        layout, prefill = pin.layouts(model, workload.expert_routing)
        try:
            deployment = evaluate_layout(model, hardware, workload, layout, engine=engine, prefill_layout=prefill,
                                         gpus=pin.gpus,
                                         one_replica=pin.replicas == 1)
        except InputError as exc:
            if exc.field in ("--layout", "prefill layout"):
                exc.source, exc.field = source, "layout" if exc.field == "--layout" else "layout.prefill"
            raise
    else:
        deployment = size_deployment(model, hardware, workload, compare_domains=False, engine=engine)
    plan = build_plan(deployment)
    checks = evaluate(plan, proposal.assertions, text, pinned_gpus=pin.gpus if pin is not None else None)
    return CheckResult(source=source, kind="proposal", name=proposal.name or path.stem, checks=checks, plan=plan)


def _check_plan(path: Path, text: str) -> CheckResult:
    """An exported plan is checked against its own targets: it must still fit, meet its workload's
    SLOs and need no more GPUs than it recorded."""
    data = io.read_toml(path)
    plan_integrity(path, data).require()             # its recorded GPU count becomes an assertion
    recorded = data.get("cluster") or {}
    plan = build_plan(evaluate_inputs(load_plan_inputs(path), compare_domains=False))
    gpus = recorded.get("gpus")
    assertions = Assertions(max_gpus=gpus) if isinstance(gpus, int) and not isinstance(gpus, bool) and gpus > 0 \
        else Assertions()
    checks = evaluate(plan, assertions, text, plan_file=True)
    return CheckResult(source=str(path), kind="plan", name=path.stem, checks=checks, plan=plan)


def evaluate(plan: Plan, a: Assertions, text: str, plan_file: bool = False,
             pinned_gpus: int | None = None) -> tuple[Check, ...]:
    """Each assertion against the evaluated plan."""
    checks: list[Check] = []

    def add(name: str, passed: bool, expected: str, actual: str, message: str, key: str) -> None:
        checks.append(Check(name, passed, expected, actual, message, key, find_line(text, key)))

    errors = plan.errors()
    slo = plan.inputs.workload.slo
    if a.fits:
        fit_errors = [v.message for v in errors if v.resource == "hbm"]
        ok = plan.layout is not None and not fit_errors
        add("fits", ok, "fits", "fits" if ok else "does not fit",
            "weights and KV fit" if ok else "; ".join(fit_errors) or "no layout fits the workload",
            "assert.fits" if not plan_file else "inputs.model")
    slo_key = "inputs.workload.slo" if plan_file else "assert"
    for name, limit, actual in (("ttft_ms", a.ttft_ms or slo.ttft_ms, plan.ttft_s),
                                ("tpot_ms", a.tpot_ms or slo.tpot_ms, plan.tpot_s)):
        if limit is None:
            continue
        actual_ms = actual * 1e3 if actual is not None else None
        ok = actual_ms is not None and actual_ms <= limit
        shown = f"{actual_ms:,.2f} ms" if actual_ms is not None else "no plan"
        key = f"{slo_key}.{name}" if (plan_file or getattr(a, name)) else "workload"
        add(name, ok, f"≤ {limit:,.2f} ms", shown,
            f"{name.split('_')[0].upper()} {shown} {'meets' if ok else 'misses'} the {limit:,.2f} ms target"
            + ("" if ok or actual_ms is None else f" by {actual_ms / limit:.2f}×"), key)
    c = plan.cluster
    for name, limit, value, unit in (
            ("max_gpus", a.max_gpus, c.gpus if c else None, "GPUs"),
            ("max_racks", a.max_racks, c.racks if c else None, "racks"),
            ("max_power_kw", a.max_power_kw, c.power_w / 1e3 if c else None, "kW"),
            ("max_cost_per_hour", a.max_cost_per_hour, c.cost_per_hour if c else None, "$/hour")):
        if limit is None:
            continue
        ok = value is not None and value <= limit
        number = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}" if value is not None else ""
        shown = "no plan" if c is None else ("no price given" if value is None else f"{number} {unit}")
        add(name, ok, f"≤ {limit:,} {unit}", shown,
            f"{shown} {'within' if ok else 'over'} the budget of {limit:,} {unit}",
            "cluster.gpus" if (plan_file and name == "max_gpus") else f"assert.{name}")
    per_gpu = plan.per_gpu
    if a.min_hbm_headroom is not None:
        free = per_gpu.free_bytes / per_gpu.capacity_bytes if per_gpu else 0.0
        ok = per_gpu is not None and free >= a.min_hbm_headroom
        add("min_hbm_headroom", ok, f"≥ {a.min_hbm_headroom:.0%} free", f"{free:.1%} free",
            f"{U.format_bytes(per_gpu.free_bytes if per_gpu else 0)} of HBM free per GPU ({free:.1%})",
            "assert.min_hbm_headroom")
    phases = {"prefill": plan.phases.prefill, "decode": plan.phases.decode} if plan.phases else {}
    if a.min_resource_headroom is not None:
        for phase, t in phases.items():
            load = max(t.terms().values()) / t.time_s if t.time_s else 0.0
            slack = 1 - load
            ok = slack >= a.min_resource_headroom
            add(f"min_resource_headroom[{phase}]", ok, f"≥ {a.min_resource_headroom:.0%}", f"{slack:.1%}",
                f"{phase}: {t.bottleneck} takes {load:.0%} of the step", "assert.min_resource_headroom")
    for rule in a.forbid_bottleneck:
        phase, _, resource = rule.partition(":")
        actual_bound = phases[phase].bottleneck if phase in phases else None
        ok = actual_bound != resource
        add(f"forbid_bottleneck[{rule}]", ok, f"{phase} not {resource}-bound", f"{phase} {actual_bound}-bound",
            f"{phase} is bound by {actual_bound}" + ("" if ok else " (forbidden)"), "assert.forbid_bottleneck")
    demand = [v for v in errors if v.resource == "gpus"]
    if pinned_gpus is not None:
        add("demand", not demand, f"{plan.requests_per_s:,.2f} requests/s", "covered" if not demand else "not covered",
            demand[0].message if demand else f"{pinned_gpus:,} GPUs carry the demand", "layout.gpus")
    others = [v for v in errors if v not in demand]
    if a.no_errors:
        add("no_errors", not others, "no error verdicts", f"{len(others)} error(s)",
            "; ".join(v.message for v in others) or "no error verdicts",
            "assert.no_errors" if not plan_file else "tool")
    return tuple(checks)
