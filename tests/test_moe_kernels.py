"""Routing kernels of an MoE layer priced by their bytes (perf.moe_kernels), checked by hand arithmetic."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import moe_kernels
from supercluster.perf.moe_kernels import permute_bytes, quant_bytes, router_bytes, routing_bytes
from supercluster.specs import ResolvedPlan


def test_router_bytes_by_hand() -> None:
    # T = 4096 tokens, E = 128 experts, k = 8: T E = 524,288 scores
    te = 4096 * 128
    fwd, bwd = router_bytes(4096, 128, 8, learned=False)
    # score function 8 T E, top-k reads 4 T E and writes 12 T k, dense probabilities + map 5 T E
    assert fwd == pytest.approx(8 * te + 4 * te + 12 * 4096 * 8 + 5 * te)
    assert bwd == pytest.approx(12 * te)
    fwd_aux, bwd_aux = router_bytes(4096, 128, 8, learned=True)
    assert fwd_aux - fwd == pytest.approx(5 * te)  # the auxiliary loss reads probabilities and map
    assert bwd_aux - bwd == pytest.approx(4 * te)


def test_alltoall_permute_bytes_by_hand() -> None:
    # Qwen3-30B-A3B on 8 GPUs, EP 8: T = 4096 tokens of h = 2048, k = 8, 16 local experts, balanced (R = k T)
    t, h, k = 4096.0, 2048.0, 8.0
    fwd, bwd = permute_bytes(t, k * t, k * t, h, "per-expert", 16)
    permute = 4 * k * t * h + 16 * k * t  # read + write each copy (bf16), index and probability per copy
    second = 8 * k * t * h  # permutation 2 after the all-to-all and its inverse before the combine
    combine = 2 * k * t * h + 12 * k * t + 2 * t * h  # read k copies and weights, write the token
    assert fwd == pytest.approx(permute + second + combine)
    assert bwd == pytest.approx(fwd + 2 * k * t * h + 2 * t * h)
    # about 1.2 GB forward: 14 k T h + 2 T h = 956 MB of activations alone
    assert fwd > 14 * k * t * h
    # one local expert: no second permutation
    assert permute_bytes(t, k * t, k * t, h, "per-expert", 1)[0] == pytest.approx(permute + combine)


def test_deepep_permutes_on_the_receiver() -> None:
    r, h = 32768.0, 2048.0
    fwd, bwd = permute_bytes(4096, 8 * 4096, r, h, "per-destination", 16)
    assert fwd == pytest.approx(4 * r * h + 16 * r + 4 * r * h + 12 * r)
    assert bwd == pytest.approx(fwd + 4 * r * h)


def test_quant_bytes_mxfp8_and_padding() -> None:
    # 16 experts x 2048 rows, h = 2048, f = 768, gated: MXFP8 reads 2 B and writes 2 x (1 + 1/32) B per element
    per = 2 + 2 * (1 + 1 / 32)
    fwd, bwd = quant_bytes("mxfp8", 16 * 2048, 16, 2048, 768, 2, exact=True)
    assert fwd == pytest.approx(per * 16 * 2048 * (2048 + 768))
    assert bwd == pytest.approx(per * 16 * 2048 * (2048 + 2 * 768))
    assert quant_bytes("bf16", 16 * 2048, 16, 2048, 768, 2, exact=True) == (0.0, 0.0)
    # FP8, 100 rows per expert: exact counts round up to 112 (7 x 16), scattered ones add half a block: 108
    exact = quant_bytes("fp8", 100, 1, 10, 0, 1, exact=True)[0]
    scattered = quant_bytes("fp8", 100, 1, 10, 0, 1, exact=False)[0]
    assert exact == pytest.approx(4 * 112 * 10)
    assert scattered == pytest.approx(4 * 108 * 10)


def test_routing_bytes_sum() -> None:
    rb = routing_bytes(
        tokens=4096,
        local_copies=8 * 4096,
        experts=128,
        topk=8,
        hidden=2048,
        width=768,
        up=2,
        local_experts=16,
        dispatch="per-expert",
        precision="mxfp8",
        learned=True,
        exact=True,
    )
    assert rb.fwd == pytest.approx(rb.router_fwd + rb.permute_fwd + rb.quant_fwd)
    assert rb.bwd > rb.fwd  # the weights' gradient and the wider backward quantization
    # routing is dwarfed by the token movement: 128 experts x 4 B against 2 KB-wide tokens
    assert rb.router_fwd < 0.05 * rb.permute_fwd


def test_layer_charges_the_routing_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost

    model = catalog.model("qwen3-30b-a3b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    comm, acc = CollectiveModel(system), system.accelerator
    plan = ResolvedPlan.single(ep=8, dp=8, zero=1, precision="fp8")
    # delayed scaling: the per-expert current-scaling passes are perf.fp8_scaling's (tests/test_fp8_scaling.py)
    sw = catalog.software("megatron-bridge-deepep-2025").model_copy(update={"fp8_scaling": "delayed"})
    on = layer_cost(model, plan, 4096, acc, sw, comm, moe=True)
    monkeypatch.setattr(moe_kernels, "ENABLED", False)
    off = layer_cost(model, plan, 4096, acc, sw, comm, moe=True)
    # DeepEP's receiver permutes R = k T = 32,768 copies of 2,048-wide tokens: 8 R h = 537 MB forward, plus the
    # FP8 casts of the expert inputs 4 R (h + f) = 369 MB and the router 22 T E + 12 T k = 11.9 MB (learned router);
    # the busiest rank's routed load (perf.imbalance) adds under 2%
    # streamed at 0.75 of the H100's 3.35 TB/s (fal.ai's MXFP8 quantizer: 6 of the B200's 8 TB/s)
    extra = (on.fwd_elem_s - off.fwd_elem_s) * acc.hbm_tb_per_s * 1e12 * 0.75
    r, h, f = 8 * 4096, 2048, 768
    router = 22 * 4096 * 128 + 12 * 4096 * 8
    assert extra == pytest.approx(8 * r * h + 28 * r + 4 * r * (h + f) + router, rel=0.02)
    assert on.bwd_elem_s > off.bwd_elem_s


def test_routing_streams_at_the_measured_quantizer_rate() -> None:
    # fal.ai: 6 TB/s on a B200 (8 TB/s): 6 GB take 1 ms; a card rated below that share keeps its own
    b200 = catalog.accelerator("b200")
    assert moe_kernels.routing_s(6e9, b200) == pytest.approx(1e-3)
    slow = b200.model_copy(update={"efficiency": b200.efficiency.model_copy(update={"hbm_fraction": 0.5})})
    assert moe_kernels.routing_s(4e9, slow) == pytest.approx(1e-3)
