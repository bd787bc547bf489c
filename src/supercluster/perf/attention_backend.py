"""Which attention kernel a Transformer Engine stack can actually run for a model on a card.

A stack whose profile says ``attention_kernel: flash`` runs a fused attention kernel only when one of its backends
takes the layer's shapes on that card; otherwise Transformer Engine's DotProductAttention falls back to
UnfusedDotProductAttention, which materialises the score matrix (priced by perf.layer as ``materialized``). The
fallback that matters for the bundled runs is multi-head latent attention (MLA: DeepSeek-V2/V3, Kimi K2), whose
query/key head (128 + 64 rotary = 192) is wider than its value head (128):

- FlashAttention is never chosen for it: Transformer Engine's backend filter
  (transformer_engine/pytorch/attention/dot_product_attention/utils.py, get_attention_backend, "Filter: Head
  dimension") disables it whenever head_dim_qk != head_dim_v ("Disabling FlashAttention as it does not support
  MLA.").
- cuDNN's fused attention takes it on Hopper, but on Blackwell (compute capability 10.x) only from cuDNN 9.11:
  the backend selection in transformer_engine/common/fused_attn/fused_attn.cpp (nvte_get_fused_attn_backend)
  admits "9.11: d_qk = 192, d_v = 128 + Blackwell + bprop + non-paged" (head_dim_qk == 192 && head_dim_v == 128
  && is_training && sm_arch_ >= 100 && cudnn_runtime_version >= 91100), and the cuDNN frontend before 9.11
  rejected any head dimension above 128 on a non-Hopper card ("Num hidden_dim shoud be less than or equal to 128",
  NVIDIA/cudnn-frontend PR #145, "For Blackwell allow d > 128 for cudnn version > 9.11.0", June 2025).

So a stack with cuDNN older than 9.11 (``SoftwareProfile.cudnn_version``) trains MLA on a Blackwell card
(``Accelerator.sm_arch`` >= 100) with materialised attention; NVIDIA's own DeepSeek-V3 GB200 guide lists "MLA
kernels on the Blackwell platform, provided by cuDNN 9.11" among the features its baseline first had (Megatron-LM
docs/discussions/deepseek-v3-gb200-optimization, section 1). Stacks that leave ``cudnn_version`` unset, and cards
without ``sm_arch``, keep the profile's kernel.

Verdict (validate all, 732 predicted rows): only the three DGX Cloud DeepSeek-V3 BF16 GB200 rows (NeMo 25.04.01)
move, from +157-163% to +88-91% (model too fast); all rows 11.46% -> 11.40% MAPE, leave-one-source-out 11.72% ->
11.66%, BF16 MoE 15.4% -> 15.0%; the published set is unchanged (3.57%, leave-one-source-out 3.80%). The rest of
those rows' gap is not attention: the same stack on H100 fits (+0.1%, -5.6%), and NVIDIA's GB200 guide finds its
Megatron-Core MoE baseline host-bound ("the CPU kernel launch speed cannot keep up with the kernel execution speed
on GPU"), which the step model does not price for fused stacks (perf.fixed_cost).
"""

from __future__ import annotations

from typing import Literal

from supercluster.perf import wide_heads
from supercluster.perf.wide_heads import BLACKWELL_SM_ARCH, CUDNN_MAX_HEAD_DIM_OFF_HOPPER
from supercluster.specs import Accelerator, ModelSpec, SoftwareProfile

# transformer_engine/common/fused_attn/fused_attn.cpp: the Blackwell MLA training condition (sm_arch_ >= 100,
# perf.wide_heads.BLACKWELL_SM_ARCH) from cuDNN 9.11
CUDNN_BLACKWELL_MLA = 91100
# cudnn-frontend before 9.11 rejects head dimensions above 128 off Hopper: the same limit as TE's gate for training
# heads off Hopper (perf.wide_heads.CUDNN_MAX_HEAD_DIM_OFF_HOPPER)
CUDNN_OLD_BLACKWELL_MAX_HEAD_DIM = CUDNN_MAX_HEAD_DIM_OFF_HOPPER

_derived: dict[tuple[int, int | None, int, int], tuple[SoftwareProfile, SoftwareProfile]] = {}


def attention_kernel(sw: SoftwareProfile, acc: Accelerator, model: ModelSpec) -> Literal["flash", "materialized"]:
    """The kernel the stack runs for ``model``'s attention on ``acc``: the profile's, unless no fused backend
    takes the shapes (MLA's unequal heads above 128 on Blackwell before cuDNN 9.11: see the module docstring)."""
    if sw.attention_kernel != "flash" or sw.cudnn_version is None or acc.sm_arch is None:
        return sw.attention_kernel
    unequal = model.qk_dim != model.vdim  # FlashAttention is filtered out for these
    wide = max(model.qk_dim, model.vdim) > CUDNN_OLD_BLACKWELL_MAX_HEAD_DIM
    old_cudnn = sw.cudnn_version < CUDNN_BLACKWELL_MLA
    if unequal and wide and old_cudnn and acc.sm_arch >= BLACKWELL_SM_ARCH:
        return "materialized"
    return "flash"


def effective(sw: SoftwareProfile, acc: Accelerator, model: ModelSpec) -> SoftwareProfile:
    """``sw`` with the attention kernel it can run for ``model`` on ``acc``; the same object when nothing changes
    (the per-specs context cache of perf.context keys on it), else one kept copy per profile, card and shape."""
    kernel = attention_kernel(sw, acc, model)
    fa2 = wide_heads.fa2_fallback(sw, acc, model)  # wide equal heads on Blackwell: FlashAttention-2 (perf.wide_heads)
    if kernel == sw.attention_kernel and not fa2:
        return sw
    key = (id(sw), acc.sm_arch, model.qk_dim, model.vdim)
    hit = _derived.get(key)
    if hit is not None and hit[0] is sw:
        return hit[1]
    update: dict[str, object] = {"attention_kernel": kernel}
    if fa2:
        update["attention_fa2_relative"] = 1.0
    derived = sw.model_copy(update=update)
    _derived[key] = (sw, derived)
    return derived
