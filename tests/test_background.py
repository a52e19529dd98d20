"""planner.background: work on a forked child gives the same result as work done here, and a child
that cannot deliver never changes the outcome; `size` with a spare core gives the same plan."""

from __future__ import annotations

import os
import threading

import pytest

from planner import api
from planner.background import Background

FORKS = hasattr(os, "fork") and threading.active_count() == 1


@pytest.mark.skipif(not FORKS, reason="no fork here (or other threads run): the work is done in-process")
def test_work_runs_in_a_child():
    assert Background(os.getpid).result() != os.getpid()


def test_result_is_the_work_value():
    assert Background(lambda: {8: (1, 2.5, None)}).result() == {8: (1, 2.5, None)}


def test_a_failing_child_is_redone_here():
    """The child cannot pickle a lambda: its work is redone in this process."""
    marker = object()
    assert Background(lambda: (lambda: marker)).result()() is marker

    def boom() -> None:
        raise ValueError("raised where the work ran")
    with pytest.raises(ValueError, match="raised where the work ran"):
        Background(boom).result()


def test_an_uncollected_child_is_stopped(tmp_path):
    """Leaving the context without the result (an infeasible search, an error) stops the child
    before it finishes its work."""
    import time
    done = tmp_path / "done"

    def work() -> None:
        time.sleep(0.3)
        done.write_text("finished")
    with pytest.raises(KeyError), Background(work):
        raise KeyError("the main search failed")
    time.sleep(0.5)
    assert not done.exists()


@pytest.mark.parametrize(("model", "hardware", "workload"), [
    ("deepseek-v4-pro", "gb300-nvl72", "agentic"),      # the default: NVL72, tiers on, 4 other domains
    ("qwen3-235b-a22b", "b200-hgx", "chat"),             # an 8-GPU domain: every other domain is larger
])
def test_size_with_a_spare_core_gives_the_same_plan(model, hardware, workload):
    one = api.size(model, hardware, workload, jobs=1).to_dict()
    two = api.size(model, hardware, workload, jobs=2).to_dict()
    assert two == one
    assert [row["domain_size"] for row in one["domain"]["comparison"]] == [8, 36, 72, 144, 576]


def test_an_infeasible_size_is_the_same_with_a_spare_core():
    """No plan: the child's rows are dropped and the reasons are the in-process ones."""
    sets = {"workload.slo.tpot_ms": 0.5}
    one = api.size(sets=sets, jobs=1).to_dict()
    two = api.size(sets=sets, jobs=2).to_dict()
    assert two == one
    assert one["feasible"] is False


def test_balance_with_a_spare_core_is_the_same():
    assert api.balance(jobs=2).to_dict() == api.balance(jobs=1).to_dict()


def test_worker_count_is_the_jobs_or_every_core():
    from planner.background import worker_count
    assert worker_count(3) == 3
    assert worker_count(None) == (os.cpu_count() or 1)


def test_size_on_every_core_is_the_same_plan():
    """`planner size` passes jobs=None (every core)."""
    assert api.size(jobs=None).to_dict() == api.size(jobs=1).to_dict()
