"""Attention kernel class by software release on Hopper: FlashAttention-2 against cuDNN's Hopper-native kernel.

The H100's attention fractions (``attention_fwd_fraction`` 0.28, ``attention_bwd_fraction`` 0.21 of the BF16 peak
at the reference span) are fitted on the NVIDIA/Megatron-LM README table, whose stack is Megatron-Core with
Transformer Engine. On Hopper, Transformer Engine runs attention through cuDNN's fused (flash) attention whenever
both it and FlashAttention-2 take the shapes:

- Transformer Engine v1.2 release notes (January 2024): "[pyTorch] Performance of DotProductAttention is increased
  on Hopper GPUs by utilizing cuDNN."
- NeMo's memory-optimisation guide (NVIDIA/NeMo PR #9188, 2024): "when both implementations are applicable,
  Transformer Engine prefers cuDNN flash attention on Hopper+ architectures".

So the fitted table is the cuDNN class (``SoftwareProfile.attention_class`` = ``cudnn``, the default). Stacks
outside Transformer Engine ran FlashAttention-2 on Hopper in 2023-25, either the flash-attn package or PyTorch's
``scaled_dot_product_attention``, whose cuDNN backend was made opt-in before it shipped as a default:

- pytorch/pytorch PR #138522 ("[SDPA-CUDNN] Make CuDNN Attention Opt in", October 2024, cherry-picked onto
  release/2.5): "This PR puts the CuDNN backend as the lowest precedence in the backend list".
- pytorch/pytorch issue #142132 (December 2024, PyTorch nightly 2.6.0.dev20241204 on H100, shape (1, 24, 4608,
  128)): SDPA 329.5 TFLOP/s against cuDNN 631.3; "This is expected".
- torchtitan's SDPA wrapper kept ``[SDPBackend.FLASH_ATTENTION]`` first on everything but Blackwell in May 2025
  (pytorch/torchtitan PR #1196, "Use cudnn backend on B200": ``if has_cuda_capability(10, 0)`` ... ``else:
  self.backends = [SDPBackend.FLASH_ATTENTION] + base_backends``).

Those stacks take ``attention_class: fa2``. FlashAttention-2 does not use Hopper's TMA or wgmma ("Just running the
same implementation on H100 GPUs (using no special instructions to make use of new features such as TMA and 4th-gen
Tensor Cores), we obtain up to 335 TFLOPs/s", Dao 2023, arXiv:2307.08691, section 4.1), so on a Hopper card its
kernel runs at a fixed share of cuDNN's at the same shape. The share is read from one published plot pair that
measured both on the same card (FlashAttention-3 paper, Shah et al. 2024, arXiv:2407.08608, H100 SXM5, BF16, head
dimension 128, TFLOP/s), at the table's reference span (2048):

- forward, causal (Fig. 5): FlashAttention-2 298, cuDNN 484 -> 0.616 (at 16K: 335 / 539 = 0.622);
- backward (Fig. 6, the only published backward panel, no causal mask): 291 against 465 -> 0.626 (16K: 322 / 516
  = 0.624);
- weighted as the kernels' FLOPs (backward 2.5x forward, Dao 2023 section 4.1): 3.5 / (484/298 + 2.5 x 465/291)
  = 0.623.

The ratio barely moves with span (0.62 from 2K to 16K), so one factor scales the table's forward and backward
throughput alike; perf.attention_span's span pricing then applies to both classes. Off Hopper the factor is 1: the
A100's table is FlashAttention-2's own published figure, and Blackwell's FlashAttention-2 fallback is priced by
perf.wide_heads. Stacks whose kernel is already priced against FlashAttention-2 (``attention_fa2_relative``,
perf.attention_kernel) keep that pricing alone.

Verdict of the accuracy protocol (scripts/attention_class_protocol.py, benchmarks/results/
attention_class_protocol.json; scripts/refit_protocol.py with the class in, benchmarks/results/
refit_protocol_attention_class.json, against the same run without it, refit_protocol_attention_class_before.json):
NOT LANDED, ``IN_STEP_TIME`` False; the classes stay recorded on the stacks. With the class in, the FlashAttention-2
stacks' short-context Hopper rows come right (refit leave-one-source-out: llm-foundry 'H100 80GB BF16 ' flash rows
8.97% -> 3.76%, fms-fsdp 5.78% -> 4.01%, torchtitan Dec 2024 Tables 1 and 3 9.67% -> 6.25% and 11.73% -> 4.42%), all
rows' refit LOSO falls 8.64% -> 8.60% and BF16 dense 5.91% -> 5.44%; but the long-context rows of the same stack
fall far too slow (torchtitan Table 2, Llama 3 8B at 32K-256K with context parallelism, 12.2% -> 29.5%, every row
-24% to -40%; Table 6, 405B, 11.6% -> 20.5%; trainy H200 8B FP8 3.4% -> 15.8%), FP8 dense rises 9.02% -> 9.65%, the
H100 GEMM fraction refitted on the whole set rises 0.6922 -> 0.6967 and with it the published set's LOSO 3.71% ->
3.79%, which the protocol forbids. The end-to-end check disagrees the same way: at torchtitan issue #1042's shape
(Llama 3 8B layers at 8,192 tokens) the model's layer time is 1.18x longer with FlashAttention-2 than with cuDNN,
where the issue measured "~10% e2e" for the switch. Both say that on Hopper the fitted table's attention runs
slower than its kernel class does (the model prices attention at 40% of the layer at 8K under FlashAttention-2,
about 24% would match the published speedup), as do Transformer Engine's own long-context rows (Megatron-MoE-ModelZoo
Qwen3, model too slow by up to 38% at 128K): for this class (``fa2``, the SDPA and flash-attn stacks outside
Transformer Engine) the FlashAttention-2 ratio cannot land until the H100 attention fractions are refitted against
kernel-class speeds (issue 14), not before.

The same ratio does price one other class, and the split between the two is drawn by evidence, not by kernel.
Transformer Engine recipes that switch cuDNN's fused attention off (``NVTE_FUSED_ATTN=0``) or that pin a
Transformer Engine from before v1.2 run the same FlashAttention-2 kernel; they take ``attention_class: fa2-te`` and
:func:`hopper_fa2_relative` enters their step time through perf.te_flash_fallback, not through this module
(:func:`class_speed_factor` returns 1 for them, so neither class is priced twice). Those rows all train sequences
of 2,048-8,192 tokens, the range where this module's own short-context rows came right with the ratio, and none is
a long-context row of the kind that fails above; the DGX Cloud recipes' protocol run passed (perf.te_flash_fallback's
verdict) and the MLPerf v3.1 GPT-3 rows carry the class as a recorded stack fact although they read slightly worse
with it (validate.attention_audit). So on
Hopper: cuDNN-class stacks (``cudnn``) run at the fitted table; TE stacks on FlashAttention-2 (``fa2-te``) run at
0.623 of it; SDPA and flash-attn stacks (``fa2``) are recorded as FlashAttention-2 but priced at the fitted table
(``IN_STEP_TIME`` False), which overstates their short-context speed (the llm-foundry, fms-fsdp and torchtitan
short-context rows read too fast by the amounts above) for as long as the long-context rows forbid the ratio.
"""

from __future__ import annotations

from supercluster.perf.attention_kernel import BWD_FLOPS_RATIO
from supercluster.specs import Accelerator, SoftwareProfile

# The accuracy protocol's verdict (module docstring): whether the class enters the step time
IN_STEP_TIME = False
# Hopper (compute capability 9.0: H100, H800, H200), the card of the FlashAttention-3 paper's plots
HOPPER_SM_ARCH = 90
# FlashAttention-3 paper (arXiv:2407.08608), H100 SXM5 BF16 head dim 128 at 2K tokens, TFLOP/s
FA2_FWD_CAUSAL_TFLOPS = 298.0  # Fig. 5, causal
CUDNN_FWD_CAUSAL_TFLOPS = 484.0  # Fig. 5, causal
FA2_BWD_TFLOPS = 291.0  # Fig. 6
CUDNN_BWD_TFLOPS = 465.0  # Fig. 6


def hopper_fa2_relative() -> float:
    """FlashAttention-2's forward + backward throughput over cuDNN's on Hopper at the same shape, FLOP-weighted
    (backward 2.5x forward; Dao 2023, arXiv:2307.08691, section 4.1): 3.5 / (fwd_c/fwd_f + 2.5 bwd_c/bwd_f), with
    the FlashAttention-3 paper's Fig. 5 and 6 figures at 2K tokens (module docstring)."""
    fwd = CUDNN_FWD_CAUSAL_TFLOPS / FA2_FWD_CAUSAL_TFLOPS
    bwd = CUDNN_BWD_TFLOPS / FA2_BWD_TFLOPS
    return (1.0 + BWD_FLOPS_RATIO) / (fwd + BWD_FLOPS_RATIO * bwd)


def class_speed_factor(sw: SoftwareProfile, acc: Accelerator) -> float:
    """Throughput of an SDPA or flash-attn stack's attention kernel class relative to the card's fitted table (the
    cuDNN class): ``hopper_fa2_relative()`` for an ``fa2`` stack on a Hopper card while :data:`IN_STEP_TIME` is on,
    else 1. Transformer Engine's FlashAttention-2 class (``fa2-te``) is priced by perf.te_flash_fallback, not here
    (module docstring)."""
    if not IN_STEP_TIME or sw.attention_class != "fa2" or sw.attention_fa2_relative is not None:
        return 1.0
    if acc.sm_arch != HOPPER_SM_ARCH:
        return 1.0
    return hopper_fa2_relative()
