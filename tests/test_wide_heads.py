"""perf.wide_heads: equal attention heads wider than 128 train with FlashAttention-2 on Blackwell under TE."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import attention_backend, attention_kernel, wide_heads


def _parts(sw_id: str, acc_id: str, model_id: str):
    return catalog.software(sw_id), catalog.accelerator(acc_id), catalog.model(model_id)


def test_nemotron4_340b_heads_are_192():
    # Nemotron-4 340B (arXiv:2406.11704 Table 1): hidden 18,432 over 96 heads
    m = catalog.model("nemotron4-340b")
    assert (m.qk_dim, m.vdim) == (18432 / 96, 18432 / 96) == (192, 192)


@pytest.mark.parametrize(
    ("sw_id", "acc_id", "model_id", "fallback"),
    [
        ("nemo-2024", "gb200", "nemotron4-340b", True),  # 192 on Blackwell: no cuDNN kernel, FlashAttention-2
        ("nemo-2024", "b200", "nemotron4-340b", True),
        ("nemo-2024", "h100-sxm-80gb", "nemotron4-340b", False),  # Hopper: cuDNN takes heads up to 256
        ("nemo-2024", "gb200", "llama3-70b", False),  # 128: cuDNN takes it everywhere
        ("nemo-2024", "gb200", "deepseek-v3", False),  # unequal MLA heads: perf.attention_backend's case
        ("megatron-bridge-2025", "gb200", "nemotron4-340b", False),  # no cuDNN version recorded
    ],
)
def test_fallback_by_stack_card_and_heads(sw_id, acc_id, model_id, fallback):
    sw, acc, model = _parts(sw_id, acc_id, model_id)
    assert wide_heads.fa2_fallback(sw, acc, model) is fallback


def test_cudnn_9_23_takes_256_but_not_192():
    sw, acc, model = _parts("nemo-2024", "gb200", "nemotron4-340b")
    new = sw.model_copy(update={"cudnn_version": 92300})
    assert wide_heads.fa2_fallback(new, acc, model)  # 192: still FlashAttention-2
    wide = model.model_copy(update={"head_dim": 256})
    assert wide.qk_dim == 256
    assert wide_heads.fa2_fallback(sw, acc, wide)
    assert not wide_heads.fa2_fallback(new, acc, wide)


def test_effective_prices_flash_attention_2_on_gb200():
    """GB200's FlashAttention-2 fraction 0.150 = 335 TFLOP/s x 148 / 132 SMs / 2,500 TFLOP/s; against the table's
    forward + backward fraction 3.5 / (1 / 0.28 + 2.5 / 0.21) = 0.2265 the kernel runs at 0.150 / 0.2265 = 0.662."""
    sw, acc, model = _parts("nemo-2024", "gb200", "nemotron4-340b")
    eff = attention_backend.effective(sw, acc, model)
    assert eff is not sw and eff.attention_kernel == "flash" and eff.attention_fa2_relative == 1.0
    assert acc.efficiency.attention_fa2_fraction == pytest.approx(335 * 148 / 132 / 2500, abs=5e-4)
    table = 3.5 / (1 / 0.28 + 2.5 / 0.21)
    assert attention_kernel.table_fwd_bwd_fraction(acc.efficiency) == pytest.approx(table)
    assert attention_kernel.kernel_speed_factor(acc.efficiency, eff) == pytest.approx(0.150 / table, rel=1e-3)
    # the same stack on Hopper and a 128-wide model on Blackwell are left alone
    h100 = catalog.accelerator("h100-sxm-80gb")
    assert attention_backend.effective(sw, h100, model) is sw
    assert attention_backend.effective(sw, acc, catalog.model("llama3-70b")) is sw
