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
  and a materialized attention core (its bmm and softmax are not in the list). FP8 runs re-run the same
  matmuls, eager or compiled (below). The routed experts of a MoE block run grouped GEMMs that are not aten.mm,
  so the whole MoE block's GEMM time is re-run (the router's and shared experts' small mm included: an upper
  bound of a few per cent of the block).

FP8 under torch.compile (issue 14): the FP8 matmuls are saved and re-run as the BF16 ones, every second one,
compiled or eager; no FP8 or compile term. At the December 2024 benchmark's versions (torchtitan
benchmarks/llama3_h100_202412_torchtitan.md, "Versions and Dates": torch 1963fc8, 2024/12/23; torchao eab345c,
2024/12/23; torchtitan 9dec370, 2024/12/26):

* torchtitan's ``_save_list`` has no ``_scaled_mm``: at 9dec370 it is the list quoted above, and no commit of
  torchtitan's history up to its 2026 snapshots adds ``torch.ops.aten._scaled_mm.default`` to any save list
  (``git log -S'_scaled_mm' -- torchtitan`` finds one commit, 6348d93d1 of 2026-04-27, a quantization
  refactor; the lists of 8a6c9fe6e (2025-08), 21799393c (2025-09) and 114151ad4^ (2026-03) hold aten.mm,
  later aten.linear, never _scaled_mm). The open item's premise, a later addition, is not borne out.
* torchao eab345c, torchao/float8/float8_linear.py: with tensorwise scaling (torchtitan's default) Float8Linear
  casts input and weight to Float8Tensor and calls ``manual_float8_matmul_with_args_in_float8.apply``, whose
  forward runs "res_bits = torch.mm(input_fp8_reshaped, weight_fp8_t)"; Float8Tensor's ``__torch_dispatch__``
  sends aten.mm to float8_ops.py's "@implements([aten.mm.default, aten.matmul.default]) def float8_mm", which
  calls addmm_float8_unwrapped and there "torch._scaled_mm(". So _scaled_mm exists only inside the subclass.
* Who sees the op first: PyTorch's dispatch order (torch/csrc/utils/python_arg_parser.cpp,
  handle_torch_function_no_python_arg_parser, for AOTAutograd tracing): "(1) ModeA.__torch_dispatch__ (user
  modes highest) (2) MyWrapperSubclassB.__torch_dispatch__ (user subclasses next highest) (3)
  FunctionalTensorMode.__torch_dispatch__ (infra modes next highest) (4) ProxyTorchDispatchMode...". SAC's
  ``_CachingTorchDispatchMode`` is such a user mode: under compile Dynamo's tag_activation_checkpoint runs the
  region as "checkpoint(Interpreter(gmod).run, *args, **kwargs)" with "kwargs["context_fn"] =
  gmod.meta["_checkpoint_context_fn"]" (torch/_higher_order_ops/wrap.py), so the policy is called with
  aten.mm.default on the Float8Tensor arguments, traced as in eager.
* How the tag reaches the _scaled_mm node (torch/utils/checkpoint.py, _CachingTorchDispatchMode.__torch_dispatch__):
  "policy = self.policy_fn(SelectiveCheckpointContext(is_recompute=False), func, *args, **kwargs)", then "if
  is_compiling: # Overwrite each node's "recompute" tag to add in the user annotation.
  fx_traceback.current_meta["recompute"] = policy", then "out = func(*args, **kwargs)": the subclass's
  _scaled_mm, traced inside that call, copies the meta, since torch/fx/proxy.py's _COPY_META_FIELDS include
  "recompute". The min-cut partitioner then re-runs exactly the nodes with "node.meta.get("recompute", None) in
  [CheckpointPolicy.MUST_RECOMPUTE, CheckpointPolicy.PREFER_RECOMPUTE]" (torch/_functorch/partitioners.py
  must_recompute) and keeps the MUST_SAVE ones: the odd-placed _scaled_mm outputs are saved, the even-placed
  ones re-run, as in eager. (These PyTorch quotes are from stored pytorch/pytorch sources, not pinned to
  1963fc8; compiled SAC came with pytorch/pytorch PR #105489, Sept 2023, and its API went public with PR
  #125795, May 2024, both before the benchmark; uncertainty: the exact text at 1963fc8 is unread.)
* A known float8 + SAC + compile defect was about memory, not re-runs: pytorch/pytorch issue #128730
  ("partitioner doesn't appear to respect SAC region", June 2024, float8_experimental), closed by PR #177767:
  "AOTAutograd could save recomputable float8 `_scaled_mm` inputs in the forward graph outputs instead of only
  honoring the user's selective-checkpointing decision for the matmul itself"; saving more casts re-runs less,
  if anything.

Measured (validate all, main f148206): the compiled FP8 rows read too fast,
torchtitan24-table1-llama3-8b-8-fsdp-compile-fp8 +5.9% and table3-...-128-fsdp-compile-fp8 +7.3%, while the
compiled FP8 rows of the same stack on H200 read slow, torchtitan25-trainy-h200-llama3-8b-32-fsdp-fp8 -4.2% and
-64- -2.7% (these four are all the fsdp-2024 FP8 rows with op-level selective AC). Re-running every FP8 forward
GEMM, the rejected reading, moves them to -2.1, -0.8, -12.0 and -10.5 (all rows 7.392 -> 7.399, LOSO column
7.790 -> 7.797): it trades the H100 pair for the H200 pair and has no source behind it. The H100 pair ran at
Grand Teton's 500 W limit ("We used the default 500W power limit"), a candidate for their residual, not priced
here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from supercluster.specs import ModelSpec
from supercluster.specs.system import SelectiveReruns


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


def even_mm_share(flops_in_order: Sequence[float], start: int = 0) -> float:
    """Share of ``flops_in_order`` (the forward's mm FLOPs in call order) at the even places of a count that has
    already seen ``start`` mm: what torchtitan's policy re-runs ("except every second mm")."""
    total = sum(flops_in_order)
    if total <= 0.0:
        return 0.0
    even = sum(f for i, f in enumerate(flops_in_order, start=start + 1) if i % 2 == 0)
    return even / total


@dataclass(frozen=True, slots=True)
class AttentionMm:
    """One attention projection's mm in torchtitan's forward order: its input and output widths per token (whole
    widths, before tensor parallelism) and whether its output is whole on every TP rank (a replicated latent, or a
    row-parallel projection's partial sum) rather than split by heads."""

    in_width: int
    out_width: int
    whole: bool


def attention_mms(model: ModelSpec) -> list[AttentionMm]:
    """The attention projections' mm in torchtitan's forward order: wq, wk, wv (column-parallel, split by heads), wo
    (Llama); under MLA wq_a (the query latent, replicated), wq_b (or wq), wkv_a (the key-value latent and the shared
    rotary key, replicated), wkv_b (per head: the no-rope key and the value), wo (torchtitan's DeepSeek-V3
    attention). The one list :func:`attention_mm_flops` and perf.selective_memory.mm_outputs_attention read."""
    h, a = model.hidden, model.heads
    if not model.is_mla:
        g, d = model.kv, model.dhead
        return [
            AttentionMm(h, a * d, False),
            AttentionMm(h, g * d, False),
            AttentionMm(h, g * d, False),
            AttentionMm(a * d, h, True),
        ]
    qr, kvr, rope = model.q_lora_rank or 0, model.kv_lora_rank or 0, model.qk_rope_head_dim or 0
    q = (
        [AttentionMm(h, qr, True), AttentionMm(qr, a * model.qk_dim, False)]
        if qr
        else [AttentionMm(h, a * model.qk_dim, False)]
    )
    return [
        *q,
        AttentionMm(h, kvr + rope, True),
        AttentionMm(kvr, a * (model.dhead + model.vdim), False),
        AttentionMm(a * model.vdim, h, True),
    ]


def attention_mm_flops(model: ModelSpec) -> list[float]:
    """The attention projections' mm FLOPs per token (up to a common factor: input x output width), in torchtitan's
    forward order (:func:`attention_mms`)."""
    return [mm.in_width * mm.out_width for mm in attention_mms(model)]


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


def policy_for(stack_policy: SelectiveReruns, modules: tuple[str, ...]) -> SelectiveReruns:
    """The policy a selective recompute is priced by: the stack's (``SoftwareProfile.selective_reruns``) when no
    module list is given; a stated Megatron-Core list replaces the default ['core_attn'], and while
    perf.recompute_modules keeps its per-module price out of the step time (IN_STEP_TIME, its verdict) such a list
    is priced as before that module, ``unfused-core``, or as ``core-attn`` where it names the attention core."""
    if not modules:
        return stack_policy
    return "core-attn" if "core_attn" in modules else "unfused-core"


def plain_rerun(
    policy: SelectiveReruns,
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
