"""The MoE forward after its host synchronisation (perf.host_sync): the dispatch, experts and combine are launched
after the GPU has drained, so their host time cannot hide behind the attention's GPU time; checked by hand."""

import numpy as np
import pytest

from supercluster import catalog
from supercluster.perf import fixed_cost as fc
from supercluster.perf import host_sync
from supercluster.perf.layer import LayerCost


def test_post_sync_region_by_hand():
    """k_f = 100 forward launches (60 after the sync), k = 300 in all, 10 us each; GPU 2 ms forward (0.2 ms of it
    after the sync), 6 ms in all. Whole-forward segment: 1 ms of host behind 2 ms of GPU, nothing exposed. With the
    sync in the middle: 0.6 - 0.2 = 0.4 ms after it; before it 0.4 ms of host behind 1.8 ms of GPU, nothing; the
    backward's 2 ms behind 4 ms, nothing: 0.4 ms."""
    assert host_sync.segmented_host_s(100, 300, 2e-3, 6e-3, host_s=10e-6) == pytest.approx(0.0)
    post = host_sync.segmented_host_s(100, 300, 2e-3, 6e-3, host_s=10e-6, kernels_post=60, gpu_post_s=0.2e-3)
    assert post == pytest.approx(0.4e-3)
    # per-expert work e = 3 ms: its forward third (1 ms) joins the post-sync host: 1.6 - 0.2 = 1.4 ms; the backward
    # (2 + 2 = 4 ms of host against 4 ms of GPU) stays hidden
    with_e = host_sync.segmented_host_s(100, 300, 2e-3, 6e-3, 3e-3, 10e-6, 60, 0.2e-3)
    assert with_e == pytest.approx(1.4e-3)
    # a GPU-heavy post-sync region (0.7 ms) hides its 0.6 ms of launches
    assert host_sync.segmented_host_s(100, 300, 2e-3, 6e-3, 0.0, 10e-6, 60, 0.7e-3) == pytest.approx(0.0)


def test_post_sync_counts_by_hand():
    """Fused MoE layer (share 1), 16 local experts looped over 4 streams (6 x 15 = 90 extra launches), EP
    all-to-alls (4): 5 + 90/3 + 4/3 = 36.33 forward launches after the sync, 2 more casts in FP8; never more than
    perf.fixed_cost's whole forward count."""
    assert host_sync.post_sync_kernels(False, 1.0, 90.0, 4.0) == pytest.approx(5 + 30 + 4 / 3)
    assert host_sync.post_sync_kernels(True, 1.0, 90.0, 4.0) == pytest.approx(7 + 30 + 4 / 3)
    assert host_sync.post_sync_kernels(True, 0.5, 90.0, 4.0) == pytest.approx((7 + 30 + 4 / 3) / 2)
    for fp8 in (False, True):
        assert host_sync.post_sync_kernels(fp8, 1.0, 90.0, 4.0) < fc.forward_kernels(True, 0.0, fp8, 1.0, 90.0, 4.0)


def test_post_sync_gpu_share_qwen3_30b():
    """Qwen3-30B-A3B: 8 routed experts of 3 x 2,048 x 768 = 4,718,592 weights (37,748,736 per token), attention
    projections 2,048 x (4,096 + 2 x 512) + 4,096 x 2,048 = 18,874,368, router 2,048 x 128 = 262,144: the experts
    are 37,748,736 / 56,885,248 = 0.6636 of the forward GEMM time; plus half the all-to-all time (forward of forward
    and backward), a third under full recompute."""
    m = catalog.model("qwen3-30b-a3b")
    assert m.attention_params == 2048 * (4096 + 2 * 512) + 4096 * 2048
    cost = LayerCost(1e-3, 0.5e-3, 0.2e-3, 2e-3, 1e-3, 0.4e-3, 0.0, 0.0, 0.4e-3, 0.0, 0.0)
    share = 37_748_736 / (37_748_736 + 18_874_368 + 262_144)
    assert host_sync.post_sync_gpu_s(m, cost, False) == pytest.approx(1e-3 * share + 0.2e-3)
    assert host_sync.post_sync_gpu_s(m, cost, True) == pytest.approx(1e-3 * share + 0.4e-3 / 3)


def test_combined_1f1b_joins_the_weight_gradients_by_hand():
    """Combined 1F1B (Megatron-Core model_chunk_schedule_plan.py: the comp stream runs mlp_bwd -> mlp_bwd_dw ->
    mlp_fwd between the paired micro-batch's dispatch points): the experts' weight-gradient launches (as many as the
    forward's, k_p = 60, and e / 3 of host) follow the synchronisation too. With k_f = 100, k = 300, 10 us each,
    e = 3 ms, g_f = 2 ms, g = 6 ms, g_p = 0.2 ms: after the sync 2 x (0.6 + 1) = 3.2 ms of host against 0.4 ms of
    GPU, 2.8 ms; before it 0.4 ms behind 1.8 ms, nothing; the rest of the backward (300 - 100 - 60 = 140 launches,
    1.4 ms, and e / 3 = 1 ms) behind 4 - 0.2 = 3.8 ms, nothing: 2.8 ms, against 1.4 ms without the overlap."""
    args = (100, 300, 2e-3, 6e-3, 3e-3, 10e-6, 60, 0.2e-3)
    assert host_sync.segmented_host_s(*args, combined_1f1b=True) == pytest.approx(2.8e-3)
    assert host_sync.segmented_host_s(*args) == pytest.approx(1.4e-3)
    # the launches and host work are only moved between segments, never added: with nothing hidden the sum is the
    # total host time minus the total GPU time either way
    busy = (100, 300, 0.0, 0.0, 3e-3, 10e-6, 60, 0.0)
    total = 300 * 10e-6 + 3e-3
    assert host_sync.segmented_host_s(*busy, combined_1f1b=True) == pytest.approx(total)
    assert host_sync.segmented_host_s(*busy) == pytest.approx(total)


def test_forward_all_to_all_share_is_one_rule_for_both_segments():
    # ep_comm_s counts forward + backward (+ the recomputed forward): 6 s -> 3 s forward, or 2 s under full recompute
    assert host_sync.forward_a2a_s(6.0, False) == pytest.approx(3.0)
    assert host_sync.forward_a2a_s(6.0, True) == pytest.approx(2.0)
    both = host_sync.forward_a2a_s(np.array([6.0, 6.0]), np.array([False, True]))
    assert both.tolist() == pytest.approx([3.0, 2.0])
    # the attention-and-router segment is the forward minus the post-sync part: with the all-to-all on both sides it
    # keeps its whole compute (1 s of GPU against 0.9 s of host: nothing exposed); with it on one side only, the
    # 1 s of all-to-all would leave it 0 s of GPU and expose the 0.9 s
    host_s = host_sync.HOST_S
    k_a = 0.9 / host_s  # attention-and-router launches worth 0.9 s of host
    a2a, attn, experts = 1.0, 1.0, 2.0
    ok = host_sync.segmented_host_s(k_a, k_a, attn + experts + a2a, 1e9, 0.0, host_s, 0.0, experts + a2a)
    short = host_sync.segmented_host_s(k_a, k_a, attn + experts, 1e9, 0.0, host_s, 0.0, experts + a2a)
    assert ok == pytest.approx(0.0)
    assert short == pytest.approx(0.9)
