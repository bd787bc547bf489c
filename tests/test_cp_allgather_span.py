"""All-gather CP's attention span (perf.cp_allgather_span): Llama 3's load-balanced chunks against the gathered K and
V, priced by forward query tiles and backward key tiles, by hand and in the step model."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf import cp_allgather_span
from supercluster.perf.attention_span import BWD_TILE_OVERHEAD_KEYS, FWD_TILE_OVERHEAD_KEYS, span_speed
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.layer import flash_speed, layer_cost
from supercluster.specs import ResolvedPlan

S = 131072.0  # Llama 3 405B's long-context stage: 131,072 tokens, CP 16 (Llama 3 Herd of Models, Table 4)
HOPPER_FULL = (141.0, 360.0)  # the unmasked kernel's fixed costs (perf.cp_ring_span)


def test_chunk_spans_by_hand() -> None:
    """c = 131,072 / 32 = 4,096. Rank 0 holds chunks 0 and 31: mean frontiers 0.5 x 4,096 = 2,048 and 31.5 x 4,096
    = 129,024 keys; rank 7 chunks 7 and 24: 30,720 and 100,352. Every rank's two add up to S = 131,072 (mean
    65,536 = S / 2, against the ring's 4,096 per call)."""
    assert cp_allgather_span.chunk_spans_keys(S, 16, 0) == (2048.0, 129024.0)
    assert cp_allgather_span.chunk_spans_keys(S, 16, 7) == (30720.0, 100352.0)
    for r in range(16):
        assert sum(cp_allgather_span.chunk_spans_keys(S, 16, r)) == S
    with pytest.raises(SuperclusterError, match=r"valid ranks are 0 \.\. 15"):
        cp_allgather_span.chunk_spans_keys(S, 16, 16)


def test_time_per_work_by_hand_and_equal_on_every_rank() -> None:
    """Forward (causal n0 232): 1 + 232 / 65,536 = 1.0035400; backward (n0 592.34 causal, 360 unmasked):
    1 + (31 x 360 + 2 x 592.34) / 131,072 = 1 + 12,344.68 / 131,072 = 1.0941824. The same on all 16 ranks (the
    load balance covers the fixed costs too)."""
    n0_b = BWD_TILE_OVERHEAD_KEYS
    assert n0_b == pytest.approx(592.3404, rel=1e-6)
    for r in range(16):
        assert cp_allgather_span.fwd_time_per_work(S, 16, r, 232.0) == pytest.approx(1.0035400, rel=1e-7)
        assert cp_allgather_span.bwd_time_per_work(S, 16, r, n0_b, 360.0) == pytest.approx(1.0941824, rel=1e-7)
    # the backward's key tiles see at most c = 4,096 queries: close to a causal call at c (1 + 592.34 / 4,096 =
    # 1.1446), far from one at the forward's span (1 + 592.34 / 65,536 = 1.0090)
    assert 1.0 + n0_b / 65536 < cp_allgather_span.bwd_time_per_work(S, 16, 0, n0_b, 360.0) < 1.0 + n0_b / 4096


def test_two_ranks_by_tile_count() -> None:
    """CP 2, S = 8 tiles (c = 2), counting tiles, a masked diagonal tile worth half a tile of work (the causal
    FLOPs): rank 0 holds chunks 0 and 3. Forward, one tile per query block: query tiles 0, 1 walk 0.5, 1.5 tiles,
    6, 7 walk 6.5, 7.5: work 16 (= c S), four tiles each with its diagonal, time 16 + 4 n0. Backward, one tile per
    key block: chunk 0's keys 0, 1 are seen by 1.5, 0.5 (two diagonal tiles); chunk 3's keys 0-5 by both query
    tiles (six unmasked tiles of 2), keys 6, 7 by 1.5, 0.5 (two diagonal): work 2 + 12 + 2 = 16, time 16 + 6
    n0_full + 4 n0. Rank 1 (chunks 1, 2): forward 2.5, 3.5, 4.5, 5.5 (16); backward keys 0, 1 and 0-3 unmasked
    (six tiles), two diagonal tiles a chunk: the same times."""
    n0, n0_full = 10.0, 7.0
    for r in (0, 1):
        assert cp_allgather_span.fwd_time_per_work(8.0, 2, r, n0) == pytest.approx((16 + 4 * n0) / 16, rel=1e-12)
        assert cp_allgather_span.bwd_time_per_work(8.0, 2, r, n0, n0_full) == pytest.approx(
            (16 + 6 * n0_full + 4 * n0) / 16, rel=1e-12
        )


def test_span_speed_of_the_gathered_layer_by_hand() -> None:
    """Llama 3 405B at 131,072 tokens, CP 16, reference span 2,048 (H100): s(2,048) forward 2,048 / 2,280 =
    0.898246, backward 2,048 / 2,640.34 = 0.775658; factors 1 / (0.898246 x 1.0035400) = 1.109354 and
    1 / (0.775658 x 1.0941824) = 1.178258. The forward's span per query row is 65,536."""
    llama = catalog.model("llama3-405b")
    f = span_speed(llama, 131072, 16, 2048.0, gathered=HOPPER_FULL)
    assert f.fwd == pytest.approx(1.109354, rel=1e-6)
    assert f.bwd == pytest.approx(1.178258, rel=1e-6)
    assert f.span_keys == 65536.0


def test_step_model_prices_the_meta_stack_by_its_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama3-meta-2024 (cp_comm_type all_gather) at 128K, CP 16: with the term off the rank's calls took the
    ring's per-call span 4,096 with the causal n0: forward s(4,096) / s(2,048) = (4,096 / 4,328) / 0.898246 =
    1.053604, backward (4,096 / 4,688.34) / 0.775658 = 1.126343. With it on: 1.109354 and 1.178258, so the
    attention core is 1.109354 / 1.053604 = 1.052913 times faster forward and 1.178258 / 1.126343 = 1.046091
    backward; nothing else in the layer moves."""
    llama = catalog.model("llama3-405b")
    acc = catalog.accelerator("h100-sxm-80gb")
    sw = catalog.software("llama3-meta-2024")
    assert sw.cp_comm_type == "all_gather"
    comm = CollectiveModel(catalog.system("dgx-h100-superpod", gpus=128))
    plan = ResolvedPlan.single(tp=8, cp=16, sequence_parallel=True)
    on = layer_cost(llama, plan, 131072, acc, sw, comm, False)
    _, by_span = flash_speed(llama, 131072, 16, acc, sw)
    assert (by_span.fwd, by_span.bwd) == pytest.approx((1.109354, 1.178258), rel=1e-6)
    monkeypatch.setattr(cp_allgather_span, "ENABLED", False)
    off = layer_cost(llama, plan, 131072, acc, sw, comm, False)
    _, old = flash_speed(llama, 131072, 16, acc, sw)
    assert (old.fwd, old.bwd) == pytest.approx((1.053604, 1.126343), rel=1e-6)
    assert on.fwd_attn_s == pytest.approx(off.fwd_attn_s / 1.052913, rel=1e-6)
    assert on.bwd_attn_s == pytest.approx(off.bwd_attn_s / 1.046091, rel=1e-6)
    assert (on.fwd_gemm_s, on.bwd_gemm_s, on.tp_comm_s) == (off.fwd_gemm_s, off.bwd_gemm_s, off.tp_comm_s)


def test_ring_stack_and_cp1_unchanged() -> None:
    """The p2p ring keeps perf.cp_ring_span's pricing, and at cp 1 there is no split: the gathered flag changes
    nothing."""
    llama = catalog.model("llama3-405b")
    ring = span_speed(llama, 131072, 16, 2048.0)
    acc = catalog.accelerator("h100-sxm-80gb")
    _, mcore = flash_speed(llama, 131072, 16, acc, catalog.software("megatron-core-2024"))
    assert (mcore.fwd, mcore.bwd) == (ring.fwd, ring.bwd)
    assert span_speed(llama, 8192, 1, 2048.0, gathered=HOPPER_FULL) == span_speed(llama, 8192, 1, 2048.0)


def test_full_overheads_hopper_pair_or_the_cards_causal_pair() -> None:
    """A card on the Hopper pair takes the fitted unmasked costs (141, 360); one with its own pair (Blackwell: 629,
    795) has no unmasked fit and prices those tiles at its causal pair."""
    hopper = (FWD_TILE_OVERHEAD_KEYS, BWD_TILE_OVERHEAD_KEYS)
    assert cp_allgather_span.full_overheads_keys(None, None, hopper) == HOPPER_FULL
    assert cp_allgather_span.full_overheads_keys(629.0, 795.0, (629.0, 795.0)) == (629.0, 795.0)
