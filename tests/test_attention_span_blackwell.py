"""Blackwell's own fused-attention fixed cost per query tile (perf.attention_span.tile_overheads): the catalog's
pair is the joint fit of NVIDIA's published Blackwell training-attention curves, and the step model's span factor
uses a table's own pair (hand arithmetic below)."""

from __future__ import annotations

import numpy as np
import pytest

from supercluster import catalog
from supercluster.perf import attention_span
from supercluster.perf.attention_span import (
    BWD_TILE_OVERHEAD_KEYS,
    FWD_TILE_OVERHEAD_KEYS,
    span_efficiency,
    span_speed,
    tile_overheads,
)

BLACKWELL = ("b200", "gb200", "b300", "gb300")
SEQ = np.array([2048, 4096, 8192, 16384, 32768], dtype=float)
# NVIDIA/cudnn-frontend benchmark/sdpa_benchmark_training, Llama 3.1 shape (64 query / 8 key-value heads, head dim
# 128), BF16, causal ("top_left"), TFLOP/s at sequence 2K .. 32K. GB200, cuDNN 9.18.1, batch 1:
# results/gb200_918_only_cudnn/llama3.1_20260126_110503.csv; GB300, cuDNN 9.26, batch 2 (cuDNN and
# FlashAttention-4): results/llama3.1/gb300/llama3.1_20260724_040919.csv.
CAUSAL_FWD = {
    "gb200 cudnn": [1022, 1297, 1563, 1646, 1686],
    "gb300 cudnn": [1467, 1813, 1991, 2065, 2105],
    "gb300 fa4": [1291, 1656, 1896, 2021, 1970],
}
CAUSAL_BWD = {
    "gb200 cudnn": [824, 1105, 1279, 1371, 1441],
    "gb300 cudnn": [971, 1254, 1448, 1516, 1416],
    "gb300 fa4": [865, 1203, 1454, 1550, 1582],
}


@pytest.fixture
def span_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attention_span, "IN_STEP_TIME", True)


def joint_fit(curves: dict[str, list[int]], spans: np.ndarray) -> tuple[float, float]:
    """One n0 for every curve (each with its own asymptote, closed form), least squares in relative error."""
    best = (np.inf, 0.0)
    for n0 in np.arange(50.0, 2000.0, 1.0):
        s = span_efficiency(spans, n0)
        res = []
        for values in curves.values():
            e = np.array(values, dtype=float)
            x = s / e
            res.append(float(x.sum() / (x * x).sum()) * x - 1)
        best = min(best, (float(np.sqrt(np.mean(np.concatenate(res) ** 2))), float(n0)))
    return best[1], best[0]


@pytest.mark.parametrize("card", BLACKWELL)
def test_catalog_pair_is_the_joint_fit_of_the_blackwell_curves(card: str) -> None:
    """Mean causal span seq / 2: forward n0 = 629 keys (rms 3.1%), backward 795 (rms 4.4%), against Hopper's 232
    and 592 (the FlashAttention-3 paper's curves)."""
    eff = catalog.accelerator(card).efficiency
    n0_f, rms_f = joint_fit(CAUSAL_FWD, SEQ / 2)
    n0_b, rms_b = joint_fit(CAUSAL_BWD, SEQ / 2)
    assert eff.attention_fwd_tile_overhead_keys == pytest.approx(n0_f, abs=2)
    assert eff.attention_bwd_tile_overhead_keys == pytest.approx(n0_b, abs=2)
    assert rms_f < 0.035 and rms_b < 0.05
    assert eff.attention_reference_span == 2048
    # Blackwell's per-tile cost is larger than Hopper's in keys, most in the forward (the softmax exponential)
    assert n0_f > 2.5 * FWD_TILE_OVERHEAD_KEYS and n0_b > BWD_TILE_OVERHEAD_KEYS


def test_a_table_without_its_own_pair_takes_hoppers() -> None:
    assert tile_overheads() == (FWD_TILE_OVERHEAD_KEYS, BWD_TILE_OVERHEAD_KEYS)
    # the Hopper pair by its published fits: 232 keys forward, 232 x 360 / 141 = 592.34 backward (perf.attention_span)
    assert tile_overheads() == pytest.approx((232.0, 592.34), abs=0.01)
    assert tile_overheads(629, None) == (629.0, BWD_TILE_OVERHEAD_KEYS)
    assert catalog.accelerator("h100-sxm-80gb").efficiency.attention_fwd_tile_overhead_keys is None


def test_span_factor_uses_the_tables_pair(span_on: None) -> None:
    """Llama 3 8B at 8,192 tokens, no context parallelism: kernel span 4,096 keys against the reference 2,048.
    Forward with Blackwell's n0 = 629: (4096 / 4725) / (2048 / 2677) = 0.86688 / 0.76504 = 1.1331; with Hopper's
    232: (4096 / 4328) / (2048 / 2280) = 0.94640 / 0.89825 = 1.0536. Backward with 795: (4096 / 4891) /
    (2048 / 2843) = 0.83746 / 0.72037 = 1.1625."""
    model = catalog.model("llama3-8b")
    bw = span_speed(model, 8192, 1, 2048.0, (629.0, 795.0))
    assert bw.fwd == pytest.approx(1.1331, abs=1e-3)
    assert bw.bwd == pytest.approx(1.1625, abs=1e-3)
    hopper = span_speed(model, 8192, 1, 2048.0)
    assert hopper.fwd == pytest.approx(1.0536, abs=1e-3)


def test_reference_share_uses_the_tables_pair(span_on: None) -> None:
    """s(2048) combined by FLOPs (backward 2.5x): 3.5 / (2677 / 2048 + 2.5 x 2843 / 2048) = 3.5 / 4.7776 = 0.7326."""
    share = attention_span.reference_share(2048.0, overheads_keys=(629.0, 795.0))
    assert share == pytest.approx(0.7326, abs=1e-3)
    assert share < attention_span.reference_share(2048.0)
