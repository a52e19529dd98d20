"""The public functions. Each takes preset names, file paths or loaded objects, plus `sets`
overrides as `--set` spells them, and returns a typed result:

    from planner import size, estimate
    plan = size("deepseek-v4-pro", "gb300-nvl72", "agentic")
    plan.cluster.gpus, plan.ttft_s, plan.tokens_per_s_per_gpu

`size` searches the cheapest layout; `evaluate` checks a pinned layout against a workload;
`estimate` evaluates one replica of a layout at its capacity. All three return a `Plan` from the
same serving engine, so the same deployment gives the same numbers through each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.inputs import io
from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.layout import Layout, layout_of, parse_layout
from planner.inputs.model import Model
from planner.inputs.presets import DEFAULT_ENGINE, DEFAULT_HARDWARE, DEFAULT_MODEL, DEFAULT_WORKLOAD
from planner.inputs.workload import Workload
from planner.plan.schema import Plan, build_plan
from planner.serving.deployment import evaluate_layout, size_deployment

if TYPE_CHECKING:     # training, balance and check load when called: `planner size` does not pay for them
    from planner.plan.check import CheckResult
    from planner.training.run import TrainResult
    from planner.whatif.balance import Balance

Spec = str | Path | dict[str, Any]


def _spec(value: Any) -> Any:
    if isinstance(value, (Model, Hardware, Workload, Engine)):
        return value.model_dump(mode="json")
    return str(value) if isinstance(value, Path) else value


def load(model: Spec | Model, hardware: Spec | Hardware, workload: Spec | Workload,
         sets: Mapping[str, Any] | None = None,
         engine: Spec | Engine = DEFAULT_ENGINE) -> tuple[Model, Hardware, Workload, Engine]:
    """The four inputs, each from a preset name, a file, a dict or a loaded object, with `sets`."""
    overrides = dict(sets or {})

    def one(value: Any, cls: type, loader: Any) -> Any:
        return value if isinstance(value, cls) and not overrides else loader(_spec(value), overrides)
    return (one(model, Model, io.load_model), one(hardware, Hardware, io.load_hardware),
            one(workload, Workload, io.load_workload), one(engine, Engine, io.load_engine))


def size(model: Spec | Model = DEFAULT_MODEL, hardware: Spec | Hardware = DEFAULT_HARDWARE,
         workload: Spec | Workload = DEFAULT_WORKLOAD, *, engine: Spec | Engine = DEFAULT_ENGINE,
         sets: Mapping[str, Any] | None = None, compare_domains: bool = True, serving: str | None = None,
         top: int = 1, jobs: int | None = 1) -> Plan:
    """The cheapest plan that meets the workload's demand and targets (see planner.serving.deployment);
    `serving` ("colocated" or "disaggregated") restricts the search to one mode; `top` > 1 adds the
    next cheapest layouts as `alternatives`; `jobs` > 1 (None: every core) lets half the scale-up
    domain comparison run in a forked child (the same plan, sooner on a machine with a spare core)."""
    m, hw, w, e = load(model, hardware, workload, sets, engine)
    modes = (serving,) if serving else ("colocated", "disaggregated")
    if serving not in (None, "colocated", "disaggregated"):
        raise io.InputError(f"{serving!r}: expected colocated or disaggregated", field="--serving")
    return build_plan(size_deployment(m, hw, w, compare_domains=compare_domains, engine=e, modes=modes, top=top,
                                      jobs=jobs))


def _layout(layout: Layout | str, **fields: Any) -> Layout:
    if isinstance(layout, Layout):
        update = {k: v for k, v in fields.items() if v is not None}
        # validated again, not model_copy'd: a batch of 1e308 must meet the same ranges as a parsed one
        return layout_of({**layout.model_dump(), **update}) if update else layout
    return parse_layout(layout, **fields)


def evaluate(model: Spec | Model, hardware: Spec | Hardware, workload: Spec | Workload, layout: Layout | str, *,
             engine: Spec | Engine = DEFAULT_ENGINE, batch: int | None = None, serving: str | None = None,
             prefill_layout: Layout | str | None = None, gpus: int | None = None, replicas: int | None = None,
             sets: Mapping[str, Any] | None = None) -> Plan:
    """A pinned layout for the workload: pools sized for its demand (or `gpus` pinned, or
    `replicas=1`: one replica at its own capacity). Raises InputError for an impossible layout."""
    m, hw, w, e = load(model, hardware, workload, sets, engine)
    lay = e.speculate(_layout(layout, batch=batch, serving=serving, routing=w.expert_routing))
    p_lay = None if prefill_layout is None else _layout(prefill_layout, routing=w.expert_routing)
    d = evaluate_layout(m, hw, w, lay, engine=e, prefill_layout=p_lay, gpus=gpus, one_replica=replicas == 1)
    if replicas == 1 and w.requests_per_s != d.requests_per_s:
        # the replica carries its own capacity: record it as the demand so the plan reproduces itself
        d = replace(d, workload=w.model_copy(update={"requests_per_s": d.requests_per_s, "concurrent_sessions": None}))
    return build_plan(d)


def estimate(model: Spec | Model, hardware: Spec | Hardware, layout: Layout | str, *, batch: int | None = None,
             isl: int | None = None, osl: int | None = None, prefix: int | None = None,
             workload: Spec | Workload | None = None, engine: Spec | Engine = DEFAULT_ENGINE,
             serving: str | None = None, prefill_layout: Layout | str | None = None,
             sets: Mapping[str, Any] | None = None) -> Plan:
    """One replica of `layout` at its capacity (`evaluate(..., replicas=1)`). Without a workload
    the request shape is `isl`, `osl` and a `prefix` assumed resident in HBM (a perfect prefix
    cache, no targets); with one, its shape, targets and KV tiers apply (isl/osl/prefix override)."""
    overrides = dict(sets or {})
    shape = {f"workload.{k}": v for k, v in (("isl", isl), ("osl", osl), ("prefix", prefix)) if v is not None}
    if workload is None:
        if isl is None or osl is None:
            raise io.InputError("estimate needs --isl and --osl, or a --workload", field="--isl")
        base: Any = {"name": "estimate", "requests_per_s": 1.0, "isl": isl, "osl": osl, "prefix": prefix or 0,
                     "prefix_cache": "resident"}
    else:
        base = _spec(workload)
    w = io.load_workload(base, {**{k: v for k, v in overrides.items() if k.startswith("workload")}, **shape})
    others = {k: v for k, v in overrides.items() if not k.startswith("workload")}
    return evaluate(model, hardware, w, layout, engine=engine, batch=batch, serving=serving,
                    prefill_layout=prefill_layout, replicas=1, sets=others)


def balance(model: Spec | Model = DEFAULT_MODEL, hardware: Spec | Hardware = DEFAULT_HARDWARE,
            workload: Spec | Workload = DEFAULT_WORKLOAD, *, layout: Layout | str | None = None,
            batch: int | None = None, engine: Spec | Engine = DEFAULT_ENGINE,
            sets: Mapping[str, Any] | None = None, jobs: int | None = 1) -> Balance:
    """What each resource would need to move the bottleneck (planner.whatif.balance), for the plan
    `size` picks (`jobs` as `size` takes it) or at a pinned `layout` with its `batch`."""
    from planner.whatif.balance import balance as run_balance
    m, hw, w, e = load(model, hardware, workload, sets, engine)
    lay = None if layout is None else e.speculate(_layout(layout, batch=batch, routing=w.expert_routing))
    return run_balance(m, hw, w, lay, engine=e, jobs=jobs)


def train(model: Spec | Model, hardware: Spec | Hardware, *, tokens: float, layout: str = "",
          gpus: int | None = None, days: float | None = None, sets: Mapping[str, Any] | None = None,
          **layout_fields: Any) -> TrainResult:
    """A training run (planner.training.run): `layout` as --layout spells it ("tp=8,pp=16"), other
    TrainLayout fields (seq, micro_batch, global_batch, zero, recompute) as keywords."""
    from planner.training.run import train as run_train
    from planner.training.run import train_layout
    overrides = dict(sets or {})
    m = model if isinstance(model, Model) and not overrides else io.load_model(_spec(model), overrides)
    hw = hardware if isinstance(hardware, Hardware) and not overrides else io.load_hardware(_spec(hardware), overrides)
    return run_train(m, hw, train_layout(layout, **layout_fields), tokens, gpus=gpus, days=days)


def check_files(paths: list[Path], base: str | None = None,
                max_increase: Mapping[str, float] | None = None) -> list[CheckResult]:
    """`planner check`: every file's verdict (serving proposals, exported plans and training
    proposals), with budgets against `base` when given."""
    from planner.plan.check import check_files as run_check_files
    from planner.training.proposal import check_training
    return run_check_files(paths, base=base, max_increase=dict(max_increase or {}) or None,
                           kinds={"training": check_training})
