"""Two GPT-OSS features that Megatron-Core runs outside its fused kernels, priced by the HBM bytes of the ops it runs.

GPT-OSS (OpenAI, arXiv:2508.10925) carries biases on its experts and extends its rotary embedding with YaRN. In the
Megatron-Core that Megatron-Bridge's performance recipes run (core 0.15 at Megatron-Bridge v0.2.0, the NeMo 25.11
container; core 3097d81 at Megatron-Bridge 406d3be, 26.04.01) both take an unfused path:

1. **RoPE with a YaRN concentration factor.** YaRN scales the rotary embedding's cos and sin by
   ``sqrt(1/t) = 0.1 ln(s) + 1`` for a context-extension factor ``s`` (Peng et al. 2023, YaRN, arXiv:2309.00071,
   section 3.4; Megatron-Core ``yarn_rotary_pos_embedding._yarn_get_mscale``); GPT-OSS uses s = 32 (1.35).
   ``rope_utils.apply_rotary_pos_emb`` falls back from Transformer Engine's fused kernel whenever that factor is
   not 1 (``if mscale != 1.0: warnings.warn("... is not supported by TE's fused RoPE. Using unfused
   implementation."); use_unfused = True``) to ``_apply_rotary_pos_emb_bshd``:
   ``t = (t * cos_) + (_rotate_half(t) * sin_); return torch.cat((t, t_pass), dim=-1)`` with
   ``_rotate_half = torch.cat((-x2, x1), dim=-1)``. Per bf16 element of Q or K the forward moves: t * cos (read 2,
   write 2), -x2 on half the element (1 + 1), the rotate cat (2 + 2), * sin (2 + 2), the add (4 + 2) and the final
   cat (2 + 2) = 24 B against the fused kernel's 4 (read, write): :data:`ROPE_EXTRA_FWD_BYTES` = 20. The backward
   (autograd) multiplies the gradient by sin and by cos (4 + 4), negates half (2), re-assembles the chunk's two
   halves (4), adds the two paths' gradients (6) and materialises the slice ``t[..., :rot_dim]``'s gradient
   (zeros, then the copy: 6) = 26 B against 4: :data:`ROPE_EXTRA_BWD_BYTES` = 22.
2. **The experts' down-projection bias.** ``TEGroupedMLP`` builds ``linear_fc1`` with ``skip_bias_add=False`` (the
   up bias added by Transformer Engine's GroupedLinear in its GEMM and its gradient taken by the grouped weight
   GEMM, transformer_engine/pytorch/module/grouped_linear.py) but ``linear_fc2`` with ``skip_bias_add=True``, and
   adds that bias itself, scaled by each copy's routing probability, in ``TEGroupedMLP._apply_bias``:
   ``torch.cat([t + b * p for t, b, p in zip(torch.split(out, tokens_per_expert), biases, torch.split(probs,
   tokens_per_expert))]).to(out.dtype)``. With probabilities of ``r`` bytes (the product takes the wider type, at
   least bf16's 2) each element of a routed copy's h-wide output moves forward: b * p (write r), t + bp (read
   2 + r, write r), the cat (r + r) and, for r > 2, the cast back (r + 2): 12 B with bf16 probabilities, 28 with
   fp32. Backward: for r > 2 the cast's gradient up (2 + r) and the add's back to bf16 (r + 2); the product's two
   gradients, each a multiply and a reduction (3 r each: b's over the tokens, p's over h); and the split's
   gradient re-assembled by a cat (2 + 2): 16 B with bf16, 40 with fp32 (:func:`down_bias_bytes`).
   The probabilities' width follows the dispatcher: the flex dispatcher casts them to fp32 (token_dispatcher.py,
   DeepEP and HybridEP: "only supports float32 probs ... self.token_probs = self.token_probs.float()"); the
   all-to-all dispatcher keeps the router's dtype, the activations' (router.py: ``router_dtype = input.dtype``
   unless --moe-router-dtype is set, which the GPT-OSS recipes do not; Transformer Engine's fused top-k writes
   probs in the logits' type).

3. **The clamp of the gated activation.** GPT-OSS clamps its gated activation (gate half at most 7, linear half
   within +-7; Megatron-Bridge GPTOSSProvider ``activation_func_clamp_value = 7.0``). Megatron-Core's
   ``weighted_bias_quick_geglu_impl`` (megatron/core/fusions/fused_bias_geglu.py, identical at 0d8e071 and
   3097d81), which ``TEGroupedMLP`` calls for quick-GELU experts with ``bias_activation_fusion``, does it before
   its compiled activation function, as eager ops on the FC1 output: ``x_glu, x_linear = input.chunk(2, -1)``,
   ``input = torch.cat((x_glu.clamp(min=None, max=clamp_value), x_linear.clamp(min=-clamp_value,
   max=clamp_value)), -1)``. Per bf16 element of the FC1 output (both halves) the forward moves: the clamp of its
   half (read 2, write 2) and the cat (read 2, write 2) = 8 B (:data:`CLAMP_FWD_BYTES`). The backward (PyTorch
   autograd, torch/csrc/autograd/FunctionsManual.cpp at pytorch/pytorch 002ca67): the cat's gradient is two
   narrow views (``cat_tensors_backward``: ``grad_val.narrow_symint``), no copy; ``clamp_backward`` is
   ``where(self <= *max, grad, zero)`` for the gate half (the compare reads 2 and writes a 1-byte mask, the where
   reads 1 + 2 and writes 2: 8 B) and ``where((self >= *min).logical_and_(self <= *max), grad, zero)`` for the
   linear half (two compares 3 + 3, the in-place and 1 + 1 + 1, the where 5: 14 B); the chunk's gradient
   re-assembles the two halves with a cat (``split_backward``, read 2, write 2). Averaged over the two halves:
   (8 + 14) / 2 + 4 = 15 B (:data:`CLAMP_BWD_BYTES`). Selective recompute of ``moe_act`` re-runs the forward
   (the checkpointed ``bias_act_func`` holds the call). Transformer Engine's fused MXFP8 grouped MLP clamps inside
   its kernel (``ScaledClampedQGeGLU``), but that path takes no expert biases (perf.fused_grouped_mlp), so every
   GPT-OSS expert on this stack pays the eager clamp.

All three are HBM-bound elementwise passes, priced at the card's memory-bound rate (perf.gemm.memory_bound_s).
Kernel launches of the per-expert loop (two per local expert forward) are not priced here; nor is the memory of
the clamp's saved inputs (the FC1 output stays alive beside the clamped copy).
"""

from __future__ import annotations

import math

from supercluster.perf.gemm import memory_bound_s
from supercluster.specs import Accelerator, ModelSpec, SoftwareProfile

# Extra HBM bytes per bf16 element of Q or K of the unfused RoPE over the fused kernel (module docstring, item 1).
ROPE_EXTRA_FWD_BYTES = 20.0
ROPE_EXTRA_BWD_BYTES = 22.0
BF16_BYTES = 2.0
FP32_BYTES = 4.0
# HBM bytes per bf16 element of the FC1 output of the eager clamp, forward and backward (module docstring, item 3).
CLAMP_FWD_BYTES = 8.0
CLAMP_BWD_BYTES = 15.0


def yarn_concentration(scaling_factor: float) -> float:
    """YaRN's attention concentration ``0.1 ln(s) + 1`` for a context-extension factor ``s`` (1 at s <= 1):
    Peng et al. 2023, arXiv:2309.00071, section 3.4 (``sqrt(1/t)``); Megatron-Core ``_yarn_get_mscale``."""
    if scaling_factor <= 1.0:
        return 1.0
    return 0.1 * math.log(scaling_factor) + 1.0


def rope_unfused(model: ModelSpec, sw: SoftwareProfile) -> bool:
    """Whether the stack runs this model's RoPE as the unfused composite ops: its fused kernel takes no YaRN
    concentration factor (``SoftwareProfile.rope_scaled_unfused``) and the model's factor is not 1."""
    if not sw.rope_scaled_unfused or model.learned_positions or model.rope_yarn_factor is None:
        return False
    return yarn_concentration(model.rope_yarn_factor) != 1.0


def down_bias_bytes(prob_bytes: float) -> tuple[float, float]:
    """(forward, backward) HBM bytes per element of a routed copy's h-wide expert output of
    ``TEGroupedMLP._apply_bias`` with routing probabilities ``prob_bytes`` wide (module docstring, item 2)."""
    r = max(BF16_BYTES, prob_bytes)
    widened = r > BF16_BYTES
    fwd = r + (BF16_BYTES + 2.0 * r) + 2.0 * r + ((r + BF16_BYTES) if widened else 0.0)
    bwd = (2.0 * (BF16_BYTES + r) if widened else 0.0) + 6.0 * r + 2.0 * BF16_BYTES
    return fwd, bwd


def prob_bytes(sw: SoftwareProfile) -> float:
    """Width of the routing probabilities the experts see: fp32 behind the flex (DeepEP/HybridEP) dispatcher,
    the activations' bf16 behind the all-to-all one (module docstring)."""
    return FP32_BYTES if sw.ep_dispatch == "per-destination" else BF16_BYTES


def extra_s(
    model: ModelSpec,
    sw: SoftwareProfile,
    acc: Accelerator,
    qk_elements: float,
    routed_elements: float,
    moe: bool,
) -> tuple[float, float]:
    """(forward, backward) seconds one layer spends on the unfused paths for one micro-batch on one GPU.

    ``qk_elements``: elements of this GPU's Q and K (tokens x (heads + kv heads) x head dim, over TP);
    ``routed_elements``: elements of the h-wide outputs of the routed copies this GPU's experts compute.
    """
    fwd_bytes = bwd_bytes = 0.0
    if rope_unfused(model, sw):
        fwd_bytes += qk_elements * ROPE_EXTRA_FWD_BYTES
        bwd_bytes += qk_elements * ROPE_EXTRA_BWD_BYTES
    if moe and model.expert_bias and sw.expert_bias_fused and sw.expert_down_bias_per_expert:
        per_f, per_b = down_bias_bytes(prob_bytes(sw))
        fwd_bytes += routed_elements * per_f
        bwd_bytes += routed_elements * per_b
    if fwd_bytes == 0.0 and bwd_bytes == 0.0:
        return 0.0, 0.0
    return memory_bound_s(fwd_bytes, acc), memory_bound_s(bwd_bytes, acc)


def clamp_unfused(model: ModelSpec, sw: SoftwareProfile, moe: bool) -> bool:
    """Whether this MoE layer's experts clamp their gated activation as eager ops (module docstring, item 3): a
    clamped gated model (``ModelSpec.glu_clamp_limit``) on a stack that clamps outside the fused kernel
    (``SoftwareProfile.glu_clamp_unfused``)."""
    return moe and model.gated and model.glu_clamp_limit is not None and sw.glu_clamp_unfused


def clamp_s(
    model: ModelSpec, sw: SoftwareProfile, acc: Accelerator, fc1_elements: float, moe: bool
) -> tuple[float, float]:
    """(forward, backward) seconds of the eager clamp for one micro-batch on one GPU (module docstring, item 3).

    ``fc1_elements``: elements of the FC1 outputs of the routed copies this GPU's experts compute (both halves of the
    gated projection, over expert TP)."""
    if not clamp_unfused(model, sw, moe):
        return 0.0, 0.0
    return (
        memory_bound_s(fc1_elements * CLAMP_FWD_BYTES, acc),
        memory_bound_s(fc1_elements * CLAMP_BWD_BYTES, acc),
    )
