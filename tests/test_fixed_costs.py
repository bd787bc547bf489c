"""Fixed per-kernel and per-step costs (perf.fixed_cost): kernels x latency by hand, the host-bound term, the counts,
the optimizer's launches, and the term's share of a step shrinking as the work per GPU grows."""

import pytest

from supercluster import catalog
from supercluster.perf import estimate
from supercluster.perf import fixed_cost as fc
from supercluster.specs import ResolvedPlan, WorkloadSpec


def test_fused_layer_kernels_times_gap():
    """Fused layer, no TP, BF16, no recompute: 11 forward + 15 backward = 26 kernels; 26 x 0.9 us = 23.4 us, and the
    host (ahead of a fused stack) adds nothing however short the layer."""
    k = fc.kernels_per_layer(True, 0.0, False, False)
    assert k == 26
    assert fc.layer_fixed_s(k, 1e-3, fused=True) == pytest.approx(23.4e-6)
    assert fc.layer_fixed_s(k, 1e-9, fused=True) == pytest.approx(23.4e-6)


def test_counts_with_tp_fp8_recompute_and_moe():
    """TP with sequence parallelism (8 collectives), FP8 (4 casts each way) and full recompute:
    forward 11 + 4 = 15, backward 15 + 4 = 19, collectives 8, recomputed forward 15 + 4 = 19: 61 kernels.
    An MoE layer (share 1) with EP all-to-alls (4) and 8 experts looped (6 x 7 = 42 launches) adds
    4 + 42/3 + 4/3 forward and 8 + 2 x 42/3 + 2 x 4/3 backward = 4 + 14 + 1.33 + 8 + 28 + 2.67 = 58 to 26."""
    assert fc.kernels_per_layer(True, 8.0, True, True) == pytest.approx(61)
    assert fc.kernels_per_layer(True, 0.0, False, False, 1.0, 42.0, 4.0) == pytest.approx(26 + 58)


def test_eager_host_bound_term():
    """Eager layer: 32 + 64 = 96 kernels. Host 96 x 10 us = 960 us. A 500 us layer waits 460 us for the host plus
    96 x 0.9 = 86.4 us of gaps = 546.4 us; a 2 ms layer hides the host and pays only the 86.4 us."""
    k = fc.kernels_per_layer(False, 0.0, False, False)
    assert k == 96
    assert fc.layer_fixed_s(k, 500e-6, fused=False) == pytest.approx(546.4e-6)
    assert fc.layer_fixed_s(k, 2e-3, fused=False) == pytest.approx(86.4e-6)


def test_optimizer_launches():
    """1e9 local elements over 320 x 65,536 = 20,971,520 per launch: ceil(47.68) = 48 chunks x 4 passes = 192
    launches; a tiny model still launches one chunk per pass (4)."""
    assert fc.optimizer_launches(1e9) == 192
    assert fc.optimizer_launches(10.0) == 4
    # per step, fused: 192 x 0.9 us + the scalar sync (1 ms here) + one refill of the launch queue (0.9 us)
    assert fc.step_fixed_s(1e9, True, 1e-3) == pytest.approx(193 * 0.9e-6 + 1e-3)


def _small(mb: int):
    system = catalog.system("dgx-h100-superpod", gpus=64)
    wl = WorkloadSpec(model=catalog.model("gpt-1.7b"), seq_len=2048, global_batch=512)
    plan = ResolvedPlan.single(tp=1, pp=1, dp=64, zero=1, micro_batch=mb)
    return estimate(wl, system, catalog.software("megatron-core-2024"), plan, 64)


def test_share_shrinks_as_work_per_gpu_grows():
    """Same model, GPUs and batch: one sequence per micro-batch launches every kernel 8 times per step, eight
    sequences once; the kernels' fixed cost is the same per launch, so its share of the step falls as the work per
    kernel grows. The term is in the step's terms, which add up to the step time."""
    one, eight = _small(1), _small(8)
    assert one.fixed_s > eight.fixed_s > 0
    assert one.fixed_s / one.step_time_s > eight.fixed_s / eight.step_time_s
    for est in (one, eight):
        assert "fixed_overhead_s" in est.breakdown()
        assert est.step_time_s == pytest.approx(sum(est.step_terms().values()), rel=1e-12)
