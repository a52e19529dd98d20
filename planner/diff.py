"""`planner diff`: what changed between two plans or proposals, for review."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planner import io
from planner.check import check_file

FIELDS = (  # (label, path in the plan dict, unit) in display order
    ("GPUs", ("cluster", "gpus"), "count"),
    ("nodes", ("cluster", "nodes"), "count"),
    ("racks", ("cluster", "racks"), "count"),
    ("power", ("cluster", "power_w"), "W"),
    ("cost per hour", ("cluster", "cost_per_hour"), "$"),
    ("TTFT", ("ttft_s",), "s"),
    ("TPOT", ("tpot_s",), "s"),
    ("tokens/s per GPU", ("tokens_per_s_per_gpu",), "tokens/s"),
    ("prefill bound by", ("phases", "prefill", "bottleneck"), "text"),
    ("decode bound by", ("phases", "decode", "bottleneck"), "text"),
    ("layout", ("layout",), "layout"),
    ("feasible", ("feasible",), "text"),
)


@dataclass(frozen=True)
class Change:
    label: str
    old: object
    new: object
    unit: str

    @property
    def changed(self) -> bool:
        return self.old != self.new

    @property
    def relative(self) -> float | None:
        if isinstance(self.old, (int, float)) and isinstance(self.new, (int, float)) and self.old:
            return self.new / self.old - 1
        return None

    def to_dict(self) -> dict:
        return {"field": self.label, "old": self.old, "new": self.new, "unit": self.unit,
                "changed": self.changed, "relative_change": self.relative}


def _get(plan: dict, path: tuple[str, ...]) -> object:
    node: object = plan
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    if isinstance(node, dict) and path == ("layout",):
        return ",".join(f"{k}={node[k]}" for k in ("tp", "dp", "ep", "pp", "batch") if k in node)
    return node


def load_plan_like(path: str | Path) -> dict:
    """A plan file's recorded results, or a proposal evaluated now."""
    path = Path(path)
    data = io.read_toml(path)
    if "inputs" in data and "tool" in data:
        return data
    return check_file(path).plan


def diff_plans(old: dict, new: dict) -> list[Change]:
    changes = [Change(label, _get(old, path), _get(new, path), unit) for label, path, unit in FIELDS]
    old_tiers = {t["tier"]: t for t in old.get("kv_tiers", [])}
    new_tiers = {t["tier"]: t for t in new.get("kv_tiers", [])}
    for tier in sorted(set(old_tiers) | set(new_tiers)):
        for key, label, unit in (("hit_rate", "hit rate", "share"), ("capacity_needed_bytes", "capacity needed", "B"),
                                 ("read_bytes_per_s_needed", "read needed", "B/s")):
            changes.append(Change(f"{tier} {label}", old_tiers.get(tier, {}).get(key),
                                  new_tiers.get(tier, {}).get(key), unit))
    old_v, new_v = _verdicts(old), _verdicts(new)
    for key in sorted(set(old_v) | set(new_v)):
        changes.append(Change(f"verdict {key[0]}/{key[1]}", old_v.get(key), new_v.get(key), "verdict"))
    return changes


def _verdicts(plan: dict) -> dict[tuple[str, str], str]:
    """(phase, resource) -> severities there, worst first ("error", "warning, info", ...)."""
    order = ("error", "warning", "info")
    found: dict[tuple[str, str], set[str]] = {}
    for v in plan.get("verdicts", []):
        found.setdefault((v["phase"], v["resource"]), set()).add(v["severity"])
    return {k: ", ".join(sorted(s, key=order.index)) for k, s in found.items()}
