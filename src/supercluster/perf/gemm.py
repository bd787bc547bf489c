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


def gemm_time_s(m: float, n: float, k: float, acc: Accelerator, precision: str = "bf16") -> float:
    """Seconds for C[m,n] = A[m,k] @ B[k,n] in ``precision`` (bf16 or fp8)."""
    if m <= 0 or n <= 0 or k <= 0:
        return 0.0
    eff = acc.efficiency
    prec = precision if (precision in eff.gemm_peak_fraction and acc.supports(precision)) else "bf16"
    peak = acc.peak_flops(prec) * eff.gemm_peak_fraction[prec]
    d0 = eff.gemm_tile_dim
    t_compute = 2.0 * m * n * k / peak * (1.0 + d0 / m + d0 / n + d0 / k)
    if prec == "fp8":
        t_compute *= 1.0 + eff.fp8_overhead_fraction
    elem_bytes = 1.0 if prec == "fp8" else 2.0
    t_memory = elem_bytes * (m * k + k * n + m * n) / (acc.hbm_tb_per_s * 1e12 * eff.hbm_fraction)
    return max(t_compute, t_memory)


def linear_fwd_bwd_s(m: float, n: float, k: float, acc: Accelerator, precision: str) -> tuple[float, float]:
    """Forward y = x W (m x k @ k x n) and its backward: dgrad (m x n @ n x k) + wgrad (k x m @ m x n)."""
    fwd = gemm_time_s(m, n, k, acc, precision)
    bwd = gemm_time_s(m, k, n, acc, precision) + gemm_time_s(k, n, m, acc, precision)
    return fwd, bwd


def memory_bound_s(nbytes: float, acc: Accelerator) -> float:
    """Seconds to stream ``nbytes`` through HBM at the efficiency memory-bound kernels reach."""
    return nbytes / (acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction)
