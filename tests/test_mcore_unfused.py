"""Megatron-Core's unfused YaRN RoPE, per-expert down-projection bias and eager activation clamp (perf.mcore_unfused),
by hand arithmetic."""

from __future__ import annotations

import math

import pytest

from supercluster import catalog
from supercluster.perf import mcore_unfused
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.layer import layer_parts
from supercluster.perf.mcore_unfused import clamp_s, down_bias_bytes, extra_s, yarn_concentration
from supercluster.specs import ResolvedPlan
from supercluster.validate import harness
from supercluster.validate.harness import read_rows


def test_yarn_concentration_by_hand() -> None:
    # 0.1 ln 32 + 1 = 0.1 x 3.4657 + 1 = 1.3466 (GPT-OSS); no extension, no factor
    assert yarn_concentration(32.0) == pytest.approx(0.1 * math.log(32.0) + 1.0)
    assert yarn_concentration(32.0) == pytest.approx(1.34657, abs=1e-5)
    assert yarn_concentration(1.0) == 1.0


def test_down_bias_bytes_by_hand() -> None:
    # bf16 probabilities: b*p writes 2; t + bp reads 2 + 2, writes 2; cat 2 + 2; no cast = 12 B forward.
    # backward: two gradients of the product, each multiply (2 + 2) and reduce (2) = 12; the split's cat 4 = 16 B
    assert down_bias_bytes(2.0) == (12.0, 16.0)
    # fp32: b*p writes 4; t + bp reads 2 + 4, writes 4; cat 4 + 4; cast back 4 + 2 = 28 B forward;
    # backward: cast up 2 + 4, add's gradient back 4 + 2, product 6 x 4 = 24, cat 4 = 40 B
    assert down_bias_bytes(4.0) == (28.0, 40.0)


def test_extra_seconds_gpt_oss_gb300_by_hand() -> None:
    model = catalog.model("gpt-oss-120b")
    acc = catalog.accelerator("gb300")
    sw = catalog.software("megatron-bridge-2025")  # all-to-all dispatcher: bf16 probabilities
    # micro-batch 4 x 4096 tokens, TP 1: Q and K are 16,384 x (64 + 8) x 64 elements; top-4 routed copies of h = 2880
    qk = 16384 * 72 * 64
    routed = 16384 * 4 * 2880
    fwd, bwd = extra_s(model, sw, acc, qk, routed, moe=True)
    hbm = 8.0e12 * acc.efficiency.hbm_fraction  # 8 TB/s at the memory-bound share
    assert fwd == pytest.approx((qk * 20.0 + routed * 12.0) / hbm)
    assert bwd == pytest.approx((qk * 22.0 + routed * 16.0) / hbm)
    # about 0.56 ms forward and 0.69 ms backward per layer and micro-batch at hbm_fraction 0.85
    assert 0.4e-3 < fwd < 0.7e-3 and 0.5e-3 < bwd < 0.9e-3
    # the flex dispatcher hands fp32 probabilities to the experts: 28 / 40 B per element
    flex = catalog.software("megatron-bridge-deepep-2025")
    f32, b32 = extra_s(model, flex, acc, qk, routed, moe=True)
    assert f32 == pytest.approx((qk * 20.0 + routed * 28.0) / hbm)
    assert b32 == pytest.approx((qk * 22.0 + routed * 40.0) / hbm)


def test_extra_seconds_need_the_feature_and_the_stack() -> None:
    acc = catalog.accelerator("gb300")
    bridge = catalog.software("megatron-bridge-2025")
    gpt_oss = catalog.model("gpt-oss-120b")
    # a model with plain RoPE and no expert biases: nothing
    assert extra_s(catalog.model("qwen3-235b-a22b"), bridge, acc, 1e9, 1e9, moe=True) == (0.0, 0.0)
    # a stack with both fused (the profiles' default): nothing
    fused = bridge.model_copy(update={"rope_scaled_unfused": False, "expert_down_bias_per_expert": False})
    assert extra_s(gpt_oss, fused, acc, 1e9, 1e9, moe=True) == (0.0, 0.0)
    # a stack that adds both expert biases outside the GEMM is priced by perf.layer's own term, not here
    automodel = bridge.model_copy(update={"expert_bias_fused": False, "rope_scaled_unfused": False})
    assert extra_s(gpt_oss, automodel, acc, 1e9, 1e9, moe=True) == (0.0, 0.0)
    # a dense layer of the same model pays the RoPE only
    f_dense, _ = extra_s(gpt_oss, bridge, acc, 1e9, 1e9, moe=False)
    assert f_dense == pytest.approx(1e9 * mcore_unfused.ROPE_EXTRA_FWD_BYTES / (8.0e12 * acc.efficiency.hbm_fraction))
    # a YaRN factor of 1 leaves the fused kernel in place
    plain = gpt_oss.model_copy(update={"rope_yarn_factor": 1.0, "expert_bias": False})
    assert extra_s(plain, bridge, acc, 1e9, 1e9, moe=True) == (0.0, 0.0)


def test_layer_adds_exactly_the_unfused_terms() -> None:
    # a balanced benchmark gate: every expert rank holds exactly its top-4 share (no imbalance factor)
    model = catalog.model("gpt-oss-120b").model_copy(update={"moe_router": "fake-balanced"})
    acc = catalog.accelerator("gb300")
    sw = catalog.software("megatron-bridge-2025")
    fused = sw.model_copy(
        update={"rope_scaled_unfused": False, "expert_down_bias_per_expert": False, "glu_clamp_unfused": False}
    )
    system = catalog.system("gb300-nvl72-cluster", gpus=64)
    plan = ResolvedPlan.single(ep=64, dp=64, zero=1, micro_batch=4)
    comm = CollectiveModel(system)
    on = layer_parts(model, plan, 4096, acc, sw, comm, True)
    off = layer_parts(model, plan, 4096, acc, fused, comm, True)
    fwd, bwd = extra_s(model, sw, acc, 16384 * 72 * 64, 16384 * 4 * 2880, moe=True)
    # the clamp over the routed copies' FC1 outputs: 16,384 tokens x top-4 x 2 x 2880 (EP 64: 2 local experts)
    cf, cb = clamp_s(model, sw, acc, 16384 * 4 * 2 * 2880, moe=True)
    assert on.fwd_elem_s - off.fwd_elem_s == pytest.approx(fwd + cf)
    assert on.bwd_elem_s - off.bwd_elem_s == pytest.approx(bwd + cb)
    # moe_act recompute re-runs the clamp with the activation; nothing else the modules re-run moves
    assert on.modules.moe_act_s - off.modules.moe_act_s == pytest.approx(cf)
    assert on.modules.core_attn_s == off.modules.core_attn_s
    assert on.fwd_gemm_s == off.fwd_gemm_s and on.fwd_attn_s == off.fwd_attn_s


def test_clamp_bytes_by_hand() -> None:
    # forward, per bf16 element of the FC1 output: its half's clamp reads 2 and writes 2; the cat reads 2, writes 2
    assert mcore_unfused.CLAMP_FWD_BYTES == 2 + 2 + 2 + 2
    # backward: the cat's gradient is views; gate half where(self <= max): compare 2 + 1, where 1 + 2 + 2 = 8;
    # linear half: two compares 3 + 3, the in-place and 3, where 5 = 14; the chunk's gradient cat 2 + 2
    gate, linear = (2 + 1) + (1 + 2 + 2), (2 + 1) + (2 + 1) + (1 + 1 + 1) + (1 + 2 + 2)
    assert (gate, linear) == (8, 14)
    assert (gate + linear) / 2 + (2 + 2) == mcore_unfused.CLAMP_BWD_BYTES


def test_clamp_seconds_gpt_oss_b200_by_hand() -> None:
    model = catalog.model("gpt-oss-120b")
    acc = catalog.accelerator("b200")
    sw = catalog.software("megatron-bridge-deepep-2025")
    # micro-batch 4 x 4096 tokens, top-4, FC1 output 2 x 2880 wide: 377.5 M elements on each GPU
    elems = 16384 * 4 * 5760
    fwd, bwd = clamp_s(model, sw, acc, elems, moe=True)
    hbm = 8.0e12 * acc.efficiency.hbm_fraction
    assert fwd == pytest.approx(elems * 8.0 / hbm)
    assert bwd == pytest.approx(elems * 15.0 / hbm)
    # about 0.44 ms forward and 0.83 ms backward per layer and micro-batch at hbm_fraction 0.85
    assert 0.35e-3 < fwd < 0.55e-3 and 0.7e-3 < bwd < 1.0e-3


def test_clamp_needs_the_clamp_the_stack_and_experts() -> None:
    acc = catalog.accelerator("b200")
    bridge = catalog.software("megatron-bridge-2025")
    gpt_oss = catalog.model("gpt-oss-120b")
    assert gpt_oss.glu_clamp_limit == 7.0 and catalog.model("gpt-oss-20b").glu_clamp_limit == 7.0
    assert bridge.glu_clamp_unfused
    assert clamp_s(catalog.model("qwen3-235b-a22b"), bridge, acc, 1e9, moe=True) == (0.0, 0.0)  # unclamped SwiGLU
    assert clamp_s(gpt_oss, bridge.model_copy(update={"glu_clamp_unfused": False}), acc, 1e9, moe=True) == (0.0, 0.0)
    assert clamp_s(gpt_oss, bridge, acc, 1e9, moe=False) == (0.0, 0.0)  # a dense layer has no routed experts
    assert not catalog.software("automodel-2025").glu_clamp_unfused  # another stack: not claimed


def test_clamp_moves_the_gpt_oss_rows_toward_their_published_throughput() -> None:
    """The Megatron-Bridge GPT-OSS 120B rows (performance-summary tables, tokens/s/GPU): the 26.04.01 GB300 row, which
    read +17.4% too fast before the clamp was priced, reads about +10%."""
    _, rows = read_rows("all")
    gpt_oss = [r for r in rows if r["id"].startswith("mb") and "-gpt-oss-120b-" in r["id"]]
    assert len(gpt_oss) == 24
    # 26.04.01 GB300: 19,200 tokens/s/GPU measured (docs/performance-summary-archive.md 26.04.01, BF16, EP 64)
    row = next(r for r in gpt_oss if r["id"] == "mb260401-gb300-gpt-oss-120b-64-bf16")
    assert float(row["value"]) == 19200.0
    err = harness.predict_row(row).speed_error_pct
    assert err is not None and 5.0 < err < 15.0  # +17.4% without the clamp
