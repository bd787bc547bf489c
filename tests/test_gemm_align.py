"""Attention-score GEMMs off the 16-byte tensor-core alignment (perf.gemm_align)."""

from __future__ import annotations

import math

import pytest

from supercluster import catalog
from supercluster.perf import gemm_align
from supercluster.validate.harness import predict_row, read_rows


def test_alignment_is_sixteen_bytes_of_half_precision():
    # NVIDIA guide section 2.2: multiples of 16 bytes, 8 two-byte elements
    assert gemm_align.aligned(128) and gemm_align.aligned(104) and gemm_align.aligned(144)
    # BigScience's odd heads: 13824/128 = 108, 14400/32 = 450, 14400/96 = 150
    assert not any(gemm_align.aligned(d) for d in (108, 450, 150))
    assert gemm_align.aligned(4, elem_bytes=4)  # 16 bytes of fp32


def test_fallback_is_the_geometric_middle_of_the_a100_cuda_core_bracket():
    # whitepaper Table 1: sqrt(19.5 x 78) = sqrt(1521) = 39 TFLOPS, over 312 = 1/8
    assert gemm_align.fallback_fraction(80) == pytest.approx(39.0 / 312.0)
    assert gemm_align.fallback_fraction(80) == pytest.approx(0.125)
    assert gemm_align.fallback_fraction(90) is None


def test_slowdown_only_for_unaligned_heads_on_a_card_with_a_bracket():
    a100, h100 = catalog.accelerator("a100-sxm-80gb"), catalog.accelerator("h100-sxm-80gb")
    assert gemm_align.head_gemm_slowdown((108, 108), a100) == pytest.approx(8.0)
    assert gemm_align.head_gemm_slowdown((144, 144), a100) == 1.0
    assert gemm_align.head_gemm_slowdown((108, 108), h100) == 1.0


def _row(row_id: str) -> dict[str, str]:
    _, rows = read_rows("reports")
    return next(r for r in rows if r["id"] == row_id)


def test_bigscience_head_sweep_ratio():
    """BigScience tr11 chronicles-prequel.md 'NHEADs comparison', NHIDDEN=13824 / NLAYERS=78, DP8 TP8 PP6 MBS4:
    96 heads (d = 144) 124.75 s/it, 128 heads (d = 108) 162.72 s/it: 162.72 / 124.75 = 1.304. Before the rule the
    model priced both alike (ratio about 1.0); with it the ratio lands within 10% of the measured one."""
    base = "bloom22-prequel-02-23-l78h13824a{}-tp8pp6dp8mb4gb2048"
    t96, t128 = (predict_row(_row(base.format(a))).predicted for a in (96, 128))
    measured = 162.72 / 124.75
    assert measured == pytest.approx(1.304, abs=1e-3)
    assert t128 / t96 == pytest.approx(measured, rel=0.10)
    assert math.isfinite(t96) and t128 > t96 * 1.15
