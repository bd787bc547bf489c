"""Transformer Engine's FlashAttention-2 backend for recipes with NVTE_FUSED_ATTN=0 (perf.te_flash_fallback)."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import attention_class
from supercluster.perf.attention_class import hopper_fa2_relative
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.layer import layer_cost
from supercluster.perf.te_flash_fallback import TE_FLASH_CLASS, fallback_speed_factor
from supercluster.specs import ResolvedPlan


def test_factor_is_the_fa3_paper_ratio_on_hopper_only():
    # arXiv:2407.08608 at 2K tokens, head dim 128: 3.5 / (484/298 + 2.5 x 465/291) = 0.6229
    te_fa2 = catalog.software("nemo-2024-flash-attn")
    assert te_fa2.attention_class == TE_FLASH_CLASS
    h100, h200 = catalog.accelerator("h100-sxm-80gb"), catalog.accelerator("h200-sxm-141gb")
    assert fallback_speed_factor(te_fa2, h100) == pytest.approx(3.5 / (484 / 298 + 2.5 * 465 / 291), rel=1e-12)
    assert fallback_speed_factor(te_fa2, h200) == pytest.approx(0.6229, abs=1e-4)
    # the A100 table is FlashAttention-2's own; Blackwell is not priced by this module
    assert fallback_speed_factor(te_fa2, catalog.accelerator("a100-sxm-80gb")) == 1.0
    assert fallback_speed_factor(te_fa2, catalog.accelerator("b200")) == 1.0
    # the cuDNN-class stacks and the SDPA FlashAttention-2 class (perf.attention_class, not landed) are untouched
    assert fallback_speed_factor(catalog.software("nemo-2024"), h100) == 1.0
    sdpa = catalog.software("fsdp-2024").model_copy(update={"attention_class": "fa2"})
    assert fallback_speed_factor(sdpa, h100) == 1.0
    # a kernel already priced against FlashAttention-2 (perf.attention_kernel) keeps that pricing alone, as in
    # perf.attention_class: the 0.5 of an older kernel is not multiplied by 0.623 again
    older = te_fa2.model_copy(update={"attention_fa2_relative": 0.5})
    assert fallback_speed_factor(older, h100) == 1.0


def test_recipes_with_fused_attention_off_take_the_class():
    # NVIDIA/dgxc-benchmarking grok1/configure.sh (v24.11.1 and v25.02): "export NVTE_FUSED_ATTN=0"
    assert catalog.software("nemo-2024-sequential").attention_class == TE_FLASH_CLASS
    # the SDPA-class verdict's switch stays off and does not price this class twice
    assert attention_class.IN_STEP_TIME is False
    te_fa2 = catalog.software("nemo-2024-flash-attn")
    assert attention_class.class_speed_factor(te_fa2, catalog.accelerator("h100-sxm-80gb")) == 1.0


def _layer(sw):
    system = catalog.system("dgx-h100-superpod", gpus=8)
    acc = catalog.accelerator("h100-sxm-80gb")
    model = catalog.model("llama3-8b")
    return layer_cost(model, ResolvedPlan.single(), 8192, acc, sw, CollectiveModel(system), False)


def test_only_the_attention_core_slows_by_the_ratio():
    cudnn = catalog.software("nemo-2024")
    te_fa2 = cudnn.model_copy(update={"attention_class": TE_FLASH_CLASS})
    slow, fast = _layer(te_fa2), _layer(cudnn)
    assert slow.fwd_attn_s == pytest.approx(fast.fwd_attn_s / hopper_fa2_relative(), rel=1e-12)
    assert slow.bwd_attn_s == pytest.approx(fast.bwd_attn_s / hopper_fa2_relative(), rel=1e-12)
    assert slow.fwd_gemm_s == fast.fwd_gemm_s and slow.bwd_elem_s == fast.bwd_elem_s
    assert slow.fwd_attn_s > 1.5 * fast.fwd_attn_s
