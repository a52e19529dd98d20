"""Hardware: one accelerator plus the system around it, and the balance points it implies.

Field names carry their units. Decimal throughout (1 TB/s = 1e12 B/s) except where a field
says GiB or MiB. Peaks are dense (no 2:4 sparsity) and each states its basis. Scale-up bandwidth
is per GPU, one direction.

HBM capacity is the device total as nvidia-smi / rocm-smi report it (or the vendor's GiB figure
where no such report is published). What a serving framework may use of it is the engine's
`memory_fraction` (presets/engines/*.toml), applied once in planner.perf.memory; it is never
baked into the capacity here.

Every number a computation reads has a `provenance` entry (a source from `sources` and a date,
or "assumed: why"); tests/test_hardware_consistency.py walks the fields and checks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    PositiveInt,
    model_validator,
)

from planner.inputs.base import StrictModel
from planner.inputs.limits import (
    GB,
    GB0,
    MAX_FACTOR,
    MAX_GB,
    Bandwidth,
    Bandwidth0,
    Count0,
    Dim,
    Dollars,
    Factor,
    Gpus,
    Price,
    Tflops,
    Us0,
    Watts,
)
from planner.precision import ComputeClass


class Status(StrEnum):
    shipping = "shipping"
    announced = "announced"


class HbmSpec(StrictModel):
    """Device memory (HBM, or GDDR on PCIe cards). Give the capacity in the unit the source used."""

    capacity_gb: GB | None = Field(None, description="device total, 10^9 bytes")
    capacity_gib: GB | None = Field(None, description="device total, 2^30 bytes")
    capacity_mib: Annotated[float, Field(gt=0, le=MAX_GB * 1024)] | None = Field(
        None, description="device total, 2^20 bytes, as nvidia-smi / rocm-smi report it (memory.total)")
    marketed_capacity_gb: GB | None = Field(None, description="datasheet capacity, display only")
    generation: str | None = Field(None, description="HBM3, HBM3e, HBM4 ...")
    stacks: Dim | None = None
    bus_width_bits: Dim | None = Field(None, description="per stack: 1024 HBM3/3e, 2048 HBM4")
    pin_speed_gbps: Bandwidth | None = Field(None, description="per pin, Gb/s")
    bandwidth_tbps: Bandwidth | None = Field(None, description="10^12 B/s; derived when pins are given")

    @model_validator(mode="after")
    def _one_capacity_and_bandwidth(self) -> HbmSpec:
        given = [c for c in (self.capacity_gb, self.capacity_gib, self.capacity_mib) if c is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of capacity_gb (10^9 B), capacity_gib (2^30 B) or capacity_mib (2^20 B)")
        pins = (self.stacks, self.bus_width_bits, self.pin_speed_gbps)
        if self.bandwidth_tbps is None and None in pins:
            raise ValueError("give bandwidth_tbps, or stacks, bus_width_bits and pin_speed_gbps")
        return self

    @property
    def capacity_bytes(self) -> float:
        if self.capacity_gb is not None:
            return self.capacity_gb * 1e9
        if self.capacity_mib is not None:
            return self.capacity_mib * 2**20
        assert self.capacity_gib is not None          # the validator requires exactly one
        return self.capacity_gib * 2**30

    @property
    def pins_known(self) -> bool:
        return None not in (self.stacks, self.bus_width_bits, self.pin_speed_gbps)

    @property
    def bandwidth_bytes_per_s(self) -> float:
        # stacks x bus width (bits) x pin speed (Gb/s) / 8 -> bytes/s. When both are given the pin
        # product wins, so a pin-speed what-if moves bandwidth; presets keep the two consistent.
        stacks, bus, pin = self.stacks, self.bus_width_bits, self.pin_speed_gbps
        if stacks is not None and bus is not None and pin is not None:
            return stacks * bus * pin * 1e9 / 8
        assert self.bandwidth_tbps is not None        # the validator requires one or the other
        return self.bandwidth_tbps * 1e12

    def pin_speed_for(self, bandwidth_bytes_per_s: float) -> float | None:
        """Pin speed (Gb/s) that would give this bandwidth with the same stacks and bus."""
        if self.stacks is None or self.bus_width_bits is None:
            return None
        return bandwidth_bytes_per_s * 8 / (self.stacks * self.bus_width_bits * 1e9)


# What a peak figure is. The planner times compute with these figures as dense peaks, whatever the
# basis; the basis says how sure that is:
#   dense     the vendor's dense figure (no 2:4 sparsity), or a sparse headline the vendor halves;
#   training  the vendor's "training" label (Rubin NVFP4), not labelled dense or sparse, taken as dense;
#   derived   arithmetic on other sourced figures (rack total / packages, a ratio carried over): an
#             assumption, its provenance says which.
PeakBasis = Literal["dense", "training", "derived"]


class PeakFlops(StrictModel):
    """Dense peaks per GPU package, TFLOP/s (10^12). Never the 2:4-sparse headline; the planner
    uses these for time. `*_basis` states what each figure is (see PeakBasis)."""

    bf16_tflops: Tflops
    fp8_tflops: Tflops | None = None
    fp4_tflops: Tflops | None = None
    int8_tops: Tflops | None = None
    bf16_basis: PeakBasis = "dense"
    fp8_basis: PeakBasis = "dense"
    fp4_basis: PeakBasis = "dense"
    fp4_inference_tflops: Tflops | None = Field(
        None, description="the vendor's FP4 'inference' figure where it differs from the dense/training one "
                          "(Rubin NVFP4; sparsity not labelled): shown, never used for time")

    def flops_per_s(self, cls: ComputeClass) -> float:
        """Peak for a compute class; a missing low precision falls back to the next wider one
        (an FP4 GEMM on H100 runs as FP8, which is what the hardware would do)."""
        value = {ComputeClass.fp4: self.fp4_tflops, ComputeClass.fp8: self.fp8_tflops,
                 ComputeClass.bf16: self.bf16_tflops}[cls]
        if value is None:
            return self.flops_per_s(ComputeClass.fp8 if cls == ComputeClass.fp4 else ComputeClass.bf16)
        return value * 1e12

    def native(self, cls: ComputeClass) -> bool:
        return {ComputeClass.fp4: self.fp4_tflops, ComputeClass.fp8: self.fp8_tflops,
                ComputeClass.bf16: self.bf16_tflops}[cls] is not None


class ScaleUp(StrictModel):
    technology: str = Field(description="NVLink 5, Infinity Fabric, ICI ...")
    bandwidth_gbps: Bandwidth = Field(description="GB/s (10^9 B/s) per GPU, one direction")
    domain_size: Gpus = Field(description="GPU packages in one scale-up domain")
    latency_us: Us0 = Field(2.0, description="per collective step, microseconds")

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.bandwidth_gbps * 1e9


class ScaleOut(StrictModel):
    technology: str = Field(description="ConnectX-7 InfiniBand, ...")
    nic_speed_gbps: Bandwidth = Field(description="per NIC, Gb/s (bits): 400 for ConnectX-7")
    nics_per_gpu: Factor = 1.0
    latency_us: Us0 = Field(5.0, description="per collective step, microseconds")

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.nic_speed_gbps * self.nics_per_gpu * 1e9 / 8


class HostMemory(StrictModel):
    """G2 tier: CPU memory of the node and how a GPU reaches it."""

    capacity_gb_per_node: GB0 = Field(description="10^9 B per node (or per tray)")
    link: str = Field(description="PCIe Gen5 x16, NVLink-C2C ...")
    link_bandwidth_gbps: Bandwidth = Field(description="GB/s per GPU, one direction, GPU<->host")
    memory_bandwidth_gbps: Bandwidth | None = Field(None, description="host DRAM GB/s per node")


class LocalNvme(StrictModel):
    """G3 tier: drives inside the node."""

    drives_per_node: Count0
    drive_capacity_tb: GB0 = Field(description="10^12 B per drive")
    drive_read_gbps: Bandwidth0 = Field(description="GB/s sequential read per drive")
    drive_write_gbps: Bandwidth0 = Field(description="GB/s sequential write per drive")
    assumption: str | None = Field(None, description="set when the drive model is not published")


class PodFlash(StrictModel):
    """G3.5 tier: pod-level Ethernet-attached flash (NVIDIA ICMS/CMX with BlueField-4)."""

    capacity_tb_per_rack: GB0 = Field(description="10^12 B of flash serving each rack")
    bandwidth_gbps_per_gpu: Bandwidth0 = Field(description="GB/s per GPU, read")
    write_bandwidth_gbps_per_gpu: Bandwidth0 | None = Field(None, description="GB/s per GPU, write")
    latency_us: Us0 = Field(0.0, description="per load (request to first byte), microseconds")
    scope_racks: Gpus = Field(description="racks that share one pod tier")
    assumption: str | None = Field(None, description="what is assumed where vendors publish nothing")


class SharedStorage(StrictModel):
    """G4 tier: shared/cluster storage (e.g. a parallel file system)."""

    bandwidth_gbps_per_node: Bandwidth0 = Field(description="GB/s read per node")
    write_bandwidth_gbps_per_node: Bandwidth0 | None = Field(None, description="GB/s write per node")
    latency_us: Us0 = Field(0.0, description="per load (request to first byte), microseconds")
    capacity_pb: GB0 | None = None
    assumption: str | None = None


class StorageLink(StrictModel):
    """The node's network path to storage (a DPU or NIC) when several tiers ride it: their reads
    together, and their writes together, cannot exceed it (planner.kv.tiers caps and checks them)."""

    name: str = Field(description="BlueField-4 DPU, storage NIC ...")
    bandwidth_gbps_per_node: Bandwidth = Field(description="GB/s per node, each direction")
    shared_by: tuple[Literal["pod_flash", "shared_storage"], ...] = Field(
        min_length=1, description="the tiers that reach storage through it")


class Power(StrictModel):
    """Power, and which published figure the system power comes from.

    Plans report IT power on one basis for every machine: the system at load (GPUs plus their
    share of CPUs, memory, NICs, switches and fans). `basis` names the figure that gives it: the
    rack (NVL72-class racks publish one), the node (DGX-class systems), or only the GPU's TDP, in
    which case a system overhead factor converts it (planner.machine.cluster.DEFAULT_SYSTEM_OVERHEAD when
    the preset gives none; labelled as an assumption in the output)."""

    basis: Literal["gpu", "node", "rack"] = Field(description="the figure the system power is derived from")
    includes: str = Field(description="what the basis figure covers (GPUs, CPUs, NICs, switches, fans, ...)")
    gpu_w: Watts = Field(description="TDP/TBP per GPU package, watts")
    node_w: Watts | None = Field(None, description="whole node (or tray) at load, watts")
    rack_w: Watts | None = Field(None, description="whole rack at load, watts")
    system_overhead: float | None = Field(
        None, ge=1, le=MAX_FACTOR,
        description="basis gpu: system IT power per GPU / GPU TDP (default: planner's stated assumption)")
    source: str = Field(description="where the basis figure comes from")

    @model_validator(mode="after")
    def _basis_given(self) -> Power:
        if self.basis == "node" and self.node_w is None:
            raise ValueError("basis 'node' needs node_w")
        if self.basis == "rack" and self.rack_w is None:
            raise ValueError("basis 'rack' needs rack_w")
        if self.system_overhead is not None and self.basis != "gpu":
            raise ValueError("system_overhead converts a GPU figure: only with basis 'gpu'")
        return self


class Pricing(StrictModel):
    """Dated list prices in US dollars, each from a named source (provenance "price"); overridable
    with --set hardware.price.*. Cloud: on-demand per GPU-hour, the provider named (power and the
    building included). Owned: the purchase price amortised over `amortization_years`, plus the
    system power at `pue` times `energy_usd_per_kwh` (planner.machine.cost)."""

    cloud_usd_per_gpu_hour: Price | None = None
    cloud_provider: str | None = Field(None, description="provider, instance and region the price is for")
    cloud_date: str | None = None
    capex_usd_per_gpu: Dollars | None = Field(None, description="purchase price per GPU (or its share of a system)")
    capex_basis: str | None = Field(None, description="what the purchase price covers (GPU alone, server share ...)")
    capex_date: str | None = None
    amortization_years: Factor = Field(5.0, le=50, description="theCUBE Research / neocloud filings: 4-6 years")
    energy_usd_per_kwh: Annotated[float, Field(ge=0, le=100)] = Field(
        0.0806, description="US EIA average industrial electricity price, 2023")
    pue: Annotated[float, Field(ge=1, le=10)] = Field(1.58, description="Uptime Institute average PUE, 2023")
    basis: Literal["cloud", "owned"] | None = Field(
        None, description="which price a plan uses; default: cloud when known, else owned")

    @property
    def resolved_basis(self) -> Literal["cloud", "owned"] | None:
        if self.basis is not None:
            return self.basis if (self.cloud_usd_per_gpu_hour if self.basis == "cloud"
                                  else self.capex_usd_per_gpu) is not None else None
        if self.cloud_usd_per_gpu_hour is not None:
            return "cloud"
        return "owned" if self.capex_usd_per_gpu is not None else None


class Efficiency(StrictModel):
    """Achievable fraction of each peak; datasheet numbers stay separate from these."""

    compute: float = Field(0.7, gt=0, le=1)
    hbm: float = Field(0.8, gt=0, le=1)
    scale_up: float = Field(0.8, gt=0, le=1)
    scale_out: float = Field(0.8, gt=0, le=1)
    storage: float = Field(0.9, gt=0, le=1)
    origin: str = Field(description="where these factors come from")
    kernel_table: str | None = Field(
        None, description="measured kernel-class curves in presets/validation/kernel_efficiency.toml "
                          "(e.g. 'h200-sxm'); overrides the flat compute and HBM factors per kernel class")


class Hardware(StrictModel):
    name: str
    aliases: tuple[str, ...] = ()
    description: str
    vendor: Literal["nvidia", "amd", "google", "other"]
    status: Status
    gpus_per_node: Gpus = Field(description="GPUs per node or compute tray")
    gpus_per_rack: Gpus
    sms_per_gpu: PositiveInt | None = Field(
        None, description="streaming multiprocessors (compute units) per GPU package: the share that "
                          "SM-driven communication kernels take from compute is counted in them")
    hbm: HbmSpec
    peak: PeakFlops
    scale_up: ScaleUp
    scale_out: ScaleOut
    host: HostMemory | None = None
    nvme: LocalNvme | None = None
    pod_flash: PodFlash | None = None
    shared_storage: SharedStorage | None = None
    storage_link: StorageLink | None = None
    power: Power
    efficiency: Efficiency
    price: Pricing | None = None
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = Field(min_length=1)
    provenance: dict[str, str] = Field(
        default_factory=dict,
        description="field path (or a section: 'peak', 'efficiency') -> '[n] ... (YYYY-MM)' citing sources[n-1] "
                    "with a date, or 'assumed: why'")

    @model_validator(mode="after")
    def _consistent(self) -> Hardware:
        # Nodes nest in racks. A scale-up domain that does not nest with nodes and racks (a what-if
        # domain size) is packed contiguously (planner.machine.cluster).
        if self.gpus_per_rack % self.gpus_per_node:
            raise ValueError("gpus_per_rack must be a multiple of gpus_per_node")
        if self.storage_link is not None:
            missing = [t for t in self.storage_link.shared_by if getattr(self, t) is None]
            if missing:
                raise ValueError(f"storage_link.shared_by names tiers this hardware lacks: {', '.join(missing)}")
        return self

    @property
    def peak_note(self) -> str:
        """The basis of the peaks the planner times compute with, as the output states it."""
        p = self.peak
        parts = [f"{name} {basis}" for name, value, basis in (("BF16", p.bf16_tflops, p.bf16_basis),
                                                                ("FP8", p.fp8_tflops, p.fp8_basis),
                                                                ("FP4", p.fp4_tflops, p.fp4_basis)) if value]
        return "dense peaks used for time (" + ", ".join(parts) + ")"

    @property
    def kernel_note(self) -> str:
        """Which efficiency model times this machine's kernels, as the output states it."""
        if self.efficiency.kernel_table:
            return f"measured kernel-class curves ({self.efficiency.kernel_table} table)"
        return ("flat efficiency factors (no measured kernel table for this machine): "
                f"compute {self.efficiency.compute:g}, HBM {self.efficiency.hbm:g}")

    # Balance points: the arithmetic intensity (FLOPs per byte moved) at which the resource and the
    # compute take equal time. Above it the resource is the bottleneck.
    def balance(self, resource: Literal["hbm", "scale_up", "scale_out"], cls: ComputeClass) -> float | None:
        if not self.peak.native(cls):
            return None
        bandwidth = {"hbm": self.hbm.bandwidth_bytes_per_s,
                     "scale_up": self.scale_up.bandwidth_bytes_per_s,
                     "scale_out": self.scale_out.bandwidth_bytes_per_s}[resource]
        return self.peak.flops_per_s(cls) / bandwidth
