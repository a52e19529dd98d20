"""Hardware presets: every TOML validates, and sourced spot values survive edits.

Sources are keyed as in /work/shared/reference/hardware.md (Source index).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from planner.inputs.hardware import Hardware, Status
from planner.precision import ComputeClass

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "hardware"
FILES = sorted(PRESET_DIR.glob("*.toml"))

EXPECTED = {
    "h100-sxm", "h200-sxm", "h800-sxm", "b200-hgx", "b300-hgx", "gb200-nvl72", "gb300-nvl72",
    "vr200-nvl72", "rubin-ultra-nvl144", "mi300x", "mi355x", "tpu-v7",
    # issue 19: the machines people buy and rent
    "a100-sxm", "h100-nvl", "h20", "l40s", "rtx-pro-6000", "mi325x", "tpu-v6e", "trn2", "trn2-ultraserver",
    "gaudi3",
}
ANNOUNCED = {"vr200-nvl72", "rubin-ultra-nvl144"}


def load(name: str) -> Hardware:
    with open(PRESET_DIR / f"{name}.toml", "rb") as fh:
        return Hardware.model_validate(tomllib.load(fh))


def test_expected_files_present():
    assert {f.stem for f in FILES} == EXPECTED


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_preset_loads_and_validates(path: Path):
    with open(path, "rb") as fh:
        hw = Hardware.model_validate(tomllib.load(fh))
    assert hw.name == path.stem
    assert hw.sources and hw.notes
    # pins (when given) and bandwidth_tbps must agree, so a pin-speed what-if is the only mover
    if hw.hbm.pins_known:
        assert hw.hbm.bandwidth_tbps is not None
        assert hw.hbm.bandwidth_bytes_per_s == pytest.approx(hw.hbm.bandwidth_tbps * 1e12, rel=1e-9)
    # every tier that rests on unpublished numbers says so
    if hw.nvme is not None:
        assert hw.nvme.assumption
    if hw.pod_flash is not None:
        assert hw.pod_flash.assumption
    if hw.shared_storage is not None:
        assert hw.shared_storage.assumption


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_no_sparse_as_dense(path: Path):
    """FP4 above 2.1x FP8 smells like a 2:4-sparse headline, unless the notes explain it
    (Blackwell Ultra NVFP4 boost; Rubin Ultra rack labels)."""
    with open(path, "rb") as fh:
        hw = Hardware.model_validate(tomllib.load(fh))
    p = hw.peak
    if p.fp4_tflops and p.fp8_tflops and p.fp4_tflops > 2.1 * p.fp8_tflops:
        assert any("fp4:fp8 dense ratio" in n.lower() for n in hw.notes), hw.name


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_status(path: Path):
    with open(path, "rb") as fh:
        hw = Hardware.model_validate(tomllib.load(fh))
    expected = Status.announced if hw.name in ANNOUNCED else Status.shipping
    assert hw.status == expected


def test_aliases_unique_and_resolvable():
    from planner.inputs import presets
    seen: dict[str, str] = {}
    for f in FILES:
        hw = load(f.stem)
        for key in (hw.name, *hw.aliases):
            assert key not in seen, f"{key} used by {seen.get(key)} and {hw.name}"
            seen[key] = hw.name
            assert presets.exists("hardware", key)
    assert load("tpu-v7").aliases == ("tpu7x", "ironwood")
    assert set(load("vr200-nvl72").aliases) == {"vr200-nvl144", "vera-rubin-nvl72"}
    assert set(load("rubin-ultra-nvl144").aliases) == {"rubin-ultra-nvl576", "kyber-nvl144"}


FP4, FP8, BF16 = ComputeClass.fp4, ComputeClass.fp8, ComputeClass.bf16

# (preset, getter, expected, exact?)  -- exact for integers, rel 1% otherwise
SPOT = [
    # NVIDIA H100 datasheet (R-mle accel; R-aic h100_sxm.yaml): 3.35 TB/s
    ("h100-sxm", lambda h: h.hbm.bandwidth_bytes_per_s, 3.35e12, False),
    # nvidia-smi 81,559 MiB on H100 80GB
    ("h100-sxm", lambda h: h.hbm.capacity_bytes, 81559 * 2**20, False),
    # NVLink 4: 900 GB/s bidir = 450 one direction (R-mle net)
    ("h100-sxm", lambda h: h.scale_up.bandwidth_bytes_per_s, 450e9, False),
    # H100 has no FP4: an FP4 GEMM runs at the FP8 rate, 1,979 TFLOP/s (R-dgxc)
    ("h100-sxm", lambda h: h.peak.flops_per_s(FP4), 1.979e15, False),
    ("h100-sxm", lambda h: h.peak.fp4_tflops, None, True),
    # H200: 4.8 TB/s (R-aic h200_sxm.yaml)
    ("h200-sxm", lambda h: h.hbm.bandwidth_bytes_per_s, 4.8e12, False),
    # ISCA '25 §4.1-4.2: H800 NVLink 400 GB/s bidir = 200 one direction
    ("h800-sxm", lambda h: h.scale_up.bandwidth_bytes_per_s, 200e9, False),
    # ISCA '25: 8 x 400G CX7 IB per node -> 50 GB/s per GPU
    ("h800-sxm", lambda h: h.scale_out.bandwidth_bytes_per_s, 50e9, False),
    # Day-6: $2 per H800 GPU-hour
    ("h800-sxm", lambda h: h.price.cloud_usd_per_gpu_hour, 2.0, False),
    # dgxc-benchmarking MFU denominators: B200 2,250 BF16 / 9,000 FP4 dense
    ("b200-hgx", lambda h: h.peak.flops_per_s(BF16), 2.25e15, False),
    ("b200-hgx", lambda h: h.peak.flops_per_s(FP4), 9.0e15, False),
    # nvidia-smi 183,359 MiB on B200 (TensorRT-LLM issue 10278); DGX B200 14.3 kW
    ("b200-hgx", lambda h: h.hbm.capacity_bytes, 183359 * 2**20, False),
    ("b200-hgx", lambda h: h.power.node_w, 14300, True),
    # nvidia-smi 275,040 MiB (R-aic b300_sxm.yaml); dgxc-benchmarking NVFP4 13,500 dense; CX-8 800G per GPU
    ("b300-hgx", lambda h: h.hbm.capacity_bytes, 275040 * 2**20, False),
    ("b300-hgx", lambda h: h.peak.flops_per_s(FP4), 13.5e15, False),
    ("b300-hgx", lambda h: h.scale_out.nic_speed_gbps, 800, True),
    # Project acceptance: GB200 NVL72 "10 / 5 PFLOP/s dense over 0.9 TB/s per direction" (R-aic gb200.yaml)
    ("gb200-nvl72", lambda h: h.balance("scale_up", FP4), 10e15 / 900e9, False),   # ~11,111
    ("gb200-nvl72", lambda h: h.balance("scale_up", FP8), 5e15 / 900e9, False),    # ~5,556
    # R-aic gb200.yaml: nvidia-smi 189,471 MiB
    ("gb200-nvl72", lambda h: h.hbm.capacity_bytes, 189471 * 2**20, False),
    ("gb200-nvl72", lambda h: h.scale_up.domain_size, 72, True),
    # Grace: 2 x 480 GiB per tray (R-dgxc; R-gkrepo Grace.md)
    ("gb200-nvl72", lambda h: h.host.capacity_gb_per_node, 960 * 2**30 / 1e9, False),
    # N-GB300RA: GB300 NVL72 rack up to 142 kW; 1,400 W per GPU
    ("gb300-nvl72", lambda h: h.power.rack_w, 142000, True),
    ("gb300-nvl72", lambda h: h.power.gpu_w, 1400, True),
    # the B300's nvidia-smi 275,040 MiB, one figure for one package (issue 19); R-aic gb300.yaml 15,000 NVFP4 dense
    ("gb300-nvl72", lambda h: h.hbm.capacity_bytes, 275040 * 2**20, False),
    ("gb300-nvl72", lambda h: h.peak.flops_per_s(FP4), 15e15, False),
    # CES-2026 (P-VR-jp, P-tomsVR): Rubin HBM4 22 TB/s; NVLink 6 3.6 TB/s bidir
    ("vr200-nvl72", lambda h: h.hbm.bandwidth_bytes_per_s, 22e12, False),
    ("vr200-nvl72", lambda h: h.scale_up.bandwidth_bytes_per_s, 1800e9, False),
    # R-mle accel: Rubin 35,000 NVFP4 (NVIDIA "training"), 17,500 FP8
    ("vr200-nvl72", lambda h: h.peak.flops_per_s(FP4), 35e15, False),
    ("vr200-nvl72", lambda h: h.peak.flops_per_s(FP8), 17.5e15, False),
    # P-tomsKyber: 600 kW per Kyber rack; 144 packages
    ("rubin-ultra-nvl144", lambda h: h.power.rack_w, 600000, True),
    ("rubin-ultra-nvl144", lambda h: h.gpus_per_rack, 144, True),
    # assumed: 16 HBM4e stacks x 2,048 bits at Rubin's 10.74 Gb/s = 44 TB/s (the 2025 target was 32 TB/s)
    ("rubin-ultra-nvl144", lambda h: h.hbm.bandwidth_bytes_per_s, 44e12, False),
    # one basis: 5 EF FP8 training / 144, FP4 = 2 x FP8 (Rubin's training ratio); 15 EF inference shown only
    ("rubin-ultra-nvl144", lambda h: h.peak.flops_per_s(FP4), 69444e12, False),
    ("rubin-ultra-nvl144", lambda h: h.peak.fp4_inference_tflops, 104167, True),
    # Modal's nvidia-smi table: H200 143,771 MiB; A100 80GB 81,920 MiB; L40S 46,068 MiB
    ("h200-sxm", lambda h: h.hbm.capacity_bytes, 143771 * 2**20, False),
    ("a100-sxm", lambda h: h.hbm.capacity_bytes, 81920 * 2**20, False),
    ("l40s", lambda h: h.hbm.capacity_bytes, 46068 * 2**20, False),
    # AWS Neuron docs: Trainium2 1,299 FP8 / 667 BF16 dense, 96 GiB
    ("trn2", lambda h: h.peak.flops_per_s(FP8), 1299e12, False),
    ("trn2", lambda h: h.hbm.capacity_bytes, 96 * 2**30, False),
    ("trn2-ultraserver", lambda h: h.scale_up.domain_size, 64, True),
    # Intel Gaudi 3: 1,835 BF16 = FP8 dense, 3.7 TB/s
    ("gaudi3", lambda h: h.peak.flops_per_s(BF16), 1835e12, False),
    # AMD: MI325X 256 GB (GiB) HBM3E, 6.0 TB/s
    ("mi325x", lambda h: h.hbm.capacity_bytes, 256 * 2**30, False),
    # R-gkrepo MI300X.md: 5.3 TB/s, 1,307.4 BF16 dense; R-mle net 448 GB/s all-to-all
    ("mi300x", lambda h: h.hbm.bandwidth_bytes_per_s, 5.3e12, False),
    ("mi300x", lambda h: h.peak.flops_per_s(BF16), 1307.4e12, False),
    ("mi300x", lambda h: h.scale_up.bandwidth_bytes_per_s, 448e9, False),
    # R-mle accel: MI355X 10,100 FP4 dense, 1,400 W (P-tomsMI355)
    ("mi355x", lambda h: h.peak.flops_per_s(FP4), 10.1e15, False),
    ("mi355x", lambda h: h.power.gpu_w, 1400, True),
    # G-tpu7x: 192 GiB, 4,614 FP8 dense; R-mle net: ICI 600 GB/s one direction
    ("tpu-v7", lambda h: h.hbm.capacity_bytes, 192 * 2**30, False),
    ("tpu-v7", lambda h: h.peak.flops_per_s(FP8), 4614e12, False),
    ("tpu-v7", lambda h: h.scale_up.bandwidth_bytes_per_s, 600e9, False),
    ("tpu-v7", lambda h: h.gpus_per_node, 4, True),
]


@pytest.mark.parametrize("name,get,expected,exact", SPOT,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(SPOT)])
def test_spot_values(name, get, expected, exact):
    value = get(load(name))
    if exact or expected is None:
        assert value == expected
    else:
        assert value == pytest.approx(expected, rel=0.01)


def test_pin_speed_override_moves_bandwidth():
    hw = load("vr200-nvl72")
    data = hw.model_dump()
    data["hbm"]["pin_speed_gbps"] = 12.0
    bumped = Hardware.model_validate(data)
    assert bumped.hbm.bandwidth_bytes_per_s == pytest.approx(8 * 2048 * 12e9 / 8)
    assert hw.hbm.pin_speed_for(22e12) == pytest.approx(10.7421875)


@pytest.mark.parametrize("kind", ["models", "hardware", "workloads", "engines", "validation"])
def test_no_alias_is_a_file_name(kind):
    """A preset name that is a file's stem is read without the folder index (start-up), so no alias
    may equal another preset's file name; and every alias finds its own file through the index."""
    from planner.inputs import presets
    folder = PRESET_DIR.parent / kind
    stems = {f.stem for f in folder.glob("*.toml")}
    for f in sorted(folder.glob("*.toml")):
        with open(f, "rb") as fh:
            aliases = tomllib.load(fh).get("aliases", ())
        for alias in aliases:
            assert alias.lower() not in stems, f"{f.name}: alias {alias} is also a file name"
            assert presets.source_label(kind, alias) == f"presets/{kind}/{f.name}"
        assert presets.source_label(kind, f.stem) == f"presets/{kind}/{f.name}"
    assert not presets.exists(kind, "../models/deepseek-v3")        # never a path
