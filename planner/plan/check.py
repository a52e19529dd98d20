"""`planner check`: judge a proposal (or an exported plan) against its assertions.

Every assertion becomes a `Check` with the expected and actual values and the TOML key it came
from, so a CI annotation can point at the line. An exported plan is checked against its own
targets: it must still fit, meet its workload's SLOs and need no more GPUs than it recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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
    plan_from_data,
    plan_integrity,
)
from planner.serving.deployment import evaluate_layout, size_deployment


@dataclass(frozen=True)
class Check:
    """One assertion. `expected`/`actual` are for people; `operator`, `limit`, `value` and `unit`
    are the same in base units (seconds, GPUs, racks, watts, dollars, ratios) for scripts."""

    name: str
    passed: bool
    expected: str
    actual: str
    message: str
    key: str                 # dotted TOML key the assertion comes from, for file:line annotations
    line: int = 1
    operator: str = ""       # "<=", ">=", "==" or "!=" (value operator limit must hold)
    limit: float | None = None
    value: float | None = None
    unit: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "operator": self.operator, "limit": self.limit,
                "value": self.value, "unit": self.unit, "expected": self.expected, "actual": self.actual,
                "message": self.message, "key": self.key, "line": self.line}


@dataclass(frozen=True)
class CheckResult:
    """A file's verdict: its checks, or (`error`) the one-line reason it could not be checked."""

    source: str
    kind: str                # "proposal", "plan" or "error"
    name: str
    checks: tuple[Check, ...]
    plan: Plan | None
    error: str | None = None
    details: dict | None = None     # a result other than a serving plan (a training run), as JSON
    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)

    @property
    def outcome(self) -> str:
        """pass, fail or error (a file that could not be read or evaluated)."""
        return "error" if self.error is not None else "pass" if self.passed else "fail"

    def summary(self) -> dict | None:
        p = self.plan
        if p is None:
            return None
        return {"model": p.model, "hardware": p.hardware, "workload": p.workload, "feasible": p.feasible,
                "ttft_s": p.ttft_s, "tpot_s": p.tpot_s, "tokens_per_s_per_gpu": p.tokens_per_s_per_gpu,
                "usd_per_million_output_tokens": p.usd_per_million_output_tokens,
                "cluster": p.cluster.model_dump(mode="json") if p.cluster else None,
                "layout": p.layout.model_dump(mode="json") if p.layout else None}

    def to_dict(self) -> dict:
        return {"file": self.source, "kind": self.kind, "name": self.name, "outcome": self.outcome,
                "passed": self.passed, "error": self.error, "checks": [c.to_dict() for c in self.checks],
                "summary": self.summary(), **({"details": self.details} if self.details is not None else {}),
                "verdicts": [v.model_dump(mode="json") for v in self.plan.verdicts] if self.plan else []}


def exit_code(results: list[CheckResult]) -> int:
    """The worst outcome of all files: 2 when any could not be checked, 1 when any failed, else 0."""
    outcomes = {r.outcome for r in results}
    return 2 if "error" in outcomes else 1 if "fail" in outcomes else 0


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


# Checkers of other kinds of proposal (`kind = "training"`), given by a layer above this one.
Checker = Callable[[Path, str, dict[str, Any]], "CheckResult"]


def check_file(path: str | Path, kinds: Mapping[str, Checker] | None = None) -> CheckResult:
    """A proposal (or an exported plan) checked against its assertions. Raises InputError when
    the file cannot be read or evaluated (check_files turns that into the file's error verdict).
    A file with `kind = "..."` goes to that kind's checker."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise InputError("is a directory, expected a TOML file", source=source)
    text = read_input(path)
    data = io.parse_toml(text, source)
    kind = data.get("kind")
    if kind is not None:
        if not isinstance(kind, str) or kind not in (kinds or {}):
            raise InputError(f"unknown kind {kind!r}", source=source, field="kind",
                             hint=f"one of {', '.join(sorted(kinds or {}))} (or none: a serving proposal)")
        return (kinds or {})[kind](path, text, data)
    if is_plan_file(data):
        return _check_plan(path, text)
    return check_text(text, source, path.parent, path.stem)


def check_text(text: str, source: str, folder: Path, stem: str) -> CheckResult:
    """A proposal's text checked against its assertions; files it names resolve from `folder`.

    Assertions drive sizing: without a pinned layout the proposal's ttft_ms and tpot_ms are the
    targets the sizing search meets (the workload's own targets otherwise), so an assertion
    tighter than the workload can pass."""
    data = io.parse_toml(text, source)
    proposal = io.validate(Proposal, data, source)
    sets = _overrides(proposal.set, source)
    model = io.load_model(_resolve(proposal.model, folder), sets)
    hardware = io.load_hardware(_resolve(proposal.hardware, folder), sets)
    workload = io.load_workload(_resolve(proposal.workload, folder), sets)
    engine = io.load_engine(_resolve(proposal.engine, folder), sets)
    pin = proposal.layout
    a = proposal.assertions
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
        if a.ttft_ms is not None or a.tpot_ms is not None:
            slo = workload.slo.model_copy(update={k: v for k, v in (("ttft_ms", a.ttft_ms), ("tpot_ms", a.tpot_ms))
                                                  if v is not None})
            workload = workload.model_copy(update={"slo": slo})
        deployment = size_deployment(model, hardware, workload, compare_domains=False, engine=engine)
    plan = build_plan(deployment)
    checks = evaluate(plan, a, text, pinned_gpus=pin.gpus if pin is not None else None)
    return CheckResult(source=source, kind="proposal", name=proposal.name or stem, checks=checks, plan=plan)


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

    def add(name: str, passed: bool, expected: str, actual: str, message: str, key: str, operator: str = "",
            limit: float | None = None, value: float | None = None, unit: str = "") -> None:
        checks.append(Check(name, passed, expected, actual, message, key, find_line(text, key), operator, limit,
                            value, unit))

    errors = plan.errors()
    slo = plan.inputs.workload.slo
    if a.fits:
        fit_errors = [v.message for v in errors if v.resource == "hbm"]
        ok = plan.layout is not None and not fit_errors
        add("fits", ok, "fits", "fits" if ok else "does not fit",
            "weights and KV fit" if ok else "; ".join(fit_errors) or "no layout fits the workload",
            "assert.fits" if not plan_file else "inputs.model", "==", 1.0, 1.0 if ok else 0.0, "bool")
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
            + ("" if ok or actual_ms is None else f" by {actual_ms / limit:.2f}×"), key, "<=", limit / 1e3, actual, "s")
    c = plan.cluster
    for name, limit, value, unit, scale, base_unit in (
            ("max_gpus", a.max_gpus, c.gpus if c else None, "GPUs", 1.0, "GPUs"),
            ("max_racks", a.max_racks, c.racks if c else None, "racks", 1.0, "racks"),
            ("max_power_kw", a.max_power_kw, c.power_w / 1e3 if c else None, "kW", 1e3, "W"),
            ("max_cost_per_hour", a.max_cost_per_hour, c.cost_per_hour if c else None, "$/hour", 1.0, "USD/hour")):
        if limit is None:
            continue
        ok = value is not None and value <= limit
        number = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}" if value is not None else ""
        shown = "no plan" if c is None else ("no price given" if value is None else f"{number} {unit}")
        add(name, ok, f"≤ {limit:,} {unit}", shown,
            f"{shown} {'within' if ok else 'over'} the budget of {limit:,} {unit}",
            "cluster.gpus" if (plan_file and name == "max_gpus") else f"assert.{name}", "<=",
            limit * scale if scale != 1 else limit, value * scale if value is not None and scale != 1 else value,
            base_unit)
    per_gpu = plan.per_gpu
    if a.min_hbm_headroom is not None:
        free = per_gpu.free_bytes / per_gpu.capacity_bytes if per_gpu else 0.0
        ok = per_gpu is not None and free >= a.min_hbm_headroom
        add("min_hbm_headroom", ok, f"≥ {a.min_hbm_headroom:.0%} free", f"{free:.1%} free",
            f"{U.format_bytes(per_gpu.free_bytes if per_gpu else 0)} of HBM free per GPU ({free:.1%})",
            "assert.min_hbm_headroom", ">=", a.min_hbm_headroom, free, "ratio")
    phases = {"prefill": plan.phases.prefill, "decode": plan.phases.decode} if plan.phases else {}
    if a.min_resource_headroom is not None:
        for phase, t in phases.items():
            load = max(t.terms().values()) / t.time_s if t.time_s else 0.0
            slack = 1 - load
            ok = slack >= a.min_resource_headroom
            add(f"min_resource_headroom[{phase}]", ok, f"≥ {a.min_resource_headroom:.0%}", f"{slack:.1%}",
                f"{phase}: {t.bottleneck} takes {load:.0%} of the step", "assert.min_resource_headroom", ">=",
                a.min_resource_headroom, slack, "ratio")
    for rule in a.forbid_bottleneck:
        phase, _, resource = rule.partition(":")
        actual_bound = phases[phase].bottleneck if phase in phases else None
        ok = actual_bound != resource
        add(f"forbid_bottleneck[{rule}]", ok, f"{phase} not {resource}-bound", f"{phase} {actual_bound}-bound",
            f"{phase} is bound by {actual_bound}" + ("" if ok else " (forbidden)"), "assert.forbid_bottleneck", "!=")
    demand = [v for v in errors if v.resource == "gpus"]
    if pinned_gpus is not None:
        add("demand", not demand, f"{plan.requests_per_s:,.2f} requests/s", "covered" if not demand else "not covered",
            demand[0].message if demand else f"{pinned_gpus:,} GPUs carry the demand", "layout.gpus", ">=",
            plan.requests_per_s, None, "requests/s")
    others = [v for v in errors if v not in demand]
    if a.no_errors:
        add("no_errors", not others, "no error verdicts", f"{len(others)} error(s)",
            "; ".join(v.message for v in others) or "no error verdicts",
            "assert.no_errors" if not plan_file else "tool", "==", 0.0, float(len(others)), "errors")
    return tuple(checks)


# ---- many files, and budgets on change ----------------------------------------------------------------

# What --max-increase can bound: a plan's number (None when it has none) and its unit.
INCREASE_METRICS: dict[str, tuple[str, Any]] = {
    "gpus": ("GPUs", lambda p: p.cluster.gpus if p.cluster else None),
    "racks": ("racks", lambda p: p.cluster.racks if p.cluster else None),
    "power": ("W", lambda p: p.cluster.power_w if p.cluster else None),
    "cost": ("USD per million output tokens", lambda p: p.usd_per_million_output_tokens),
}


def parse_max_increase(text: str) -> dict[str, float]:
    """'gpus=10%,cost=5%' -> {'gpus': 0.10, 'cost': 0.05} (a bare number is a fraction: 0.1 = 10%)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in INCREASE_METRICS:
            raise InputError(f"{part!r} is not METRIC=PERCENT with METRIC one of {', '.join(INCREASE_METRICS)}",
                             field="--max-increase", hint="e.g. --max-increase gpus=10%,cost=5%")
        try:
            number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
        except ValueError:
            raise InputError(f"{value!r} is not a percentage", field="--max-increase") from None
        if not 0 <= number <= 1e6:
            raise InputError(f"{value!r} must be a non-negative percentage", field="--max-increase")
        out[key] = number
    return out


def base_text(path: Path, base: str) -> str | None:
    """The file's version on the base: the same relative path under a folder, or `git show
    BASE:./PATH` for a git ref (local only). None when the base has no such file."""
    import subprocess
    folder = Path(base)
    if folder.is_dir():
        candidate = folder / path if not path.is_absolute() else folder / path.name
        return read_input(candidate) if candidate.exists() else None
    try:
        shown = subprocess.run(["git", "show", f"{base}:./{path.name}"], cwd=path.parent, capture_output=True,
                               text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"cannot read the base: {exc.__class__.__name__}", field="--base") from None
    if shown.returncode != 0:
        if "exists on disk, but not in" in shown.stderr or "does not exist in" in shown.stderr:
            return None
        raise InputError(f"{base!r} is neither a folder nor a git revision with this file "
                         f"({shown.stderr.strip().splitlines()[-1] if shown.stderr.strip() else 'git failed'})",
                         field="--base")
    return shown.stdout


def _base_plan(path: Path, text: str) -> Plan:
    """The base version's plan: an exported plan's own results, a proposal re-evaluated."""
    data = io.parse_toml(text, f"base:{path}")
    if is_plan_file(data):
        return plan_from_data(data, path)
    result = check_text(text, f"base:{path}", path.parent, path.stem)
    assert result.plan is not None
    return result.plan


def budget_checks(path: Path, plan: Plan, base: str, limits: dict[str, float], text: str) -> tuple[Check, ...]:
    """Each bounded number against its base version: it may rise by at most the stated share."""
    old_text = base_text(path, base)
    if old_text is None:
        return (Check("base", True, "a base version", "new file", f"{path} is new on this branch: no base to "
                      "compare with", "model", 1),)
    old = _base_plan(path, old_text)
    checks = []
    for metric, limit in limits.items():
        unit, get = INCREASE_METRICS[metric]
        before, after = get(old), get(plan)
        if before is None or after is None or before == 0:
            checks.append(Check(f"increase[{metric}]", True, f"≤ +{limit:.0%}", "not comparable",
                                f"{metric}: no value on {'the base' if before is None else 'this branch'}",
                                "model", 1, "<=", limit, None, "ratio"))
            continue
        change = after / before - 1
        ok = change <= limit + 1e-12
        shown = f"{change:+.1%} ({before:,.4g} → {after:,.4g})"
        checks.append(Check(f"increase[{metric}]", ok, f"≤ +{limit:.0%}", shown,
                            f"{metric} {'rises' if change > 0 else 'changes'} {change:+.1%} against {base} "
                            f"({before:,.4g} → {after:,.4g} {unit}); the budget allows +{limit:.0%}",
                            "model", find_line(text, "model"), "<=", limit, change, "ratio"))
    return tuple(checks)


def check_files(paths: list[Path], base: str | None = None, max_increase: dict[str, float] | None = None,
                kinds: Mapping[str, Checker] | None = None) -> list[CheckResult]:
    """Every file gets a verdict: its checks (with budgets against `base` when given), or an error
    result carrying the one-line reason it could not be checked. Never stops at a bad file."""
    from dataclasses import replace
    results = []
    for path in paths:
        try:
            result = check_file(path, kinds)
            if base is not None and max_increase and result.plan is not None:
                text = read_input(path)
                result = replace(result, checks=result.checks + budget_checks(path, result.plan, base, max_increase,
                                                                              text))
        except InputError as exc:
            result = CheckResult(source=str(path), kind="error", name=path.stem, checks=(), plan=None,
                                 error=exc.one_line())
        results.append(result)
    return results
