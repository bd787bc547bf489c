"""Megatron-Core's unfused YaRN RoPE and per-expert down-projection bias (perf.mcore_unfused), by hand arithmetic."""

from __future__ import annotations

import math

import pytest

from supercluster import catalog
from supercluster.perf import mcore_unfused
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.layer import layer_parts
from supercluster.perf.mcore_unfused import down_bias_bytes, extra_s, yarn_concentration
from supercluster.specs import ResolvedPlan


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
    fused = sw.model_copy(update={"rope_scaled_unfused": False, "expert_down_bias_per_expert": False})
    system = catalog.system("gb300-nvl72-cluster", gpus=64)
    plan = ResolvedPlan.single(ep=64, dp=64, zero=1, micro_batch=4)
    comm = CollectiveModel(system)
    on = layer_parts(model, plan, 4096, acc, sw, comm, True)
    off = layer_parts(model, plan, 4096, acc, fused, comm, True)
    fwd, bwd = extra_s(model, sw, acc, 16384 * 72 * 64, 16384 * 4 * 2880, moe=True)
    assert on.fwd_elem_s - off.fwd_elem_s == pytest.approx(fwd)
    assert on.bwd_elem_s - off.bwd_elem_s == pytest.approx(bwd)
    assert on.fwd_gemm_s == off.fwd_gemm_s and on.fwd_attn_s == off.fwd_attn_s
