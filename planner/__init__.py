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
    "Plan": "planner.plan.schema", "build_plan": "planner.plan.schema", "evaluate_plan_file": "planner.plan.schema",
    "Deployment": "planner.serving.deployment",
    "load_hardware": "planner.inputs.io", "load_model": "planner.inputs.io", "load_workload": "planner.inputs.io",
    "parse_overrides": "planner.inputs.io",
    "Layout": "planner.inputs.layout", "parse_layout": "planner.inputs.layout",
    "validate_layout": "planner.inputs.layout",
    "summarize": "planner.model.summary",
    "Balance": "planner.whatif.balance", "balance": "planner.api",
    "CompareResult": "planner.whatif.sweep", "SweepResult": "planner.whatif.sweep", "SweepRow": "planner.whatif.sweep",
    "compare": "planner.whatif.sweep", "sweep": "planner.whatif.sweep",
    "frontier": "planner.whatif.frontier", "Frontier": "planner.whatif.frontier",
    "train": "planner.api", "TrainResult": "planner.training.run",
    "check_file": "planner.plan.check",
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
