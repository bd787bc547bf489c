"""Attention kernel class on Hopper (perf.attention_class): FlashAttention-2 stacks against the cuDNN-class table."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import attention_class
from supercluster.perf.attention_class import class_speed_factor, hopper_fa2_relative
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.layer import layer_cost
from supercluster.specs import ResolvedPlan


@pytest.fixture
def class_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attention_class, "IN_STEP_TIME", True)


def test_hopper_ratio_by_hand_from_the_flashattention3_plots():
    # FA3 paper (arXiv:2407.08608) at 2K tokens, head dim 128: forward causal FA2 298 / cuDNN 484 (Fig. 5), backward
    # FA2 291 / cuDNN 465 (Fig. 6); FLOP-weighted 3.5 / (484/298 + 2.5 x 465/291) = 3.5 / (1.62416 + 3.99485)
    assert hopper_fa2_relative() == pytest.approx(3.5 / (1.62416 + 3.99485), rel=1e-5)
    assert hopper_fa2_relative() == pytest.approx(0.6229, abs=1e-4)
    # the same ratio at 16K (forward 335 / 539, backward 322 / 516) is within 0.3%: one factor for every span
    at_16k = 3.5 / (539 / 335 + 2.5 * 516 / 322)
    assert at_16k == pytest.approx(hopper_fa2_relative(), rel=3e-3)


def test_class_factor_by_card_and_stack(class_on: None):
    h100, a100 = catalog.accelerator("h100-sxm-80gb"), catalog.accelerator("a100-sxm-80gb")
    h200, b200 = catalog.accelerator("h200-sxm-141gb"), catalog.accelerator("b200")
    fa2 = catalog.software("fsdp-2024").model_copy(update={"attention_class": "fa2"})
    assert class_speed_factor(fa2, h100) == pytest.approx(hopper_fa2_relative())
    assert class_speed_factor(fa2, h200) == pytest.approx(hopper_fa2_relative())
    # the A100 table is FlashAttention-2's own; Blackwell's FA2 fallback is perf.wide_heads'
    assert class_speed_factor(fa2, a100) == 1.0
    assert class_speed_factor(fa2, b200) == 1.0
    # the table's own class, and kernels already priced against FlashAttention-2, keep their pricing
    assert class_speed_factor(catalog.software("megatron-core-2024"), h100) == 1.0
    triton = catalog.software("llm-foundry-triton-2023").model_copy(update={"attention_class": "fa2"})
    assert class_speed_factor(triton, h100) == 1.0


def test_class_is_off_in_the_step_time_by_default():
    # the accuracy protocol's verdict (module docstring): not landed
    assert attention_class.IN_STEP_TIME is False
    fa2 = catalog.software("fsdp-2024").model_copy(update={"attention_class": "fa2"})
    assert class_speed_factor(fa2, catalog.accelerator("h100-sxm-80gb")) == 1.0


def _layer(sw, seq: int = 8192):
    system = catalog.system("dgx-h100-superpod", gpus=8)
    acc = catalog.accelerator("h100-sxm-80gb")
    model = catalog.model("llama3-8b")
    return layer_cost(model, ResolvedPlan.single(), seq, acc, sw, CollectiveModel(system), False)


def test_step_model_divides_only_the_attention_core_by_the_ratio(class_on: None):
    cudnn = catalog.software("fsdp-2024").model_copy(update={"attention_class": "cudnn"})
    fa2 = cudnn.model_copy(update={"attention_class": "fa2"})
    slow, fast = _layer(fa2), _layer(cudnn)
    assert slow.fwd_attn_s == pytest.approx(fast.fwd_attn_s / hopper_fa2_relative(), rel=1e-12)
    assert slow.bwd_attn_s == pytest.approx(fast.bwd_attn_s / hopper_fa2_relative(), rel=1e-12)
    assert slow.fwd_gemm_s == fast.fwd_gemm_s and slow.bwd_elem_s == fast.bwd_elem_s
