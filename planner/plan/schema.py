"""The plan: one typed result for `size`, pinned proposals and `estimate`.

`Plan` holds everything the tool decided and computed, with fully resolved inputs (and the layout
when it was pinned), so that a plan file alone reproduces itself (`planner size --plan plan.toml`)
on any machine. Rendering, `check`, `diff`, the TOML/JSON export and `planner schema plan` read
this model by attribute; its field names are the JSON keys scripts rely on (base units in the
names: `_s`, `_bytes`, `_bytes_per_s`, `_w`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner import __version__
from planner.accuracy.uncertainty import ranges
from planner.errors import InputError
from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.io import read_toml, validation_error
from planner.inputs.layout import Layout
from planner.inputs.model import Model
from planner.inputs.proposal import PinnedLayout
from planner.inputs.workload import Workload
from planner.kv.tiers import KvTiers, Tier
from planner.machine.cluster import Cluster
from planner.perf.phases import PhaseTimes
from planner.plan.verdicts import judge
from planner.serving.deployment import Deployment, evaluate_layout, size_deployment
from planner.units import finite, finite_tree

IN_FLIGHT = ("pipeline stages keep one micro-batch of `batch` sequences per attention-DP rank each in flight, "
             "so a unit holds pp × dp × batch sequences")
AT_CAPACITY = "TTFT, TPOT and tokens/s per GPU are for each unit at its full batch (the unit at capacity)"


class Out(BaseModel):
    """Base of the plan's parts: unknown keys are errors (a plan from another version is refused,
    not half-read), values are immutable, and numbers are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


# 2: [tool] carries the format and content hashes of the inputs and of the results (1: neither)
PLAN_FORMAT = 2


class ToolInfo(Out):
    name: str = "planner"
    version: str = __version__
    format: int = Field(PLAN_FORMAT, ge=1, description="plan file format (2: with content hashes)")
    inputs_sha256: str | None = Field(None, description="exported plans: SHA-256 of the [inputs] tables")
    results_sha256: str | None = Field(None, description="exported plans: SHA-256 of everything but [tool] and "
                                                         "[inputs]")


class LayoutOut(Out):
    tp: int
    dp: int
    ep: int
    pp: int
    batch: int = Field(description="sequences per attention-DP rank per micro-batch")
    gpus: int
    serving: str
    redundant_experts: int = 0
    dual_microbatch: bool = True
    mtp_depth: int = 0
    mtp_acceptance: list[float] = Field(default_factory=list)
    routing: str = "power_law"

    @classmethod
    def of(cls, lay: Layout) -> LayoutOut:
        return cls(**lay.to_dict(), serving=lay.serving.value, redundant_experts=lay.redundant_experts,
                   dual_microbatch=lay.dual_microbatch, mtp_depth=lay.mtp_depth,
                   mtp_acceptance=list(lay.mtp_acceptance),
                   routing=lay.routing)

    def label(self) -> str:
        return f"tp={self.tp},dp={self.dp},ep={self.ep},pp={self.pp}"


class PoolOut(Out):
    role: str
    units: int
    gpus: int
    layout: LayoutOut
    requests_per_s_per_unit: float


class HbmOut(Out):
    capacity_bytes: float
    weights_bytes: float
    kv_bytes: float
    activation_bytes: float
    reserve_bytes: float
    free_bytes: float
    kv_per_sequence_bytes: float
    max_batch: int


class PhaseOut(Out):
    compute_s: float
    hbm_s: float
    scale_up_s: float
    scale_out_s: float
    storage_s: float
    overhead_s: float
    time_s: float
    bottleneck: str
    flops_per_gpu: float
    hbm_bytes_per_gpu: float
    scale_up_bytes_per_gpu: float
    scale_out_bytes_per_gpu: float

    @classmethod
    def of(cls, t: PhaseTimes) -> PhaseOut:
        return cls(compute_s=t.compute_s, hbm_s=t.hbm_s, scale_up_s=t.scale_up_s, scale_out_s=t.scale_out_s,
                   storage_s=t.storage_s, overhead_s=t.overhead_s, time_s=t.time_s, bottleneck=t.bottleneck,
                   flops_per_gpu=t.flops, hbm_bytes_per_gpu=t.hbm_bytes,
                   scale_up_bytes_per_gpu=t.traffic.scale_up_bytes, scale_out_bytes_per_gpu=t.traffic.scale_out_bytes)

    def terms(self) -> dict[str, float]:
        return {"compute": self.compute_s, "hbm": self.hbm_s, "scale_up": self.scale_up_s,
                "scale_out": self.scale_out_s, "storage": self.storage_s}


class PhasesOut(Out):
    prefill: PhaseOut
    decode: PhaseOut


class AlternativeOut(Out):
    """One of the next cheapest layouts `size --top N` found, settled as pinning it would settle it."""

    layout: LayoutOut
    prefill_layout: str | None = None
    feasible: bool
    gpus: int
    gpus_provisioned: int
    racks: int
    power_w: float
    cost_per_hour: float | None = None
    usd_per_million_output_tokens: float | None = None
    ttft_s: float
    tpot_s: float
    tokens_per_s_per_gpu: float

    def to_row(self) -> dict[str, Any]:
        lay = self.layout
        return {"feasible": self.feasible, "layout": lay.label(), "serving": lay.serving, "batch": lay.batch,
                **self.model_dump(exclude={"layout", "feasible"})}

    @classmethod
    def of(cls, d: Deployment) -> AlternativeOut:
        u, c = d.unit, d.cluster
        assert u is not None and c is not None
        return cls(layout=LayoutOut.of(u.layout),
                   prefill_layout=u.prefill_layout.label() if u.layout.disaggregated else None,
                   feasible=d.feasible, gpus=c.gpus, gpus_provisioned=c.gpus_provisioned, racks=c.racks,
                   power_w=c.power_w, cost_per_hour=c.cost_per_hour,
                   usd_per_million_output_tokens=d.usd_per_million_output_tokens, ttft_s=u.ttft_s, tpot_s=u.tpot_s,
                   tokens_per_s_per_gpu=u.tokens_per_s_per_gpu)


class SloOut(Out):
    name: str
    target: float
    actual: float | None = None
    unit: str
    met: bool


class DomainRowOut(Out):
    domain_size: int
    gpus: int | None = None
    ep_crosses_domain: bool
    tpot_s: float | None = None


class DomainOut(Out):
    size: int
    smallest_working: int | None = None
    knee: int | None = None
    comparison: list[DomainRowOut] = Field(default_factory=list)


class TierPerUnit(Out):
    capacity_needed_bytes: float
    capacity_available_bytes: float | None = None
    read_bytes_per_s_needed: float
    write_bytes_per_s_needed: float


class TierAlone(Out):
    capacity_needed_bytes: float
    read_bytes_per_s_needed: float
    write_bytes_per_s_needed: float
    per_unit: TierPerUnit


class TierOut(Out):
    tier: str
    name: str
    present: bool
    scope: str
    units: int
    capacity_needed_bytes: float
    capacity_available_bytes: float | None = Field(None, description="None: unbounded")
    read_bytes_per_s_needed: float
    read_bytes_per_s_available: float
    write_bytes_per_s_needed: float
    write_bytes_per_s_available: float | None = None
    hit_rate: float
    per_unit: TierPerUnit
    read_bytes_per_s_per_gpu: float
    load_time_s: float | None = None
    latency_s: float = Field(0.0, description="per load, request to first byte")
    link: str | None = Field(None, description="the storage link (DPU/NIC) this tier shares with other tiers")
    alone: TierAlone
    assumption: str | None = None

    @classmethod
    def of(cls, t: Tier) -> TierOut:
        per = t.units or 1
        cap = finite(t.capacity_available_bytes)
        return cls(tier=t.tier, name=t.name, present=t.present, scope=t.scope, units=t.units,
                   capacity_needed_bytes=t.capacity_needed_bytes, capacity_available_bytes=cap,
                   read_bytes_per_s_needed=t.read_bytes_per_s_needed,
                   read_bytes_per_s_available=t.read_bytes_per_s_available,
                   write_bytes_per_s_needed=t.write_bytes_per_s_needed,
                   write_bytes_per_s_available=t.write_bytes_per_s_available, hit_rate=t.hit_rate,
                   latency_s=t.latency_s, link=t.link,
                   per_unit=TierPerUnit(capacity_needed_bytes=t.capacity_needed_bytes / per,
                                        capacity_available_bytes=None if cap is None else cap / per,
                                        read_bytes_per_s_needed=t.read_bytes_per_s_needed / per,
                                        write_bytes_per_s_needed=t.write_bytes_per_s_needed / per),
                   read_bytes_per_s_per_gpu=t.read_bytes_per_s_per_gpu, load_time_s=t.load_time_s,
                   alone=TierAlone(capacity_needed_bytes=t.alone_capacity_bytes,
                                   read_bytes_per_s_needed=t.alone_read_bytes_per_s,
                                   write_bytes_per_s_needed=t.alone_write_bytes_per_s,
                                   per_unit=TierPerUnit(capacity_needed_bytes=t.alone_capacity_bytes / per,
                                                        read_bytes_per_s_needed=t.alone_read_bytes_per_s / per,
                                                        write_bytes_per_s_needed=t.alone_write_bytes_per_s / per)),
                   assumption=t.assumption)


class KvOut(Out):
    bytes_per_session: float
    disk_bytes_per_session: float
    window_policy: str
    window_state_bytes_on_disk: float
    recompute_tokens_on_hit: int
    prefix_bytes: float
    prefix_bytes_per_gpu: float
    turn_end_rate_per_s: float
    retention_s: float | None = None
    recompute_s: float
    break_even_bytes_per_s_per_gpu: float | None = Field(None, description="None: no prefix to reload")
    reusable_token_share: float
    hit_rate: float
    prefix_token_hit_rate: float
    ttft_without_tiers_s: float = Field(description="a request's prefill recomputing its whole prefix")
    ttft_with_tiers_s: float = Field(description="a request's expected prefill with the tiers (before queueing)")
    prefill_resident_s: float = Field(description="a request's prefill with its prefix already in HBM")
    expected_load_s: float = Field(description="tier reads per request, averaged (the prefill storage term)")

    @classmethod
    def of(cls, kv: KvTiers, prefill: PhaseTimes) -> KvOut:
        return cls(bytes_per_session=kv.bytes_per_session, disk_bytes_per_session=kv.disk.stored_bytes,
                   window_policy=kv.disk.policy.value, window_state_bytes_on_disk=kv.disk.window_bytes,
                   recompute_tokens_on_hit=kv.disk.recompute_tokens, prefix_bytes=kv.prefix_bytes,
                   prefix_bytes_per_gpu=kv.prefix_bytes_per_gpu, turn_end_rate_per_s=kv.turn_end_rate,
                   retention_s=finite(kv.retention_s), recompute_s=kv.recompute_s,
                   break_even_bytes_per_s_per_gpu=finite(kv.break_even_bytes_per_s_per_gpu),
                   reusable_token_share=kv.reusable_token_share, hit_rate=kv.hit_rate,
                   prefix_token_hit_rate=kv.hit_rate * kv.reusable_token_share,
                   ttft_without_tiers_s=kv.prefill_recompute_s, ttft_with_tiers_s=prefill.time_s,
                   prefill_resident_s=kv.prefill_resident_s, expected_load_s=prefill.storage_s)


class VerdictOut(Out):
    phase: str
    resource: str
    severity: str
    message: str
    lever: str = ""


class PlanInputs(Out):
    """The resolved inputs that reproduce the plan (and the layout when it was pinned)."""

    model: Model
    hardware: Hardware
    workload: Workload
    engine: Engine
    layout: PinnedLayout | None = None


class Plan(Out):
    """Everything one evaluation decided and computed. Fields that need a layout are None when no
    layout works (`feasible` is then False and the verdicts say why)."""

    tool: ToolInfo = Field(default_factory=ToolInfo)
    model: str
    hardware: str
    workload: str
    requests_per_s: float = Field(description="the demand the pools are sized for")
    feasible: bool
    pinned: bool = Field(False, description="the layout was given, not searched")
    isl: int
    osl: int
    prefix: int
    assumptions: list[str] = Field(default_factory=list)
    serving: str | None = None
    disaggregated: bool | None = None
    layout: LayoutOut | None = None
    pools: list[PoolOut] = Field(default_factory=list)
    per_gpu: HbmOut | None = None
    phases: PhasesOut | None = None
    ttft_s: float | None = None
    tpot_s: float | None = Field(None, description="time per output token a user sees")
    decode_step_s: float | None = Field(None, description="one bare decode step (all layers, one micro-batch)")
    step_s: float | None = Field(None, description="the engine step a user's tokens come from: the decode step, "
                                 "with the prompt chunks it carries when steps are mixed")
    accepted_tokens_per_step: float | None = None
    prefill_share: float | None = Field(None, description="co-located: share of GPU time spent prefilling")
    tokens_per_s_per_user: float | None = None
    tokens_per_s_per_gpu: float | None = Field(
        None, description="output tokens/s per GPU of the layout at its batch (capacity; prefill GPUs included)")
    tokens_per_s_per_gpu_at_demand: float | None = Field(None, description="demand's output tokens/s ÷ GPUs")
    requests_per_s_per_unit: float | None = None
    ttft_s_low: float | None = None
    ttft_s_high: float | None = None
    tpot_s_low: float | None = None
    tpot_s_high: float | None = None
    tokens_per_s_per_gpu_low: float | None = None
    tokens_per_s_per_gpu_high: float | None = None
    usd_per_million_output_tokens: float | None = Field(
        None, description="the cluster's cost per hour over the output tokens it serves at the demand")
    usd_per_million_output_tokens_at_capacity: float | None = Field(
        None, description="the same with every unit at its capacity")
    usd_per_million_input_tokens: float | None = Field(
        None, description="the cluster's cost per hour over the prompt tokens (prefix + isl) at the demand")
    slo: list[SloOut] = Field(default_factory=list)
    cluster: Cluster | None = None
    domain: DomainOut
    kv: KvOut | None = None
    kv_tiers: list[TierOut] = Field(default_factory=list)
    alternatives: list[AlternativeOut] = Field(
        default_factory=list, description="size --top N: the next cheapest layouts, each settled as if pinned")
    verdicts: list[VerdictOut] = Field(default_factory=list)
    inputs: PlanInputs

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_dict(self) -> dict[str, Any]:
        return self.to_json_dict()

    def to_rows(self) -> list[dict[str, Any]]:
        """The chosen layout and any alternatives (size --top), one flat row each, for pandas."""
        base = {"model": self.model, "hardware": self.hardware, "workload": self.workload,
                "requests_per_s": self.requests_per_s}
        if self.layout is None or self.cluster is None or self.ttft_s is None or self.tpot_s is None:
            return [{**base, "rank": 1, "feasible": False}]
        c = self.cluster
        chosen = AlternativeOut(layout=self.layout, feasible=self.feasible, gpus=c.gpus,
                                gpus_provisioned=c.gpus_provisioned, racks=c.racks, power_w=c.power_w,
                                cost_per_hour=c.cost_per_hour,
                                usd_per_million_output_tokens=self.usd_per_million_output_tokens,
                                ttft_s=self.ttft_s, tpot_s=self.tpot_s,
                                tokens_per_s_per_gpu=self.tokens_per_s_per_gpu or 0.0)
        return [{**base, "rank": rank, **a.to_row()} for rank, a in enumerate([chosen, *self.alternatives], 1)]

    def errors(self) -> list[VerdictOut]:
        return [v for v in self.verdicts if v.severity == "error"]

def build_plan(d: Deployment) -> Plan:
    """The typed plan of a deployment: the numbers, the SLO results and the verdicts.

    Every number in a plan is finite (Out refuses inf and NaN): inputs inside their ranges keep it
    so; a combination that still overflows is one InputError, never an `inf` in any output."""
    try:
        return _build_plan(d)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InputError(f"{where} is not a finite number: these inputs are beyond what planner computes",
                         source="plan", hint="reduce the largest inputs") from None


def _build_plan(d: Deployment) -> Plan:
    w = d.workload
    u = d.unit
    verdicts = [VerdictOut(**v.to_dict()) for v in judge(d)]
    base: dict[str, Any] = {
        "model": d.model.name, "hardware": d.hardware.name, "workload": w.name,
        "requests_per_s": d.requests_per_s, "feasible": d.feasible, "pinned": d.pinned,
        "isl": w.isl, "osl": w.osl, "prefix": w.prefix,
        "slo": [SloOut(name=s.name, target=s.target, actual=s.actual, unit=s.unit, met=s.met) for s in d.slos],
        "domain": DomainOut(size=d.hardware.scale_up.domain_size, smallest_working=d.smallest_domain,
                            knee=d.knee_domain,
                            comparison=[DomainRowOut(**r.__dict__) for r in d.domain_rows]),
        "verdicts": verdicts,
    }
    pinned = None
    if u is not None and d.pinned:
        prefill = u.prefill_layout if u.layout.disaggregated else None
        pinned = PinnedLayout.of(u.layout, prefill, gpus=d.pinned_gpus, replicas=1 if d.one_replica else None)
    base["inputs"] = PlanInputs(model=d.model, hardware=d.hardware, workload=w, engine=d.engine, layout=pinned)
    if u is None or d.cluster is None:
        return Plan(**base)
    c = d.cluster
    b = u.budget
    assumptions = [AT_CAPACITY, f"power: system IT power of the occupied nodes ({c.power_basis})",
                   *([f"cost: {c.cost_basis}"] if c.cost_basis else []),
                   f"compute: {d.hardware.peak_note}; kernels: {d.hardware.kernel_note}"]
    if u.layout.pp > 1:
        assumptions.insert(0, IN_FLIGHT)
    if w.prefix:
        assumptions.append("reused prefixes: " + ("resident in HBM (a perfect prefix cache)"
                                                  if w.prefix_cache == "resident"
                                                  else "from the KV tiers below (hits load, misses recompute)"))
    base |= {
        "assumptions": assumptions,
        "serving": u.layout.serving.value, "disaggregated": u.layout.disaggregated,
        "layout": LayoutOut.of(u.layout),
        "pools": [PoolOut(role=p.role, units=p.units, gpus=p.gpus, layout=LayoutOut.of(p.layout),
                          requests_per_s_per_unit=p.requests_per_s_per_unit) for p in d.pools],
        "per_gpu": HbmOut(capacity_bytes=b.capacity_bytes, weights_bytes=b.weights_bytes, kv_bytes=b.kv_bytes,
                          activation_bytes=b.activation_bytes, reserve_bytes=b.reserve_bytes,
                          free_bytes=b.free_bytes, kv_per_sequence_bytes=b.kv_per_sequence_bytes,
                          max_batch=b.max_batch),
        "phases": PhasesOut(prefill=PhaseOut.of(u.prefill), decode=PhaseOut.of(u.decode)),
        "ttft_s": u.ttft_s, "tpot_s": u.tpot_s, "decode_step_s": u.decode_step_s, "step_s": u.step.time_s,
        "accepted_tokens_per_step": u.accepted_tokens, "prefill_share": u.prefill_share,
        "tokens_per_s_per_user": 1 / u.tpot_s, "tokens_per_s_per_gpu": u.tokens_per_s_per_gpu,
        "tokens_per_s_per_gpu_at_demand": d.tokens_per_s_per_gpu_at_demand,
        "requests_per_s_per_unit": u.requests_per_s,
        **ranges(u.ttft_s, u.tpot_s, u.tokens_per_s_per_gpu),
        "usd_per_million_output_tokens": d.usd_per_million_output_tokens,
        "usd_per_million_output_tokens_at_capacity": d.usd_per_million_output_tokens_at_capacity,
        "usd_per_million_input_tokens": d.usd_per_million_input_tokens,
        "cluster": c,
    }
    if d.kv is not None:
        base["kv"] = KvOut.of(d.kv, u.prefill)
        base["kv_tiers"] = [TierOut.of(t) for t in d.kv.tiers]
    base["alternatives"] = [AlternativeOut.of(a) for a in d.alternatives if a.unit is not None and a.cluster]
    return Plan(**base)


# ---- files ------------------------------------------------------------------------------------------

def _drop_none(value: Any) -> Any:
    """TOML has no null: drop None values (they are the schema defaults on reload)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def plan_toml(plan: Plan) -> str:
    """The plan file: the plan with its format and the content hashes that `plan_integrity` checks."""
    data = _drop_none(finite_tree(plan.model_dump(mode="json")))
    inputs, results = _hashes(data)
    data["tool"] = {**data["tool"], "format": PLAN_FORMAT, "inputs_sha256": inputs, "results_sha256": results}
    return tomli_w.dumps(data)


def _digest(value: Any) -> str:
    # canonical JSON: the same tables hash the same after a TOML round trip, whatever the key order
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _hashes(data: dict[str, Any]) -> tuple[str, str]:
    """(hash of the [inputs] tables, hash of the recorded results: everything but [tool] and [inputs])."""
    return (_digest(data.get("inputs")),
            _digest({k: v for k, v in data.items() if k not in ("tool", "inputs")}))


@dataclass(frozen=True)
class Integrity:
    """Whether a plan file is as it was exported. None: a plan written before format 2 (no hashes)."""

    source: str
    inputs_match: bool | None
    results_match: bool | None

    def problem(self) -> str | None:
        if self.inputs_match is False:
            return "its [inputs] were edited after export: the recorded results no longer match them"
        if self.results_match is False:
            return "its recorded results were edited after export: they no longer match its inputs"
        return None

    def require(self) -> None:
        """Raise when the recorded results are about to be re-used but no longer match."""
        problem = self.problem()
        if problem is not None:
            raise InputError(problem, source=self.source,
                             hint=f"re-export it: planner size --plan {self.source} --export {self.source} --force")


def plan_integrity(path: Path, data: dict[str, Any] | None = None) -> Integrity:
    """Compare a plan file's tables with the hashes it was exported with."""
    data = read_toml(path) if data is None else data
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    fmt = tool.get("format", 1)
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > PLAN_FORMAT:
        raise InputError(f"plan format {fmt} is newer than this planner reads ({PLAN_FORMAT})", source=str(path),
                         hint="upgrade planner, or re-export the plan with this version")
    inputs, results = _hashes(data)
    want_inputs, want_results = tool.get("inputs_sha256"), tool.get("results_sha256")
    return Integrity(str(path), None if want_inputs is None else want_inputs == inputs,
                     None if want_results is None else want_results == results)


def is_plan_file(data: dict[str, Any]) -> bool:
    return "inputs" in data and "tool" in data


def read_plan(path: Path) -> Plan:
    """A plan file's recorded results, as the typed plan."""
    return plan_from_data(read_toml(path), path)


def plan_from_data(data: dict[str, Any], path: Path) -> Plan:
    """A plan file's parsed tables (from `path`, or a base version of it), as the typed plan."""
    if not is_plan_file(data):
        raise InputError("not a plan: no [tool] and [inputs] tables", source=str(path),
                         hint="export one with `planner size --export plan.toml`")
    plan_integrity(path, data).require()           # its results are what the caller reads
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        version = (data.get("tool") or {}).get("version")
        err = validation_error(exc, str(path))
        if version != __version__:
            err.hint = f"written by planner {version}; re-export it with this version ({__version__})"
        raise err from None
    # the hashes belong to the file, not to the plan: a re-exported plan gets its own
    return plan.model_copy(update={"tool": plan.tool.model_copy(update={"inputs_sha256": None,
                                                                       "results_sha256": None})})


def load_plan_inputs(path: Path) -> PlanInputs:
    """The inputs of a plan file (validated; its stored results are not trusted)."""
    from planner.inputs.io import validate
    data = read_toml(path)
    raw = data.get("inputs")
    if not isinstance(raw, dict) or not all(k in raw for k in ("model", "hardware", "workload")):
        raise InputError("not a plan: no [inputs.model], [inputs.hardware] and [inputs.workload]",
                         source=str(path), hint="export one with `planner size --export plan.toml`")
    if "engine" not in raw:
        # Plans written before the engine section existed ran on the default engine's policy.
        from planner.inputs.io import default_engine
        raw = {**raw, "engine": default_engine().model_dump(mode="json")}
    return validate(PlanInputs, raw, str(path), "inputs")


def evaluate_inputs(inputs: PlanInputs, compare_domains: bool = True) -> Deployment:
    """Evaluate a plan's inputs: its pinned layout as given, or a fresh search."""
    m, hw, w, e = inputs.model, inputs.hardware, inputs.workload, inputs.engine
    if inputs.layout is None:
        return size_deployment(m, hw, w, compare_domains=compare_domains, engine=e)
    lay, prefill = inputs.layout.layouts(m, w.expert_routing)
    return evaluate_layout(m, hw, w, lay, engine=e, prefill_layout=prefill, gpus=inputs.layout.gpus,
                           one_replica=inputs.layout.replicas == 1)


def evaluate_plan_file(path: str | Path) -> Plan:
    """Re-evaluate a plan from its resolved inputs (its stored results are not trusted)."""
    return build_plan(evaluate_inputs(load_plan_inputs(Path(path))))
