"""Shared test setup: a fixed terminal width for CLI output, and the `slow` marker."""

from __future__ import annotations

import os

# cli/render.py sizes its consoles from COLUMNS when it is imported; fix the width before any
# test module imports the CLI, so table output does not depend on the terminal running pytest.
os.environ["COLUMNS"] = "100"
os.environ.setdefault("NO_COLOR", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds and installs a wheel; runs only with PLANNER_WHEEL_TEST=1")
