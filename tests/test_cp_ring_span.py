"""Load-balanced ring attention's kernel calls (perf.cp_ring_span): the causal diagonal call and the unmasked
off-diagonal calls, by hand, and in the step model's layer cost."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import attention_span, cp_ring_span
from supercluster.perf.attention_span import BWD_TILE_OVERHEAD_KEYS, FWD_TILE_OVERHEAD_KEYS, span_speed
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.cp_ring_span import ring_time_per_work
from supercluster.perf.layer import layer_cost
from supercluster.specs import ResolvedPlan


@pytest.fixture
def ring_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attention_span, "IN_STEP_TIME", True)
    monkeypatch.setattr(cp_ring_span, "ENABLED", True)


def test_unmasked_overheads_are_attention_spans_fits() -> None:
    """The unmasked fixed costs are the FlashAttention-3 paper's no-mask panels as fitted in
    tests/test_attention_span.py (forward 141 keys, backward 360), and the causal backward's is the causal forward's
    times their ratio: 232 x 360 / 141 = 592.34."""
    assert (cp_ring_span.FWD_FULL_OVERHEAD_KEYS, cp_ring_span.BWD_FULL_OVERHEAD_KEYS) == (141.0, 360.0)
    assert (
        pytest.approx(
            FWD_TILE_OVERHEAD_KEYS * cp_ring_span.BWD_FULL_OVERHEAD_KEYS / cp_ring_span.FWD_FULL_OVERHEAD_KEYS
        )
        == BWD_TILE_OVERHEAD_KEYS
    )


def test_ring_time_by_hand() -> None:
    """cp = 2, 8,192 tokens: chunks of c = 2,048. Forward: step 0 causal (2048 + 232) / 2048 = 1.113281, step 1
    unmasked (2048 + 141) / 2048 = 1.068848; mean 1.091064. At cp = 1 only the causal call: 1.113281."""
    assert ring_time_per_work(2048.0, 2, 232.0, 141.0) == pytest.approx(1.091064, abs=1e-6)
    assert ring_time_per_work(2048.0, 1, 232.0, 141.0) == pytest.approx(2280 / 2048, rel=1e-12)
    # cp = 8: one causal call and seven unmasked ones
    assert ring_time_per_work(8192.0, 8, 232.0, 141.0) == pytest.approx((8424 / 8192 + 7 * 8333 / 8192) / 8, rel=1e-12)


def test_llama3_8b_cp2_speed_by_hand(ring_on: None) -> None:
    """Llama 3.1 8B at 8,192 tokens, cp 2, H100 reference span 2,048 (s_ref forward 2048 / 2280 = 0.898246,
    backward 2048 / 2640.34 = 0.775658). Forward speed 1 / (0.898246 x 1.091064) = 1.020362; backward
    T = ((2640.34 + 2408) / 2048) / 2 = 1.232505, speed 1 / (0.775658 x 1.232505) = 1.046023. Every call priced as
    causal (the term off) gives 1.0 at this span."""
    llama = catalog.model("llama3-8b")
    f = span_speed(llama, 8192, 2, 2048.0)
    assert f.fwd == pytest.approx(1.020362, abs=1e-6)
    assert f.bwd == pytest.approx(1.046023, abs=1e-6)
    assert f.span_keys == 2048.0


def test_off_keeps_every_call_causal_and_cp1_is_unchanged(monkeypatch: pytest.MonkeyPatch, ring_on: None) -> None:
    llama = catalog.model("llama3-8b")
    at_cp1 = span_speed(llama, 16384, 1, 2048.0)
    monkeypatch.setattr(cp_ring_span, "ENABLED", False)
    assert span_speed(llama, 16384, 1, 2048.0) == at_cp1
    off = span_speed(llama, 8192, 2, 2048.0)
    assert (off.fwd, off.bwd) == (1.0, 1.0)


def test_layer_attention_time_falls_by_the_ring_factor(monkeypatch: pytest.MonkeyPatch, ring_on: None) -> None:
    """The layer's forward and backward attention seconds divide by the factors above; nothing else moves."""
    system = catalog.system("dgx-h100-superpod", gpus=16)
    acc = catalog.accelerator("h100-sxm-80gb")
    sw = catalog.software("nemo-2024")
    model, plan = catalog.model("llama3-8b"), ResolvedPlan.single(cp=2)
    on = layer_cost(model, plan, 8192, acc, sw, CollectiveModel(system), False)
    monkeypatch.setattr(cp_ring_span, "ENABLED", False)
    off = layer_cost(model, plan, 8192, acc, sw, CollectiveModel(system), False)
    assert on.fwd_attn_s == pytest.approx(off.fwd_attn_s / 1.020362, rel=1e-6)
    assert on.bwd_attn_s == pytest.approx(off.bwd_attn_s / 1.046023, rel=1e-6)
    assert (on.fwd_gemm_s, on.bwd_gemm_s, on.fwd_elem_s) == (off.fwd_gemm_s, off.bwd_gemm_s, off.fwd_elem_s)


def test_all_gather_stack_is_not_priced_as_the_ring(ring_on: None) -> None:
    """Meta's Llama 3 stack all-gathers K and V (cp_comm_type all_gather): its calls are not the ring's unmasked
    blocks but its two chunks against the gathered K and V (perf.cp_allgather_span). At cp 2, 8,192 tokens
    (c = 2,048): backward time per work 1 + (3 x 360 + 2 x 592.34) / 8,192 = 1.276450, factor
    1 / (0.775658 x 1.276450) = 1.010011, against the ring's 1.046023: the ring's backward is 1.046023 / 1.010011
    = 1.035655 times faster."""
    sw = catalog.software("llama3-meta-2024")
    assert sw.cp_comm_type == "all_gather"
    assert catalog.software("nemo-2024").cp_comm_type == "p2p"
    llama = catalog.model("llama3-8b")
    kept = span_speed(llama, 8192, 2, 2048.0, ring=False)
    assert (kept.fwd, kept.bwd) == (1.0, 1.0)
    gathered = span_speed(llama, 8192, 2, 2048.0, ring=False, gathered=(141.0, 360.0))
    assert gathered.bwd == pytest.approx(1.010011, rel=1e-6)
    system = catalog.system("dgx-h100-superpod", gpus=16)
    acc = catalog.accelerator("h100-sxm-80gb")
    plan = ResolvedPlan.single(cp=2)
    meta = layer_cost(llama, plan, 8192, acc, sw, CollectiveModel(system), False)
    ring = layer_cost(llama, plan, 8192, acc, catalog.software("megatron-core-2024"), CollectiveModel(system), False)
    assert ring.bwd_attn_s == pytest.approx(meta.bwd_attn_s / 1.035655, rel=1e-6)


def test_ring_priced_only_for_the_p2p_ring_on_the_hopper_tile_costs():
    from supercluster.perf.attention_span import ring_priced

    assert ring_priced("p2p", None, None)  # Hopper: the pair whose unmasked curve is fitted
    assert not ring_priced("all_gather", None, None)  # Meta's all-gather CP: causal calls over the gathered keys
    assert not ring_priced("p2p", 629.0, 795.0)  # a card with its own tile costs (Blackwell): no unmasked fit
    assert not ring_priced("p2p", 629.0, None)
