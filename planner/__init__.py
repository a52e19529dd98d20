"""planner: capacity planning for large-language-model infrastructure.

The library is pure: typed inputs in, typed results out, no printing. The CLI calls the same
functions::

    from planner import load_model, load_hardware, load_workload, size
    plan = size(load_model("deepseek-v4-pro"), load_hardware("gb300-nvl72"), load_workload("agentic"))
    plan.best.cluster.gpus
"""

__version__ = "0.1.0"

from planner.balance import Balance, balance  # noqa: E402
from planner.estimate import Estimate, estimate  # noqa: E402
from planner.io import load_hardware, load_model, load_workload, parse_overrides  # noqa: E402
from planner.layout import Layout, parse_layout  # noqa: E402
from planner.plan import build_plan, evaluate_plan_file  # noqa: E402
from planner.sizing import Sizing, size  # noqa: E402
from planner.summary import summarize  # noqa: E402
from planner.sweep import CompareResult, SweepResult, SweepRow, compare, sweep  # noqa: E402

__all__ = ["Balance", "CompareResult", "Estimate", "Layout", "Sizing", "SweepResult", "SweepRow", "balance",
           "build_plan", "compare", "estimate", "evaluate_plan_file", "load_hardware", "load_model", "load_workload",
           "parse_layout", "parse_overrides", "size", "summarize", "sweep", "__version__"]
