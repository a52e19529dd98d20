"""What-if runs: evaluate many variants of one (model, hardware, workload) and compare a few.

A sweep point is the base inputs, plus the `--set` overrides, plus one combination of the
`--vary` values (cartesian product, or zipped). Each point is evaluated by `size` (the cheapest
plan for the workload; 5-500 ms a point) or, with a fixed layout, exactly as `estimate` evaluates
it: one replica of the layout at its capacity, through the same serving engine (a few hundred µs
a point). What keeps large sweeps fast:

- inputs are validated once per distinct override set of each section (a pin-speed × batch ×
  ISL sweep loads as many hardware objects as there are pin speeds, not one per point), so
  pydantic runs a handful of times, not per point, and the per-model facts cache stays warm;
- the verdict texts are built only for infeasible points (for their reason column);
- points are split into contiguous chunks over all cores; rows come back in point order.

An invalid value or an infeasible point is a row with `feasible = False` and its reason; a sweep
never stops at one. Usage mistakes (unknown key, empty list, zipped lists of unequal length) are
InputErrors before anything runs.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from planner.background import fork_is_safe, worker_count
from planner.errors import InputError
from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.io import (
    SECTIONS,
    load_engine,
    load_hardware,
    load_model,
    load_workload,
    parse_value,
)
from planner.inputs.layout import Layout, layout_problem, parse_layout
from planner.inputs.model import Model
from planner.inputs.presets import DEFAULT_ENGINE, DEFAULT_HARDWARE, DEFAULT_MODEL, DEFAULT_WORKLOAD
from planner.inputs.workload import Workload, check_context
from planner.plan.verdicts import judge
from planner.serving.deployment import Deployment, settle, size_deployment
from planner.verdict import Severity

LAYOUT_KEYS = ("layout.tp", "layout.dp", "layout.ep", "layout.pp", "layout.batch", "layout.serving")
KEY_ALIASES = {"batch": "layout.batch", "serving": "layout.serving", "tp": "layout.tp", "dp": "layout.dp",
               "ep": "layout.ep", "pp": "layout.pp"}
MAX_POINTS = 10_000_000
# Below these sizes a process pool costs more than it saves (fork + per-worker loading ~50 ms).
PARALLEL_MIN_POINTS = {"estimate": 500, "size": 2}   # a point: ~0.5 ms fixed, 5-500 ms sized
CHUNKS_PER_WORKER = 8
METRICS = ("feasible", "reason", "layout", "serving", "batch", "gpus", "nodes", "racks", "power_w", "cost_per_hour",
           "usd_per_million_output_tokens", "ttft_s", "tpot_s", "tokens_per_s_per_gpu",
           "tokens_per_s_per_gpu_at_demand", "decode_time_s", "decode_bottleneck", "prefill_bottleneck",
           "hbm_bandwidth_bytes_per_s")
_RANGE = re.compile(r"^\s*(-?[\d.]+(?:e-?\d+)?)\s*:\s*(-?[\d.]+(?:e-?\d+)?)\s*(?::\s*([\d.]+(?:e-?\d+)?))?\s*$")

Spec = str | dict[str, Any] | Model | Hardware | Workload


# ---- results -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SweepRow:
    """One evaluated point. Times in seconds, power in watts, bandwidth in bytes/s; metrics are
    None where the point did not get that far (invalid input, nothing fits)."""

    index: int
    values: tuple[Any, ...]            # the varied values, in the order of SweepResult.keys
    feasible: bool
    reason: str                        # why infeasible or invalid; "" when feasible
    layout: str | None = None          # decode layout, "tp=..,dp=..,ep=..,pp=.."
    serving: str | None = None         # "colocated" or "disaggregated"
    batch: int | None = None           # decode sequences per attention-DP rank
    gpus: int | None = None
    nodes: int | None = None
    racks: int | None = None
    power_w: float | None = None
    cost_per_hour: float | None = None                   # US$ for the provisioned GPUs (no price: None)
    usd_per_million_output_tokens: float | None = None   # at the demand
    ttft_s: float | None = None
    tpot_s: float | None = None
    tokens_per_s_per_gpu: float | None = None            # capacity of the layout at its batch
    tokens_per_s_per_gpu_at_demand: float | None = None  # the demand's output tokens/s ÷ GPUs
    decode_time_s: float | None = None                   # one bare decode step
    decode_bottleneck: str | None = None
    prefill_bottleneck: str | None = None
    hbm_bandwidth_bytes_per_s: float | None = None

    def metrics(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in METRICS}


@dataclass(frozen=True)
class SweepResult:
    """All points of a sweep in point order. `mode` is "size" or "estimate"."""

    keys: tuple[str, ...]
    mode: str
    rows: tuple[SweepRow, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return sweep_columns(self.keys)

    def records(self) -> Iterator[dict[str, Any]]:
        """One flat dict per point: point index, the varied values, then the metrics."""
        return point_records(self.keys, self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "keys": list(self.keys), "rows": list(self.records())}

    def to_rows(self) -> list[dict[str, Any]]:
        return list(self.records())

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[SweepRow]:
        return iter(self.rows)


def sweep_columns(keys: Sequence[str]) -> tuple[str, ...]:
    """The columns of a sweep's records, in order."""
    return ("point", *keys, *METRICS)


def point_records(keys: Sequence[str], rows: Iterable[SweepRow]) -> Iterator[dict[str, Any]]:
    """One flat dict per row (point index, the varied values, then the metrics), as the rows
    come: `rows` may be iter_plan's stream."""
    for row in rows:
        yield {"point": row.index, **dict(zip(keys, row.values, strict=True)), **row.metrics()}


@dataclass(frozen=True)
class CompareResult:
    """`compare`: one sized row per combination of models, machines and grid values, for one
    workload; `keys` name the columns that vary ("model", "hardware", --set-grid keys)."""

    keys: tuple[str, ...]
    workload: str
    rows: tuple[SweepRow, ...]

    def to_rows(self) -> list[dict[str, Any]]:
        """Flat records (pandas.DataFrame takes them as they are)."""
        return [{**dict(zip(self.keys, row.values, strict=True)), "workload": self.workload, **row.metrics()}
                for row in self.rows]

    def to_dict(self) -> list[dict[str, Any]]:
        return self.to_rows()

    def sorted_by(self, column: str, descending: bool = False) -> CompareResult:
        """Rows ordered by a metric or a varied column, feasible rows first; rows without a value
        (infeasible, no price) last."""
        if column not in (*self.keys, *METRICS):
            raise InputError(f"unknown column {column!r}", field="--sort",
                             hint=f"one of {', '.join((*self.keys, *METRICS))}")

        def value(row: SweepRow) -> Any:
            return row.values[self.keys.index(column)] if column in self.keys else getattr(row, column)
        present = [r for r in self.rows if value(r) is not None]
        missing = [r for r in self.rows if value(r) is None]
        feasible = sorted((r for r in present if r.feasible), key=value, reverse=descending)
        rest = sorted((r for r in present if not r.feasible), key=value, reverse=descending)
        return CompareResult(self.keys, self.workload, tuple(feasible + rest + missing))


# ---- parsing the varied values -----------------------------------------------------------------

def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and not any(c in text for c in ".e") else value


def parse_values(text: str) -> list[Any]:
    """'8,9.6,12' -> [8, 9.6, 12]; 'h100-sxm,gb200-nvl72' -> names; '8:12:0.5' -> 8, 8.5, ... 12
    (start:stop:step, stop included when it lands on the grid; step 1 when left out). Each item is
    a TOML literal when it parses as one, else the raw string (validated per point)."""
    match = _RANGE.match(text)
    if match:
        start, stop, step = _number(match[1]), _number(match[2]), _number(match[3] or "1")
        if not all(math.isfinite(x) for x in (start, stop, step)) or step <= 0 or stop < start:
            raise InputError(f"range {text!r}: needs finite start ≤ stop and a positive step", field="--vary",
                             hint="e.g. 8:12:0.5")
        span = (stop - start) / step
        if not span < MAX_POINTS:            # also an infinite span (1e308 - -1e308)
            raise InputError(f"range {text!r} has more than {MAX_POINTS:,} values", field="--vary")
        count = math.floor(span + 1e-9) + 1
        if count > MAX_POINTS:
            raise InputError(f"range {text!r} has {count:,} values", field="--vary")
        ints = all(isinstance(x, int) for x in (start, stop, step))
        return [start + i * step if ints else round(start + i * step, 12) for i in range(count)]
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise InputError(f"empty value in {text!r}", field="--vary",
                         hint="e.g. --vary hardware.hbm.pin_speed_gbps=8,10,12")
    return [parse_value(item) for item in items]


def parse_vary(items: Sequence[str]) -> dict[str, list[Any]]:
    """['K=V1,V2', 'K2=8:12:1'] -> {'K': [V1, V2], 'K2': [8, 9, 10, 11, 12]}, keys checked."""
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise InputError(f"--vary {item!r}: expected KEY=V1,V2,...",
                             hint="e.g. --vary hardware.hbm.pin_speed_gbps=8,10,12")
        key = _check_key(key)
        if key in out:
            raise InputError(f"--vary {key} given twice")
        out[key] = parse_values(text.strip())
    return out


def _check_key(key: str) -> str:
    key = KEY_ALIASES.get(key, key)
    if key in LAYOUT_KEYS or key.split(".")[0] in SECTIONS:
        return key
    raise InputError(f"--vary {key}: keys start with model., hardware., workload. or engine. (or are model, "
                     f"hardware, workload, engine, batch, serving, layout.tp/dp/ep/pp)",
                     hint="e.g. --vary hardware.hbm.pin_speed_gbps=8,10,12")


# ---- evaluation --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs to evaluate point i: picklable, small."""

    model: Spec
    hardware: Spec
    workload: Spec
    engine: Spec
    sets: tuple[tuple[str, Any], ...]
    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    zipped: bool
    layout: Layout | None
    count: int = field(default=0)

    def combination(self, index: int) -> tuple[Any, ...]:
        if self.zipped:
            return tuple(vals[index] for vals in self.values)
        # last key varies fastest, as itertools.product
        return tuple(vals[(index // stride) % len(vals)]
                     for vals, stride in zip(self.values, self.strides, strict=True))

    @functools.cached_property
    def strides(self) -> tuple[int, ...]:
        out, step = [], 1
        for vals in reversed(self.values):
            out.append(step)
            step *= len(vals)
        return tuple(reversed(out))


def _as_spec(spec: Spec) -> str | dict[str, Any]:
    if isinstance(spec, (Model, Hardware, Workload, Engine)):
        return spec.model_dump(mode="json")
    return spec


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


class _PointError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Evaluator:
    """Evaluates points of one sweep plan, caching validated inputs and prefill times."""

    LOADERS = {"model": load_model, "hardware": load_hardware, "workload": load_workload, "engine": load_engine}

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.mode = "estimate" if plan.layout is not None else "size"
        self._inputs: dict[tuple, Any] = {}
        self._layouts: dict[tuple, Layout] = {}
        self._sized: dict[tuple, SweepRow] = {}
        self._whole = {s for s in SECTIONS if s in plan.keys}
        # positions of the varied keys that feed each section (and the layout): the cache key of
        # a section is just those values, since the base inputs and `sets` are the same for all
        self._slots = {sec: tuple(i for i, k in enumerate(plan.keys) if k == sec or k.startswith(sec + "."))
                       for sec in (*SECTIONS, "layout")}
        self._sets = dict(plan.sets)

    def _load(self, section: str, values: tuple[Any, ...]) -> Any:
        slots = self._slots[section]
        try:
            key = (section, *(values[i] for i in slots))
            hit = self._inputs.get(key)
        except TypeError:      # an unhashable value (a TOML array)
            key = (section, *(_hashable(values[i]) for i in slots))
            hit = self._inputs.get(key)
        if hit is None:
            overrides = self._sets | {self.plan.keys[i]: values[i] for i in slots}
            mine = {k: v for k, v in overrides.items() if k == section or k.startswith(section + ".")}
            base = _as_spec(getattr(self.plan, section))
            try:
                hit = self.LOADERS[section](base, mine)
            except InputError as exc:
                hit = _PointError(self._reason(section, exc))
            self._inputs[key] = hit
        if isinstance(hit, _PointError):
            raise hit
        return hit

    def _reason(self, section: str, exc: InputError) -> str:
        """'hardware.hbm.pin_speed_gbps: Input should be a valid number ...' when the error has a
        field; 'hardware: <the error>' when the whole section was varied; else the error."""
        if exc.field and not exc.field.startswith("--"):
            text = f"{section}.{exc.field}: {exc.message}"
            return text + (f" ({exc.hint})" if exc.hint else "")
        if section in self._whole:
            return f"{section}: {exc.one_line()}"
        return exc.one_line()

    def _layout(self, values: tuple[Any, ...]) -> Layout:
        slots = self._slots["layout"]
        key = tuple(_hashable(values[i]) for i in slots)
        hit = self._layouts.get(key)
        if hit is None:
            base = self.plan.layout
            assert base is not None
            updates = {self.plan.keys[i][len("layout."):]: values[i] for i in slots}
            try:
                hit = Layout.model_validate({**base.model_dump(), **updates})
            except ValidationError as exc:   # keep its first message
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"])
                raise _PointError(f"layout{'.' + loc if loc else ''}: {err['msg']}") from None
            self._layouts[key] = hit
        return hit

    def row(self, index: int) -> SweepRow:
        values = self.plan.combination(index)
        try:
            m = self._load("model", values)
            hw = self._load("hardware", values)
            w = self._load("workload", values)
            e = self._load("engine", values)
            if self.mode == "size":
                return self._size_row(index, values, m, hw, w, e)
            return self._estimate_row(index, values, m, hw, w, e, self._layout(values))
        except _PointError as exc:
            return SweepRow(index, values, False, exc.reason)
        except InputError as exc:
            return SweepRow(index, values, False, exc.one_line())
        except Exception as exc:  # noqa: BLE001 - a point never aborts the sweep; its row says why
            return SweepRow(index, values, False, f"{exc.__class__.__name__}: {exc}")

    def _size_row(self, index: int, values: tuple, m: Model, hw: Hardware, w: Workload, e: Engine) -> SweepRow:
        key = (id(m), id(hw), id(w), id(e))
        hit = self._sized.get(key)
        if hit is None:
            hit = self._sized[key] = deployment_row(size_deployment(m, hw, w, compare_domains=False, engine=e))
        return SweepRow(index, values, *(getattr(hit, name) for name in METRICS))

    def _estimate_row(self, index: int, values: tuple, m: Model, hw: Hardware, w: Workload, e: Engine,
                      lay: Layout) -> SweepRow:
        """One replica of the layout at its capacity: what `planner estimate` evaluates."""
        lay = e.speculate(lay.model_copy(update={"routing": w.expert_routing}))
        problem = layout_problem(m, hw, lay)
        if problem is not None:
            return SweepRow(index, values, False, f"layout: {problem}")
        check_context(m.name, m.max_context, w.final_context)
        return deployment_row(settle(m, hw, w, lay, engine=e, one_replica=True, pinned=True), index, values)


def deployment_row(d: Deployment, index: int = 0, values: tuple = ()) -> SweepRow:
    """The sweep/compare row of a deployment: the same numbers the plan reports."""
    bw = d.hardware.hbm.bandwidth_bytes_per_s
    reason = "" if d.feasible else next((v.message for v in judge(d) if v.severity == Severity.error), "infeasible")
    u, c = d.unit, d.cluster
    if u is None or c is None:
        return SweepRow(index, values, False, reason or "no layout meets the workload", hbm_bandwidth_bytes_per_s=bw)
    return SweepRow(index, values, d.feasible, reason, u.layout.label(), u.layout.serving.value, u.layout.batch,
                    c.gpus, c.nodes, c.racks, c.power_w, c.cost_per_hour, d.usd_per_million_output_tokens,
                    u.ttft_s, u.tpot_s, u.tokens_per_s_per_gpu,
                    d.tokens_per_s_per_gpu_at_demand, u.decode_step_s, u.decode.bottleneck, u.prefill.bottleneck, bw)


# ---- running ----------------------------------------------------------------------------------
# Rows stream: points go out in chunks of at most CHUNK_POINTS, at most IN_FLIGHT chunks per worker
# are outstanding, and each chunk's rows are yielded (in point order) as soon as it and every chunk
# before it are done. Memory therefore holds a few chunks, not the sweep: a 10-million-point sweep
# peaks where a 10-thousand-point one does.

CHUNK_POINTS = {"estimate": 2000, "size": 4}
IN_FLIGHT = 3

_WORKER: Evaluator | None = None
_EVALUATORS: dict[str, Evaluator] = {}     # a Dask worker's evaluators, one per sweep it has seen


def _init_worker(plan: _Plan) -> None:
    global _WORKER
    _WORKER = Evaluator(plan)


def _evaluate(ev: Evaluator, bounds: tuple[int, int]) -> list[tuple]:
    # plain tuples: they pickle several times faster than slotted dataclasses
    row = ev.row
    return [_astuple(row(i)) for i in range(*bounds)]


def _run_chunk(bounds: tuple[int, int]) -> list[tuple]:
    assert _WORKER is not None
    return _evaluate(_WORKER, bounds)


def _run_remote_chunk(token: str, plan: _Plan, bounds: tuple[int, int]) -> list[tuple]:
    """A chunk on a Dask worker: the evaluator (and its input caches) is kept between chunks."""
    ev = _EVALUATORS.get(token)
    if ev is None:
        _EVALUATORS.clear()              # one sweep at a time per worker process is the common case
        ev = _EVALUATORS[token] = Evaluator(plan)
    return _evaluate(ev, bounds)


def _astuple(row: SweepRow) -> tuple:
    return tuple(getattr(row, name) for name in _FIELDS)


_FIELDS = ("index", "values", *METRICS)


def _pool_context() -> Any:
    import multiprocessing
    # fork starts workers in milliseconds and shares the imported modules, but it copies only the
    # calling thread: a lock another thread holds at that moment stays locked in the child forever
    # (a sweep from a threaded host - Jupyter, a Dask client, a test runner - could hang so). Fork a
    # single-threaded process only; otherwise forkserver (a clean parent), else the platform default.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and fork_is_safe():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else None)


def _chunks(plan: _Plan, mode: str, workers: int) -> Iterator[tuple[int, int]]:
    size = max(1, min(CHUNK_POINTS[mode], math.ceil(plan.count / (workers * CHUNKS_PER_WORKER))))
    return ((start, min(start + size, plan.count)) for start in range(0, plan.count, size))


def _ordered(submit: Callable[[tuple[int, int]], Any], result: Callable[[Any], list[tuple]],
             chunks: Iterator[tuple[int, int]], window: int) -> Iterator[list[tuple]]:
    """Each chunk's result in chunk order, with at most `window` chunks submitted and not yet
    collected (the bound on memory, whatever the sweep's size)."""
    from collections import deque
    pending: deque[Any] = deque()
    for bounds in chunks:
        pending.append(submit(bounds))
        if len(pending) >= window:
            yield result(pending.popleft())
    while pending:
        yield result(pending.popleft())


def iter_plan(plan: _Plan, jobs: int | None = None, progress: Callable[[int], None] | None = None,
              scheduler: str | None = None) -> Iterator[SweepRow]:
    """Evaluate every point of `plan`, yielding rows in point order as they complete: over `jobs`
    local processes (default: all cores), or, with `scheduler` (a Dask scheduler address such as
    "tcp://10.0.0.5:8786"), on that Dask cluster (needs the `dask` extra). `progress(n)` is called
    with the number of points done so far."""
    mode = "estimate" if plan.layout is not None else "size"
    done = 0
    if scheduler is not None:
        parts = _dask_parts(plan, mode, scheduler)
    else:
        workers = min(worker_count(jobs), plan.count)
        if workers == 1 or plan.count < PARALLEL_MIN_POINTS[mode]:
            ev = Evaluator(plan)
            step = max(1, plan.count // 100)
            for i in range(plan.count):
                yield ev.row(i)
                if progress is not None and (i + 1) % step == 0:
                    progress(i + 1)
            if progress is not None:
                progress(plan.count)
            return
        parts = _pool_parts(plan, mode, workers)
    for part in parts:
        for t in part:
            yield SweepRow(*t)
        done += len(part)
        if progress is not None:
            progress(done)


def _pool_parts(plan: _Plan, mode: str, workers: int) -> Iterator[list[tuple]]:
    # A finished pool is closed and joined: each worker reads its end-of-work sentinel and exits.
    # Pool.terminate() (what `with Pool(...)` does on leaving) signals workers that may be waiting
    # on the task queue's shared lock and can wait for one of them for ever (CPython issue 78178,
    # open; here one `sweep -o FILE` in three under pytest); it stays for an early stop or an error.
    pool = _pool_context().Pool(workers, initializer=_init_worker, initargs=(plan,))
    try:
        yield from _ordered(lambda bounds: pool.apply_async(_run_chunk, (bounds,)), lambda r: r.get(),
                            _chunks(plan, mode, workers), workers * IN_FLIGHT)
    except BaseException:
        pool.terminate()
        raise
    pool.close()
    pool.join()


def _dask_parts(plan: _Plan, mode: str, scheduler: str) -> Iterator[list[tuple]]:
    try:
        from distributed import Client
    except ImportError:
        raise InputError("the dask executor needs the dask extra",
                         hint="pip install 'llm-capacity-planner[dask]'") from None
    import uuid
    token = uuid.uuid4().hex
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler ({exc})", source=scheduler) from None
    with client:
        workers = max(1, sum(client.nthreads().values()))
        [shared] = client.scatter([plan], broadcast=True)   # sent once, not with every chunk
        yield from _ordered(lambda bounds: client.submit(_run_remote_chunk, token, shared, bounds, pure=False),
                            lambda future: future.result(), _chunks(plan, mode, workers), workers * IN_FLIGHT)


def run_plan(plan: _Plan, jobs: int | None = None, progress: Callable[[int], None] | None = None,
             scheduler: str | None = None) -> list[SweepRow]:
    """Every row of `plan` in point order, as a list (iter_plan streams them)."""
    return list(iter_plan(plan, jobs, progress, scheduler))


def _layout_arg(layout: Layout | str | None, batch: int | None, serving: str | None) -> Layout | None:
    if layout is None:
        if batch is not None or serving is not None:
            raise InputError("--batch and --serving need --fixed-layout",
                             hint='e.g. --fixed-layout "tp=1,dp=8,ep=8" --batch 64')
        return None
    if isinstance(layout, Layout):
        update = {k: v for k, v in (("batch", batch), ("serving", serving)) if v is not None}
        return layout.model_copy(update=update) if update else layout
    return parse_layout(layout, batch=batch or 1, serving=serving)


def make_plan(vary: Mapping[str, Sequence[Any] | str], *, model: Spec, hardware: Spec, workload: Spec,
              sets: Mapping[str, Any] | None, zipped: bool, layout: Layout | str | None,
              batch: int | None, serving: str | None = None, engine: Spec = DEFAULT_ENGINE) -> _Plan:
    keys: list[str] = []
    values: list[tuple[Any, ...]] = []
    for key, vals in vary.items():
        key = _check_key(key)
        if key in keys:
            raise InputError(f"--vary {key} given twice")
        vals = parse_values(vals) if isinstance(vals, str) else list(vals)
        if not vals:
            raise InputError(f"--vary {key}: no values")
        keys.append(key)
        values.append(tuple(vals))
    if not keys:
        raise InputError("nothing to vary", hint="e.g. --vary hardware.hbm.pin_speed_gbps=8,10,12")
    lay = _layout_arg(layout, batch, serving)
    if lay is None and any(k in LAYOUT_KEYS for k in keys):
        raise InputError("varying the layout or batch needs a fixed layout",
                         hint='e.g. --fixed-layout "tp=1,dp=8,ep=8" --batch 64 --vary batch=16,32,64')
    if zipped:
        lengths = {len(v) for v in values}
        if len(lengths) > 1:
            raise InputError("--zip needs --vary lists of equal length: "
                             + ", ".join(f"{k} has {len(v)}" for k, v in zip(keys, values, strict=True)))
        count = len(values[0])
    else:
        count = math.prod(len(v) for v in values)
    if count > MAX_POINTS:
        raise InputError(f"{count:,} points: more than {MAX_POINTS:,}", hint="split the sweep")
    return _Plan(model=_as_spec(model), hardware=_as_spec(hardware), workload=_as_spec(workload),
                 engine=_as_spec(engine), sets=tuple((sets or {}).items()), keys=tuple(keys),
                 values=tuple(values), zipped=zipped, layout=lay, count=count)


def sweep(vary: Mapping[str, Sequence[Any] | str], *, model: Spec = DEFAULT_MODEL, hardware: Spec = DEFAULT_HARDWARE,
          workload: Spec = DEFAULT_WORKLOAD, sets: Mapping[str, Any] | None = None, zipped: bool = False,
          layout: Layout | str | None = None, batch: int | None = None, serving: str | None = None,
          engine: Spec = DEFAULT_ENGINE, jobs: int | None = None,
          progress: Callable[[int], None] | None = None, scheduler: str | None = None) -> SweepResult:
    """Evaluate every combination of the `vary` values on top of the base inputs and `sets`.

    `vary` maps override keys (as in `--set`: "hardware.hbm.pin_speed_gbps", "workload.isl",
    "model.precision.experts", or whole sections "hardware", "model", "workload"; with a fixed
    layout also "batch" and "layout.tp/dp/ep/pp") to value lists, or to a string such as
    "8,10,12" or "8:12:0.5". Cartesian product, last key fastest; `zipped=True` pairs the lists.
    Without `layout` each point is sized (`planner.size`, without the domain comparison); with a
    `layout` ("tp=1,dp=8,ep=8" or a Layout) and `batch` each point is one `estimate` at the
    workload's ISL, OSL, prefix and SLO targets. Returns rows in point order; invalid or
    infeasible points are rows with feasible False and a reason. Raises InputError for usage
    mistakes (unknown key, unequal zipped lengths). Units: seconds, watts, bytes/s. With
    `scheduler` (a Dask scheduler address) the points run on that cluster; the rows are the same.

        >>> r = sweep({"hardware.hbm.pin_speed_gbps": "8:12:2"}, hardware="gb200-nvl72",
        ...           layout="tp=1,dp=8,ep=8", batch=64)
        >>> [round(row.decode_time_s * 1e3, 2) for row in r]
    """
    plan = make_plan(vary, model=model, hardware=hardware, workload=workload, sets=sets, zipped=zipped,
                     layout=layout, batch=batch, serving=serving, engine=engine)
    rows = run_plan(plan, jobs, progress, scheduler)
    return SweepResult(keys=plan.keys, mode="estimate" if plan.layout is not None else "size", rows=tuple(rows))


def compare(*, model: str | Sequence[str] = DEFAULT_MODEL, hardware: str | Sequence[str] = DEFAULT_HARDWARE,
            workload: Spec = DEFAULT_WORKLOAD, engine: Spec = DEFAULT_ENGINE, sets: Mapping[str, Any] | None = None,
            grid: Mapping[str, Sequence[Any]] | None = None, jobs: int | None = None) -> CompareResult:
    """Size one workload on every combination of `model` × `hardware` × `grid` (--set keys to
    values), each as `planner size` does (without the domain comparison), all cores in parallel.
    Every name is loaded first, so an unknown one is an InputError. Rows in the order given:
    models, then machines, then the grid values."""
    hw_list = [hardware] if isinstance(hardware, str) else list(hardware)
    m_list = [model] if isinstance(model, str) else list(model)
    for axis, names in (("model", m_list), ("hardware", hw_list)):
        if not names:
            raise InputError(f"--{axis}: no names given")
    sets = dict(sets or {})
    for name in m_list:   # fail fast, with the loader's one-line error, on a name that does not load
        load_model(name, sets)
    for name in hw_list:
        load_hardware(name, sets)
    load_workload(_as_spec(workload), sets)
    vary: dict[str, list[Any]] = {}
    if len(m_list) > 1:
        vary["model"] = m_list
    if len(hw_list) > 1 or len(m_list) == 1:
        vary["hardware"] = hw_list
    vary.update({k: list(v) for k, v in (grid or {}).items()})
    result = sweep(vary, model=m_list[0], hardware=hw_list[0], workload=workload, engine=engine, sets=sets,
                   jobs=jobs)
    wname = (workload.name if isinstance(workload, Workload)
             else str(workload) if isinstance(workload, str) else "inline")
    return CompareResult(keys=result.keys, workload=wname, rows=result.rows)
