"""Attention heads wider than 128 on Blackwell under Transformer Engine: FlashAttention-2, not cuDNN.

Mechanism. Transformer Engine (TE) trains a layer's attention core with cuDNN's fused attention when cuDNN takes
the shapes, else with FlashAttention-2 (the ``flash-attn`` package), else unfused. Its cuDNN gate,
``nvte_get_fused_attn_backend`` in transformer_engine/common/fused_attn/fused_attn.cpp, admits BF16/FP16 training
heads wider than 128 only on Hopper::

    // <= 128
    ((head_dim_qk <= 128 && head_dim_v <= 128) ||
     // 9.1: <= 256 + Hopper + fprop
     // 9.5: <= 256 + Hopper + bprop
     (head_dim_qk <= 256 && head_dim_v <= 256 &&
      ((!is_training && sm_arch_ == 90 && ...) || (is_training && sm_arch_ == 90 && cudnn >= 90500))) ||
     ... // 9.11: d_qk = 192, d_v = 128 + Blackwell + bprop (MLA only)

and later TE adds "9.23: d_qk = d_v = 256 + SM10x + bprop" (cuDNN 9.23). So a model whose query, key and value
heads are equal and wider than 128 (Nemotron-4 340B: hidden 18,432 over 96 heads = 192, arXiv:2406.11704 Table 1)
gets no cuDNN kernel when it trains on a Blackwell card (compute capability 10.x). TE's Python filter
(transformer_engine/pytorch/attention/dot_product_attention/utils.py, get_attention_backend, "Filter: Head
dimension") keeps FlashAttention-2 for equal heads up to 256 ("head_dim_qk <= 256 (>192 requires sm80/90/100+)"),
so FlashAttention-2 runs it. (Unequal MLA heads are perf.attention_backend's case: FlashAttention is filtered out
for them and the layer runs unfused.)

FlashAttention-2 is written for Ampere's warp-level ``mma.sync`` instructions; it uses neither Hopper's wgmma/TMA
nor Blackwell's tcgen05 tensor-memory path (Dao 2023, arXiv:2307.08691, section 4.1: on H100 "using no special
instructions to make use of new features such as TMA and 4th-gen Tensor Cores, we obtain up to 335 TFLOPs/s").
The stack's kernel is therefore priced as FlashAttention-2 (``SoftwareProfile.attention_fa2_relative`` = 1, the
card's ``EfficiencyTable.attention_fa2_fraction``; perf.attention_kernel) instead of the card's fused-attention
table. The Blackwell cards' FlashAttention-2 figure is an assumption stated in the accelerator catalog.

Which stacks: those whose profile records a cuDNN version (``SoftwareProfile.cudnn_version``); a profile without
one is taken as new enough to hold a Blackwell wide-head cuDNN kernel, and is left alone. Heads of exactly 256 get
cuDNN back from 9.23.

Verdict at the time of landing (validate all, 744 rows, nothing refitted). Only Nemotron-4 340B on Blackwell under
nemo-2024 moves. The DGX Cloud nemotron/README.md table (12 GB200 rows, NeMo 25.04) 18.4% -> 16.2% MAPE (BF16 rows about
+21% -> +18%, FP8 about +39% -> +33%, model too fast); NeMo's 25.04 GB200 performance summary row +30.6% -> +24.7%;
NeMo's 25.02 B200 row -3.7% -> -6.3% (the one row that moves the wrong way). All rows 9.42% -> 9.37%
(leave-one-source-out 9.49% -> 9.49%), BF16 dense 7.33% -> 7.28%, FP8 dense 9.55% -> 9.43%; every GPU-count band's
signed mean stays within +-4%; the published set is unchanged (3.64%, leave-one-source-out 3.77%). The rest of the GB200
rows' gap is not this: it is about the same number of seconds per micro-batch in BF16 and FP8, and the GB200's
efficiency table was then still the Hopper copy (its BF16 GEMM fraction and attention span terms have since been fitted
on the B200/GB200 rows: catalog accelerators.yaml, perf.attention_span).
"""

from __future__ import annotations

from supercluster.specs import Accelerator, ModelSpec, SoftwareProfile

# fused_attn.cpp: cuDNN takes training heads above this on Hopper only (sm_arch_ == 90); cudnn-frontend before 9.11
# rejects them off Hopper too (perf.attention_backend)
CUDNN_MAX_HEAD_DIM_OFF_HOPPER = 128
# FlashAttention-2's widest head (TE utils.py: "head_dim_qk <= 256")
FA2_MAX_HEAD_DIM = 256
# Blackwell: compute capability 10.x and later (TE: sm_arch_ >= 100); perf.attention_backend reads it too
BLACKWELL_SM_ARCH = 100
# TE fused_attn.cpp: "9.23: d_qk = d_v = 256 + SM10x ... + bprop" (cuDNN 9.23.0)
CUDNN_BLACKWELL_D256 = 92300


def fa2_fallback(sw: SoftwareProfile, acc: Accelerator, model: ModelSpec) -> bool:
    """True when a Transformer Engine stack trains ``model``'s attention on ``acc`` with FlashAttention-2 because
    cuDNN's fused attention does not take its heads: equal query/key and value heads wider than 128 and at most
    256, a Blackwell card, and a recorded cuDNN older than one that takes them (module docstring). A profile that
    already names a kernel older than FlashAttention-2 keeps it."""
    if sw.attention_kernel != "flash" or sw.attention_fa2_relative is not None:
        return False
    if sw.cudnn_version is None or acc.sm_arch is None or acc.sm_arch < BLACKWELL_SM_ARCH:
        return False
    d = model.qk_dim
    if model.vdim != d or d <= CUDNN_MAX_HEAD_DIM_OFF_HOPPER or d > FA2_MAX_HEAD_DIM:
        return False
    return not (d == FA2_MAX_HEAD_DIM and sw.cudnn_version >= CUDNN_BLACKWELL_D256)
