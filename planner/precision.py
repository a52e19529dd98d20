"""Numeric formats and what one element costs in bytes, scales included.

Why scales matter: block-scaled formats carry one scale per block, so "FP4" is never 0.5 bytes.
- MXFP4 (OCP Microscaling v1.0): 32-element blocks, 8-bit E8M0 scale -> 4.25 bits/element.
- NVFP4 (NVIDIA Blackwell): 16-element blocks, FP8 E4M3 scale -> 4.5 bits/element (the one
  FP32 per-tensor scale is negligible and not counted).
- FP8 weights: DeepSeek-V3 quantises weights in 128x128 blocks with one FP32 scale each
  (DeepSeek-V3 report §3.3; ISCA '25 §3.1), +32 bits per 16,384 elements.
- INT4 weights: group-128 with one BF16 scale (GPTQ/AWQ style) -> 4.125 bits/element.
MX and NV scales are part of the format, so they count for KV and traffic too; the FP8
128x128 and INT4 group scales are weight-quantisation conventions and count for weights only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Dtype(StrEnum):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"
    fp8 = "fp8"
    int8 = "int8"
    mxfp4 = "mxfp4"
    nvfp4 = "nvfp4"
    int4 = "int4"


class ComputeClass(StrEnum):
    """Which dense peak of the hardware a GEMM runs at."""

    bf16 = "bf16"
    fp8 = "fp8"
    fp4 = "fp4"


@dataclass(frozen=True)
class Format:
    bits: int
    block_elements: int = 0      # scale block inherent to the format (MX/NV); 0 = none
    block_scale_bits: int = 0
    weight_block_elements: int = 0   # extra weight-only block scales (FP8 128x128, INT4 g128)
    weight_scale_bits: int = 0
    compute: ComputeClass = ComputeClass.bf16

    def element_bits(self) -> float:
        """Bits per element for activations, KV and traffic (inherent scales only)."""
        extra = self.block_scale_bits / self.block_elements if self.block_elements else 0.0
        return self.bits + extra

    def weight_bits(self) -> float:
        """Bits per element for stored weights (weight-only block scales included)."""
        extra = self.weight_scale_bits / self.weight_block_elements if self.weight_block_elements else 0.0
        return self.element_bits() + extra


FORMATS: dict[Dtype, Format] = {
    Dtype.fp32: Format(32),
    Dtype.bf16: Format(16),
    Dtype.fp16: Format(16),
    Dtype.fp8: Format(8, weight_block_elements=128 * 128, weight_scale_bits=32, compute=ComputeClass.fp8),
    Dtype.int8: Format(8, compute=ComputeClass.fp8),  # INT8 tensor cores run at the FP8 rate on H100/H200
    Dtype.mxfp4: Format(4, block_elements=32, block_scale_bits=8, compute=ComputeClass.fp4),
    Dtype.nvfp4: Format(4, block_elements=16, block_scale_bits=8, compute=ComputeClass.fp4),
    Dtype.int4: Format(4, weight_block_elements=128, weight_scale_bits=16, compute=ComputeClass.fp4),
}


def element_bytes(dtype: Dtype) -> float:
    """Bytes per element of an activation, KV entry or message (inherent scales included)."""
    return FORMATS[dtype].element_bits() / 8


def weight_bytes_per_param(dtype: Dtype) -> float:
    """Bytes per stored weight, block scales included (e.g. MXFP4 0.53125, NVFP4 0.5625)."""
    return FORMATS[dtype].weight_bits() / 8


def gemm_compute_class(weights: Dtype, activations: Dtype) -> ComputeClass:
    """A GEMM runs at the peak of the wider of its two operands.

    DeepSeek-V4 §1: FP4 expert weights are dequantised to FP8 and multiplied with FP8
    activations, so FP4 x FP8 runs at the FP8 rate on current hardware; only W4A4 (e.g. NVFP4
    weights with NVFP4 activations) reaches the FP4 peak. Weight-only INT4 dequantises to the
    activation type.
    """
    order = [ComputeClass.fp4, ComputeClass.fp8, ComputeClass.bf16]
    w = FORMATS[weights].compute
    a = FORMATS[activations].compute
    return max(w, a, key=order.index)
