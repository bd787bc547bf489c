"""Memory per GPU: weights, gradients, optimizer state, activations, allowance.

Model states follow ZeRO (Rajbhandari et al. 2020, arXiv:1910.02054, section
3.1): mixed-precision Adam keeps 2 bytes of bf16 weights, the gradient
(``grad_accum_bytes``: 4 when Megatron accumulates bf16 gradients in fp32) and
12 bytes of fp32 master weights, momentum and variance per parameter; stage 1
shards the 12 bytes over the data-parallel group, stage 2 also the gradients,
stage 3 also the weights.

Activations follow Korthikanti et al. 2022 (arXiv:2205.05198), section 4,
eq. 1-5, generalised term by term to grouped-query attention, any head_dim,
gated FFNs and dropout-free models: per layer and micro-batch the GPT layer
stores sbh(34 + 5as/h) bytes without parallelism; tensor parallelism divides
the 24 sbh of sharded terms, sequence parallelism the other 10; selective
recompute (or FlashAttention, which recomputes the scores in its backward)
drops the 5as^2b score terms; full recompute keeps only the layer input. The
first pipeline stage holds p micro-batches in flight under 1F1B, times
(1 + (p-1)/(p v)) with v interleaved stages (section 4.2.3).

Mixtures of experts store each routed copy of a token twice over: the expert up-projection's input (h wide)
and its intermediates. What a selective recompute keeps of these pieces follows what the stack's selective
re-runs (perf.selective_memory): the score terms only (Korthikanti; Megatron-Core's core_attn, which also drops a
flash kernel's log-sum-exp), plus MLA's norm outputs and per-head Q, K, V in DeepSeek-V3's own stack
(arXiv:2412.19437, section 3.2.3), torchtitan's op policy's saved outputs, or a Megatron-Core module list's.
Where the stack weights the returned copies by the router probabilities in the unpermute (Megatron-Core 0.9-0.12),
the combine also keeps the k copies of each of the rank's tokens, h wide (perf.combine_memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from supercluster.perf import selective_memory
from supercluster.perf.combine_memory import combine_kept_bytes
from supercluster.perf.gemm import NVFP4_BF16_LAYER_FRACTION
from supercluster.perf.imbalance import plan_routing_load
from supercluster.specs import ModelSpec, ResolvedPlan, SoftwareProfile
from supercluster.units import GIB

# What the runtime holds besides tensors: CUDA context and cuBLAS workspaces (~0.75 GiB
# on H100 with PyTorch), NCCL communicator buffers (a few hundred MiB per communicator,
# several communicators). An allowance, not a measurement: stated so users see it.
RUNTIME_RESERVE_BYTES = 2.0 * GIB
# Caching-allocator fragmentation, as a share of activation memory (assumption).
FRAGMENTATION_FRACTION = 0.05
# Bytes per element of a linear layer's input kept for its weight gradient, by training precision: BF16; FP8
# (Transformer Engine saves the quantized input); MXFP8 (the column-wise copy the weight gradient reads, one
# scale byte per 32); NVFP4 (4-bit values and one scale byte per 16, the BF16 layers at 2 B).
SAVED_INPUT_BYTES = {
    "bf16": 2.0,
    "fp8": 1.0,
    "mxfp8": 1.0 + 1.0 / 32,
    "nvfp4": (1 - NVFP4_BF16_LAYER_FRACTION) * (0.5 + 1.0 / 16) + NVFP4_BF16_LAYER_FRACTION * 2.0,
}
# Bytes per parameter of the weights a GPU holds for the step: the BF16 weights plus the quantized copies the
# GEMMs read, cached across micro-batches. FP8: one transposed copy (1 B; the forward casts on the fly);
# MXFP8: row-wise and column-wise copies, each with its 32-element scales (block scales run along the
# reduction dimension, so a transpose must be re-quantized); NVFP4: one copy with 16 x 16 two-dimensional
# block scales that serves both orientations (arXiv:2509.25149), on the quantized layers only.
WEIGHT_BYTES = {
    "bf16": 2.0,
    "fp8": 3.0,
    "mxfp8": 2.0 + 2.0 * (1.0 + 1.0 / 32),
    "nvfp4": 2.0 + (1 - NVFP4_BF16_LAYER_FRACTION) * (0.5 + 1.0 / 256),
}


# What one GPU holds, term by term; their sum is the memory a layout needs.
MEMORY_PARTS = (
    "weights_bytes",
    "grads_bytes",
    "optimizer_bytes",
    "activations_bytes",
    "logits_bytes",
    "allowance_bytes",
)


def memory_total(holder: Any) -> Any:
    """Sum of the MEMORY_PARTS of a breakdown (floats) or of a batch of candidates (arrays)."""
    return sum(getattr(holder, part) for part in MEMORY_PARTS)


@dataclass(frozen=True, slots=True)
class MemoryBreakdown:
    weights_bytes: float
    grads_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    logits_bytes: float
    allowance_bytes: float
    capacity_bytes: float

    @property
    def total_bytes(self) -> float:
        return float(memory_total(self))

    @property
    def headroom_bytes(self) -> float:
        return self.capacity_bytes - self.total_bytes

    @property
    def fits(self) -> bool:
        return self.headroom_bytes >= 0

    def to_dict(self) -> dict[str, float | bool]:
        return {
            "weights_gib": self.weights_bytes / GIB,
            "grads_gib": self.grads_bytes / GIB,
            "optimizer_gib": self.optimizer_bytes / GIB,
            "activations_gib": self.activations_bytes / GIB,
            "logits_gib": self.logits_bytes / GIB,
            "allowance_gib": self.allowance_bytes / GIB,
            "total_gib": self.total_bytes / GIB,
            "capacity_gib": self.capacity_bytes / GIB,
            "headroom_gib": self.headroom_bytes / GIB,
            "fits": self.fits,
        }


def layer_activation_bytes(model: ModelSpec, plan: ResolvedPlan, seq: int, sw: SoftwareProfile, moe: bool) -> float:
    """Bytes one layer stores for backward, per micro-batch, on one GPU (Korthikanti eq. 1-5, generalised); what a
    selective recompute keeps of them is perf.selective_memory's (by the stack's policy or the module list)."""
    t, b = plan.tp, plan.micro_batch
    s = seq / plan.cp
    h, a, g, d = model.hidden, model.heads, model.kv, model.dhead
    sbh = s * b * h
    lin_in = SAVED_INPUT_BYTES[plan.precision]  # inputs of low-precision GEMMs are kept quantized
    sp = t if plan.sequence_parallel else 1
    if plan.recompute == "full":
        return 2.0 * sbh / sp  # the layer input only
    flash = sw.attention_kernel == "flash"
    policy = sw.selective_reruns
    if plan.recompute == "selective" and policy == "op-sac" and not plan.recompute_modules:
        shared = float(model.moe_shared_experts) if moe else 0.0
        rep, sh = selective_memory.op_sac_kept(model, s * b, t, plan.sequence_parallel, moe, flash, shared)
        return rep / sp + sh / t
    # Sharded by TP: Q, K, V, attention output (out-proj input), FFN intermediates.
    latents = 0.0
    if model.is_mla:
        # per-head Q and K (qk_dim) and V (v_head_dim) after the up-projections, plus the two latents
        latents = 2.0 * s * b * ((model.q_lora_rank or 0) + (model.kv_lora_rank or 0) + (model.qk_rope_head_dim or 0))
        qkv = 2.0 * s * b * a * (2 * model.qk_dim + model.vdim)
        attn_out = lin_in * s * b * a * model.vdim
    else:
        qkv = 2.0 * s * b * (a * d + 2 * g * d)
        attn_out = lin_in * s * b * a * d
    up = 2 if model.gated else 1
    per_f = 2.0 * up + lin_in  # up-proj output(s) and the activation output, per element of the f-wide output
    routed_in = routed_up = routed_act = shared_in = 0.0
    if moe:
        load = plan_routing_load(model, plan, seq)
        routed_tokens = s * b * model.moe_topk * load
        f_width = model.expert_ffn
        # the permuted token copies the expert up-projections read, kept for their weight gradients: h wide on
        # every rank an expert is split over, so a rank holds et / t of the tensor-parallel group's routed copies
        # (perf.expert_tp.routed_copy_rows; times et here, ``sharded`` is divided by t below), not 1 / t of them;
        # a shared expert is a dense tensor-parallel MLP on the rank's own shard
        routed_in = lin_in * routed_tokens * plan.expert_tp * h
        shared_in = lin_in * s * b * model.moe_shared_experts * h
        routed_up, routed_act = routed_tokens * f_width * 2.0 * up, routed_tokens * f_width * lin_in
        shared_ffn = s * b * model.moe_shared_experts * f_width * per_f
    else:
        shared_ffn = s * b * model.ffn_hidden * per_f
    scores = 0.0
    if flash:
        scores = 4.0 * a * s * b  # fp32 log-sum-exp per query row, kept for the backward
    elif plan.recompute == "none":
        # softmax output (2) + dropout mask (1) + dropout output (2) per score element: 5as^2b
        per_elem = 5.0 if model.dropout else 2.0
        scores = per_elem * a * s * seq * b  # the whole score matrix (local queries x all keys), masks applied to it
    # Replicated across TP ranks unless sequence parallel: norm inputs, GEMM inputs, dropout masks. A MoE
    # block's expert GEMMs read the dispatched copies (above), not the norm output.
    acts = selective_memory.LayerActivations(
        norm_in=4.0 * sbh,
        attn_gemm_in=lin_in * sbh,
        mlp_gemm_in=0.0 if moe else lin_in * sbh,
        dropout=2.0 * sbh if model.dropout else 0.0,  # two 1-byte dropout masks
        qkv=qkv,
        latents=latents * t,  # the latents are replicated
        attn_out=attn_out,
        routed_in=routed_in,
        routed_up=routed_up,
        routed_act=routed_act,
        shared_in=shared_in,
        shared_ffn=shared_ffn,
        scores=scores,
        combine_in=combine_kept_bytes(model, s, b, sw) if moe else 0.0,
    )
    if plan.recompute == "selective":
        acts = selective_memory.kept_selective(acts, policy, plan.recompute_modules, model.is_mla, flash)
    replicated, sharded = acts.split()
    return replicated / sp + sharded / t


def inflight_microbatches(plan: ResolvedPlan, microbatches: int) -> float:
    """Micro-batches whose activations the first stage holds at peak (Korthikanti sec. 4.2.3)."""
    return float(inflight(plan.pp, plan.vpp, microbatches))


def inflight(pp: Any, vpp: Any, microbatches: Any) -> Any:
    """Array form: min(p, m) under 1F1B, times (1 + (p-1)/(p v)) with v interleaved stages; 1 without PP."""
    pp = np.asarray(pp, dtype=float)
    vpp = np.asarray(vpp, dtype=float)
    base = np.minimum(pp, microbatches) * np.where(vpp > 1, 1.0 + (pp - 1) / (pp * vpp), 1.0)
    return np.where(pp == 1, 1.0, base)
