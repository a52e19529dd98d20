"""planner: capacity planning for large-language-model infrastructure.

The library is pure: typed inputs in, typed results out, no printing. The CLI calls the same
functions::

    from planner import load_model, load_hardware, load_workload, size
    plan = size(load_model("deepseek-v4-pro"), load_hardware("gb300-nvl72"), load_workload("agentic"))
    plan.best.cluster.gpus

Names are imported on first use (PEP 562), so a command loads only the modules it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Balance": "planner.balance", "balance": "planner.balance",
    "Estimate": "planner.estimate", "estimate": "planner.estimate",
    "load_hardware": "planner.io", "load_model": "planner.io", "load_workload": "planner.io",
    "parse_overrides": "planner.io",
    "Layout": "planner.layout", "parse_layout": "planner.layout",
    "build_plan": "planner.plan", "evaluate_plan_file": "planner.plan",
    "Sizing": "planner.sizing", "size": "planner.sizing",
    "summarize": "planner.summary",
    "CompareResult": "planner.sweep", "SweepResult": "planner.sweep", "SweepRow": "planner.sweep",
    "compare": "planner.sweep", "sweep": "planner.sweep",
    "train": "planner.training", "TrainResult": "planner.training",
    "check_file": "planner.check",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

# These functions share their names with their modules: importing the submodule binds the package
# attribute to the module, so they are bound eagerly here (sizing needs these modules anyway).
from planner.balance import Balance, balance  # noqa: E402
from planner.estimate import Estimate, estimate  # noqa: E402
from planner.sweep import CompareResult, SweepResult, SweepRow, compare, sweep  # noqa: E402


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
