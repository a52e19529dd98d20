"""Training proposals: a training run `planner check` judges, and the file `planner train --export`
writes (a pinned layout, so that it re-evaluates to the same run).

    kind = "training"
    model = "llama-3.1-405b"
    hardware = "h100-sxm"
    tokens = 15.6e12
    gpus = 16384                  # or days = 54 (the fewest GPUs that meet it)

    [layout]                      # TrainLayout fields; omitted: searched (planner.training.search)
    tp = 8
    pp = 16
    dp = 128
    schedule = "interleaved"
    vp = 8

    [assert]
    fits = true
    max_days = 60
    max_gpu_hours = 35e6
    min_mfu = 0.38
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from planner.errors import InputError
from planner.inputs import io
from planner.inputs.base import StrictModel
from planner.inputs.limits import MAX_DAYS, MAX_TRAIN_TOKENS, Gpus
from planner.plan.check import Check, CheckResult, find_line
from planner.training.run import TrainLayout, TrainResult, train
from planner.training.search import search_days, search_layout
from planner.verdict import Severity


class TrainingAssertions(StrictModel):
    fits: bool = Field(True, description="the heaviest pipeline stage fits HBM")
    max_days: float | None = Field(None, gt=0, le=MAX_DAYS, description="time to train, days")
    max_gpu_hours: float | None = Field(None, gt=0, le=1e15)
    min_mfu: float | None = Field(None, gt=0, le=1, description="model FLOPs utilisation floor (0-1)")
    max_gpus: Gpus | None = None
    no_errors: bool = Field(True, description="no verdict of severity error")


class TrainingProposal(StrictModel):
    kind: Literal["training"]
    name: str | None = None
    description: str | None = None
    model: str | dict[str, Any]
    hardware: str | dict[str, Any]
    set: dict[str, Any] = Field(default_factory=dict, description="overrides, as --set KEY=VALUE")
    tokens: float = Field(gt=0, le=MAX_TRAIN_TOKENS, description="training tokens")
    gpus: Gpus | None = None
    days: float | None = Field(None, gt=0, le=MAX_DAYS, description="time budget: the fewest GPUs that meet it")
    layout: TrainLayout | None = Field(None, description="pinned; omitted: searched")
    assertions: TrainingAssertions = Field(default_factory=TrainingAssertions, alias="assert")

    model_config = {**StrictModel.model_config, "populate_by_name": True}


def _resolve(spec: str | dict[str, Any], folder: Path) -> str | dict[str, Any]:
    if isinstance(spec, dict):
        return spec
    candidate = folder / spec
    return str(candidate) if ("/" in spec or spec.endswith((".toml", ".json"))) and candidate.exists() else spec


def run_proposal(p: TrainingProposal, folder: Path) -> TrainResult:
    """The run a proposal describes: its pinned layout, or the searched one."""
    if p.gpus is not None and p.days is not None:
        raise InputError("give gpus or days, not both", field="gpus")
    m = io.load_model(_resolve(p.model, folder), p.set)
    hw = io.load_hardware(_resolve(p.hardware, folder), p.set)
    if p.layout is not None:
        return train(m, hw, p.layout, p.tokens, gpus=p.gpus, days=p.days)
    base = TrainLayout()
    found = (search_layout(m, hw, base, p.tokens, p.gpus) if p.gpus is not None
             else search_days(m, hw, base, p.tokens, p.days))
    return found.best


def check_training(path: Path, text: str, data: dict[str, Any]) -> CheckResult:
    """A training proposal judged against its assertions (planner check dispatches kind = "training")."""
    source = str(path)
    p = io.validate(TrainingProposal, data, source)
    r = run_proposal(p, path.parent)
    a = p.assertions
    checks: list[Check] = []

    def add(name: str, ok: bool, expected: str, actual: str, message: str, operator: str, limit: float | None,
            value: float | None, unit: str) -> None:
        key = f"assert.{name}"
        checks.append(Check(name, ok, expected, actual, message, key, find_line(text, key), operator, limit, value,
                            unit))
    if a.fits:
        add("fits", r.memory.fits, "fits", "fits" if r.memory.fits else "does not fit",
            "the heaviest stage fits HBM" if r.memory.fits else "the heaviest stage needs more HBM than the GPU has",
            "==", 1.0, 1.0 if r.memory.fits else 0.0, "bool")
    for name, limit, value, unit, label in (("max_days", a.max_days, r.days, "days", "days"),
                                            ("max_gpu_hours", a.max_gpu_hours, r.gpu_hours, "GPU-hours", "GPU-hours"),
                                            ("max_gpus", a.max_gpus, r.layout.gpus, "GPUs", "GPUs")):
        if limit is not None:
            ok = value <= limit
            add(name, ok, f"≤ {limit:,.4g} {label}", f"{value:,.4g} {label}",
                f"{value:,.4g} {label} {'within' if ok else 'over'} the budget of {limit:,.4g}", "<=", limit, value,
                unit)
    if a.min_mfu is not None:
        ok = r.mfu >= a.min_mfu
        add("min_mfu", ok, f"≥ {a.min_mfu:.1%}", f"{r.mfu:.1%}",
            f"MFU {r.mfu:.1%} {'meets' if ok else 'is below'} the {a.min_mfu:.1%} floor", ">=", a.min_mfu, r.mfu,
            "ratio")
    if a.no_errors:
        errors = [v for v in r.verdicts if v.severity == Severity.error]
        add("no_errors", not errors, "no error verdicts", f"{len(errors)} error(s)",
            "; ".join(v.message for v in errors) or "no error verdicts", "==", 0.0, float(len(errors)), "errors")
    return CheckResult(source=source, kind="training", name=p.name or path.stem, checks=tuple(checks), plan=None,
                       details=r.to_dict())


def export_toml(r: TrainResult, model: str | dict[str, Any], hardware: str | dict[str, Any], tokens: float,
                sets: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """The training proposal that reproduces a run: its layout pinned, and assertions that hold
    it to its days (+5%) and MFU (-5%)."""
    lay = r.layout
    layout = {k: v for k, v in lay.model_dump(mode="json").items() if v is not None}
    return {"kind": "training", **({"name": name} if name else {}), "model": model, "hardware": hardware,
            "tokens": tokens, "gpus": lay.gpus, **({"set": sets} if sets else {}), "layout": layout,
            "assert": {"fits": True, "max_days": round(r.days * 1.05, 3), "min_mfu": round(r.mfu * 0.95, 4)}}
