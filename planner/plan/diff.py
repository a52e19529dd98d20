"""`planner diff`: what changed between two plans or proposals, for review."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from planner.inputs import io
from planner.plan.check import check_file
from planner.plan.schema import Plan, is_plan_file, read_plan


def _layout(p: Plan) -> str | None:
    lay = p.layout
    return None if lay is None else f"tp={lay.tp},dp={lay.dp},ep={lay.ep},pp={lay.pp},batch={lay.batch}"


FIELDS: tuple[tuple[str, Callable[[Plan], object], str], ...] = (  # (label, value, unit) in display order
    ("GPUs", lambda p: p.cluster.gpus if p.cluster else None, "count"),
    ("nodes", lambda p: p.cluster.nodes if p.cluster else None, "count"),
    ("racks", lambda p: p.cluster.racks if p.cluster else None, "count"),
    ("power", lambda p: p.cluster.power_w if p.cluster else None, "W"),
    ("cost per hour", lambda p: p.cluster.cost_per_hour if p.cluster else None, "$"),
    ("$ per million output tokens", lambda p: p.usd_per_million_output_tokens, "$"),
    ("TTFT", lambda p: p.ttft_s, "s"),
    ("TPOT", lambda p: p.tpot_s, "s"),
    ("tokens/s per GPU", lambda p: p.tokens_per_s_per_gpu, "tokens/s"),
    ("prefill bound by", lambda p: p.phases.prefill.bottleneck if p.phases else None, "text"),
    ("decode bound by", lambda p: p.phases.decode.bottleneck if p.phases else None, "text"),
    ("serving", lambda p: p.serving, "text"),
    ("layout", _layout, "layout"),
    ("feasible", lambda p: p.feasible, "text"),
)


@dataclass(frozen=True)
class Change:
    label: str
    old: object
    new: object
    unit: str
    kind: str = "result"           # "input" (what the proposal changed) or "result" (what the plan became)

    @property
    def changed(self) -> bool:
        return self.old != self.new

    @property
    def relative(self) -> float | None:
        if (isinstance(self.old, (int, float)) and isinstance(self.new, (int, float))
                and not isinstance(self.old, bool) and self.old):
            return self.new / self.old - 1
        return None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "field": self.label, "old": self.old, "new": self.new, "unit": self.unit,
                "changed": self.changed, "relative_change": self.relative}


def load_plan_like(path: str | Path) -> Plan:
    """A plan file's recorded results, or a proposal evaluated now."""
    path = Path(path)
    if is_plan_file(io.read_toml(path)):
        return read_plan(path)
    plan = check_file(path).plan
    assert plan is not None             # check_file raises when it cannot evaluate
    return plan


# Input fields that describe rather than decide (long free text): left out of the input diff.
DESCRIPTIVE = ("notes", "sources", "provenance", "description", "aliases", "assumption", "origin", "source",
               "includes", "cloud_provider", "capex_basis")


def _leaves(value: object, prefix: str, out: dict[str, object]) -> dict[str, object]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in DESCRIPTIVE:
                _leaves(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value
    return out


def diff_inputs(old: Plan, new: Plan) -> list[Change]:
    """The inputs that differ (model, machine, workload, engine, pinned layout), field by field:
    what a reviewer reads first, before what the plan became."""
    a = _leaves(old.inputs.model_dump(mode="json"), "", {})
    b = _leaves(new.inputs.model_dump(mode="json"), "", {})
    out = []
    for key in [k for k in a if k in b] + [k for k in b if k not in a] + [k for k in a if k not in b]:
        before, after = a.get(key), b.get(key)
        if before != after:
            unit = "number" if isinstance(after if after is not None else before, (int, float)) else "text"
            out.append(Change(key, before, after, unit, kind="input"))
    return out


def diff_plans(old: Plan, new: Plan) -> list[Change]:
    changes = diff_inputs(old, new)
    changes += [Change(label, get(old), get(new), unit) for label, get, unit in FIELDS]
    old_tiers = {t.tier: t for t in old.kv_tiers}
    new_tiers = {t.tier: t for t in new.kv_tiers}
    for tier in sorted(set(old_tiers) | set(new_tiers)):
        a, b = old_tiers.get(tier), new_tiers.get(tier)
        for key, label, unit in (("hit_rate", "hit rate", "share"), ("capacity_needed_bytes", "capacity needed", "B"),
                                 ("read_bytes_per_s_needed", "read needed", "B/s")):
            changes.append(Change(f"{tier} {label}", getattr(a, key) if a else None, getattr(b, key) if b else None,
                                  unit))
    old_v, new_v = _verdicts(old), _verdicts(new)
    for phase, resource in sorted(set(old_v) | set(new_v)):
        changes.append(Change(f"verdict {phase}/{resource}", old_v.get((phase, resource)),
                              new_v.get((phase, resource)), "verdict"))
    return changes


def _verdicts(plan: Plan) -> dict[tuple[str, str], str]:
    """(phase, resource) -> severities there, worst first ("error", "warning, info", ...)."""
    order = ("error", "warning", "info")
    found: dict[tuple[str, str], set[str]] = {}
    for v in plan.verdicts:
        found.setdefault((v.phase, v.resource), set()).add(v.severity)
    return {k: ", ".join(sorted(s, key=order.index)) for k, s in found.items()}
