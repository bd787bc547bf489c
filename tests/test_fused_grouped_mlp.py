"""Transformer Engine's fused MXFP8 grouped MLP (perf.fused_grouped_mlp): the passes it removes, by hand, and where it
applies."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import fused_grouped_mlp
from supercluster.perf.fused_grouped_mlp import applies, saving
from supercluster.validate.harness import predict_row, read_rows


def test_applies_only_to_mxfp8_gated_unbiased_256_multiples() -> None:
    # DeepSeek-V3: h 7,168 = 28 x 256, expert width 2,048 = 8 x 256, SwiGLU, no expert bias
    assert applies(True, "mxfp8", True, False, 7168, 2048)
    assert not applies(False, "mxfp8", True, False, 7168, 2048)  # the recipe does not ask for it
    assert not applies(True, "fp8", True, False, 7168, 2048)  # MXFP8 only (fuse_forward_ops: recipe.mxfp8())
    assert not applies(True, "bf16", True, False, 7168, 2048)
    assert not applies(True, "mxfp8", False, False, 7168, 2048)  # ScaledSwiGLU only
    assert not applies(True, "mxfp8", True, True, 7168, 2048)  # "window[0].has_bias" breaks the pattern
    # GPT-OSS-120B's expert width 2,880 = 11.25 x 256: not on the kernel's tiles
    assert not applies(True, "mxfp8", True, False, 2880, 2880)


def test_saving_by_hand() -> None:
    acc = catalog.accelerator("gb300")  # 8 TB/s; elementwise at hbm_fraction 0.85, routing at min(0.85, 0.75)
    # 4,096 tokens x top-8 = 32,768 routed copies over 8 local experts, 4,096 each (a multiple of 32: exact rows
    # need no padding), expert width 2,048, gated (u = 2); the activation pass 6 B per element (fused SwiGLU)
    s = saving(
        routed_act_elems=32768 * 2048,
        act_bytes=6.0,
        bwd_ratio=2.0,
        local_copies=32768,
        local_experts=8,
        width=2048,
        up=2,
        exact=True,
        acc=acc,
    )
    act = 32768 * 2048 * 6.0 / (8e12 * 0.85)  # 59.2 us
    cast_per = 2.0 + 2.0 * (1.0 + 1.0 / 32.0)  # read BF16, write row-wise and column-wise MXFP8 with E8M0 scales
    cast_fwd = cast_per * 32768 * 2048 / (8e12 * 0.75)  # FC2's input, 45.4 us
    cast_bwd = cast_per * 32768 * 2 * 2048 / (8e12 * 0.75)  # FC1's output gradient, 90.9 us
    assert s.fwd_s == pytest.approx(act + cast_fwd)
    assert s.bwd_s == pytest.approx(2.0 * act + cast_bwd)
    assert s.fwd_s == pytest.approx(104.6e-6, rel=1e-3)


def test_only_the_recipes_that_set_it_move(monkeypatch) -> None:
    # the 26.06 DeepSeek-V3 GB300 MXFP8 rows' profile sets it (Megatron-Bridge v0.5.0 cutedsl_fused_grouped_mlp=True)
    assert catalog.software("megatron-bridge-fullgraph-2026").moe_fused_grouped_mlp
    assert not catalog.software("megatron-bridge-deepep-2025").moe_fused_grouped_mlp
    rows = {r["id"]: r for r in read_rows("all")[1]}
    row = rows["mb2606-gb300-deepseek-v3-256-mxfp8-gbs4096"]
    other = rows["mb260401-gb300-deepseek-v3-256-mxfp8"]  # 26.04.01: no fused grouped MLP in its recipe
    with_fusion, other_on = predict_row(row).predicted, predict_row(other).predicted
    monkeypatch.setattr(fused_grouped_mlp, "applies", lambda *args: False)
    without, other_off = predict_row(row).predicted, predict_row(other).predicted
    # fewer memory-bound passes: a faster step (higher throughput), by a few percent at most
    assert 1.0 < with_fusion / without < 1.05
    assert other_on == other_off
