"""Host synchronisation inside MoE layers: a device-to-host copy that stops the host running ahead of the GPU.

Mechanism. A stack whose host dispatches kernels asynchronously hides its host time behind the GPU's as long as the
host keeps ahead over the whole step: perf.fixed_cost prices that as max(0, k x host_s - gpu_s) per layer (and
nothing for fused stacks, whose host keeps ahead). A synchronisation drains the launch queue: the host waits until
the GPU has run everything queued, and after it the GPU waits for the host to dispatch the next kernels. The host's
lead cannot carry across it, so the host-bound term applies per segment between synchronisations instead of over the
whole layer. With one synchronisation in each MoE layer's forward (and none in the backward, which reuses the split
sizes the forward copied), a layer and micro-batch has two segments, its forward and its backward::

    host_bound = max(0, k_f x host_s - gpu_f) + max(0, k_b x host_s - gpu_b)

against max(0, (k_f + k_b) x host_s - (gpu_f + gpu_b)) without it (k_f, k_b: kernels the forward and the backward
launch, the recomputed forward counted with the backward it runs in; gpu_f, gpu_b: their GPU time). A host-heavy
forward (many small routing and permutation kernels, a short micro-batch) can no longer borrow the lead the host
builds during a GPU-heavy backward. :func:`extra_s` is what the synchronisation adds to perf.fixed_cost's term.

Where in the forward the synchronisation sits. It is not at a segment's edge but inside the MoE block, after the
router (the copy of the token counts that sizes the all-to-all and the grouped GEMM's m_splits: Megatron-Core
token_dispatcher.py at 0d8e071, the core of Megatron-Bridge 25.11, MoEAlltoAllTokenDispatcher calls
``self._maybe_update_cuda_sync_point("before_ep_alltoall")`` dropless, and _HybridEPManager sizes its output with
``self.num_permuted_tokens = self.tokens_per_expert.sum()``, "after permute op, -1 means no up-bound, will cause a
CPU sync"; TEGroupedMLP.forward then reads ``tokens_per_expert = tokens_per_expert.tolist()``). When the host passes
it, the GPU has run everything queued, attention included, and idles until the host launches the next kernel. What
comes next is the dispatch, the experts and the combine, whose launches (per-expert GEMMs, casts and bookkeeping)
are many and whose kernels are short: a launch-bound region whose host time the attention's GPU time, already
spent, cannot hide. The forward is therefore two segments, split at the synchronisation::

    forward = max(0, H_p - g_p) + max(0, H_a - g_a)

with H_p = k_p x host_s + e / 3 the host time after the synchronisation (k_p: :func:`post_sync_kernels`, the
permute and unpermute, FC1, activation, FC2, the forward's third of the all-to-alls and of the per-expert GEMM
launches, the FFN casts in 8-bit) against g_p its GPU time (:func:`post_sync_gpu_s`: the expert GEMMs' share of
the MoE layer's forward GEMM time by FLOPs per token, and the forward all-to-all), and H_a, g_a the rest of the
forward (attention and router: launched while the GPU still runs the attention, so hidden in practice). The cost
then grows with the host work per expert and shrinks only with the experts' own GPU time, not the layer's: on an
H100 (the GPU's 13 ms per layer and micro-batch of Qwen3-30B-A3B) the old whole-forward segment hid the experts'
host time behind the attention; split at the synchronisation it no longer can.

Combined 1F1B (``SoftwareProfile.ep_a2a_overlap``, perf.ep_overlap) moves the synchronisation into the other
micro-batch's backward. Megatron-Core's TransformerLayerSchedulePlan.run (megatron/core/models/common/
model_chunk_schedule_plan.py at 0d8e071) interleaves a forward layer f and a backward layer b as "comm_stream:
combine_bwd | dispatch_fwd->dispatch_bwd | combine_fwd" beside "comp_stream: attn_fwd->post_attn_fwd|
mlp_bwd->mlp_bwd_dw->mlp_fwd| post_attn_bwd->attn_bwd": the host blocks in f's dispatch after launching b's expert
data gradients, and then launches b's expert weight gradients and f's experts with the GPU drained. So the region
after the synchronisation holds the experts' weight-gradient half of the backward as well (as many launches as the
forward's, k_p, and e / 3 of host, against g_p more GPU time), and the rest of the backward keeps its own segment.
NVIDIA's GB200 guide reports the effect ("1F1B AlltoAll overlap is not a free lunch either. It divides the forward
and backward into multiple stages for scheduling, and there is some synchronization between different stages,
which aggravates the CPU overhead, so the overall benefit is negative on the GB200", section 4).

Who synchronises (software profile field ``moe_host_sync``):

- Megatron-Core's all-to-all token dispatcher, dropless: MoEAlltoAllTokenDispatcher.preprocess copies the per-rank
  split sizes to the host (``.to(torch.device("cpu"), non_blocking=True)``) and sets its sync point before the
  all-to-all: "Token dropless and enable ep. A synchronization is needed before expert parallel AlltoAll
  communication to get the `input_splits` and `output_splits` CPU values." (NVIDIA/Megatron-LM,
  megatron/core/transformer/moe/token_dispatcher.py). Only the drop-and-pad mode (``--moe-pad-expert-input-to-
  capacity`` with a capacity factor) knows the sizes statically and skips it.
- Drop-and-pad skips it (:func:`synchronises`): with ``--moe-pad-expert-input-to-capacity`` (software profile field
  ``moe_pad_to_capacity``) and a capacity factor (``ModelSpec.moe_capacity_factor``), MoEAlltoAllTokenDispatcher.
  preprocess takes its first branch, ``if self.drop_and_pad:``, sizes every expert's input on the host
  (``torch.full((self.num_local_experts,), self.capacity * self.tp_size * self.ep_size, ...)``) and returns before
  any ``_maybe_update_cuda_sync_point`` call, so ``self.cuda_sync_point`` keeps its initial ``"no_sync"``
  (NVIDIA/Megatron-LM megatron/core/transformer/moe/token_dispatcher.py at 0014f137). Dropping without padding
  still synchronises there ("Drop tokens to capacity, no padding." ... "A synchronization is needed before the
  first permutation to get the `num_out_tokens` CPU value."). Megatron-Bridge's token-drop switch sets both
  (src/megatron/bridge/training/utils/moe_token_drop.py: ``apply_moe_token_drop(model_provider,
  moe_expert_capacity_factor: float = 1.0, moe_pad_expert_input_to_capacity: bool = True)``), and its 25.09
  performance scripts apply it to every Qwen3 run (scripts/performance/run_script.py at v0.1.0rc4, the qwen3
  30b_a3b and 235b_a22b branches: ``recipe.model = apply_moe_token_drop(recipe.model)``): the "(tokendrop)" rows
  of the performance summary's 25.09 tables, profile megatron-bridge-droppad-2025. Transformer Engine CUDA graphs
  of the ``attn``, ``moe_router`` and ``moe_preprocess`` scopes (the recipes' "dropless MoE" setting,
  Megatron-Bridge docs training/cuda-graphs) are not taken to remove it: the dispatch that waits for the counts
  and the experts after it are outside those scopes and stay eager.
  Verdict at the time of landing (validate all, 744 -> 750 rows): no bundled row before them set the flag, so every
  other prediction is unchanged; the six 25.09 rows read +7.8% to +37.2% (model too fast; MAPE 20.8%) without the sync,
  against -63.6% to +10.6% (MAPE 19.4%) were it charged. The pairs with the 25.11 dropless rows of the same layout
  measure what dropless costs: Qwen3-30B-A3B on 16 H100s (tp 1, pp 2, vpp 24, ep 8, micro-batch 2) 10,494 -> 5,275
  tokens/s/GPU, on 8 B200s (micro-batch 1) 18,066 (FP8) -> 9,299 (MXFP8); the segmented term gives the first 6% (the
  GPU's 13 ms per layer and micro-batch hides the host) and the second 73%: the dropless cost is priced neither by size
  nor by where it binds, and even without the sync these rows run slower than the step model.
- Megatron-Core's flex dispatcher over DeepEP or HybridEP keeps one: NVIDIA's DeepSeek-V3 GB200 guide (Megatron-LM
  docs/discussions/deepseek-v3-gb200-optimization, section 3.1, with DeepEP and HybridEP) names as future work "to
  eliminate the device-host sync in the MoE model (its purpose is to get the tokens per expert information)".
- Checked at each later stack's own commit (issue 15), the flex dispatcher still synchronises wherever a bundled row
  runs it dropless, partial CUDA graphs or not. The Megatron-MoE-ModelZoo's GB200/GB300 Qwen3-235B rows (HybridEP,
  committed 2026-05-13; their MXFP8 command needs Megatron-LM PR 3219, merged to dev as 0c306dcd63 on 2026-03-30)
  pass no capacity: at 0c306dcd63 _HybridEPManager.__init__ reads "after permute op, None means no up-bound, will
  cause a CPU sync" and dispatch() then sets ``self.num_permuted_tokens = self.tokens_per_expert.sum()``, and
  fused_a2a.hybrid_ep_dispatch says of num_permuted_tokens "If not provided, HybridEP obtains the size from a GPU
  tensor, which causes a D2H synchronization"; TEGroupedMLP and SequentialMLP still call
  ``tokens_per_expert.tolist()``. Their ``--cuda-graph-scope attn moe_router moe_preprocess`` captures
  MoELayer.route and MoELayer.preprocess only (moe_layer.py: ``@maybe_skip_or_early_return_by_cudagraph
  ("preprocess")`` on preprocess, whose body is ``self.token_dispatcher.dispatch_preprocess``); self.dispatch, which
  holds the copy, and routed_experts_compute stay eager. Megatron-Bridge 26.04.01 (406d3be) forces the
  grouped-MLP path that copies ("recipe.model.use_transformer_engine_op_fuser = False",
  scripts/performance/utils/overrides.py) and sets no capacity. The first bundled stack without the copy is
  Megatron-Bridge 26.06's DeepSeek-V3 MXFP8 recipe on GB300: a full-iteration CUDA graph with a static HybridEP
  token budget (profile megatron-bridge-fullgraph-2026, ``moe_host_sync: false``, quoted in software.yaml); on
  its two rows the term was already zero (8 local experts whose GPU time hides the host's), so their -23% lies
  elsewhere. Of the Blackwell and ModelZoo rows that read slow, the term is non-zero only on the ModelZoo GB200
  BF16 row (16 local BF16 experts: -33.6% with it, -1.9% without) and on the B200 and 8-GPU Qwen3-30B-A3B rows,
  where it is needed (Megatron-Bridge 25.11 B200 Qwen3-30B-A3B: -25.6% with it, +154% without).

Constants.

- host_s: perf.fixed_cost.EAGER_HOST_S (10 us per launch, assumption there; measured 7.8 us per tiny eager operator
  and 8.6 us with autograd on the H200 lease's host, calibration/h200-sxm-141gb-2026-11-30.moe-check.json). A fused
  stack launches fewer kernels, but each still leaves Python through PyTorch (TE modules, torch.empty, the launch):
  the GB200 guide's router fusion (72 -> 31 router kernels, 529.55 -> 540.00 TFLOPS on 256 GB200s, TP1 PP8 EP32,
  micro-batch 1, 2,048 sequences of 4,096) saves 0.3-0.45 s of a 16-23 s step, over 41 kernels x 7.25 MoE layers x
  64 micro-batches per GPU: 8-23 us per removed launch on Grace, the same order; so the same host_s serves both.
- Kernel counts: perf.fixed_cost.kernels_per_layer (forward share from perf.fixed_cost.forward_kernels).
- e, the per-expert host work the counts miss: :data:`HOST_PER_LOCAL_EXPERT_S` x local experts per MoE layer and
  micro-batch, shared between forward and backward as the expert GEMMs (1/3, 2/3). The GB200 guide (section 2)
  finds "Before the GEMM in the Expert part, there are a large number of small, fragmented kernels": per expert and
  operand, the torch.zeros that allocate MXFP8 scaling factors and the kernels that swizzle them, plus "a few
  microseconds of overhead on the host side" per PyTorch call; it expects a larger EP to cut them ("a large EP can
  reduce the number of local experts, thereby reducing quantization and other overheads", section 3.1), hence per
  local expert. Its ablations bound the size (same step arithmetic as above, DeepSeek-V3, 8 local experts, 464 MoE
  layer-micro-batches per GPU): fusing the swizzles (762.12 -> 797.67 TFLOPS, with PDL) saved about 1.5 ms per
  MoE layer and micro-batch, 190 us per local expert; fusing the torch.zeros with the permute rewrite (494.46 ->
  529.55) 3.5 ms, 440 us per local expert (the permute rewrite saves some GPU time too); together about 630 us
  per local expert, +-20% with the step's FLOP count (perf.conventions.megatron_flops, 372 GFLOP per token).
  The constant is that sum, 630 us, taken from the guide rather than fitted. scripts/host_sync_protocol.py checks
  it over a grid of 0-1,200 us (all rows, leave one document out; benchmarks/results/host_sync_protocol.json): with
  the forward split at the synchronisation its in-sample minimum is 600 us (7.934% against 7.959% at 700 and
  8.512% without the term), held out the ModelZoo document picks 700 and the Megatron-Bridge document 500, and the
  leave-one-document-out MAPE is 8.00% against 8.51% without. It was 700 us, fitted on the unsplit forward, which
  hid part of it behind the attention. With 8-bit experts alone paying it the term does not generalise (held out,
  the Megatron-Bridge document's rows pick 0), so every precision pays it (a 16-bit grouped linear still splits,
  launches and synchronises its streams per expert). Uncertainty: 500-700 us (the held-out picks); the guide's
  later fusions (TE 2.8+, the 26.04 containers) and CUDA-graphed scopes (``--cuda-graph-scope``: attention, router,
  preprocess and shared experts only, since "In Dropless MoE models, routed experts are dynamic while attention,
  router, EP preprocess, and shared experts remain static", section 2.3) remove part of it, which the term does
  not yet distinguish.

Check against a measurement (tests/test_host_sync.py): the lead's H200 run of a Qwen3-MoE-style eager decoder (4
layers of 128 experts, top-8) with and without a host copy of the expert counts per layer
(calibration/h200-sxm-141gb-2026-11-30.moe-sync-check.json): 60.0 -> 66.2 ms at 1,024 tokens, nothing measurable at
2,048 and 4,096 (noise about +-2 ms). The forward of that decoder's block calls 129 PyTorch functions and its
backward runs 106 operators (counted with a TorchFunctionMode and a TorchDispatchMode on calibrate.moe_groundtruth's
block, CPU, host_sync on); at 8.67 us each that is 1.12 ms of host per layer forward and 0.92 ms backward, against
the step model's 0.64 ms of GPU forward of 2.43 ms per layer at 1,024 tokens (1.03 of 3.66 at 2,048, 2.04 of 6.93 at
4,096): unsynchronised the layer hides its host, as measured; synchronised, 4 x 0.48 = 1.9 ms added at 1,024, 0.4
ms at 2,048, none at 4,096. The mechanism gives the sign and the vanishing with size; it explains about a third of
the 1,024-token cost (the rest is the order of the kernels inside a segment: the host-only routing ops right after
the copy expose their whole host time, which a per-segment total cannot see). That eager run has no per-expert
loop (one grouped kernel), so e does not enter it.

Verdict at landing (scripts/host_sync_protocol.py): all rows 10.84% -> 10.38% in sample, leave one document out
10.84% -> 10.49% (the harness's leave-one-source-out column 11.26% -> 10.88%); published set unchanged (3.57%, LOSO
3.80%); MoE groups BF16 15.0% -> 14.7%, FP8 17.1% -> 16.3%, MXFP8 25.8% -> 15.2%. It lands (:data:`IN_STEP_TIME`).

Verdict of the split at the synchronisation (validate all, 750 rows, 749 predicted; before: the unsplit forward with
the fitted 700 us; after: the split, combined 1F1B and the guide's 630 us): all rows 8.17% -> 7.93% (leave-one-source-
out column 8.27% -> 8.19%, mean signed error +1.1% -> +0.7%); published set unchanged (3.60%, LOSO 3.73%); dense
groups unchanged; MoE BF16 12.42% -> 11.51% (signed +7.2 -> +5.4), FP8 16.21% -> 13.39% (+15.2 -> +11.1), MXFP8
11.51% -> 12.05% (-9.2 -> -9.6); bands < 256 8.87 -> 8.67 (signed -0.1 -> -0.4), 256-2,047 7.98 -> 7.69 (+2.1 ->
+1.3), 2,048-16,383 6.14 -> 5.91 (+3.2 -> +2.9); source tables above 12%: 35 -> 32. Megatron-Bridge Qwen3-30B-A3B
25.11: H100 FP8 +132% -> +103%, B200 MXFP8 -29% -> -23%; Qwen3-235B-A22B H100 FP8 25.11 +25% -> -5%, 26.04
+17% -> -12%; MoE Parallel Folding Table 3 6.9% -> 4.4%; worse: Megatron-Bridge DeepSeek-V3 on B200 (26.04) 13.1%
-> 22.5%, DGX Cloud DeepSeek-V3 H100 table 3.0% -> 10.7%. What it does not explain: the 25.11 H100 30B-A3B run
costs 16 ms more per layer and micro-batch than the 25.09 drop-and-pad run of the same layout (12.49 -> 24.85 s a
step), against 4.5 ms on B200 (14.51 -> 28.19 s): about the GPU time of each (16.3 and 4.7 ms per layer and
micro-batch), not a host time, which the same software and kernel counts make about equal on both hosts; and the
ModelZoo GB200 BF16 4K row (-31%) reads as if its BF16 experts paid little per-expert host time, though the
guide's partial CUDA graphs leave the routed experts eager.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from supercluster.perf import fixed_cost
from supercluster.specs import ModelSpec, SoftwareProfile

# The accuracy protocol's verdict (scripts/host_sync_protocol.py); the term is in the step time only while True.
IN_STEP_TIME = True
# host seconds per launch for every stack (see the module docstring)
HOST_S = fixed_cost.EAGER_HOST_S
# PyTorch functions the forward of calibrate.moe_groundtruth's MoE block calls (host_sync on), counted with a
# TorchFunctionMode on CPU: the H200 check's host per layer forward (tests/test_host_sync.py)
EAGER_MOE_BLOCK_FWD_CALLS = 129
# operators its backward runs from autograd's engine (aten operators, counted with a TorchDispatchMode, views left out)
EAGER_MOE_BLOCK_BWD_OPS = 106
# Host seconds per local expert, MoE layer and micro-batch that the kernel counts miss (per-expert quantisation,
# scale allocation and swizzles, split and stream bookkeeping of a grouped linear that runs one GEMM per expert):
# what the DeepSeek-V3 GB200 guide's two expert-part fusions saved, 190 + 440 us per local expert (module docstring;
# tests/test_host_sync.py redoes the arithmetic); scripts/host_sync_protocol.py checks it (its grid minimum: 600 us)
HOST_PER_LOCAL_EXPERT_S = 630e-6
# whether 16-bit experts pay it too (the protocol tries both; the GB200 guide names 8-bit quantisation as its source)
EXPERT_HOST_BF16 = True
# launches of the MoE forward after the synchronisation besides the all-to-alls, the per-expert GEMMs and the casts
# (fused stack): permute, unpermute, FC1, activation, FC2
POST_SYNC_FWD_KERNELS = 5


def synchronises(sw: SoftwareProfile, model: ModelSpec) -> bool:
    """Whether each MoE layer's forward waits for a host copy of its token counts: the stack's dispatcher does
    (``sw.moe_host_sync``) unless the recipe drops and pads to a capacity (``sw.moe_pad_to_capacity`` with a
    ``model.moe_capacity_factor``), whose all-to-all sizes are known on the host in advance (module docstring:
    Megatron-Core's ``drop_and_pad`` branch sets no sync point). Padding without a capacity factor is not a
    configuration Megatron-Core accepts (``assert self.config.moe_expert_capacity_factor is not None``), so it
    keeps the sync."""
    if not (model.is_moe and sw.moe_host_sync):
        return False
    return not (sw.moe_pad_to_capacity and model.moe_capacity_factor is not None)


def segmented_host_s(
    kernels_fwd: Any,
    kernels: Any,
    gpu_fwd_s: Any,
    gpu_s: Any,
    expert_host_s: Any = 0.0,
    host_s: float = HOST_S,
    kernels_post: Any = 0.0,
    gpu_post_s: Any = 0.0,
    combined_1f1b: bool = False,
) -> Any:
    """Host-bound seconds of one layer and micro-batch with a synchronisation in its forward:
    max(0, H_p - g_p) + max(0, H_a - g_a) + max(0, H_b - g_b), with H_p = k_p h + e / 3 the host time of the
    forward after the synchronisation (the dispatch, the experts and the combine: ``kernels_post`` launches and the
    forward's third of the per-expert work e, :func:`expert_host_s`) against g_p their GPU time (``gpu_post_s``),
    H_a = (k_f - k_p) h the rest of the forward (attention and router, launched behind the GPU-heavy attention)
    against g_a = g_f - g_p, and H_b = (k - k_f) h + 2 e / 3 against the backward's g_b = g - g_f (no
    synchronisation there). With k_p = g_p = 0 it is the forward and backward segments alone.

    ``combined_1f1b``: the layer's forward runs beside another micro-batch's backward (module docstring): the
    experts' weight-gradient half of the backward (k_p launches, e / 3 of host, g_p of GPU) joins the region after
    the synchronisation, and the rest of the backward (its data-gradient half launched before it, the attention
    backward after) stays a segment of its own."""
    k_f, k = np.asarray(kernels_fwd, dtype=float), np.asarray(kernels, dtype=float)
    g_f, g = np.asarray(gpu_fwd_s, dtype=float), np.asarray(gpu_s, dtype=float)
    k_p, g_p = np.asarray(kernels_post, dtype=float), np.asarray(gpu_post_s, dtype=float)
    e = np.asarray(expert_host_s, dtype=float)
    joined = 1.0 if combined_1f1b else 0.0
    h_p = (1.0 + joined) * (k_p * host_s + e / 3.0)
    h_a = (k_f - k_p) * host_s
    h_b = (k - k_f - joined * k_p) * host_s + (2.0 - joined) * e / 3.0
    post = np.maximum(0.0, h_p - (1.0 + joined) * g_p)
    rest = np.maximum(0.0, h_a - (g_f - g_p))
    return post + rest + np.maximum(0.0, h_b - (g - g_f - joined * g_p))


def post_sync_kernels(fp8: Any, moe_share: float, expert_loop: float, ep_collectives: float) -> Any:
    """Launches of a (mean) layer's forward after the synchronisation (perf.fixed_cost's counts): the permute and
    unpermute, the expert FFN's FC1, activation and FC2 (:data:`POST_SYNC_FWD_KERNELS`), the forward's third of
    the all-to-alls and of the per-expert GEMM launches, and the casts of the two FFN GEMM inputs when 8-bit."""
    casts = fixed_cost.pick(fp8, fixed_cost.FP8_EXTRA_KERNELS / 4.0, 0.0)
    return moe_share * (POST_SYNC_FWD_KERNELS + expert_loop / 3.0 + ep_collectives / 3.0 + casts)


def post_sync_gpu_s(model: ModelSpec, moe: Any, full_recompute: bool) -> float:
    """GPU seconds of an MoE layer's forward after the synchronisation: the expert GEMMs' share of its forward GEMM
    time (routed and shared experts' weights over those and the attention projections and router, by FLOPs per
    token) and its forward all-to-alls (``moe.ep_comm_s`` counts the forward, the backward and, under full
    recompute, the forward again, each alike: perf.layer)."""
    experts = (model.moe_topk + model.moe_shared_experts) * model.expert_params
    gemm_share = experts / (experts + model.attention_params + model.hidden * model.moe_experts)
    return moe.fwd_gemm_s * gemm_share + float(forward_a2a_s(moe.ep_comm_s, full_recompute))


def forward_a2a_s(ep_comm_s: Any, full_recompute: Any) -> Any:
    """The forward's share of a layer's all-to-all seconds: ``ep_comm_s`` counts the forward, the backward and,
    under full recompute, the forward again, each alike (perf.layer), so a half, or a third under full recompute.
    Both the post-synchronisation segment (:func:`post_sync_gpu_s`) and the whole forward's GPU time that
    :func:`extra_s` is handed (perf.batch) hold it, so the attention-and-router segment, their difference, holds
    none of it."""
    return np.asarray(ep_comm_s, dtype=float) / np.where(np.asarray(full_recompute, dtype=bool), 3.0, 2.0)


def expert_host_s(local_experts: float, moe_share: float, precision: str) -> float:
    """Host seconds per (mean) layer and micro-batch of the per-expert work that perf.fixed_cost does not count:
    local experts x :data:`HOST_PER_LOCAL_EXPERT_S`, on the MoE share of the layers (8-bit only unless
    :data:`EXPERT_HOST_BF16`)."""
    if not (precision in ("fp8", "mxfp8") or EXPERT_HOST_BF16):
        return 0.0
    return moe_share * local_experts * HOST_PER_LOCAL_EXPERT_S


def extra_s(
    kernels_fwd: Any,
    kernels: Any,
    gpu_fwd_s: Any,
    gpu_s: Any,
    fused: bool,
    expert_s: Any = 0.0,
    kernels_post: Any = 0.0,
    gpu_post_s: Any = 0.0,
    combined_1f1b: bool = False,
) -> Any:
    """What the synchronisation adds to perf.fixed_cost.layer_fixed_s's host term (eager: max(0, k h - g); fused:
    none) for one layer and micro-batch."""
    k, g = np.asarray(kernels, dtype=float), np.asarray(gpu_s, dtype=float)
    priced = 0.0 if fused else np.maximum(0.0, k * fixed_cost.EAGER_HOST_S - g)
    seg = segmented_host_s(
        kernels_fwd, kernels, gpu_fwd_s, gpu_s, expert_s, HOST_S, kernels_post, gpu_post_s, combined_1f1b
    )
    return seg - priced
