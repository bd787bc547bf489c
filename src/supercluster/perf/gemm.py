"""Time of one matrix multiply on one accelerator, from its efficiency table.

Model (roofline with a tile-size penalty):

    t_compute = 2 m n k / (peak * e_max) * (1 + d0/m + d0/n + d0/k)
    t_memory  = bytes * (m k + k n + m n) / (hbm_bw * e_hbm)
    t         = max(t_compute, t_memory)

e_max is the measured "maximum achievable matmul FLOP/s" fraction (stas00,
ml-engineering, compute/accelerator/README.md: 794.5 of 989 TFLOP/s on H100).
The (1 + d0/m + d0/n + d0/k) factor is the first-order cost of partial tiles
and of each tile's prologue/epilogue when a dimension is not much larger than
the tile (d0 is about the CTA tile edge; CUTLASS uses 128-256): it tends to 1
for large shapes and halves efficiency when a dimension equals d0. The roofline
bound is Williams, Waterman and Patterson, "Roofline", CACM 52(4), 2009, eq. 1.
"""

from __future__ import annotations

from supercluster.specs import Accelerator
from supercluster.specs.accelerator import TENSOR_RATE

# HBM bytes per operand element, block scales included: MXFP8 one E8M0 byte per 32 elements, NVFP4 one E4M3
# byte per 16 four-bit elements (OCP MX v1.0; arXiv:2509.25149 section 2)
OPERAND_BYTES = {"bf16": 2.0, "fp8": 1.0, "mxfp8": 1.0 + 1.0 / 32, "nvfp4": 0.5 + 1.0 / 16}

# NVFP4 pretraining quantizes the linear layers' GEMMs (forward, data and weight gradients) but keeps about a
# sixth of them, the most sensitive, in BF16 (NVIDIA, arXiv:2509.25149: selective high-precision layers, ~16%
# of its 12B model's linear layers); attention, norms, embeddings and the output head stay in BF16.
NVFP4_BF16_LAYER_FRACTION = 0.16


# (id(acc), precision) -> (acc, constants): the accelerator held so its id cannot be reused while cached
_CONSTANTS: dict[tuple[int, str], tuple[Accelerator, tuple[str, float, float, float, float]]] = {}


def _constants(acc: Accelerator, precision: str) -> tuple[str, float, float, float, float]:
    """(precision run, sustained FLOP/s, tile edge, quantization overhead factor, HBM bytes/s) of one card."""
    hit = _CONSTANTS.get((id(acc), precision))
    if hit is not None and hit[0] is acc:
        return hit[1]
    eff = acc.efficiency
    prec = precision if acc.supports(precision) else "bf16"
    fraction = eff.gemm_peak_fraction.get(prec)
    if fraction is None and prec in TENSOR_RATE:
        fraction = eff.gemm_peak_fraction.get("fp8")
    if fraction is None:
        prec, fraction = "bf16", eff.gemm_peak_fraction["bf16"]
    overhead = {
        "bf16": 0.0,
        "fp8": eff.fp8_overhead_fraction,
        "mxfp8": eff.mxfp8_overhead_fraction,
    }.get(prec, eff.nvfp4_overhead_fraction)
    consts = (
        prec,
        acc.peak_flops(prec) * fraction,
        eff.gemm_tile_dim,
        1.0 + overhead,
        acc.hbm_tb_per_s * 1e12 * eff.hbm_fraction,
    )
    if len(_CONSTANTS) > 1024:
        _CONSTANTS.clear()
    _CONSTANTS[id(acc), precision] = (acc, consts)
    return consts


def gemm_time_s(m: float, n: float, k: float, acc: Accelerator, precision: str = "bf16", casts: bool = True) -> float:
    """Seconds for C[m,n] = A[m,k] @ B[k,n] in ``precision`` (bf16, fp8, mxfp8 or nvfp4).

    A block-scaled format without its own fitted fraction takes FP8's (same tensor-core pipeline, operands
    fed the same way; an assumption until a Blackwell calibration profile measures it). Each low-precision
    GEMM pays its format's quantization overhead unless ``casts`` is False (a stack whose compiler fuses the
    quantization into the operands' producers, perf.fp8_casts); a precision the card lacks runs in BF16.
    """
    if m <= 0 or n <= 0 or k <= 0:
        return 0.0
    prec, peak, d0, overhead, hbm = _constants(acc, precision)
    if not casts:
        overhead = 1.0
    t_compute = 2.0 * m * n * k / peak * (1.0 + d0 / m + d0 / n + d0 / k) * overhead
    t_memory = OPERAND_BYTES[prec] * (m * k + k * n) / hbm
    t_memory += 2.0 * m * n / hbm  # the output is written in bf16
    return max(t_compute, t_memory)


def linear_gemms_s(
    m: float, n: float, k: float, acc: Accelerator, precision: str, casts: bool = True
) -> tuple[float, float, float]:
    """Forward y = x W (m x k @ k x n), data gradient (m x n @ n x k) and weight gradient (k x m @ m x n)."""
    return (
        gemm_time_s(m, n, k, acc, precision, casts),
        gemm_time_s(m, k, n, acc, precision, casts),
        gemm_time_s(k, n, m, acc, precision, casts),
    )


def linear_fwd_bwd_s(m: float, n: float, k: float, acc: Accelerator, precision: str) -> tuple[float, float]:
    """Forward and backward (data + weight gradient) of one linear layer, as ``linear_gemms_s``."""
    fwd, dgrad, wgrad = linear_gemms_s(m, n, k, acc, precision)
    return fwd, dgrad + wgrad


def memory_bound_s(nbytes: float, acc: Accelerator) -> float:
    """Seconds to stream ``nbytes`` through HBM at the efficiency memory-bound kernels reach."""
    return nbytes / (acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction)
