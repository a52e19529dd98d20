"""`planner estimate` and `planner hardware list|show` through typer's CliRunner (COLUMNS=100).

The JSON keys are the stable contract of DESIGN.md "Command surface"; every `--format table`
test has a `--format json` twin that checks the values. Exit codes: 0 ok, 1 infeasible, 2 bad input.
"""

from __future__ import annotations

import json

import pytest
from clihelp import ENV, run, stderr_of  # noqa: F401

from planner.inputs import presets


def json_of(*args: str, exit_code: int = 0) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code == exit_code, stderr_of(result)
    return json.loads(result.stdout)


def hw_show(name: str, *sets: str) -> dict:
    args = ["hardware", "show", name]
    for s in sets:
        args += ["--set", s]
    return json_of(*args)


# ---- hardware ----------------------------------------------------------------------------------

HARDWARE_PRESETS = ("a100-sxm", "b200-hgx", "b300-hgx", "gaudi3", "gb200-nvl72", "gb300-nvl72", "h100-nvl", "h100-sxm",
                    "h20", "h200-sxm", "h800-sxm", "l40s", "mi300x", "mi325x", "mi355x", "rtx-pro-6000",
                    "rubin-ultra-nvl144", "tpu-v6e", "tpu-v7", "trn2", "trn2-ultraserver", "vr200-nvl72")


def test_hardware_list_names_every_preset():
    # issue 19 acceptance: at least 20 machines
    assert len(HARDWARE_PRESETS) >= 20
    assert sorted(presets.names("hardware")) == sorted(HARDWARE_PRESETS)
    result = run("hardware", "list")
    assert result.exit_code == 0, stderr_of(result)
    for name in HARDWARE_PRESETS:
        assert name in result.stdout


def test_hardware_list_json_twin():
    rows = json_of("hardware", "list")
    assert sorted(r["name"] for r in rows) == sorted(HARDWARE_PRESETS)
    by_name = {r["name"]: r for r in rows}
    assert by_name["b300-hgx"]["hbm"]["capacity_bytes"] == by_name["gb300-nvl72"]["hbm"]["capacity_bytes"]
    assert by_name["h200-sxm"]["hbm"]["capacity_bytes"] >= 150e9


def test_hardware_show_states_bases():
    """Peaks say they are dense (and on which basis), power says what it includes, and a machine
    without a measured kernel table says it uses flat factors."""
    d = hw_show("vr200-nvl72")
    assert d["peak_basis"] == {"bf16": "dense", "fp8": "dense", "fp4": "training"}
    assert d["peak_flops_fp4_inference"] == pytest.approx(50e15)
    assert "dense peaks used for time" in d["peak_note"]
    assert d["power"]["includes"]
    assert d["tiers"]["G3.5"]["write_bytes_per_s_per_gpu"] == pytest.approx(25e9)
    assert d["storage_link"]["shared_by"] == ["pod_flash", "shared_storage"]
    assert "flat efficiency factors" in hw_show("l40s")["kernels"]
    assert "measured" in hw_show("h200-sxm")["kernels"]
    text = run("hardware", "show", "l40s").stdout
    assert "flat efficiency factors" in text and "dense peaks used for time" in text


def test_hardware_show_gb200_balance_points():
    # Project acceptance case: "10 / 5 PFLOP/s dense over 0.9 TB/s per direction" -> 11,111 FP4, 5,556 FP8.
    d = hw_show("gb200-nvl72")
    assert d["balance"]["scale_up"]["fp4"] == pytest.approx(10e15 / 0.9e12, rel=0.01)   # 11,111
    assert d["balance"]["scale_up"]["fp8"] == pytest.approx(5e15 / 0.9e12, rel=0.01)    # 5,556
    assert d["balance"]["scale_up"]["fp4"] == pytest.approx(11_111, rel=0.01)
    assert d["balance"]["scale_up"]["fp8"] == pytest.approx(5_556, rel=0.01)
    # HBM balance: 2.5 PFLOP/s BF16 over 8.0 TB/s (preset notes) = 312.5 FLOPs/B
    assert d["balance"]["hbm"]["bf16"] == pytest.approx(2.5e15 / 8.0e12, rel=1e-9)
    assert d["scale_up"]["domain_size"] == 72
    assert d["scale_up"]["bandwidth_bytes_per_s"] == pytest.approx(900e9, rel=1e-12)


@pytest.mark.parametrize("name", ["gb200-nvl72", "h100-sxm"])
def test_hardware_show_json_keys(name):
    d = hw_show(name)
    for key in ("capacity_bytes", "bandwidth_bytes_per_s"):
        assert isinstance(d["hbm"][key], float) and d["hbm"][key] > 0
    assert set(("bf16", "fp8", "fp4")) <= set(d["peak_flops"])
    assert d["scale_up"]["bandwidth_bytes_per_s"] > 0
    assert isinstance(d["scale_up"]["domain_size"], int)
    assert d["scale_out"]["bandwidth_bytes_per_s"] > 0
    for res in ("hbm", "scale_up", "scale_out"):
        assert set(("bf16", "fp8", "fp4")) <= set(d["balance"][res])
        # balance = dense peak / bandwidth, for every precision the part has
        bw = d[res]["bandwidth_bytes_per_s"]
        for cls in ("bf16", "fp8", "fp4"):
            peak = d["peak_flops"][cls]
            if peak is None:
                assert d["balance"][res][cls] is None
            else:
                assert d["balance"][res][cls] == pytest.approx(peak / bw, rel=1e-12)


def test_hardware_show_fp4_null_on_h100():
    d = hw_show("h100-sxm")
    assert d["peak_flops"]["fp4"] is None                     # Hopper has no FP4 tensor cores
    assert d["peak_flops"]["fp8"] == pytest.approx(1978.9e12, rel=1e-9)   # dense, not the sparse 3,958
    assert d["balance"]["scale_up"]["fp4"] is None


def test_pin_speed_override_scales_bandwidth_proportionally():
    # GB200 preset: 8 stacks x 1024 bits x 7.8125 Gb/s / 8 = 8.0 TB/s; 12 Gb/s -> 8.0 * 12 / 7.8125
    base = hw_show("gb200-nvl72")
    fast = hw_show("gb200-nvl72", "hardware.hbm.pin_speed_gbps=12")
    assert base["hbm"]["bandwidth_bytes_per_s"] == pytest.approx(8.0e12, rel=1e-9)
    assert fast["hbm"]["bandwidth_bytes_per_s"] == pytest.approx(8.0e12 * 12 / 7.8125, rel=1e-9)  # 12.288 TB/s
    # the HBM balance point moves inversely; the others do not move
    assert fast["balance"]["hbm"]["fp8"] == pytest.approx(base["balance"]["hbm"]["fp8"] * 7.8125 / 12, rel=1e-9)
    assert fast["balance"]["scale_up"] == base["balance"]["scale_up"]


def test_bandwidth_override_on_gb300():
    d = hw_show("gb300-nvl72", "hardware.hbm.bandwidth_tbps=10")
    assert d["hbm"]["bandwidth_bytes_per_s"] == pytest.approx(10e12, rel=1e-9)
    # pins follow the bandwidth: 10e12 * 8 / (8 stacks * 1024 bits) = 9.765625 Gb/s
    assert d["hbm"]["pin_speed_gbps"] == pytest.approx(9.765625, rel=1e-9)


def test_pin_speed_override_without_stacks_is_not_silently_ignored():
    result = run("hardware", "show", "mi355x", "--set", "hardware.hbm.pin_speed_gbps=12", "--format", "json")
    if result.exit_code == 2:
        return
    d = json.loads(result.stdout)
    assert d["hbm"]["bandwidth_bytes_per_s"] != pytest.approx(8.0e12)


def test_hardware_show_unknown_preset_exits_2():
    result = run("hardware", "show", "no-such-gpu")
    assert result.exit_code == 2
    assert "Traceback" not in stderr_of(result)


# ---- estimate ----------------------------------------------------------------------------------

CASE = ("--model", "deepseek-v3", "--hardware", "h200-sxm", "--layout", "tp=1,dp=8,ep=8,pp=1",
        "--batch", "8", "--isl", "2048", "--osl", "256")
PHASE_KEYS = ("compute_s", "hbm_s", "scale_up_s", "scale_out_s", "storage_s", "time_s", "bottleneck")
RESOURCES = ("compute", "hbm", "scale_up", "scale_out", "storage")


def test_estimate_json_has_every_design_key():
    d = json_of("estimate", *CASE)
    assert {"tp", "dp", "ep", "pp", "batch"} <= set(d["layout"])
    assert (d["layout"]["tp"], d["layout"]["dp"], d["layout"]["ep"], d["layout"]["batch"]) == (1, 8, 8, 8)
    for key in ("weights_bytes", "kv_bytes", "activation_bytes", "reserve_bytes", "free_bytes"):
        assert isinstance(d["per_gpu"][key], (int, float))
    for ph in ("prefill", "decode"):
        for key in PHASE_KEYS:
            assert key in d["phases"][ph], (ph, key)
        assert d["phases"][ph]["bottleneck"] in RESOURCES
        assert d["phases"][ph]["time_s"] > 0
    for key in ("ttft_s", "tpot_s", "tokens_per_s_per_gpu"):
        assert d[key] > 0
    for key in ("gpus", "replicas", "nodes", "racks", "power_w"):
        assert key in d["cluster"]
    assert d["cluster"]["gpus"] == 8 and d["cluster"]["nodes"] == 1
    # one DGX H200 at its published 10.2 kW maximum (the preset's node power basis)
    assert d["cluster"]["power_w"] == pytest.approx(10_200)
    assert d["cluster"]["power_basis"].startswith("node figure")
    assert isinstance(d["kv_tiers"], list)
    assert d["verdicts"]
    for v in d["verdicts"]:
        assert {"phase", "resource", "severity", "message"} <= set(v)
        assert v["severity"] in ("error", "warning", "info")
    assert d["feasible"] is True


def test_estimate_json_budget_adds_up_to_capacity():
    d = json_of("estimate", *CASE)
    g = d["per_gpu"]
    total = g["weights_bytes"] + g["kv_bytes"] + g["activation_bytes"] + g["reserve_bytes"] + g["free_bytes"]
    assert total == pytest.approx(g["capacity_bytes"], rel=1e-9)
    assert g["capacity_bytes"] == pytest.approx(143771 * 2**20, rel=1e-12)   # h200: nvidia-smi 143,771 MiB


def test_estimate_json_phase_time_is_at_least_each_term():
    # With dual micro-batch overlap, time = max(gpu, comm, storage) + overhead >= any single term.
    d = json_of("estimate", *CASE)
    for ph in ("prefill", "decode"):
        p = d["phases"][ph]
        assert p["time_s"] >= max(p[r + "_s"] for r in RESOURCES)
        assert p["bottleneck"] == max(RESOURCES, key=lambda r: p[r + "_s"])


def test_estimate_table_twin():
    result = run("estimate", *CASE, "--format", "table")
    assert result.exit_code == 0, stderr_of(result)
    assert "HBM per GPU" in result.stdout
    assert "Verdicts" in result.stdout
    assert "TPOT" in result.stdout


def test_estimate_weights_do_not_fit_exits_1():
    # llama-3.1-405b BF16 (~812 GB) on one H100: infeasible is a verdict and exit 1, not 2, no traceback.
    args = ("estimate", "--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--layout", "tp=1",
            "--batch", "1", "--isl", "2048", "--osl", "256")
    result = run(*args)
    assert result.exit_code == 1, stderr_of(result)
    assert "Traceback" not in result.output
    d = json_of(*args, exit_code=1)
    assert d["feasible"] is False
    errors = [v for v in d["verdicts"] if v["severity"] == "error"]
    assert any(v["resource"] == "hbm" and "tp=16" in v["lever"] for v in errors)


def test_estimate_mtp_flag_lowers_tpot():
    base = json_of("estimate", *CASE)
    mtp = json_of("estimate", *CASE, "--mtp")
    assert mtp["layout"]["mtp_depth"] == 1 and mtp["layout"]["mtp_acceptance"] == [0.92, 0.717, 0.364]
    assert mtp["tpot_s"] < base["tpot_s"]
    # TPOT = the mixed step (decode + prompt chunks) / 1.92 tokens per step: the first draft is
    # accepted 92% of the time (NVIDIA TRT-LLM DeepSeek-R1 blog, MTP acceptance per position)
    assert mtp["accepted_tokens_per_step"] == pytest.approx(1.92)
    assert mtp["decode_step_s"] == mtp["phases"]["decode"]["time_s"]
    assert mtp["tpot_s"] == pytest.approx(mtp["step_s"] / 1.92, rel=1e-12)
    deep = json_of("estimate", *CASE, "--mtp-depth", "3", "--mtp-acceptance", "0.9,0.8")
    assert deep["accepted_tokens_per_step"] == pytest.approx(1 + 0.9 + 0.9 * 0.8 + 0.9 * 0.8 * 0.8)


@pytest.mark.parametrize("flag, value", [("--batch", "0"), ("--isl", "lots"), ("--osl", "-3")])
def test_estimate_bad_counts_exit_2(flag, value):
    args = list(CASE)
    args[args.index(flag) + 1] = value
    result = run("estimate", *args)
    assert result.exit_code == 2
    assert "Traceback" not in stderr_of(result)
    assert flag in stderr_of(result)


def test_routing_option():
    args = ("estimate", "-m", "deepseek-v3", "-H", "h200-sxm", "--layout", "tp=1,dp=8,ep=8", "--batch", "32",
            "--isl", "2048", "--osl", "512", "--format", "json")
    skewed = json.loads(run(*args).stdout)
    balanced = json.loads(run(*args, "--routing", "balanced").stdout)
    # a prefill step is compute-bound, so the busiest expert GPU sets its pace; the mixed steps that
    # carry a batch-32 decode are HBM-bound at these token counts, where the skew costs nothing
    assert balanced["phases"]["prefill"]["time_s"] < skewed["phases"]["prefill"]["time_s"]
    assert balanced["ttft_s"] <= skewed["ttft_s"] and balanced["tpot_s"] <= skewed["tpot_s"]
    bad = run(*args, "--routing", "skewed")
    assert bad.exit_code == 2 and "--routing" in stderr_of(bad)
