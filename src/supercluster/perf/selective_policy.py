"""What a plain ``selective`` recompute (no module list) re-runs in the backward, by stack.

"Selective" names different things in different stacks; the software profile says which
(``SoftwareProfile.selective_reruns``):

* ``unfused-core``: the attention core where its score matrix is materialized (QK^T, softmax, dropout, AV), and
  nothing of it under a fused kernel, which never stores the scores (Korthikanti et al. 2022, arXiv:2205.05198,
  section 5, "selective activation recomputation"); under multi-head latent attention also the norms and the
  up-projections (DeepSeek-V3, arXiv:2412.19437, section 3.2.3: "we recompute all RMSNorm operations and MLA
  up-projections during back-propagation"). The profiles' default: the model's behaviour before this module.
* ``core-attn``: Megatron-Core. Its TransformerConfig defaults ``recompute_modules`` to ``['core_attn']``
  (NVIDIA/Megatron-LM 7094270, 2025-05-23, megatron/core/transformer/transformer_config.py: "if
  self.recompute_modules is None: self.recompute_modules = ['core_attn']"; the docstring: "default:
  ["core_attn"]. "core_attn": recompute the core attention part of the transformer layer"), and the attention
  checkpoints its core whatever kernel runs it (transformer/attention.py: "self.checkpoint_core_attention =
  (self.config.recompute_granularity == 'selective' and "core_attn" in self.config.recompute_modules)", then
  ``_checkpointed_attention_forward``: "tensor_parallel.checkpoint(custom_forward, False, query, key, value, ...)"
  around "self.core_attention(query, key, value, ...)", Transformer Engine's DotProductAttention, a flash kernel
  included, with the context-parallel K/V exchange inside it). Before the module list (f1f03922, October 2024) the
  same attention read "self.checkpoint_core_attention = self.config.recompute_granularity == 'selective'". Under
  MLA (multi_latent_attention.py) the same core checkpoint applies and the up-projections re-run only with
  ``mla_up_proj`` ("self.recompute_up_proj = ... and "mla_up_proj" in self.config.recompute_modules"), so a plain
  selective re-runs the attention core alone. NeMo 2.0 and Megatron-Bridge recipes pass ``recompute_granularity``
  to the same TransformerConfig. Priced as perf.recompute_modules prices ``core_attn``: the layer's attention
  forward and its exposed CP forward traffic.
* ``op-sac``: torchtitan's default op-level selective AC (train_configs/llama3_8b.toml at 9dec370, December 2024:
  "mode = 'selective'", "selective_ac_option = 'op'"). torchtitan/parallelisms/parallelize_llama.py at 9dec370
  saves the outputs of the ops in ``_save_list`` (aten.mm, aten._scaled_dot_product_efficient_attention,
  aten._scaled_dot_product_flash_attention, _c10d_functional.reduce_scatter_tensor, aten.abs, aten.max) "except
  every second mm" ("to_save = func in _save_list and not (func == torch.ops.aten.mm.default and
  meta[mm_count_key] % 2 == 0)"), and every other op is PREFER_RECOMPUTE; the count runs over one transformer
  block's forward. So the flash attention core is not re-run, and the backward re-runs: the mm at the even places
  of the block's forward order (Llama: wq, wk, wv, wo, w1, w3, w2, so wk, wo and w3), every element-wise op (norms,
  rotary, SiLU and gate, residual adds; FP8 casts), the TP all-gathers (not in the list; the reduce-scatters are),
  and a materialized attention core (its bmm and softmax are not in the list). torchao's Float8Linear reaches the
  policy as aten.mm on float8 tensor subclasses (the mode sees the op before the subclass turns it into
  _scaled_mm), so FP8 runs re-run the same matmuls (uncertainty: under torch.compile the policy is applied to
  the traced graph, where the subclass may already be desugared to _scaled_mm, which is not in the list; then
  every FP8 GEMM of the forward would re-run, and the compiled FP8 rows would read slower still). The routed
  experts of a MoE block run grouped GEMMs that are not aten.mm, so the whole MoE block's GEMM time is re-run (the
  router's and shared experts' small mm included: an upper bound of a few per cent of the block).
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.specs import ModelSpec


@dataclass(frozen=True, slots=True)
class PlainRerun:
    """What a plain selective recompute re-runs in one layer: compute seconds, FLOPs and TP/CP seconds."""

    compute_s: float
    flops: float
    tp_s: float


@dataclass(frozen=True, slots=True)
class OpSacShares:
    """Shares of a layer's forward GEMM FLOPs that torchtitan's op policy re-runs: of the attention projections and
    of the MLP or MoE block."""

    projections: float = 0.0
    block: float = 0.0


NO_SHARES = OpSacShares()  # a stack whose plain selective is not the op policy


def even_mm_share(flops_in_order: list[float], start: int = 0) -> float:
    """Share of ``flops_in_order`` (the forward's mm FLOPs in call order) at the even places of a count that has
    already seen ``start`` mm: what torchtitan's policy re-runs ("except every second mm")."""
    total = sum(flops_in_order)
    if total <= 0.0:
        return 0.0
    even = sum(f for i, f in enumerate(flops_in_order, start=start + 1) if i % 2 == 0)
    return even / total


def attention_mm_flops(model: ModelSpec) -> list[float]:
    """The attention projections' mm FLOPs per token (up to a common factor), in torchtitan's forward order: wq, wk,
    wv, wo (Llama); under MLA wq_a, wq_b (or wq), wkv_a, wkv_b, wo (torchtitan's DeepSeek-V3 attention)."""
    h, a, g, d = model.hidden, model.heads, model.kv, model.dhead
    if model.is_mla:
        kvr = model.kv_lora_rank or 0
        qr = model.q_lora_rank or 0
        q = [h * qr, qr * a * model.qk_dim] if qr else [h * a * model.qk_dim]
        return [*q, h * (kvr + (model.qk_rope_head_dim or 0)), kvr * a * (d + model.vdim), a * model.vdim * h]
    return [h * a * d, h * g * d, h * g * d, a * d * h]


def op_sac_shares(model: ModelSpec, moe: bool) -> OpSacShares:
    """torchtitan's op policy on one block (module docstring): the even-placed share of the attention projections'
    mm FLOPs and of the MLP's (w1, w3, w2 gated; fc1, fc2 otherwise), the count running on from the attention; a MoE
    block's grouped expert GEMMs are not aten.mm, so all of its GEMMs re-run (share 1)."""
    attn = attention_mm_flops(model)
    proj = even_mm_share(attn)
    if moe:
        return OpSacShares(projections=proj, block=1.0)
    f, h = model.ffn_hidden, model.hidden
    mlp = [h * f, h * f, f * h] if model.gated else [h * f, f * h]
    return OpSacShares(projections=proj, block=even_mm_share(mlp, start=len(attn)))


def policy_for(stack_policy: str, modules: tuple[str, ...]) -> str:
    """The policy a selective recompute is priced by: the stack's (``SoftwareProfile.selective_reruns``) when no
    module list is given; a stated Megatron-Core list replaces the default ['core_attn'], and while
    perf.recompute_modules keeps its per-module price out of the step time (IN_STEP_TIME, its verdict) such a list
    is priced as before that module, ``unfused-core``, or as ``core-attn`` where it names the attention core."""
    if not modules:
        return stack_policy
    return "core-attn" if "core_attn" in modules else "unfused-core"


def plain_rerun(
    policy: str,
    flash: bool,
    is_mla: bool,
    *,
    selective_extra_s: float,
    mla_selective_s: float,
    mla_up_flops: float,
    core_flops: float,
    core_attn_s: float,
    core_attn_cp_s: float,
    fwd_gemm_s: float,
    fwd_elem_s: float,
    flops_fwd: float,
    proj_gemm_s: float,
    proj_flops: float,
    shares: OpSacShares,
    tp_gather_s: float,
) -> PlainRerun:
    """The re-run of a plain selective recompute under ``policy`` (a SoftwareProfile.selective_reruns; module
    docstring) with a fused (``flash``) attention kernel or not, from one layer's
    pieces (perf.layer.LayerParts): ``selective_extra_s`` the materialized core's forward (0 under flash),
    ``core_attn_s`` and ``core_attn_cp_s`` the attention core's forward whatever its kernel and its exposed CP
    forward, ``proj_gemm_s`` / ``proj_flops`` the attention projections' forward GEMMs, ``tp_gather_s`` the forward
    TP collectives outside torchtitan's save list."""
    if policy == "core-attn":
        return PlainRerun(compute_s=core_attn_s, flops=core_flops, tp_s=core_attn_cp_s)
    if policy == "op-sac":
        block_s, block_flops = fwd_gemm_s - proj_gemm_s, flops_fwd - proj_flops
        gemm_s = shares.projections * proj_gemm_s + shares.block * block_s
        flops = shares.projections * proj_flops + shares.block * block_flops
        core_s, core_fl = (0.0, 0.0) if flash else (selective_extra_s, core_flops)
        return PlainRerun(compute_s=gemm_s + fwd_elem_s + core_s, flops=flops + core_fl, tp_s=tp_gather_s)
    # unfused-core: the arithmetic, in its order, of the model before this module
    compute_s = selective_extra_s
    flops = core_flops if not flash else 0.0
    if is_mla:
        compute_s += mla_selective_s
        flops += mla_up_flops
    return PlainRerun(compute_s=compute_s, flops=flops, tp_s=0.0)
