"""Attention kernels older than FlashAttention-2: how much slower the stack's fused attention runs on a card.

The accelerators' efficiency tables give the attention core's forward and backward throughput as fractions of the
card's BF16 peak (``attention_fwd_fraction``, ``attention_bwd_fraction``). On the A100 they are FlashAttention-2's
own published figures; on Hopper they are fitted on training runs and sit below what FlashAttention-2 reaches on
the card in isolation. A stack that runs an older kernel is slower than both, and says by how much relative to
FlashAttention-2 (``SoftwareProfile.attention_fa2_relative``). Its kernel then runs at

    kernel = relative x FA2 fwd+bwd fraction of the card           (``EfficiencyTable.attention_fa2_fraction``)

and the table's throughput is scaled by ``min(1, kernel / table)``, where ``table`` is the table's own forward +
backward fraction, weighted as the kernels' FLOPs are (backward 2.5x the forward: Dao 2023, FlashAttention-2,
arXiv:2307.08691, section 4.1, "we multiply the forward pass FLOPs by 2.5")::

    table = 3.5 / (1 / fwd + 2.5 / bwd)

A card whose table carries no FlashAttention-2 reference takes its table as FlashAttention-2's (the factor is then
``relative`` itself).

Where the figures come from.

- MosaicML llm-foundry's ``attn_impl: triton`` (the default of its 2023 benchmark scripts) runs the Triton
  FlashAttention copied from HazyResearch/flash-attention's ``flash_attn_triton.py`` (llm-foundry
  ``llmfoundry/models/layers/flash_attn_triton.py``, header: "Copied from https://github.com/HazyResearch/
  flash-attention/blob/eff9fe6b.../flash_attn/flash_attn_triton.py"), whose docstring says "Overall Triton forward +
  backward is slightly slower than CUDA forward + backward" (the CUDA kernel being FlashAttention 1).
  FlashAttention-2 (Dao 2023, section 4.1) is "around 2x faster than FlashAttention", and "around 1.3-1.5x faster
  than FlashAttention in Triton in the forward pass and around 2x faster in the backward pass"; weighting those by
  the forward and backward FLOPs (1 : 2.5) gives 3.5 / (1.4 + 2.5 x 2) = 0.55, and "slightly slower than"
  FlashAttention 1 gives a little under 0.5. ``relative`` = 0.5 (uncertainty 0.45-0.55).
- FlashAttention-2 on the H100 SXM: "Just running the same implementation on H100 GPUs (using no special
  instructions to make use of new features such as TMA and 4th-gen Tensor Cores), we obtain up to 335 TFLOPs/s"
  (same paper, section 4.1, Fig. 7), 335 / 989 = 0.339 of the BF16 peak.

On an A100 the Triton kernel thus runs at half the table's attention throughput; on an H100 at
0.5 x 0.339 / 0.2265 = 0.75 of it (the Hopper table's 0.28 forward and 0.21 backward weigh to 0.2265).

Accuracy (validate all, before and after; nothing refitted): llm-foundry's rows ran attn_impl triton except the
large-scale table's 1b, 3b, 7b and 70b runs (flash); on the 79 Triton rows the sequence-length trend is gone (mpt-7b
on 8 A100 80GB from +58% at 65,536 tokens and +38% at 32,768 to -2.5% and -4.4%; on 8 H100 from +20% and +16% to
-4.4% and -4.1%). Tables: A100 80GB 17.96% -> 5.43%, A100 40GB 11.95% -> 7.43%, H100 80GB BF16 14.02% -> 9.52%,
H100 large scale 12.82% -> 12.07%. All rows 11.46% -> 10.90% (leave-one-source-out 11.72% -> 11.32%), BF16 dense
9.69% -> 8.24%, the < 256 band's mean signed error +4.62% -> +2.72%; the published set unchanged (3.57%, 3.80%).
"""

from __future__ import annotations

from supercluster.specs import EfficiencyTable, SoftwareProfile

# Dao 2023 (arXiv:2307.08691) section 4.1: backward FLOPs = 2.5 x forward FLOPs (5 matmuls against 2)
BWD_FLOPS_RATIO = 2.5


def table_fwd_bwd_fraction(eff: EfficiencyTable) -> float:
    """The table's forward + backward attention throughput as one fraction of peak (FLOP-weighted)."""
    return (1.0 + BWD_FLOPS_RATIO) / (1.0 / eff.attention_fwd_fraction + BWD_FLOPS_RATIO / eff.attention_bwd_fraction)


def kernel_speed_factor(eff: EfficiencyTable, sw: SoftwareProfile, reference_share: float = 1.0) -> float:
    """Throughput of the stack's attention kernel on the card relative to the card's table (1 for FlashAttention-2
    class kernels and better).

    ``reference_share``: where the step model scales attention by key span (perf.attention_span), the table holds at
    its reference span while FlashAttention-2's published figure is the kernel's best, at long sequences (the
    FlashAttention-3 paper's FlashAttention-2 curve on the H100 rises to its top at 16K tokens), so that figure is
    brought to the reference span by the span efficiency there (attention_span.reference_share) before the two are
    compared; the span factor then scales both alike."""
    rel = sw.attention_fa2_relative
    if rel is None:
        return 1.0
    if eff.attention_fa2_fraction is None:
        return rel
    return min(1.0, rel * eff.attention_fa2_fraction * reference_share / table_fwd_bwd_fraction(eff))
