"""Kernel-class efficiency: how much of a peak each kind of kernel reaches, by its shape.

Curves are eff(x) = e_max * x / (x + x_half), fitted per GPU to NVIDIA aiconfigurator's measured
TensorRT-LLM silicon tables (presets/validation/kernel_efficiency.toml: the derivation and its
fit errors are in that file's header). A hardware preset names the table it uses with
`efficiency.kernel_table`; without one, the preset's flat factors apply.

- GEMM (attention projections, dense MLP, shared experts, LM head): compute efficiency by rows M
  (tokens in the GEMM); weight streaming reaches a share of HBM bandwidth that depends on the matrix
  size and precision (FP8 and FP4 decode GEMMs stream weights far below the BF16 rate).
- Half-points move with the GPU's peak / HBM bandwidth against the measured GPU's (`ridge`), so a
  table serves a derived GPU (B300 on B200's, Rubin on GB300's) and a pin-speed what-if.
- Grouped MoE GEMMs: compute efficiency by tokens per expert, at the nearest measured EP size, times
  the routing imbalance: with power-law expert popularity (aiconfigurator's default, alpha 1.01) the
  busiest GPU gets 1.25-1.6x the mean work at EP 8 and 2.3-2.6x at EP 32.
- Attention prefill (FlashAttention, MLA): compute efficiency by sequence length.
- Decode attention: KV streaming reaches a share of HBM bandwidth.
"""

from __future__ import annotations

import bisect
import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from planner.inputs.hardware import Hardware
from planner.precision import ComputeClass, Dtype, weight_bytes_per_param

# What an expert-parallel load balancer with redundant experts leaves: LMSYS measured 50,302 prompt
# tokens/s per node with EPLB fitted to the input distribution against 59,337 with perfect balance
# simulated (DeepSeek-V3, 4K prefill, EP32 on H100, 2025-05-05: 1.18x). Applied to the experts, the part
# the imbalance slows, it is a lower bound on the busiest rank's excess.
EPLB_RESIDUAL = 1.18

# Up to this many tokens entering the MoE, routing imbalance is not resolved in the measurements:
# aiconfigurator's power-law / balanced latency ratios at 64 tokens, over the 70 (system, expert
# shape, precision, EP size) series of presets/validation/kernel_efficiency.toml, have median 0.95
# and q90 1.02 (median 0.98 at 128, 1.01 at 256, 1.06 at 512, rising to the tabled 1,024-token
# values): a few tokens run every local expert's weights at their streaming rate whatever the
# routing. Between this point (factor 1) and the first tabled count the factor interpolates.
IMBALANCE_FREE_TOKENS = 64

NK_BINS = (1e6, 4e6, 16e6, 64e6, 256e6)   # upper edges of the measured matrix-size bins (N x K elements)


@dataclass(frozen=True)
class Curve:
    e_max: float
    half: float

    def at(self, x: float) -> float:
        """The efficiency at x (at x = inf, the ceiling e_max)."""
        if x == math.inf:
            return self.e_max
        return self.e_max * x / (x + self.half) if x > 0 else self.e_max / (1 + self.half)


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    text = (resources.files("presets") / "validation" / "kernel_efficiency.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=1)
def _first_imbalance_tokens() -> float:
    """The smallest token count any measured routing-imbalance table starts at."""
    return min(float(entry["imbalance_num_tokens"][0]) for machine in _table().values() if isinstance(machine, dict)
               for family in machine.get("moe", {}).values() for entry in family.values()
               if "imbalance_num_tokens" in entry)


def _interp_log(xs: list[float], ys: list[float], x: float) -> float:
    """Piecewise-linear in log(x), clamped at the ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    t = (math.log(x) - math.log(xs[i - 1])) / (math.log(xs[i]) - math.log(xs[i - 1]))
    return ys[i - 1] + t * (ys[i] - ys[i - 1])


class Kernels:
    """Efficiency lookups for one GPU; `flat` is used when the table has no entry."""

    def __init__(self, hw: Hardware) -> None:
        self.hw = hw
        name = hw.efficiency.kernel_table
        self.data: dict[str, Any] = _table().get(name, {}) if name else {}
        self.flat_compute = hw.efficiency.compute
        self.flat_hbm = hw.efficiency.hbm
        # lookups that depend only on this GPU and their arguments, computed once (a search asks
        # for them hundreds of thousands of times)
        self._ridges: dict[ComputeClass, float] = {}
        self._moe_entries: dict[tuple, tuple[dict | None, float]] = {}
        self._gemm_curves: dict[tuple[ComputeClass, bool], Curve | None] = {}
        self._moe_curves: dict[tuple, Curve | None] = {}
        self._imbalance_tables: dict[tuple, tuple[list[float], list[float], list[list[float]]] | None] = {}

    # -- dense GEMMs -------------------------------------------------------------------------------
    def _gemm_key(self, cls: ComputeClass, block_scaled: bool = False) -> dict | None:
        gemm = self.data.get("gemm", {})
        if block_scaled and cls == ComputeClass.fp8 and gemm.get("fp8_block"):
            return gemm["fp8_block"]
        return gemm.get({ComputeClass.bf16: "bf16", ComputeClass.fp8: "fp8", ComputeClass.fp4: "fp4"}[cls]) \
            or (gemm.get("fp8") if cls == ComputeClass.fp4 else None)

    def ridge(self, cls: ComputeClass) -> float:
        """How far this GPU's compute-to-bandwidth ratio is from the one the table was measured on.
        A curve's half-point is where the weight-streaming time equals the compute time, so it moves
        with peak / bandwidth: a GPU with the same peak and twice the HBM bandwidth (HBM4 pin speed,
        Rubin on the GB300 table) reaches half efficiency at half the tokens. 1 on the table's own GPU."""
        hit = self._ridges.get(cls)
        if hit is None:
            hit = self._ridges[cls] = self._ridge(cls)
        return hit

    def _ridge(self, cls: ComputeClass) -> float:
        ref = self.data.get("reference")
        if not ref:
            return 1.0
        key = {ComputeClass.bf16: "bf16", ComputeClass.fp8: "fp8", ComputeClass.fp4: "fp4"}[cls]
        peak_ref = ref.get(f"{key}_flops_per_s") or ref["fp8_flops_per_s"]
        return (self.hw.peak.flops_per_s(cls) / peak_ref) * (ref["hbm_bytes_per_s"] / self.hw.hbm.bandwidth_bytes_per_s)

    def gemm(self, cls: ComputeClass, rows: float, block_scaled: bool = False) -> float:
        """Compute efficiency of a dense GEMM of `rows` rows; `block_scaled` FP8 (128-element scales,
        DeepSeek-V3 §3.3) takes the measured fp8_block curve where the table has one."""
        key = (cls, block_scaled)
        if key not in self._gemm_curves:
            entry = self._gemm_key(cls, block_scaled)
            self._gemm_curves[key] = Curve(entry["e_max"], entry["m_half"] * self.ridge(cls)) if entry else None
        curve = self._gemm_curves[key]
        return curve.at(rows) if curve is not None else self.flat_compute

    def weight_stream(self, cls: ComputeClass, nk: float) -> float:
        """Share of HBM bandwidth a GEMM reaches while streaming its weights (decode)."""
        decode = self.data.get("decode_gemm", {})
        key = {ComputeClass.bf16: "bf16", ComputeClass.fp8: "fp8", ComputeClass.fp4: "fp8"}[cls]
        entry = decode.get(key)
        if not entry:
            return self.flat_hbm
        values = entry["hbm_efficiency_by_nk_bin"]
        return values[bisect.bisect_right(NK_BINS, nk)]

    # -- grouped MoE GEMMs -------------------------------------------------------------------------
    # Shapes the MoE tables were measured on (hidden, expert width) and the weight bytes per parameter
    # of each measured quantisation (fp4 = NVFP4 with its scales; w4a16_mxfp4 = MXFP4 weights
    # dequantised to BF16 activations, as Hopper runs gpt-oss).
    MOE_SHAPES = {"deepseek": (7168, 2048), "qwen3": (4096, 1536), "gptoss": (2880, 2880)}
    MOE_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp8_block": 1.0, "fp4": 0.5625,
                 "w4a16_mxfp4": weight_bytes_per_param(Dtype.mxfp4)}

    def _moe_entry(self, cls: ComputeClass, shape: tuple[int, int], weights: str = "") -> tuple[dict | None, float]:
        """The curve measured on the nearer expert shape at this compute class, and its weight bytes.
        `weights` (the expert weights' dtype) picks a weight-only kernel's own table where one was
        measured: BF16-class experts with MXFP4 weights run the W4A16 MXFP4 kernel, not a BF16 one."""
        key = (cls, shape, weights)
        hit = self._moe_entries.get(key)
        if hit is None:
            hit = self._moe_entries[key] = self._find_moe_entry(cls, shape, weights)
        return hit

    def _find_moe_entry(self, cls: ComputeClass, shape: tuple[int, int], weights: str) -> tuple[dict | None, float]:
        moe = self.data.get("moe", {})
        order = sorted(self.MOE_SHAPES, key=lambda k: abs(math.log(self.MOE_SHAPES[k][0] * self.MOE_SHAPES[k][1]
                                                                   / (shape[0] * shape[1]))))
        wanted = {ComputeClass.bf16: ("bf16",), ComputeClass.fp8: ("fp8_block", "fp8"),
                  ComputeClass.fp4: ("fp4", "fp8_block", "fp8")}[cls]
        if cls is ComputeClass.bf16 and f"w4a16_{weights}" in self.MOE_BYTES:
            wanted = (f"w4a16_{weights}", *wanted)
        for quant in wanted:
            for family in order:
                entry = moe.get(family, {}).get(quant)
                if entry:
                    return entry, self.MOE_BYTES[quant]
        return None, 1.0

    def moe(self, cls: ComputeClass, tokens_per_expert: float, ep: int, shape: tuple[int, int],
            weight_bytes: float, weights: str = "") -> float:
        """At few tokens per expert the measured latency is weight streaming, so the curve's ramp
        scales with the weight bytes per parameter relative to the measured kernel's."""
        key = (cls, shape, ep, weight_bytes, weights)
        if key not in self._moe_curves:
            self._moe_curves[key] = self._moe_curve(cls, shape, ep, weight_bytes, weights)
        curve = self._moe_curves[key]
        return curve.at(tokens_per_expert) if curve is not None else self.flat_compute

    def _moe_curve(self, cls: ComputeClass, shape: tuple[int, int], ep: int, weight_bytes: float,
                   weights: str) -> Curve | None:
        entry, ref_bytes = self._moe_entry(cls, shape, weights)
        if not entry:
            return None
        # the fit at the nearest measured EP size (in log(EP)); the unprefixed fit is EP 8
        fits = {8: ""} | {int(k[2:k.index("_")]): k[:k.index("_") + 1] for k in entry
                          if k.startswith("ep") and k.endswith("_e_max")}
        prefix = fits[min(fits, key=lambda n: (abs(math.log(ep / n)), -n))]
        half = entry[prefix + "tokens_half"] * weight_bytes / ref_bytes * self.ridge(cls)
        return Curve(entry[prefix + "e_max"], half)

    def imbalance(self, cls: ComputeClass, tokens: float, ep: int, routing: str, shape: tuple[int, int],
                  weights: str = "") -> float:
        """Busiest GPU's expert work over the mean, for `tokens` entering the MoE across the EP group:
        the measured power-law table of the kernel `moe` prices (interpolated in log(tokens) and
        log(EP), held past its ends),
        rising from none at IMBALANCE_FREE_TOKENS to its first measured point, so that one more
        token never changes a step by a step function. A load balancer (`eplb`) leaves its residual,
        never more than the measured routing would without it."""
        if routing == "balanced" or ep <= 1 or tokens <= IMBALANCE_FREE_TOKENS:
            return 1.0
        key = (cls, shape, weights)
        if key not in self._imbalance_tables:
            self._imbalance_tables[key] = self._imbalance_table(cls, shape, weights)
        table = self._imbalance_tables[key]
        if table is None:
            # Unmeasured routing: only a balancer's published residual is known, reached where the
            # other machines' measured tables start.
            if routing != "eplb":
                return 1.0
            return _interp_log([IMBALANCE_FREE_TOKENS, _first_imbalance_tokens()], [1.0, EPLB_RESIDUAL], tokens)
        xs, eps_f, curves = table
        by_ep = [_interp_log(xs, c, tokens) for c in curves]
        factor = max(1.0, _interp_log(eps_f, by_ep, float(ep)) if len(eps_f) > 1 else by_ep[0])
        return min(factor, EPLB_RESIDUAL) if routing == "eplb" else factor

    def _imbalance_table(self, cls: ComputeClass, shape: tuple[int, int], weights: str) -> tuple | None:
        """(token counts, EP sizes, factor per EP size per token count) of the nearer measured expert
        shape, the point of no imbalance at IMBALANCE_FREE_TOKENS put first; None without one."""
        entry, _ = self._moe_entry(cls, shape, weights)
        if not entry or "imbalance_num_tokens" not in entry:
            return None
        eps = sorted(int(k.rsplit("_ep", 1)[1]) for k in entry if k.startswith("imbalance_pl101_ep"))
        return ([float(IMBALANCE_FREE_TOKENS)] + [float(x) for x in entry["imbalance_num_tokens"]],
                [float(e) for e in eps], [[1.0, *entry[f"imbalance_pl101_ep{e}"]] for e in eps])

    # -- grouped expert GEMMs in training -----------------------------------------------------------
    def moe_train(self, cls: ComputeClass, tokens_per_expert: float) -> float | None:
        """Share of the peak that a gated expert's training GEMMs reach at `tokens_per_expert`, from the
        `moe_train` measurements of this table (block-scaled FP8: DeepGEMM on H800), or None when the
        table has none. The forward and data-gradient GEMMs take the Fprop figures, the weight
        gradient the Wgrad figures, each a third of the FLOPs (backward = 2 × forward); gate+up carry
        2/3 of an expert's FLOPs and down 1/3. Between measured token counts the TFLOPS interpolate in
        log(tokens), and hold at the ends."""
        entry = self.data.get("moe_train", {}).get({ComputeClass.fp8: "fp8_block"}.get(cls, ""))
        ref = self.data.get("reference")
        if not entry or not ref:
            return None
        peak = ref["fp8_flops_per_s"] / 1e12

        def gated(xs: list[float], up: list[float], down: list[float]) -> float:
            e_up, e_down = (_interp_log(xs, ys, tokens_per_expert) / peak for ys in (up, down))
            return 1 / ((2 / 3) / e_up + (1 / 3) / e_down)

        fprop = gated(entry["tokens_per_expert"], entry["fprop_tflops_gate_up"], entry["fprop_tflops_down"])
        wgrad = gated(entry["wgrad_tokens_per_expert"], entry["wgrad_tflops_gate_up"], entry["wgrad_tflops_down"])
        return 3 / (2 / fprop + 1 / wgrad)

    # -- memory-bound kernels -----------------------------------------------------------------------
    def memory_kernel(self, kind: str, call_bytes: float) -> float:
        """Share of the HBM bandwidth one call of a memory-bound kernel of `kind` ("rmsnorm",
        "fp8_quant") reaches when it moves `call_bytes`, from the table's published `memory_kernel`
        measurements (interpolated in log(bytes), held at the ends); the flat HBM factor without them."""
        entry = self.data.get("memory_kernel", {}).get(kind)
        if not entry:
            return self.flat_hbm
        return _interp_log(entry["call_bytes"], entry["hbm_efficiency"], call_bytes)

    # -- attention ---------------------------------------------------------------------------------
    def attention_prefill(self, sequence: float, mla: bool, fp8_kv: bool) -> tuple[float, ComputeClass]:
        """(efficiency, the peak it applies to) of prefill attention over `sequence` tokens. With an
        FP8 KV cache the measured FP8 kernels apply: GQA FMHA runs at the FP8 peak, and the MLA
        curve is stated against the BF16 peak (its table says so)."""
        family = self.data.get("mla_prefill" if mla else "attention_prefill", {})
        entry = family.get("fp8kv" if mla else "fp8") if fp8_kv else None
        if entry:
            cls = ComputeClass.bf16 if mla else ComputeClass.fp8
            return Curve(entry["e_max"], entry["s_half"]).at(sequence), cls
        entry = family.get("bf16")
        if not entry:
            return self.flat_compute, ComputeClass.bf16
        return Curve(entry["e_max"], entry["s_half"]).at(sequence), ComputeClass.bf16

    def kv_stream(self, mla: bool, fp8: bool) -> float:
        family = self.data.get("decode_mla" if mla else "decode_attention", {})
        entry = family.get("fp8kv" if fp8 else "bf16kv")
        return entry["hbm_eff_kv_ge_256MB"] if entry else self.flat_hbm


_KERNELS: dict[int, tuple[Hardware, Kernels]] = {}


def kernels(hw: Hardware) -> Kernels:
    """Lookups for a hardware object, cached by identity (the cache holds the object, so an id is
    never reused while its entry lives; hashing a model costs more than the lookups)."""
    hit = _KERNELS.get(id(hw))
    if hit is not None and hit[0] is hw:
        return hit[1]
    if len(_KERNELS) > 256:
        _KERNELS.clear()
    k = Kernels(hw)
    _KERNELS[id(hw)] = (hw, k)
    return k
