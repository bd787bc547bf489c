"""Cost of one transformer layer for one micro-batch on one GPU.

Shapes follow Megatron-LM's tensor parallelism (Shoeybi et al. 2019,
arXiv:1909.08053, section 3: column-parallel QKV and FFN-up, row-parallel
output and FFN-down) with sequence parallelism (Korthikanti et al. 2022,
arXiv:2205.05198, section 4.2.2). FLOPs per GEMM are 2 m n k; the attention
core is 4 s^2 a d per sequence forward (QK^T and AV), halved for causal masks
by kernels that skip masked blocks (FlashAttention-2, Dao 2023,
arXiv:2307.08691, section 3.1) and whose backward does 2.5x the forward's
FLOPs (same paper, section 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from supercluster.fabric.placement import ep_stride
from supercluster.perf import (
    attention_class,
    attention_kernel,
    attention_span,
    cp_allgather,
    cp_allgather_span,
    expert_tp,
    fp8_casts,
    fp8_pad,
    fp8_scaling,
    fused_grouped_mlp,
    gemm_align,
    mcore_unfused,
    moe_kernels,
    recompute_modules,
    selective_policy,
    shape_memo,
    te_flash_fallback,
    te_permute,
    te_unfused,
    tp_overlap,
)
from supercluster.perf.comm import CollectiveModel, span_of
from supercluster.perf.gemm import NVFP4_BF16_LAYER_FRACTION, linear_fwd_bwd_s, memory_bound_s
from supercluster.perf.imbalance import plan_routing_load
from supercluster.perf.routing import destinations
from supercluster.specs import Accelerator, ModelSpec, ResolvedPlan, SoftwareProfile

# HBM passes over an h-wide activation per layer forward: two norms (read+write = 4),
# two residual adds (2 reads + 1 write = 6). Dropout adds a mask write and a read per site.
H_PASSES = 10.0
H_PASSES_DROPOUT = 3.0
# The same work as eager PyTorch composite ops run it, each op its own kernel and HBM pass. RMSNorm as torchtitan
# (torchtitan/models/norms.py, 2024) and fms-fsdp write it, upcast to fp32: x.float() (read 2, write 4), pow
# (4+4), mean (4), x * rsqrt (4+4), type_as (4+2), * weight (2+2) = 36 B per element, 18 two-byte passes
# against 2 fused; two norms and the two residual adds (6): 42 passes per layer.
H_PASSES_EAGER = 42.0
# SwiGLU as silu(w1 x) * w3 x: silu (read 2, write 2) then the product (read 4, write 2) = 10 B per ffn
# element against 6 fused; a plain GeLU MLP is one kernel either way (4 B).
GATED_ACT_BYTES = {True: 6.0, False: 4.0}
GATED_ACT_BYTES_EAGER = {True: 10.0, False: 4.0}
# Rotary embedding on Q and K as torchtitan's apply_rotary_emb: x.float() viewed as complex (read 2, write 4),
# times freqs_cis (read 8, write 8), back to real and type_as (read 4, write 2) = 28 B per element against 4.
ROPE_BYTES, ROPE_BYTES_EAGER = 4.0, 28.0
BWD_ELEMENTWISE_RATIO = 2.0  # backward of an elementwise op reads the saved input and the gradient
# A materialised softmax reads the bf16 scores and writes the bf16 probabilities: 4 B per score (the generic
# pricing; Transformer Engine's own path is perf.te_unfused). Dropout on the probabilities adds
# te_unfused.DROPOUT_BYTES (read 2, write 2 and a 1 B mask), PyTorch's fused dropout in any stack.
SOFTMAX_BYTES_PER_SCORE = 2.0 + 2.0

# Expert biases applied outside the grouped GEMM, per routed copy of a token (NVIDIA-NeMo/Automodel
# nemo_automodel/components/moe: GroupedExpertsDeepEP._apply_bias, because torch._grouped_mm and grouped_gemm
# take no bias): the up-projection output (2 f wide, bf16) gets one add per expert (read + write) and a
# torch.cat (read + write), 16 B per f; the down-projection bias is scaled by the fp32 routing weight first,
# so b * p (write 4), t + b * p (read 2 + 4, write 4), the cat (read 4, write 4) and the cast back to bf16
# (read 4, write 2) move 28 B per h. Backward: the up bias's gradient is a sum over tokens (read 2 B x 2 f);
# the down path casts the gradient up and back (6 + 6) and reduces it against p and b (4 + 4): 20 B per h.
UNFUSED_BIAS_FWD_BYTES = (16.0, 28.0)  # (per f, per h)
UNFUSED_BIAS_BWD_BYTES = (4.0, 20.0)


# Fused-attention throughput by head dim relative to head dim 128, where the efficiency tables are fitted.
# FlashAttention-3 paper (Shah et al. 2024, arXiv:2407.08608, Fig. 5: H100 SXM5, BF16 forward, sequence
# 4K) measures cuDNN at 408 TFLOP/s with head dim 64 against 609 at 128 (FA2 321 vs 368, FA3 476 vs 638):
# narrow heads do less math per byte of Q/K/V and per softmax element. Above 128 the kernels disagree in
# sign (cuDNN 581 at 256, FA3 736), so wider heads keep the table's value.
NARROW_HEAD_DIM = 64
NARROW_HEAD_FACTOR = 408 / 609


def attention_dim_factor(head_dim: float) -> float:
    """Throughput of a fused attention kernel at ``head_dim`` over its throughput at 128 (log2-linear below)."""
    if head_dim >= 128:
        return 1.0
    if head_dim <= NARROW_HEAD_DIM:
        return NARROW_HEAD_FACTOR
    w = math.log2(head_dim / NARROW_HEAD_DIM)  # 0 at 64, 1 at 128
    return NARROW_HEAD_FACTOR + w * (1.0 - NARROW_HEAD_FACTOR)


@dataclass(frozen=True, slots=True)
class LayerCost:
    fwd_gemm_s: float
    fwd_attn_s: float
    fwd_elem_s: float
    bwd_gemm_s: float
    bwd_attn_s: float
    bwd_elem_s: float
    recompute_s: float
    # exposed TP and CP communication, forward + backward (+ recompute forward): the context-parallel exchange (the
    # ring's exposed passes or the all-gather CP's collectives) is booked here, and so under the public JSON key
    # tp_comm_exposed_s and the limits' "TP comm" term (plan.explain: "exposed tensor/context-parallel communication")
    tp_comm_s: float
    ep_comm_s: float  # exposed all-to-all, forward + backward
    model_flops: float  # forward + backward, causal attention counted once
    hw_flops: float  # what the GPU executes, recompute included

    @property
    def fwd_s(self) -> float:
        return self.fwd_gemm_s + self.fwd_attn_s + self.fwd_elem_s

    @property
    def bwd_s(self) -> float:
        return self.bwd_gemm_s + self.bwd_attn_s + self.bwd_elem_s

    @property
    def total_s(self) -> float:
        return self.fwd_s + self.bwd_s + self.recompute_s + self.tp_comm_s + self.ep_comm_s


@dataclass(frozen=True, slots=True)
class LayerParts:
    """What :func:`layer_cost` works out before it reads the plan's recompute mode: the same numbers whatever that
    mode is, so the planner computes them once for the layouts that differ only in it (:func:`finish`)."""

    fwd_gemm_s: float
    fwd_attn_s: float
    fwd_elem_s: float
    bwd_gemm_s: float
    bwd_attn_s: float
    bwd_elem_s: float
    # the materialized (unfused) attention core's forward, 0 under a fused kernel: what Korthikanti's selective
    # (and torchtitan's op policy) re-run of the core; Megatron-Core's core_attn re-runs the fused core too, from
    # modules.core_attn_s (perf.selective_policy)
    selective_extra_s: float
    mla_selective_s: float  # MLA: its up-projections and RMSNorms again (DeepSeek-V3, 3.2.3)
    mla_up_flops: float
    flops_fwd: float
    core_flops: float
    core_hw_flops: float
    model_core_flops: float
    tp_fwd_s: float
    tp_bwd_s: float
    cp_fwd_s: float
    cp_bwd_s: float
    ep_fwd_s: float
    modules: recompute_modules.ModuleForward = recompute_modules.NOTHING  # what each module re-runs
    # what a plain selective recompute's op policy reads (perf.selective_policy): the attention projections' forward
    # GEMM s and FLOPs, the shares it re-runs, the forward TP collectives outside its save list
    proj_gemm_s: float = 0.0
    proj_flops: float = 0.0
    op_sac: selective_policy.OpSacShares = selective_policy.NO_SHARES
    tp_gather_s: float = 0.0


def layer_cost(
    model: ModelSpec,
    plan: ResolvedPlan,
    seq: int,
    acc: Accelerator,
    sw: SoftwareProfile,
    comm: CollectiveModel,
    moe: bool,
) -> LayerCost:
    parts = layer_parts(model, plan, seq, acc, sw, comm, moe)
    return finish(parts, plan.recompute, model.is_mla, sw, plan.recompute_modules)


def layer_parts(
    model: ModelSpec,
    plan: ResolvedPlan,
    seq: int,
    acc: Accelerator,
    sw: SoftwareProfile,
    comm: CollectiveModel,
    moe: bool,
    memo: dict[tuple[Any, ...], Any] | None = None,
) -> LayerParts:
    """Everything of :func:`layer_cost` but the recompute: ``plan.recompute`` is not read. ``memo`` (a context's,
    perf.context, for one card and stack) keeps the pieces that repeat across layouts by the inputs they read
    (perf.shape_memo): each GEMM's three times by shape and precision, the attention kernel's speed factors by cp;
    the same functions on the same inputs, so every number is the one computed without it."""
    t, b, prec = plan.tp, plan.micro_batch, plan.precision
    tok = b * seq / plan.cp  # tokens this GPU's context shard holds
    h, a, g, d = model.hidden, model.heads, model.kv, model.dhead
    sp_div = t if plan.sequence_parallel else 1

    # --- GEMMs: (tokens x in) @ (in x out/t) ---
    f_gemm = b_gemm = 0.0
    flops_fwd = 0.0
    mla_up_s = mla_up_flops = 0.0  # forward of the MLA up-projections (what its selective recompute re-runs)

    # backward GEMMs of the linears that read each block's (gathered) input: Megatron hides that input's
    # gradient collective behind them (see tp_comm)
    reads_input = {"attn": [0.0, 0.0], "mlp": [0.0, 0.0]}  # [dgrad_s, wgrad_s]

    # NVFP4 training keeps the most sensitive linear layers in BF16 (NVFP4_BF16_LAYER_FRACTION of them)
    mix = [(prec, 1.0)]
    if prec == "nvfp4":
        mix = [("nvfp4", 1 - NVFP4_BF16_LAYER_FRACTION), ("bf16", NVFP4_BF16_LAYER_FRACTION)]

    # a stack that fuses its FP8 casts pays no separate quantization pass on the dense linears (perf.fp8_casts;
    # only an FP8 mix can skip it, and an FP8 mix is FP8 alone)
    casts = fp8_casts.separate_casts(sw.fp8_casts, prec)
    weight_elems = 0.0  # weights this GPU holds in the layer (whose gradients it accumulates)
    # seconds of the dense linears' GEMMs by name ("qkv_fprop", "fc1_wgrad", ...), paired with the TP collectives
    # that userbuffers overlap with them (perf.tp_overlap)
    named: dict[str, float] = {}

    # the experts' GEMMs as the stack's kernel runs them (perf.expert_gemm); each expert holds exactly its share
    # under a balanced benchmark gate or when padded to a capacity factor, a scatter around it when dropless
    exact_rows = model.moe_router == "fake-balanced" or (
        model.moe_router == "learned" and model.moe_capacity_factor is not None
    )

    def lin(
        m: float,
        n: float,
        k: float,
        times: float = 1.0,
        block: str | None = None,
        experts: bool = False,
        name: str | None = None,
    ) -> None:
        nonlocal f_gemm, b_gemm, flops_fwd, weight_elems
        weight_elems += n * k * times
        for p, share in mix:
            if experts:  # ``times`` local experts of ``m`` rows each, all GEMMs together
                fw, dgrad, wgrad = shape_memo.expert_gemms(memo, sw.expert_gemm, times, m, n, k, acc, p, exact_rows)
                reps = 1.0
            else:
                fw, dgrad, wgrad = shape_memo.gemms(memo, m, n, k, acc, p, casts)
                reps = times
            f_gemm += fw * reps * share
            b_gemm += (dgrad + wgrad) * reps * share
            if name:
                for kind, sec in (("fprop", fw), ("dgrad", dgrad), ("wgrad", wgrad)):
                    named[f"{name}_{kind}"] = named.get(f"{name}_{kind}", 0.0) + sec * reps * share
            if block and t > 1 and sw.tp_async_dgrad:
                reads_input[block][0] += dgrad * reps * share
                reads_input[block][1] += wgrad * reps * share
        flops_fwd += 2.0 * m * n * k * times

    if model.is_mla:
        # latent down-projections are replicated across TP ranks, per-head up-projections sharded
        kvr = model.kv_lora_rank or 0

        def up_projection(m: float, n: float, k: float) -> None:
            nonlocal mla_up_s, mla_up_flops
            t0, f0 = f_gemm, flops_fwd
            lin(m, n, k)
            mla_up_s += f_gemm - t0
            mla_up_flops += flops_fwd - f0

        if model.q_lora_rank:
            lin(tok, model.q_lora_rank, h, block="attn")
            up_projection(tok, a * model.qk_dim / t, model.q_lora_rank)
        else:
            lin(tok, a * model.qk_dim / t, h, block="attn")
        lin(tok, kvr + (model.qk_rope_head_dim or 0), h, block="attn")
        up_projection(tok, a * (d + model.vdim) / t, kvr)
        lin(tok, h, a * model.vdim / t)  # attention output
    else:
        lin(tok, (a + 2 * g) * d / t, h, block="attn", name="qkv")  # QKV
        lin(tok, h, a * d / t, name="proj")  # attention output
    up = 2 if model.gated else 1
    # The busiest expert rank paces the layer: dropless routing leaves it the router's expected maximum over the
    # EP ranks (perf.imbalance); with a capacity factor experts are padded to that capacity (Fedus et al. 2021,
    # Switch Transformers, section 2.2; Megatron-Core MoE --moe-expert-capacity-factor).
    load = plan_routing_load(model, plan, seq) if moe else 1.0
    # Experts split over et = plan.expert_tp ranks (Megatron-Core's expert tensor parallelism; et = t unless a
    # folding stack sets it lower): each GPU feeds the experts et / t of the TP group's tokens, and each expert
    # GEMM is fe / et wide (MoE Parallel Folding, Liu et al. 2025, arXiv:2504.14960, section 3).
    et = plan.expert_tp
    g0, fl0 = f_gemm, flops_fwd  # the MLP or MoE block's forward GEMMs from here (perf.recompute_modules)
    g_shared = fl_shared = 0.0
    if moe:
        local_experts = model.moe_experts / plan.ep
        per_expert_tok = tok * (et / t) * model.moe_topk * plan.ep / model.moe_experts * load
        fe = model.expert_ffn
        flops_before = flops_fwd
        lin(per_expert_tok, up * fe / et, h, local_experts, block="mlp", experts=True)
        lin(per_expert_tok, h, fe / et, local_experts, experts=True)
        flops_fwd = flops_before + (flops_fwd - flops_before) / load  # model FLOPs count the useful tokens
        if model.moe_shared_experts:
            g1, fl1 = f_gemm, flops_fwd
            lin(tok, up * fe * model.moe_shared_experts / t, h, block="mlp")
            lin(tok, h, fe * model.moe_shared_experts / t)
            g_shared, fl_shared = f_gemm - g1, flops_fwd - fl1
        lin(tok, model.moe_experts, h)  # router
        f_act_elems = tok * (model.moe_topk + model.moe_shared_experts) * fe / t
    else:
        lin(tok, up * model.ffn_hidden / t, h, block="mlp", name="fc1")
        lin(tok, h, model.ffn_hidden / t, name="fc2")
        f_act_elems = tok * model.ffn_hidden / t
    block_gemm_s, block_flops = f_gemm - g0, flops_fwd - fl0

    # --- attention core ---
    heads_local = a / t
    span = model.attention_span(seq)
    core_flops_full = 2.0 * tok * span * heads_local * (model.qk_dim + model.vdim)  # QK^T + AV, no mask
    peak16 = acc.peak_flops("bf16")
    elem_fwd_bytes = 0.0
    if sw.attention_kernel == "flash":
        core_flops = 0.5 * core_flops_full  # causal blocks skipped (and blocks outside a window)
        speed, by_span = shape_memo.kept(
            memo, ("attention_speed", plan.cp), lambda: flash_speed(model, seq, plan.cp, acc, sw)
        )
        f_attn = core_flops / (peak16 * acc.efficiency.attention_fwd_fraction * speed * by_span.fwd)
        b_attn = 2.5 * core_flops / (peak16 * acc.efficiency.attention_bwd_fraction * speed * by_span.bwd)
        core_hw = 3.5 * core_flops
        selective_extra = 0.0  # nothing materialized to re-run (core-attn's fused re-run is modules.core_attn_s)
    else:
        # the full score matrix is computed, then masked (causal mask and windows alike)
        core_flops = 2.0 * tok * seq * heads_local * (model.qk_dim + model.vdim)
        batches = b * heads_local
        sq = seq / plan.cp
        qk_f, qk_b = linear_fwd_bwd_s(sq, seq, model.qk_dim, acc, "bf16")
        av_f, av_b = linear_fwd_bwd_s(sq, model.vdim, seq, acc, "bf16")
        # a head dim off the 16-byte tensor-core alignment runs these off the tensor cores (perf.gemm_align)
        unaligned = gemm_align.head_gemm_slowdown((model.qk_dim, model.vdim), acc)
        qk_f, qk_b, av_f, av_b = qk_f * unaligned, qk_b * unaligned, av_f * unaligned, av_b * unaligned
        scores = batches * sq * seq
        softmax_bytes = scores * (SOFTMAX_BYTES_PER_SCORE + (te_unfused.DROPOUT_BYTES if model.dropout else 0.0))
        f_bytes, b_bytes = softmax_bytes, BWD_ELEMENTWISE_RATIO * softmax_bytes
        if te_unfused.applies(sw):  # Transformer Engine's UnfusedDotProductAttention, as it runs (perf.te_unfused)
            te = te_unfused.elementwise_bytes(b, round(heads_local), round(sq), seq, model.dropout)
            f_bytes, b_bytes = te.fwd_bytes, te.bwd_bytes
        f_attn = batches * (qk_f + av_f) + memory_bound_s(f_bytes, acc)
        b_attn = batches * (qk_b + av_b) + memory_bound_s(b_bytes, acc)
        core_hw = 3.0 * core_flops
        selective_extra = f_attn
    model_core_flops = 3.0 * 0.5 * core_flops_full

    # --- memory-bound elementwise work ---
    fused = sw.elementwise_fused
    h_passes = (H_PASSES if fused else H_PASSES_EAGER) + (H_PASSES_DROPOUT if model.dropout else 0.0)
    elem_fwd_bytes += tok * h * 2.0 * h_passes / sp_div
    elem_fwd_bytes += f_act_elems * (GATED_ACT_BYTES if fused else GATED_ACT_BYTES_EAGER)[model.gated]
    qk_elems = tok * (a + g) * d / t  # elements of this GPU's Q and K (tokens x (heads + kv heads) x head dim)
    # routed copies of this rank's tokens its experts compute (the busiest rank's share)
    routed_copies = tok * (et / t) * model.moe_topk * load if moe else 0.0
    if not model.learned_positions:
        elem_fwd_bytes += qk_elems * (ROPE_BYTES if fused else ROPE_BYTES_EAGER)  # on Q and K
    if moe and not moe_kernels.ENABLED and sw.ep_dispatch == "per-expert":
        # token shuffling around the all-to-all: permute (read each token, write its k routed copies) and
        # unpermute with the router-weighted sum (read the k copies, write the token), bf16 (Megatron-Core's
        # alltoall token dispatcher; DeepEP fuses both into its dispatch and combine kernels)
        copies = model.moe_topk * load
        elem_fwd_bytes += 2.0 * tok * h * 2.0 * (1.0 + copies) / sp_div
    f_elem = memory_bound_s(elem_fwd_bytes, acc)
    b_elem = BWD_ELEMENTWISE_RATIO * f_elem
    fe0 = f_elem  # the MoE block's routing and expert element-wise forward from here (perf.recompute_modules)
    if moe and moe_kernels.ENABLED:
        # router, permutations and quantization of the expert inputs, kernel by kernel (perf.moe_kernels)
        rb = moe_kernels.routing_bytes(
            tokens=tok / sp_div,
            local_copies=per_expert_tok * local_experts,
            experts=model.moe_experts,
            topk=model.moe_topk,
            hidden=h,
            width=model.expert_ffn / et,
            up=up,
            local_experts=local_experts,
            dispatch=sw.ep_dispatch,
            precision=prec,
            learned=model.moe_router == "learned",
            exact=exact_rows,
            gathered_tokens=tok / sp_div * t * plan.ep,
        )
        f_elem += moe_kernels.routing_s(rb.fwd, acc)
        b_elem += moe_kernels.routing_s(rb.bwd, acc)
        # Transformer Engine 2.1-2.5's fused permute visits every expert per token (perf.te_permute)
        tpf, tpb = te_permute.extra_s(
            sw.te_permute_all_experts, sw.ep_dispatch, tok / sp_div, model.moe_experts, model.moe_topk, h, acc
        )
        f_elem += tpf
        b_elem += tpb
        # Transformer Engine's row padding of the quantized expert GEMMs, as copies (perf.fp8_pad)
        pf, pb = fp8_pad.pad_copy_bytes(
            sw.fp8_pad_copies, prec, per_expert_tok * local_experts, local_experts, h, exact_rows
        )
        f_elem += moe_kernels.routing_s(pf, acc)
        b_elem += moe_kernels.routing_s(pb, acc)
        # per-tensor current scaling quantizes each local expert's operands on its own (perf.fp8_scaling)
        cf, cb = fp8_scaling.current_scaling_s(
            sw.fp8_scaling,
            prec,
            per_expert_tok * local_experts,
            local_experts,
            h,
            model.expert_ffn / et,
            up,
            exact_rows,
            acc,
        )
        f_elem += cf
        b_elem += cb
        # TE's fused MXFP8 grouped MLP: the SwiGLU and two casts inside the GEMMs (perf.fused_grouped_mlp)
        if fused_grouped_mlp.applies(
            sw.moe_fused_grouped_mlp, prec, model.gated, model.expert_bias, h, model.expert_ffn / et
        ):
            fg = fused_grouped_mlp.saving(
                routed_act_elems=tok * model.moe_topk * fe / t,
                act_bytes=(GATED_ACT_BYTES if fused else GATED_ACT_BYTES_EAGER)[model.gated],
                bwd_ratio=BWD_ELEMENTWISE_RATIO,
                local_copies=per_expert_tok * local_experts,
                local_experts=local_experts,
                width=model.expert_ffn / et,
                up=up,
                exact=exact_rows,
                acc=acc,
            )
            f_elem -= fg.fwd_s
            b_elem -= fg.bwd_s
    # A stack whose weight-gradient GEMMs do not accumulate into the gradient buffer themselves adds every
    # micro-batch's weight gradients to it in a separate memory-bound pass (Megatron-LM's 2021 DDP hook:
    # param.main_grad.add_(param.grad)), wgrad_accum_bytes_per_param bytes per weight.
    b_elem += memory_bound_s(weight_elems * sw.wgrad_accum_bytes_per_param, acc)
    if moe and model.expert_bias and not sw.expert_bias_fused:
        per_f, per_h = UNFUSED_BIAS_FWD_BYTES
        f_elem += memory_bound_s(routed_copies * (per_f * model.expert_ffn / et + per_h * h), acc)
        per_f, per_h = UNFUSED_BIAS_BWD_BYTES
        b_elem += memory_bound_s(routed_copies * (per_f * model.expert_ffn / et + per_h * h), acc)
    moe_elem_s = f_elem - fe0
    # Megatron-Core's unfused YaRN RoPE and per-expert down-projection bias (perf.mcore_unfused), the latter over the
    # h-wide outputs of the routed copies
    mc_f, mc_b = mcore_unfused.extra_s(model, sw, acc, qk_elems, routed_copies * h, moe)
    f_elem += mc_f
    b_elem += mc_b
    # and its eager clamp of a clamped gated activation over the routed copies' FC1 outputs; moe_act recompute
    # re-runs it with the activation it precedes
    clamp_f, clamp_b = mcore_unfused.clamp_s(model, sw, acc, routed_copies * up * model.expert_ffn / et, moe)
    f_elem += clamp_f
    b_elem += clamp_b

    # --- tensor-parallel communication: 2 collectives forward, 2 backward (Shoeybi et al. sec. 3) ---
    etp_fwd = 0.0  # the dispatcher's expert-TP (or TP x EP) all-gather and reduce-scatter (perf.expert_tp)
    mlp_tp_fwd: float | None = None  # the MLP or MoE block's own TP collectives (perf.recompute_modules)
    if moe and expert_tp.ENABLED and sw.ep_dispatch in ("per-expert", "all-gather"):
        # the attention block's TP collectives over t ranks (and a shared expert's, a dense TP MLP); the routed
        # experts' over their et ranks, issued by the dispatcher on the routed copies, exposed
        tp_fwd, tp_bwd = tp_comm(tok * h * 2.0, plan, sw, comm, {"attn": reads_input["attn"]}, blocks=1.0)
        if model.moe_shared_experts:
            sh_f, sh_b = tp_comm(tok * h * 2.0, plan, sw, comm, {"mlp": reads_input["mlp"]}, blocks=1.0)
            tp_fwd, tp_bwd = tp_fwd + sh_f, tp_bwd + sh_b
            mlp_tp_fwd = sh_f
        if sw.ep_dispatch == "all-gather":
            etp_fwd = expert_tp.allgather_dispatch_fwd_s(comm, tok / sp_div, h, t, plan.ep, model.moe_topk)
        else:
            etp_fwd = expert_tp.expert_tp_fwd_s(comm, tok, h, t, et, model.moe_topk, load)
    elif moe and et != t and not model.moe_shared_experts:
        # the attention block's TP collectives over t ranks; the expert block's over its et ranks, on the et / t
        # of the tokens they share (none at et = 1: each rank routes its own sequence shard)
        tp_fwd, tp_bwd = tp_comm(tok * h * 2.0, plan, sw, comm, {"attn": reads_input["attn"]}, blocks=1.0)
        expert_plan = plan.model_copy(update={"tp": et, "etp": None})
        mlp_f, mlp_b = tp_comm(tok * (et / t) * h * 2.0, expert_plan, sw, comm, {"mlp": reads_input["mlp"]}, 1.0)
        tp_fwd, tp_bwd = tp_fwd + mlp_f, tp_bwd + mlp_b
        mlp_tp_fwd = mlp_f
    elif (
        sw.tp_comm_overlap == "userbuffers"
        and tp_overlap.ENABLED
        and plan.sequence_parallel
        and t > 1
        and len(named) == 12
    ):
        # Transformer Engine's userbuffers: each collective decomposed and overlapped with its paired GEMM
        span = span_of(t, 1, comm.domain)
        msg = tok * h * 2.0
        tp_fwd, tp_bwd = tp_overlap.userbuffers_tp_s(
            float(comm.all_gather(msg, span)), float(comm.reduce_scatter(msg, span)), named, t
        )
    else:
        tp_fwd, tp_bwd = tp_comm(tok * h * 2.0, plan, sw, comm, reads_input)
    # Context parallelism: ring attention passes each rank's K and V chunk around the CP ring
    # (Liu et al. 2023, "Ring Attention", arXiv:2310.01889, section 3), overlapped with the attention
    # of the chunk in hand; the backward also passes dK and dV (twice the forward volume). The first step
    # attends to the rank's own chunk, so only the cp - 1 transfers behind it can be exposed; the backward's
    # accumulated dK and dV make one more hop home after the last step (one chunk's K and V worth of bytes;
    # Transformer Engine's AttnFuncWithCPAndKVP2P: step i waits for the chunk sent during step i - 1).
    cp_fwd = cp_bwd = 0.0
    if plan.cp > 1 and sw.cp_comm_type == "all_gather":
        # Llama 3's all-gather CP: K and V gathered whole before attention, their gradients reduce-scattered after,
        # both exposed (perf.cp_allgather)
        kv_all = cp_allgather.gathered_kv_bytes(b, seq, g, d, t)
        cp_fwd, cp_bwd = cp_allgather.allgather_cp_s(comm, kv_all, plan.cp, t)
    elif plan.cp > 1:
        kv_step = cp_allgather.kv_bytes(b, seq / plan.cp, g, d, t)  # one chunk's K and V, BF16
        ring = span_of(2, t, comm.domain)
        crosses = ring.k < 2
        step_comm = float(comm.p2p(kv_step, crosses))
        steps = plan.cp - 1
        cp_fwd = steps * max(step_comm - f_attn / plan.cp, 0.0)
        cp_bwd = steps * max(2.0 * step_comm - b_attn / plan.cp, 0.0) + step_comm
    a2a = moe and plan.ep > 1 and sw.ep_dispatch != "all-gather"  # the all-gather dispatcher has no all-to-all
    ep_fwd = expert_dispatch(model, plan, sw, comm, tok * h * 2.0 / sp_div * load) if a2a else 0.0
    ep_fwd += etp_fwd

    # DeepSeek-V3 section 3.2.3: its selective recompute re-runs the RMSNorms (read h, write h, twice) and the MLA
    # up-projections
    mla_selective = mla_up_s + memory_bound_s(2.0 * 2.0 * tok * h * 2.0 / sp_div, acc) if model.is_mla else 0.0
    modules = _module_forward(
        model,
        moe,
        tok,
        sp_div,
        t,
        fused,
        acc,
        attn=(f_attn, cp_fwd, core_flops),
        mla_up=(mla_up_s, mla_up_flops),
        block=(block_gemm_s, block_flops, tp_fwd / 2.0 if mlp_tp_fwd is None else mlp_tp_fwd),
        shared=(g_shared, fl_shared),
        moe_block=(moe_elem_s, ep_fwd, routed_copies * model.expert_ffn / et if moe else 0.0, clamp_f),
    )
    return LayerParts(
        fwd_gemm_s=f_gemm,
        fwd_attn_s=f_attn,
        fwd_elem_s=f_elem,
        bwd_gemm_s=b_gemm,
        bwd_attn_s=b_attn,
        bwd_elem_s=b_elem,
        selective_extra_s=selective_extra,
        mla_selective_s=mla_selective,
        mla_up_flops=mla_up_flops,
        flops_fwd=flops_fwd,
        core_flops=core_flops,
        core_hw_flops=core_hw,
        model_core_flops=model_core_flops,
        tp_fwd_s=tp_fwd,
        tp_bwd_s=tp_bwd,
        cp_fwd_s=cp_fwd,
        cp_bwd_s=cp_bwd,
        ep_fwd_s=ep_fwd,
        modules=modules,
        proj_gemm_s=g0,
        proj_flops=fl0,
        op_sac=selective_policy.op_sac_shares(model, moe)
        if sw.selective_reruns == "op-sac"
        else selective_policy.NO_SHARES,
        # torchtitan's op policy saves the reduce-scatters and re-runs the rest: under sequence parallelism the
        # all-gathers, half the forward TP time (the collective model prices an all-gather and a reduce-scatter of
        # the same h-wide message alike, tests/test_selective_policy.py); without it the all-reduces, all of it
        tp_gather_s=tp_fwd / 2.0 if plan.sequence_parallel else tp_fwd,
    )


def _module_forward(
    model: ModelSpec,
    moe: bool,
    tok: float,
    sp_div: int,
    t: int,
    fused: bool,
    acc: Accelerator,
    attn: tuple[float, float, float],
    mla_up: tuple[float, float],
    block: tuple[float, float, float],
    shared: tuple[float, float],
    moe_block: tuple[float, float, float, float],
) -> recompute_modules.ModuleForward:
    """What each Megatron-Core recompute module re-runs of this layer (perf.recompute_modules), from the pieces
    :func:`layer_parts` worked out: ``attn`` (attention forward s, exposed CP forward s, core FLOPs), ``mla_up`` (s,
    FLOPs), ``block`` (the MLP or MoE block's forward GEMM s and FLOPs, its TP forward s), ``shared`` (the shared
    experts' GEMM s and FLOPs), ``moe_block`` (routing element-wise s, EP forward s, routed activation elements, the
    eager clamp's forward s that the activation's recompute re-runs, perf.mcore_unfused)."""
    act = (GATED_ACT_BYTES if fused else GATED_ACT_BYTES_EAGER)[model.gated]
    rope = ROPE_BYTES if fused else ROPE_BYTES_EAGER
    norms = recompute_modules.norm_s(
        tok / sp_div, model.hidden, recompute_modules.separate_norms(model.is_mla, moe), fused, acc
    )
    mla_s, mla_flops = mla_up
    if model.is_mla and model.qk_rope_head_dim:  # RoPE on the heads' rotary slice of q and on the shared k_pe
        mla_s += recompute_modules.elementwise_s(tok * (model.heads / t + 1.0) * model.qk_rope_head_dim, rope, acc)
    gemm_s, gemm_flops, block_tp = block
    common = dict(
        core_attn_s=attn[0],
        core_attn_cp_s=attn[1],
        core_attn_flops=attn[2],
        layernorm_s=norms,
        mla_up_proj_s=mla_s,
        mla_up_proj_flops=mla_flops,
    )
    if not moe:
        mlp_act = recompute_modules.elementwise_s(tok * model.ffn_hidden / t, act, acc)
        return recompute_modules.ModuleForward(
            **common, mlp_s=gemm_s + mlp_act, mlp_tp_s=block_tp, mlp_flops=gemm_flops
        )
    routing_s, ep_s, routed_elems, clamp_s = moe_block
    moe_act = recompute_modules.elementwise_s(routed_elems, act, acc) + clamp_s
    shared_act = recompute_modules.elementwise_s(tok * model.moe_shared_experts * model.expert_ffn / t, act, acc)
    return recompute_modules.ModuleForward(
        **common,
        moe_s=gemm_s + routing_s + moe_act + shared_act,
        moe_tp_s=block_tp,
        moe_ep_s=ep_s,
        moe_flops=gemm_flops,
        moe_act_s=moe_act,
        shared_experts_s=shared[0] + shared_act,
        shared_experts_flops=shared[1],
    )


def flash_speed(
    model: ModelSpec, seq: int, cp: int, acc: Accelerator, sw: SoftwareProfile
) -> tuple[float, attention_span.SpanSpeed]:
    """The fused attention kernel's speed factor on this card and stack, and its span factors at ``cp``
    (perf.attention_span; the ring's calls by perf.cp_ring_span, the all-gather CP's by perf.cp_allgather_span): what
    :func:`layer_parts` divides the attention core's FLOP rate by; it reads the specs and cp only."""
    speed = attention_dim_factor(model.qk_dim) * sw.attention_speed_factor
    eff = acc.efficiency
    n0 = attention_span.tile_overheads(eff.attention_fwd_tile_overhead_keys, eff.attention_bwd_tile_overhead_keys)
    ref_share = attention_span.reference_share(eff.attention_reference_span, overheads_keys=n0)
    speed *= attention_kernel.kernel_speed_factor(acc.efficiency, sw, ref_share)  # kernels before FlashAttention-2
    speed *= attention_class.class_speed_factor(sw, acc)  # FlashAttention-2 against cuDNN on Hopper
    speed *= te_flash_fallback.fallback_speed_factor(sw, acc)  # TE's FlashAttention-2 backend (NVTE_FUSED_ATTN=0)
    # the kernel's throughput at this run's key span per call over the table's reference span (perf.attention_span);
    # an all-gather CP rank's calls run against the gathered K and V (perf.cp_allgather_span)
    own = (eff.attention_fwd_tile_overhead_keys, eff.attention_bwd_tile_overhead_keys)
    ring = attention_span.ring_priced(sw.cp_comm_type, *own)
    gathered = cp_allgather_span.full_overheads_keys(*own, n0) if sw.cp_comm_type == "all_gather" else None
    return speed, attention_span.span_speed(
        model, seq, cp, eff.attention_reference_span, n0, ring=ring, gathered=gathered
    )


def finish(
    p: LayerParts, recompute: str, is_mla: bool, sw: SoftwareProfile, modules: tuple[str, ...] = ()
) -> LayerCost:
    """The layer's cost under ``recompute``: a full recompute re-runs the forward (and its TP, CP and EP traffic: the
    ring's exposed key/value passes or the all-gather CP's K/V all-gather, ``cp_fwd_s``, count again); a plain
    selective one what the stack's selective re-runs (perf.selective_policy, by ``sw.selective_reruns``): the
    attention core where no fused kernel keeps it out of memory (Korthikanti et al. 2022, arXiv:2205.05198,
    selective activation recomputation), plus MLA's up-projections and norms (DeepSeek-V3, arXiv:2412.19437,
    section 3.2.3); Megatron-Core's core_attn, fused kernel and CP exchange included; or torchtitan's op policy;
    given Megatron-Core's ``modules``, what those modules re-run (perf.recompute_modules, while its IN_STEP_TIME
    holds; else perf.selective_policy.policy_for's reading). The same arithmetic, in the same order, as before the
    split."""
    fwd_compute = p.fwd_gemm_s + p.fwd_attn_s + p.fwd_elem_s
    extra_tp = extra_ep = 0.0
    if recompute == "selective" and modules and recompute_modules.IN_STEP_TIME:
        rc = recompute_modules.rerun(p.modules, modules)
        recompute_s, recompute_flops, extra_tp, extra_ep = rc.compute_s, rc.flops, rc.tp_s, rc.ep_s
    elif recompute == "full":
        recompute_s, recompute_flops = fwd_compute, p.flops_fwd + p.core_flops
    elif recompute == "selective":  # what the stack's plain selective re-runs (perf.selective_policy)
        plain = selective_policy.plain_rerun(
            selective_policy.policy_for(sw.selective_reruns, modules),
            sw.attention_kernel == "flash",
            is_mla,
            selective_extra_s=p.selective_extra_s,
            mla_selective_s=p.mla_selective_s,
            mla_up_flops=p.mla_up_flops,
            core_flops=p.core_flops,
            core_attn_s=p.modules.core_attn_s,
            core_attn_cp_s=p.modules.core_attn_cp_s,
            fwd_gemm_s=p.fwd_gemm_s,
            fwd_elem_s=p.fwd_elem_s,
            flops_fwd=p.flops_fwd,
            proj_gemm_s=p.proj_gemm_s,
            proj_flops=p.proj_flops,
            shares=p.op_sac,
            tp_gather_s=p.tp_gather_s,
        )
        recompute_s, recompute_flops, extra_tp = plain.compute_s, plain.flops, plain.tp_s
    else:
        recompute_s, recompute_flops = 0.0, 0.0

    model_flops = 3.0 * p.flops_fwd + p.model_core_flops
    hw_flops = 3.0 * p.flops_fwd + p.core_hw_flops + recompute_flops
    return LayerCost(
        fwd_gemm_s=p.fwd_gemm_s,
        fwd_attn_s=p.fwd_attn_s,
        fwd_elem_s=p.fwd_elem_s,
        bwd_gemm_s=p.bwd_gemm_s,
        bwd_attn_s=p.bwd_attn_s,
        bwd_elem_s=p.bwd_elem_s,
        recompute_s=recompute_s,
        tp_comm_s=p.tp_fwd_s
        + p.tp_bwd_s
        + (p.tp_fwd_s + p.cp_fwd_s if recompute == "full" else 0.0)
        + p.cp_fwd_s
        + p.cp_bwd_s
        + extra_tp,
        ep_comm_s=2.0 * p.ep_fwd_s + (p.ep_fwd_s if recompute == "full" else 0.0) + extra_ep,
        model_flops=model_flops,
        hw_flops=hw_flops,
    )


def tp_comm(
    msg: float,
    plan: ResolvedPlan,
    sw: SoftwareProfile,
    comm: CollectiveModel,
    reads_input: dict[str, list[float]],
    blocks: float = 2.0,
) -> tuple[float, float]:
    """Exposed TP communication of one layer: (forward, backward) seconds for an h-wide ``msg`` per block.

    Forward: an all-reduce after each block (sequence parallel: all-gather before, reduce-scatter after).
    Backward: the same traffic, unless the stack launches the input-gradient collective asynchronously
    behind the block's weight-gradient GEMMs (and, with sequence parallelism, re-gathers the input behind
    the data-gradient GEMMs), as Megatron's LinearWithGradAccumulationAndAsyncCommunication does; then only
    the all-gather that is the backward of the output reduce-scatter stays in the open. ``reads_input``
    holds, per block, the [dgrad, wgrad] seconds of the GEMMs that read the block's input.
    """
    if plan.tp <= 1:
        return 0.0, 0.0
    span = span_of(plan.tp, 1, comm.domain)
    if plan.sequence_parallel:
        ag = float(comm.all_gather(msg, span))
        rs = float(comm.reduce_scatter(msg, span))
        one = ag + rs
    else:
        one = ar = float(comm.all_reduce(msg, span))
    bwd = blocks * one
    if sw.tp_async_dgrad:
        bwd = 0.0
        for dgrad, wgrad in reads_input.values():
            if plan.sequence_parallel:
                bwd += ag + max(0.0, ag - dgrad) + max(0.0, rs - wgrad)
            else:
                bwd += max(0.0, ar - wgrad)
    hidden = 1.0 - sw.tp_overlap_fraction
    return blocks * one * hidden, bwd * hidden


def expert_dispatch(
    model: ModelSpec, plan: ResolvedPlan, sw: SoftwareProfile, comm: CollectiveModel, token_bytes: float
) -> float:
    """Seconds of one layer's forward expert-parallel traffic (dispatch, then combine) for the busiest rank,
    whose tokens are ``token_bytes`` wide in all: Megatron's all-to-all moves a copy per routed expert,
    DeepEP one per destination node and rank (perf.routing, fabric.collectives.dispatch)."""
    span = span_of(plan.ep, ep_stride(plan, sw), comm.domain)
    if sw.ep_dispatch == "per-destination":
        ranks, domains = destinations(
            model.moe_experts,
            model.moe_topk,
            plan.ep,
            int(min(span.k, plan.ep)),
            model.moe_router,
            model.moe_node_limit,
        )
        one_way = comm.dispatch(token_bytes, ranks, domains, span)
    else:
        one_way = comm.all_to_all(token_bytes * model.moe_topk, span)
    return float(2.0 * one_way)


def head_cost(
    model: ModelSpec,
    plan: ResolvedPlan,
    seq: int,
    acc: Accelerator,
    comm: CollectiveModel,
    sw: SoftwareProfile,
) -> tuple[float, float, float]:
    """Output head + (vocab-parallel) cross-entropy on the last stage: (fwd_s, bwd_s, model_flops).

    The loss streams the local logits through HBM as many times as the stack's implementation does
    (``ce_fwd_bytes_per_logit`` and ``ce_bwd_bytes_per_logit`` in the software profile). The output head
    multiplies in BF16 whatever the layers use (DeepSeek-V3, arXiv:2412.19437, section 3.3.1; NVFP4
    pretraining, arXiv:2509.25149; Megatron-Core builds the output layer as a plain, non-FP8 linear).
    """
    t = plan.tp
    tok = plan.micro_batch * seq / plan.cp
    fw, bw = linear_fwd_bwd_s(tok, model.vocab / t, model.hidden, acc, "bf16")
    logits = tok * model.vocab / t
    ce_fwd = memory_bound_s(logits * sw.ce_fwd_bytes_per_logit, acc)
    ce_bwd = memory_bound_s(logits * sw.ce_bwd_bytes_per_logit, acc)
    small = comm.all_reduce(tok * 4.0 * 3, span_of(t, 1, comm.domain)) if t > 1 else 0.0
    flops = 3.0 * 2.0 * tok * model.vocab * model.hidden / t
    accumulate = memory_bound_s(model.vocab / t * model.hidden * sw.wgrad_accum_bytes_per_param, acc)
    return fw + ce_fwd + small, bw + ce_bwd + accumulate, flops


def embedding_cost(model: ModelSpec, plan: ResolvedPlan, seq: int, acc: Accelerator, sw: SoftwareProfile) -> float:
    """Embedding lookup and its gradient scatter on the first stage (memory-bound), plus adding the table's
    (vocab-parallel) gradient into the accumulation buffer where the stack does that in a separate pass."""
    tok = plan.micro_batch * seq / plan.cp
    accumulate = model.vocab / plan.tp * model.hidden * sw.wgrad_accum_bytes_per_param
    return memory_bound_s(3.0 * tok * model.hidden * 2.0 + accumulate, acc)
