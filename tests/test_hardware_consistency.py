"""Every hardware preset is internally consistent, and every number a computation reads says
where it comes from (issue 19: presets you can trust).

Ranges are physical plausibility bands, not fits: per-stack capacity and per-pin speed of each
memory generation as JEDEC and the vendors' shipping parts span them (HBM2e 3.2-3.6 Gb/s and
8-16 GiB stacks; HBM3 5.2-6.4 Gb/s, 16-24 GiB; HBM3e 6-9.8 Gb/s, 24-36 GiB; JEDEC HBM4 8 Gb/s
over 2,048 bits, Micron >11; GDDR6 14-24, GDDR7 28-36), with a margin.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from planner.inputs.hardware import Hardware

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "hardware"
FILES = sorted(PRESET_DIR.glob("*.toml"))
IDS = [f.stem for f in FILES]

# per pin, Gb/s
PIN_SPEED = {"hbm2e": (2.4, 3.8), "hbm3": (4.0, 6.6), "hbm3e": (5.6, 10.0), "hbm4": (6.4, 13.0),
             "hbm4e": (8.0, 16.0), "gddr6": (14.0, 24.0), "gddr7": (28.0, 40.0)}
# per HBM stack, 10^9 B (device totals, so a little below the physical 2^30 figure is fine)
PER_STACK_GB = {"hbm2e": (8, 18), "hbm3": (12, 26), "hbm3e": (18, 40), "hbm4": (24, 50), "hbm4e": (32, 70)}
# whole device, 10^9 B, where the stack count is not given
TOTAL_GB = {"hbm": (16, 100), "hbm2e": (16, 140), "hbm3": (16, 220), "hbm3e": (90, 320), "hbm4": (200, 450),
            "hbm4e": (500, 1100), "gddr6": (16, 64), "gddr7": (16, 110)}
DISPLAY_ONLY = {"hbm.marketed_capacity_gb", "peak.fp4_inference_tflops"}
DATE = re.compile(r"\b(19|20)\d\d\b")
REF = re.compile(r"\[(\d+)\]")


def load(path: Path) -> Hardware:
    with open(path, "rb") as fh:
        return Hardware.model_validate(tomllib.load(fh))


def generation(hw: Hardware) -> str:
    assert hw.hbm.generation, f"{hw.name}: hbm.generation is needed to check capacity and pins"
    return hw.hbm.generation.split()[0].lower()


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_bandwidth_is_pins_times_stacks(path: Path):
    hw = load(path)
    h = hw.hbm
    if not h.pins_known:
        return
    assert h.stacks and h.bus_width_bits and h.pin_speed_gbps and h.bandwidth_tbps
    assert h.stacks * h.bus_width_bits * h.pin_speed_gbps / 8 / 1e3 == pytest.approx(h.bandwidth_tbps, rel=1e-3)
    lo, hi = PIN_SPEED[generation(hw)]
    assert lo <= h.pin_speed_gbps <= hi, f"{hw.name}: {h.pin_speed_gbps} Gb/s per pin is implausible for {h.generation}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_capacity_plausible_for_memory_type(path: Path):
    hw = load(path)
    gen, gb = generation(hw), hw.hbm.capacity_bytes / 1e9
    if hw.hbm.stacks and gen in PER_STACK_GB:
        lo, hi = PER_STACK_GB[gen]
        assert lo <= gb / hw.hbm.stacks <= hi, f"{hw.name}: {gb / hw.hbm.stacks:.1f} GB per {gen} stack"
    else:
        lo, hi = TOTAL_GB[gen]
        assert lo <= gb <= hi, f"{hw.name}: {gb:.1f} GB of {gen}"
    if hw.hbm.marketed_capacity_gb:      # a device total within 15% of the marketed figure
        assert gb == pytest.approx(hw.hbm.marketed_capacity_gb, rel=0.15)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_peaks_ordered_on_the_same_basis(path: Path):
    """FP4 >= FP8 >= BF16 wherever two figures share a basis (dense, training, derived)."""
    p = load(path).peak
    chain = [(v, b) for v, b in ((p.fp4_tflops, p.fp4_basis), (p.fp8_tflops, p.fp8_basis),
                                 (p.bf16_tflops, p.bf16_basis)) if v]
    for (hi, b_hi), (lo, b_lo) in zip(chain, chain[1:], strict=False):
        if b_hi == b_lo:
            assert hi >= lo
    if p.fp4_inference_tflops:
        assert p.fp4_tflops and p.fp4_inference_tflops >= p.fp4_tflops


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_nodes_racks_domains_nest(path: Path):
    hw = load(path)
    n, r, d = hw.gpus_per_node, hw.gpus_per_rack, hw.scale_up.domain_size
    assert r % n == 0 and (r // n) * n == r
    assert d % n == 0 or n % d == 0, f"{hw.name}: domain {d} and node {n} do not nest"
    assert d % r == 0 or r % d == 0, f"{hw.name}: domain {d} and rack {r} do not nest"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_power_figures_hold_their_gpus(path: Path):
    hw = load(path)
    p = hw.power
    assert p.includes
    if p.node_w is not None:
        assert p.node_w >= p.gpu_w * hw.gpus_per_node
    if p.rack_w is not None:
        assert p.rack_w >= p.gpu_w * hw.gpus_per_rack


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_notes_agree_with_latency_fields(path: Path):
    """A note that states a latency states the one the field holds (a '2.0 assumed' note over a
    10 us field was one of the audit's findings)."""
    hw = load(path)
    fields = {hw.scale_up.latency_us, hw.scale_out.latency_us}
    for note in hw.notes:
        for value in re.findall(r"latency_us (\d+(?:\.\d+)?)", note):
            assert float(value) in fields, f"{hw.name}: note says latency_us {value}, fields hold {fields}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_storage_tiers_on_one_link_share_it(path: Path):
    """Pod flash (G3.5, BlueField-4 class) rides the node's DPU; when shared storage is there too
    the preset must say they share it."""
    hw = load(path)
    if hw.pod_flash and hw.shared_storage:
        assert hw.storage_link is not None
        assert set(hw.storage_link.shared_by) == {"pod_flash", "shared_storage"}
    if hw.pod_flash:
        assert hw.pod_flash.write_bandwidth_gbps_per_gpu is not None


def leaf_fields(hw: Hardware, numbers_only: bool = True) -> list[str]:
    """Dotted paths of the preset's leaf fields (by default: the numbers)."""
    out: list[str] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif not numbers_only or (isinstance(value, int | float) and not isinstance(value, bool)):
            out.append(prefix)

    walk("", hw.model_dump(exclude={"provenance"}))
    return out


def used_fields(hw: Hardware) -> list[str]:
    """Every number the preset sets that a computation reads (all numbers but the display-only)."""
    return [f for f in leaf_fields(hw) if f not in DISPLAY_ONLY]


def provenance_for(hw: Hardware, path: str) -> str | None:
    """The entry for a field: its own, or its nearest section's; a tier's `assumption` labels it."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in hw.provenance:
            return hw.provenance[key]
    section = getattr(hw, parts[0], None)
    assumption = getattr(section, "assumption", None)
    return f"assumed: {assumption}" if assumption else None


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_used_field_has_a_source_or_an_assumed_label(path: Path):
    hw = load(path)
    missing = [f for f in used_fields(hw) if provenance_for(hw, f) is None]
    assert not missing, f"{hw.name}: no provenance for {missing}"
    for key, entry in hw.provenance.items():
        if entry.lower().startswith("assumed"):
            continue
        refs = [int(n) for n in REF.findall(entry)]
        assert refs, f"{hw.name}.{key}: cite a source as [n] or say 'assumed: why'"
        assert all(1 <= n <= len(hw.sources) for n in refs), f"{hw.name}.{key}: [n] beyond the sources list"
        assert DATE.search(entry), f"{hw.name}.{key}: give the source's date"


def test_provenance_keys_name_real_fields():
    for path in FILES:
        hw = load(path)
        fields = leaf_fields(hw, numbers_only=False)
        for key in hw.provenance:
            assert any(f == key or f.startswith(key + ".") for f in fields), f"{hw.name}: provenance key {key}"


# Acceptance (issue 19)
def test_b300_and_gb300_report_the_same_hbm_bytes():
    b300, gb300 = load(PRESET_DIR / "b300-hgx.toml"), load(PRESET_DIR / "gb300-nvl72.toml")
    assert b300.hbm.capacity_bytes == gb300.hbm.capacity_bytes == 275040 * 2**20


def test_h200_reports_the_device_total():
    assert load(PRESET_DIR / "h200-sxm.toml").hbm.capacity_bytes >= 150e9     # nvidia-smi 143,771 MiB


def test_usable_fraction_is_the_engines_not_the_capacitys():
    """Capacity is the device total; the engine's memory_fraction takes its share once."""
    from planner.inputs import io
    from planner.perf.memory import reserve_bytes
    hw, engine = load(PRESET_DIR / "h200-sxm.toml"), io.load_engine("vllm")
    reserve = reserve_bytes(hw, engine, 0.0, 0.0)
    assert reserve == pytest.approx(hw.hbm.capacity_bytes * (1 - engine.memory_fraction)
                                    + engine.runtime_reserve_bytes, rel=1e-9)
