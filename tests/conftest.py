"""Shared test setup: a fixed terminal width for CLI output, the fuzzer's seed, and the `slow` marker."""

from __future__ import annotations

import os

# cli/render.py sizes its consoles from COLUMNS when it is imported; fix the width before any
# test module imports the CLI, so table output does not depend on the terminal running pytest.
os.environ["COLUMNS"] = "100"
os.environ.setdefault("NO_COLOR", "1")

# The fuzzer (tests/test_fuzz.py) runs with a new seed each run; PLANNER_FUZZ_SEED replays one. The
# seed is chosen here, once per run, so that the report header can show it before any test runs.
FUZZ_SEED = int(os.environ.get("PLANNER_FUZZ_SEED") or int.from_bytes(os.urandom(4), "big"))
os.environ["PLANNER_FUZZ_SEED"] = str(FUZZ_SEED)


def pytest_report_header(config):
    return f"fuzz seed: {FUZZ_SEED} (replay with PLANNER_FUZZ_SEED={FUZZ_SEED})"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds and installs a wheel; runs only with PLANNER_WHEEL_TEST=1")
