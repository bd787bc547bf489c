"""Transformer Engine 2.1-2.5's fused MoE permutation (perf.te_permute): the slowdown, the bytes by hand, and which
rows it reaches."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import te_permute
from supercluster.perf.te_permute import extra_s, mask_map_bytes, slowdown
from supercluster.validate.harness import predict_row, read_rows


def test_slowdown_is_the_map_reads_ratio_capped_at_the_published_10x() -> None:
    # DeepSeek-V3, 256 experts top-8: E / k = 32 map reads per token and block for the old kernel's one, capped at
    # the guide's "up to a 10x unit speedup"
    assert slowdown(256, 8) == 10.0
    assert slowdown(128, 1) == 10.0  # Llama 4 Maverick
    assert slowdown(8, 2) == 4.0  # Mixtral: E / k = 4, under the cap
    assert slowdown(8, 8) == 1.0  # every expert routed: nothing wasted
    assert slowdown(0, 8) == 1.0


def test_mask_map_bytes_by_hand() -> None:
    # DeepSeek-V3 on tp2 with sequence parallelism: 2,048 tokens per rank, top-8, hidden 7,168
    t, k, h = 2048, 8, 7168
    permute = 2 * 2 * k * t * h + (8 + 4 + 4) * k * t  # 469,762,048 + 262,144
    unpermute = 2 * k * t * h + (8 + 4) * k * t + 2 * t * h  # 234,881,024 + 196,608 + 29,360,128
    assert permute + unpermute == 734_461_952
    assert mask_map_bytes(t, k, h) == pytest.approx(734_461_952)


def test_extra_seconds_by_hand() -> None:
    acc = catalog.accelerator("gb200")  # 8 TB/s; routing kernels stream at min(0.85, 0.75) of it
    f, b = extra_s(True, "per-expert", 2048, 256, 8, 7168, acc)
    # (10 - 1) x 734,461,952 B / 6 TB/s = 9 x 122.4 us = 1.102 ms in each direction
    assert f == pytest.approx(9 * 734_461_952 / (8e12 * 0.75))
    assert f == pytest.approx(1.1017e-3, rel=1e-3)
    assert b == f
    # only the per-expert (all-to-all) dispatcher hands TE the map of all experts; only the stacks that set it
    assert extra_s(True, "per-destination", 2048, 256, 8, 7168, acc) == (0.0, 0.0)
    assert extra_s(False, "per-expert", 2048, 256, 8, 7168, acc) == (0.0, 0.0)


def test_profiles_and_rows() -> None:
    assert catalog.software("nemo-2024-dsv3-first-last").te_permute_all_experts
    assert catalog.software("nemo-2024-permute-fusion").te_permute_all_experts
    assert not catalog.software("nemo-2024").te_permute_all_experts
    assert not catalog.software("megatron-bridge-2025").te_permute_all_experts
    rows = {r["id"]: r for r in read_rows("all")[1]}
    llama4 = [r for i, r in rows.items() if i.startswith("dgxc250504-") and "llama4-maverick" in i]
    assert len(llama4) == 8
    assert {r["software"] for r in llama4} == {"nemo-2024-permute-fusion"}


def test_the_flagged_rows_slow_down_and_no_other(monkeypatch) -> None:
    rows = {r["id"]: r for r in read_rows("all")[1]}
    dsv3 = rows["dgxcv2505-gb200-dsv3-bf16-128"]
    mixtral = rows["nemo2504-gb200-mixtral-8x7b"]  # nemo-2024: its recipe does not set moe_permute_fusion
    on, mix_on = predict_row(dsv3).predicted, predict_row(mixtral).predicted
    monkeypatch.setattr(te_permute, "slowdown", lambda experts, topk: 1.0)
    off, mix_off = predict_row(dsv3).predicted, predict_row(mixtral).predicted
    # step time (the metric) grows by the kernels' extra: ~1.1 ms forward and backward on ~16 layers x 64
    # micro-batches, a few seconds on ~19 s
    assert 1.05 < on / off < 1.25
    assert mix_on == mix_off
