"""planner: capacity planning for large-language-model infrastructure.

The library is pure: typed inputs in, typed results out, no printing. The CLI calls the same
functions::

    from planner import size
    plan = size("deepseek-v4-pro", "gb300-nvl72", "agentic")
    plan.cluster.gpus, plan.ttft_s, plan.tokens_per_s_per_gpu

Names are imported on first use (PEP 562), so `import planner` (or `import planner.units`) loads
only this file, and a command loads only the modules it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "size": "planner.api", "evaluate": "planner.api", "estimate": "planner.api", "load": "planner.api",
    "Plan": "planner.plan", "build_plan": "planner.plan", "evaluate_plan_file": "planner.plan",
    "Deployment": "planner.serving",
    "load_hardware": "planner.io", "load_model": "planner.io", "load_workload": "planner.io",
    "parse_overrides": "planner.io",
    "Layout": "planner.layout", "parse_layout": "planner.layout", "validate_layout": "planner.layout",
    "summarize": "planner.summary",
    "Balance": "planner.balance", "balance": "planner.balance",
    "CompareResult": "planner.sweep", "SweepResult": "planner.sweep", "SweepRow": "planner.sweep",
    "compare": "planner.sweep", "sweep": "planner.sweep",
    "train": "planner.training", "TrainResult": "planner.training",
    "check_file": "planner.check",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
