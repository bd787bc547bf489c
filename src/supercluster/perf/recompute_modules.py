"""Megatron-Core's selective recompute by module (``--recompute-granularity selective --recompute-modules ...``).

Since 2025 Megatron-Core's selective recompute is a list of modules (TransformerConfig.recompute_modules; the
plan's ``recompute_modules``). What each re-runs in the backward, read at NVIDIA/Megatron-LM 1e057005 (2025-05-24,
the main the ModelZoo Qwen3 runs cite; the later 2025-2026 code keeps the same checkpoints):

* ``core_attn`` (transformer/attention.py ``_checkpointed_attention_forward``: ``tensor_parallel.checkpoint`` of
  ``self.core_attention``): the attention core's forward, whatever kernel runs it, so a fused (flash) kernel is
  re-run too, with the context-parallel K/V exchange that lives inside it (Transformer Engine's
  DotProductAttention). Priced as the layer's attention forward plus its exposed CP forward traffic.
* ``layernorm`` (transformer/transformer_layer.py: ``recompute_input_layernorm`` / ``recompute_pre_mlp_layernorm``,
  ``CheckpointWithoutOutput`` of each norm "if not isinstance(..., IdentityOp)"): only norms that are modules of
  their own. Megatron's Transformer Engine layer spec (models/gpt/gpt_layer_specs.py) fuses the input norm into
  ``TELayerNormColumnParallelLinear`` (IdentityOp) except under MLA (``input_layernorm=TENorm``), and builds
  ``pre_mlp_layernorm=TENorm if num_experts else IdentityOp``: so one norm per MoE layer, one more under MLA, none
  in a dense non-MLA layer. A norm's forward streams its h-wide input and output once: 2 B + 2 B per element fused
  (perf.layer H_PASSES counts two such passes per norm), 36 B eager (perf.layer H_PASSES_EAGER: 18 two-byte
  passes per RMSNorm).
* ``mla_up_proj`` (transformer/multi_latent_attention.py ``qkv_up_proj_and_rope_apply`` under
  ``CheckpointWithoutOutput``): the query and key-value up-projections and the RoPE applied to their rotary part
  (the heads' qk_rope_head_dim slice of q and the shared k_pe): the up-projection GEMMs of perf.layer plus
  perf.layer ROPE_BYTES per rotary element.
* ``mlp`` (transformer_layer.py ``recompute_mlp`` only "if not isinstance(self.mlp, MoELayer)",
  ``tensor_parallel.checkpoint(self.mlp, ...)``): a dense layer's MLP forward, its two GEMMs, the activation and
  the MLP block's tensor-parallel collectives (the sequence-parallel all-gather before fc1 and reduce-scatter after
  fc2 are inside the module). Nothing in a MoE layer.
* ``moe`` (transformer/moe/moe_layer.py ``custom_forward`` under ``tensor_parallel.checkpoint`` when
  ``moe_layer_recompute``): router, ``token_dispatcher.token_permutation`` (permute and the dispatch all-to-all),
  the experts, ``token_unpermutation`` (the combine all-to-all and unpermute) and the shared experts: the MoE
  block's whole forward, its GEMMs, its element-wise and routing kernels (perf.moe_kernels, fp8_pad, fp8_scaling,
  unfused expert biases), its expert-parallel traffic again (booked as EP communication, as under full recompute)
  and the block's tensor-parallel collectives. It contains ``moe_act`` and ``shared_experts``: they are not added
  twice.
* ``moe_act`` (transformer/moe/experts.py TEGroupedMLP: ``bias_act_func`` under ``CheckpointWithoutOutput``): the
  experts' activation (SwiGLU weighted by the routing probabilities) on the busiest rank's routed copies, perf.layer
  GATED_ACT_BYTES per element of the f-wide output.
* ``shared_experts`` (later Megatron-Core, transformer_config.py: "recompute the shared experts in the MoE layer",
  normal checkpointing): the shared experts' GEMMs and activation.

The re-run adds to the backward only (the recompute term); nothing here changes the forward, the backward or the
held activations (what each module discards from memory is perf.selective_memory's, priced whatever
IN_STEP_TIME says: the tensors are gone whether or not the step time books their re-run). The re-run's kernels are
added to the layer's count (perf.fixed_cost, :func:`rerun_kernels`), and a re-run MoE block's all-to-alls count as
the forward's a third time, as under full recompute (perf.host_sync); the host
synchronisation inside the re-run MoE block is not counted again.

Verdict (validate all on main 593eaa6, 750 rows; the 19 rows whose source then stated their modules, listed with
their quotes in validate/data/recompute_modules.csv; the recipe audit of 1299c46 has since changed that list,
tests/test_recompute_audit.py, and the verdict was not re-run): with the rows' modules but this term off (the plain
selective pricing) all rows 7.441% MAPE, LOSO column 7.8354%; with the re-run priced, 7.465% and 7.8358%: the
whole-set LOSO rises (by 0.0004 points), so ``IN_STEP_TIME`` is False and the plan field prices ``selective`` as
before. Where it moves: ModelZoo Qwen3-235B H100 long-context table (``layernorm moe``, 8 rows, already too slow)
21.48% -> 24.26% (mean speed error -17.0% -> -23.1%: 16K forced-balance -5.0% -> -15.8%, 16K dropless +18.0% ->
+4.6%, 128K forced-balance -38.3% -> -40.0%); BF16 MoE group 11.05% -> 11.21% (+5.7% -> +5.3%); band 256-2,047 7.07%
-> 7.14% (+0.92% -> +0.77%); Megatron-Bridge 26.04.01 GPT-OSS 120B GB200 31.9% -> 30.7% and B200 29.1% -> 28.1%,
25.11 H100 7.9% -> 7.0% (``layernorm moe_act`` then; the audit found that the 25.11 recipe sets no recompute
granularity, so Megatron-Core leaves its listed modules inert, and the row now runs recompute none); DeepSeek-V3
GB200 MXFP8 (``mlp moe_act`` in place of MLA's up-projections and norms) -0.2% -> +0.7%. Host-bound MoE layers
(perf.host_sync) hide much of a re-run's GPU time under the host's launches, and a longer layer can move the
pipeline split, so a few rows barely move (ModelZoo H100 A2A-overlap and pp32 rows: -19.0% -> -18.8%, -15.2% ->
-15.0%). The physics is Megatron's; the H100 long-context rows are too slow for reasons of their own and the re-run
of the MoE block makes them slower still, which is why the set reads worse.
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.perf.gemm import memory_bound_s
from supercluster.specs import Accelerator
from supercluster.specs.plan import RECOMPUTE_MODULES

IN_STEP_TIME = False  # the verdict above: the whole-set LOSO rises with it

# Bytes a norm's forward moves per element of its h-wide input: read 2 + write 2 fused; eager PyTorch's fp32
# RMSNorm 36 (perf.layer H_PASSES_EAGER: 18 two-byte passes per norm)
NORM_BYTES = {True: 4.0, False: 36.0}


@dataclass(frozen=True, slots=True)
class ModuleForward:
    """Forward seconds (and FLOPs) of what each recompute module re-runs in one layer on one GPU, one micro-batch."""

    core_attn_s: float = 0.0
    core_attn_cp_s: float = 0.0  # exposed context-parallel exchange inside the attention core
    core_attn_flops: float = 0.0
    layernorm_s: float = 0.0
    mla_up_proj_s: float = 0.0
    mla_up_proj_flops: float = 0.0
    mlp_s: float = 0.0
    mlp_tp_s: float = 0.0  # the MLP block's exposed TP collectives (dense layer)
    mlp_flops: float = 0.0
    moe_s: float = 0.0  # the MoE block's compute, moe_act and shared experts included
    moe_tp_s: float = 0.0  # the MoE block's exposed TP collectives (shared experts, expert TP outside the dispatch)
    moe_ep_s: float = 0.0  # dispatch and combine (and the dispatcher's expert-TP collectives)
    moe_flops: float = 0.0
    moe_act_s: float = 0.0
    shared_experts_s: float = 0.0
    shared_experts_flops: float = 0.0


NOTHING = ModuleForward()  # a layer none of whose modules re-run anything


@dataclass(frozen=True, slots=True)
class Rerun:
    """What a module list re-runs in the backward: compute seconds, TP/CP and EP traffic seconds, FLOPs."""

    compute_s: float
    tp_s: float
    ep_s: float
    flops: float


def norm_s(tokens: float, hidden: int, norms: int, fused: bool, acc: Accelerator) -> float:
    """Forward seconds of ``norms`` stand-alone norms over ``tokens`` x ``hidden`` bf16 activations: NORM_BYTES per
    element each (read the input, write the output), memory-bound."""
    return memory_bound_s(norms * tokens * hidden * NORM_BYTES[fused], acc)


def separate_norms(is_mla: bool, moe: bool) -> int:
    """Norms of a layer that are modules of their own in Megatron-Core's Transformer Engine layer spec, and so what
    ``layernorm`` re-runs: the input norm under MLA (TENorm; fused into the QKV linear otherwise), the pre-MLP norm
    in a MoE layer (TENorm; fused into fc1 in a dense layer)."""
    return int(is_mla) + int(moe)


def elementwise_s(elements: float, bytes_per_element: float, acc: Accelerator) -> float:
    """Forward seconds of a memory-bound element-wise op moving ``bytes_per_element`` per output element."""
    return memory_bound_s(elements * bytes_per_element, acc)


# Each module's share of ModuleForward: (compute seconds, TP/CP seconds, EP seconds, FLOPs) field names, None where
# the module has none of that kind
_PARTS: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "core_attn": ("core_attn_s", "core_attn_cp_s", None, "core_attn_flops"),
    "layernorm": ("layernorm_s", None, None, None),
    "mla_up_proj": ("mla_up_proj_s", None, None, "mla_up_proj_flops"),
    "mlp": ("mlp_s", "mlp_tp_s", None, "mlp_flops"),
    "moe": ("moe_s", "moe_tp_s", "moe_ep_s", "moe_flops"),
    "moe_act": ("moe_act_s", None, None, None),
    "shared_experts": ("shared_experts_s", None, None, "shared_experts_flops"),
}
# the modules a re-run of the whole MoE block already holds
_INSIDE_MOE = ("moe_act", "shared_experts")


def rerun(fw: ModuleForward, modules: tuple[str, ...]) -> Rerun:
    """Sum the re-run of ``modules`` (names of specs.plan.RECOMPUTE_MODULES) from one layer's ``fw``. ``moe`` holds
    ``moe_act`` and ``shared_experts``; the other modules are disjoint pieces of the layer."""
    chosen = set(modules)
    if "moe" in chosen:
        chosen -= set(_INSIDE_MOE)
    sums = [0.0, 0.0, 0.0, 0.0]
    for name in _PARTS:  # in a fixed order, so the sum does not depend on the set's iteration order
        if name in chosen:
            for i, field in enumerate(_PARTS[name]):
                if field is not None:
                    sums[i] += getattr(fw, field)
    return Rerun(compute_s=sums[0], tp_s=sums[1], ep_s=sums[2], flops=sums[3])


def reruns_dispatch(modules: tuple[str, ...]) -> bool:
    """Whether the re-run holds the MoE block's dispatch and combine (``moe`` priced): then a layer's EP seconds count
    the forward three times, as under full recompute (perf.host_sync.forward_a2a_s)."""
    return IN_STEP_TIME and "moe" in modules


# Kernels each module's re-run launches (perf.fixed_cost's counts of a fused layer): a norm 1, the expert
# activation 1, the attention core 1, MLA's two up-projections and the RoPE on q and k 4, a dense MLP's fc1,
# activation and fc2 3 (plus the block's TP collectives, a quarter of a layer's), the shared experts 3, the MoE block
# fixed_cost.MOE_FWD_EXTRA (router, top-k, permute, unpermute) + its two grouped GEMMs and activation + the
# shared experts + the forward's third of an expert loop and of the all-to-alls.
def rerun_kernels(
    modules: tuple[str, ...],
    is_mla: bool,
    moe_share: float,
    tp_collectives: float,
    expert_loop: float,
    ep_collectives: float,
    shared_experts: int,
) -> float:
    """Kernels the re-run of ``modules`` launches per (mean) layer and micro-batch; 0 while the term is off."""
    if not IN_STEP_TIME:
        return 0.0
    chosen = set(modules)
    shared = 3.0 if shared_experts else 0.0
    k = 0.0
    if "core_attn" in chosen:
        k += 1.0
    if "layernorm" in chosen:
        k += float(is_mla) + moe_share
    if "mla_up_proj" in chosen and is_mla:
        k += 4.0
    if "mlp" in chosen:
        k += (1.0 - moe_share) * (3.0 + tp_collectives / 4.0)
    if "moe" in chosen:
        k += moe_share * (4.0 + 3.0 + shared + expert_loop / 3.0 + ep_collectives / 3.0 + tp_collectives / 4.0)
    else:
        k += moe_share * ((1.0 if "moe_act" in chosen else 0.0) + (shared if "shared_experts" in chosen else 0.0))
    return k


_BITS = RECOMPUTE_MODULES


def mask_of(modules: tuple[str, ...]) -> int:
    """The modules as a bit mask (how the batch evaluator's candidate arrays carry them)."""
    return sum(1 << _BITS.index(m) for m in set(modules))


def modules_of(mask: int) -> tuple[str, ...]:
    """The sorted module names of a bit mask (:func:`mask_of` inverted)."""
    return tuple(sorted(m for i, m in enumerate(_BITS) if mask >> i & 1))
