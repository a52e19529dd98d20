"""Sweeps stream (planner.whatif.sweep.iter_plan): rows come in point order as chunks complete,
with a bounded number of chunks outstanding, and the CLI writes them as they come. The Dask
executor gives the local executor's output byte for byte."""

from __future__ import annotations

import pytest
from clihelp import run

from cli import render
from planner import sweep
from planner.whatif import sweep as sw

VARY = ["--vary", "hardware.hbm.pin_speed_gbps=8:12:1", "--vary", "batch=1:64:1"]
FIXED = ["--hardware", "gb200-nvl72", "--fixed-layout", "tp=1,dp=8,ep=8", *VARY]


def test_ordered_keeps_order_and_bounds_what_is_outstanding():
    outstanding, most = [], 0

    def submit(bounds):
        nonlocal most
        outstanding.append(bounds)
        most = max(most, len(outstanding))
        return bounds

    def result(bounds):
        outstanding.remove(bounds)
        return [bounds[0]]

    chunks = ((i, i + 1) for i in range(100))
    assert [r[0] for r in sw._ordered(submit, result, chunks, window=4)] == list(range(100))
    assert most == 4


def test_chunks_are_small_whatever_the_sweep_size():
    plan = sw.make_plan({"batch": "1:100:1", "workload.isl": "1024:1024000:1024"}, model="deepseek-v4-pro",
                        hardware="gb200-nvl72", workload="agentic", sets=None, zipped=False,
                        layout="tp=1,dp=8,ep=8", batch=None)
    chunks = list(sw._chunks(plan, "estimate", 2))
    assert chunks[0] == (0, sw.CHUNK_POINTS["estimate"]) and chunks[-1][1] == plan.count == 100_000


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_streamed_output_is_the_whole_rendering(fmt, tmp_path):
    result = sweep({"hardware.hbm.pin_speed_gbps": "8:12:1", "batch": "1:64:1"}, hardware="gb200-nvl72",
                   layout="tp=1,dp=8,ep=8", batch=1, jobs=2)
    whole = (render.sweep_csv(result.columns, result.records()) if fmt == "csv"
             else render.sweep_jsonl(result.records()))
    streamed = run("sweep", *FIXED, "--format", fmt, "--jobs", "2")
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout == whole
    target = tmp_path / f"out.{fmt}"
    assert run("sweep", *FIXED, "--format", fmt, "--jobs", "2", "-o", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8") == whole


def test_dask_needs_a_scheduler():
    outcome = run("sweep", *FIXED, "--executor", "dask")
    assert outcome.exit_code == 2 and "--scheduler" in outcome.stderr


def test_dask_executor_output_equals_local_byte_for_byte(tmp_path):
    distributed = pytest.importorskip("distributed")
    grid = ["--hardware", "gb200-nvl72", "--fixed-layout", "tp=1,dp=8,ep=8",
            "--vary", "hardware.hbm.pin_speed_gbps=7:11.5:0.5", "--vary", "batch=1:100:1",
            "--vary", "workload.isl=1024,8192,32768,131072,262144,524288,1048576,2097152,4096,16384"]
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert run("sweep", *grid, "--jobs", "2", "-o", str(local)).exit_code == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        outcome = run("sweep", *grid, "--executor", "dask", "--scheduler", cluster.scheduler_address,
                      "-o", str(remote))
    assert outcome.exit_code == 0, outcome.output
    data = local.read_bytes()
    assert data.count(b"\n") == 10_001
    assert remote.read_bytes() == data


def test_a_finished_pool_is_joined_and_a_stopped_one_terminated(monkeypatch):
    # Pool.terminate() can wait for ever on a worker signalled while it waits on the task queue's lock
    # (CPython issue 78178): `sweep -o FILE` hung so in one run of three here. A sweep that ran to
    # its end closes and joins its pool; only one stopped early terminates it.
    import multiprocessing.pool
    calls = []
    for name in ("close", "join", "terminate"):
        original = getattr(multiprocessing.pool.Pool, name)
        monkeypatch.setattr(multiprocessing.pool.Pool, name,
                            lambda self, _o=original, _n=name: (calls.append(_n), _o(self))[1])
    plan = sw.make_plan({"batch": "1:100:1", "hardware.hbm.pin_speed_gbps": "7:11.5:0.5"}, model="deepseek-v4-pro",
                        hardware="gb200-nvl72", workload="agentic", sets=None, zipped=False,
                        layout="tp=1,dp=8,ep=8", batch=None)
    assert plan.count >= sw.PARALLEL_MIN_POINTS["estimate"]
    assert len(list(sw.iter_plan(plan, jobs=2))) == plan.count
    assert calls == ["close", "join"]
    calls.clear()
    rows = sw.iter_plan(plan, jobs=2)
    next(rows)
    rows.close()                                  # the consumer stops (an error downstream, Ctrl-C)
    assert calls[0] == "terminate"
