"""perf.attention_backend: the attention kernel a Transformer Engine stack can run for a model on a card."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import attention_backend
from supercluster.plan import resolve
from supercluster.validate import harness
from supercluster.validate.rows import row_specs


def _parts(sw_id: str, acc_id: str, model_id: str):
    return catalog.software(sw_id), catalog.accelerator(acc_id), catalog.model(model_id)


def test_mla_heads_are_unequal_and_wider_than_128():
    # DeepSeek-V3: 128 no-rotary + 64 rotary query/key head, 128 value head (arXiv:2412.19437, section 4.2)
    m = catalog.model("deepseek-v3")
    assert (m.qk_dim, m.vdim) == (192, 128)


@pytest.mark.parametrize(
    ("sw_id", "acc_id", "model_id", "kernel"),
    [
        # cuDNN below 9.11 on Blackwell: no fused backend takes 192/128 heads -> unfused (materialised) attention
        ("nemo-2024", "gb200", "deepseek-v3", "materialized"),
        ("nemo-2024", "b200", "deepseek-v3", "materialized"),
        # Hopper: cuDNN runs MLA fused whatever the 9.x version
        ("nemo-2024", "h100-sxm-80gb", "deepseek-v3", "flash"),
        # equal heads of 128: FlashAttention and cuDNN both take them
        ("nemo-2024", "gb200", "llama3-70b", "flash"),
        # a stack with no cuDNN gate (post-9.11 containers)
        ("megatron-bridge-2025", "gb200", "deepseek-v3", "flash"),
    ],
)
def test_kernel_by_stack_card_and_heads(sw_id, acc_id, model_id, kernel):
    sw, acc, model = _parts(sw_id, acc_id, model_id)
    assert attention_backend.attention_kernel(sw, acc, model) == kernel


def test_cudnn_threshold_is_9_11():
    sw, acc, model = _parts("nemo-2024", "gb200", "deepseek-v3")
    at = sw.model_copy(update={"cudnn_version": 91100})
    below = sw.model_copy(update={"cudnn_version": 91002})
    assert attention_backend.attention_kernel(at, acc, model) == "flash"
    assert attention_backend.attention_kernel(below, acc, model) == "materialized"


def test_profile_without_flash_is_left_alone():
    sw, acc, model = _parts("nemo-2024", "gb200", "llama3-70b")
    mat = sw.model_copy(update={"attention_kernel": "materialized"})
    assert attention_backend.attention_kernel(mat, acc, model) == "materialized"


def test_effective_keeps_identity_when_unchanged_and_one_copy_otherwise():
    sw, h100, model = _parts("nemo-2024", "h100-sxm-80gb", "deepseek-v3")
    assert attention_backend.effective(sw, h100, model) is sw
    gb200 = catalog.accelerator("gb200")
    first = attention_backend.effective(sw, gb200, model)
    assert first is not sw and first.attention_kernel == "materialized"
    assert attention_backend.effective(sw, gb200, model) is first


def test_step_time_prices_the_fallback():
    """DGX Cloud DeepSeek-V3 BF16 on 256 GB200 (NeMo 25.04.01; README layout TP2 PP4 EP64 DP32 MBS1 GBS2048,
    34.194 s per step measured): the materialised attention makes the predicted step slower than the same stack
    with fused attention, and closer to the measurement."""
    _, rows = harness.read_rows("all")
    row = next(r for r in rows if r["id"] == "dgxcv2505-gb200-dsv3-bf16-256")
    specs = row_specs(row)
    system, workload, plan, sw = specs.system, specs.workload, specs.plan, specs.software
    fused = sw.model_copy(update={"cudnn_version": None})
    slow = resolve(plan, workload, system, sw, system.gpus).step_time_s
    fast = resolve(plan, workload, system, fused, system.gpus).step_time_s
    assert slow > 1.2 * fast
    assert abs(slow - 34.194) < abs(fast - 34.194)
