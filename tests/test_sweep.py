"""`planner sweep` and planner.whatif.sweep: monotone pin-speed sweeps, invalid values as rows, formats,
zipping, ranges, and agreement with `estimate` point by point. No timing here (bench/ does that)."""

from __future__ import annotations

import csv
import io as _io
import json

import pytest
from clihelp import run

from planner import api
from planner.errors import InputError
from planner.whatif.sweep import parse_values, sweep

FAST = ["--model", "deepseek-v4-pro", "--hardware", "gb200-nvl72", "--fixed-layout", "tp=1,dp=8,ep=8", "--batch", "64",
        "--serving", "disaggregated"]




def test_pin_speed_sweep_is_monotone():
    # gb200-nvl72: 8 stacks x 1024 bits; HBM bandwidth = 8 x 1024 x pin / 8 GB/s = 1.024 TB/s per Gb/s
    # disaggregated: TPOT is the bare decode step, which is what the pin speed moves
    r = sweep({"hardware.hbm.pin_speed_gbps": "6:12:0.5"}, hardware="gb200-nvl72", layout="tp=1,dp=8,ep=8",
              batch=64, serving="disaggregated", jobs=1)
    rows = list(r)
    assert len(rows) == 13 and all(row.decode_time_s is not None for row in rows)
    assert not rows[0].feasible and "TPOT" in rows[0].reason     # 6 Gb/s misses agentic's 30 ms TPOT
    assert rows[-1].feasible
    bw = [row.hbm_bandwidth_bytes_per_s for row in rows]
    dec = [row.decode_time_s for row in rows]
    assert bw[0] == pytest.approx(6 * 1.024e12) and bw[-1] == pytest.approx(12 * 1.024e12)
    assert all(b2 > b1 for b1, b2 in zip(bw, bw[1:], strict=False))
    assert all(d2 <= d1 for d1, d2 in zip(dec, dec[1:], strict=False))
    assert dec[-1] < dec[0]


def test_size_mode_pin_sweep_monotone():
    r = sweep({"hardware.hbm.pin_speed_gbps": [6, 8, 10]}, model="llama-3.1-70b", hardware="h200-sxm",
              workload="chat", jobs=1)
    assert r.mode == "size" and all(row.feasible for row in r)
    bw = [row.hbm_bandwidth_bytes_per_s for row in r]
    assert bw == sorted(bw) and len(set(bw)) == 3


def test_estimate_rows_match_estimate():
    r = sweep({"layout.batch": [16, 64], "workload.isl": [2048, 8192]}, hardware="gb200-nvl72",
              layout="tp=1,dp=8,ep=8", jobs=1)
    for row in r:
        batch, isl = row.values
        # `estimate` with the same workload: one replica of the layout, through the same engine
        e = api.estimate("deepseek-v4-pro", "gb200-nvl72", "tp=1,dp=8,ep=8", batch=batch, workload="agentic",
                         isl=isl)
        assert (row.tpot_s, row.ttft_s, row.tokens_per_s_per_gpu) == (e.tpot_s, e.ttft_s, e.tokens_per_s_per_gpu)
        assert (row.gpus, row.nodes, row.racks, row.power_w) == \
            (e.cluster.gpus, e.cluster.nodes, e.cluster.racks, e.cluster.power_w)
        assert row.feasible == e.feasible


def test_parallel_equals_serial():
    vary = {"hardware.hbm.pin_speed_gbps": "7:9:1", "batch": "1:40:3", "workload.isl": [1024, 4096]}
    kw = dict(hardware="gb200-nvl72", layout="tp=1,dp=8,ep=8")
    a = sweep(vary, jobs=1, **kw)
    b = sweep(vary, jobs=2, **kw)
    assert a.rows == b.rows
    assert [row.index for row in b] == list(range(len(b)))


def test_invalid_value_is_a_row_and_the_sweep_continues():
    r = sweep({"hardware.hbm.pin_speed_gbps": [10, "abc", 12]}, hardware="gb200-nvl72",
              layout="tp=1,dp=8,ep=8", batch=64, serving="disaggregated", jobs=1)
    assert [row.feasible for row in r] == [True, False, True]
    assert r.rows[1].reason.startswith("hardware.hbm.pin_speed_gbps: ")
    assert r.rows[2].tpot_s < r.rows[0].tpot_s


def test_unknown_preset_in_vary_is_a_row():
    r = sweep({"hardware": ["h200-sxm", "nope"]}, model="llama-3.1-70b", workload="chat", jobs=1)
    assert r.rows[0].feasible and not r.rows[1].feasible
    assert r.rows[1].reason.startswith("hardware: ") and "nope" in r.rows[1].reason


def test_cli_invalid_value_csv(tmp_path):
    res = run("sweep", *FAST, "--vary", "hardware.hbm.pin_speed_gbps=10,abc,12")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(_io.StringIO(res.stdout)))
    assert [r["feasible"] for r in rows] == ["true", "false", "true"]
    assert rows[1]["reason"].startswith("hardware.hbm.pin_speed_gbps:")


def test_csv_header_and_row_count(tmp_path):
    out = tmp_path / "s.csv"
    res = run("sweep", *FAST, "--vary", "hardware.hbm.pin_speed_gbps=8:10:1", "--vary", "workload.isl=1k,4k",
              "--output", str(out))
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 3 * 2
    header = lines[0].split(",")
    assert header[:3] == ["point", "hardware.hbm.pin_speed_gbps", "workload.isl"]
    for col in ("feasible", "reason", "gpus", "racks", "power_w", "ttft_s", "tpot_s", "tokens_per_s_per_gpu",
                "decode_bottleneck"):
        assert col in header
    # the file exists now: refused without --force
    again = run("sweep", *FAST, "--vary", "batch=8", "--output", str(out))
    assert again.exit_code == 2


def test_jsonl_parses():
    res = run("sweep", *FAST, "--vary", "batch=8,16,32", "--format", "jsonl")
    assert res.exit_code == 0, res.output
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["layout.batch"] for o in objs] == [8, 16, 32]
    assert all(o["feasible"] is True and o["decode_bottleneck"] for o in objs)


def test_table_format():
    res = run("sweep", *FAST, "--vary", "hardware.hbm.pin_speed_gbps=8,abc", "--format", "table")
    assert res.exit_code == 0, res.output
    assert "2 points" in res.stdout and "hardware.hbm.pin_speed_gbps:" in res.stdout


def test_zip_pairs_and_length_mismatch_exits_2():
    r = sweep({"hardware.hbm.pin_speed_gbps": [8, 10], "workload.isl": [1024, 2048]}, zipped=True,
              hardware="gb200-nvl72", layout="tp=1,dp=8,ep=8", batch=8, jobs=1)
    assert [row.values for row in r] == [(8, 1024), (10, 2048)]
    res = run("sweep", *FAST, "--zip", "--vary", "hardware.hbm.pin_speed_gbps=8,10,12", "--vary", "workload.isl=1k,2k")
    assert res.exit_code == 2
    assert "equal length" in res.output


@pytest.mark.parametrize("args", [
    ["--vary", "nonsense.key=1,2"],
    ["--vary", "batch=1,2"],                 # batch needs --fixed-layout
    ["--vary", "hardware.hbm.pin_speed_gbps=12:8:1"],
    ["--vary", "workload.isl"],
])
def test_usage_errors_exit_2(args):
    res = run("sweep", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", *args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


def test_ranges():
    assert parse_values("8:12:0.5") == [8, 8.5, 9, 9.5, 10, 10.5, 11, 11.5, 12]
    assert parse_values("1:10:4") == [1, 5, 9]           # 10 is off the grid
    assert parse_values("1:3") == [1, 2, 3]
    assert parse_values("h100-sxm,gb200-nvl72") == ["h100-sxm", "gb200-nvl72"]
    with pytest.raises(InputError):
        parse_values("1,,2")


def test_cartesian_order_last_key_fastest():
    r = sweep({"batch": [1, 2], "workload.isl": [1024, 2048, 4096]}, model="llama-3.1-8b", hardware="h100-sxm",
              workload="chat", layout="tp=1", jobs=1)
    assert [row.values for row in r] == [(1, 1024), (1, 2048), (1, 4096), (2, 1024), (2, 2048), (2, 4096)]
