"""What the bench scripts share."""

from __future__ import annotations

import sys
from pathlib import Path


def planner_command() -> list[str]:
    """The `planner` console script of the interpreter running the bench (a `planner` found first
    on PATH may be another install, or a version manager's shim with its own start-up cost), else
    `python -m cli.main`."""
    exe = Path(sys.executable).parent / "planner"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "cli.main"]
