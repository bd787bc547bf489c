"""Evaluate many candidate layouts at once: the single composition of the step model.

    step = T_pipeline + exposed gradient sync + optimizer update

T_pipeline from :mod:`supercluster.perf.pipeline`; per-stage micro-batch time
is the sum of its layers' forward, backward, recompute and exposed TP/EP
communication plus pipeline send/receive. Gradient synchronisation is an
all-reduce (or reduce-scatter + all-gather under ZeRO) over the data- and
context-parallel group (Narayanan et al. 2021, arXiv:2104.04473, section
3.1); overlapped with the backward of the last micro-batch when the software
does so (Megatron-Core ``overlap_grad_reduce``), leaving at least the last
bucket exposed. The Adam update is memory-bound: 34 bytes per parameter moved
(read gradient, fp32 master, momentum, variance; write them and the bf16 copy).
Memory per stage follows :mod:`supercluster.perf.memory` (ZeRO model states,
Korthikanti activations).

`estimate` (one layout) and the planner (hundreds of thousands) both call
:func:`evaluate`, so there is one code path. Per-layer costs depend only on
(tp, cp, micro_batch, sequence_parallel, recompute, precision, ep): they are
computed once per such "inner" key with :mod:`supercluster.perf.layer`, and the
stage balance once per (inner key, pp). Everything else (pipeline, gradient
synchronisation, optimizer, memory, FLOPs) is numpy arithmetic over arrays
with one entry per candidate; the formulas and their sources are those of
:mod:`supercluster.perf.step`, :mod:`supercluster.perf.memory` and
:mod:`supercluster.perf.pipeline`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any

import numpy as np

from supercluster.perf import (
    attention_backend,
    autocast,
    chunk_sync,
    embedding_wgrad,
    ep_overlap,
    fixed_cost,
    fsdp,
    group_calls,
    host_sync,
    interference,
    mtp_stage,
    pp_split,
    recompute_modules,
    zero3_prefetch,
    zero3_serial,
)
from supercluster.perf import straggler as stragglers
from supercluster.perf.comm import CollectiveModel, span_of
from supercluster.perf.context import Context, context
from supercluster.perf.layer import LayerCost, embedding_cost, finish, head_cost, layer_parts
from supercluster.perf.memory import (
    FRAGMENTATION_FRACTION,
    RUNTIME_RESERVE_BYTES,
    WEIGHT_BYTES,
    inflight,
    layer_activation_bytes,
    memory_total,
)
from supercluster.perf.pipeline import schedule_bubble
from supercluster.perf.wan import SYNC_NAMES
from supercluster.perf.wan import exposed_s as wan_exposed_s
from supercluster.specs import ModelSpec, ResolvedPlan, SoftwareProfile, SystemSpec, WorkloadSpec
from supercluster.specs.plan import Recompute, Schedule, TrainPrecision
from supercluster.units import GB, GBIT, GIB

# HBM traffic of one mixed-precision Adam step per parameter (Megatron's fp32 main grads and master
# weights): the gradient norm for clipping reads the grads (4 B; clip_grad_norm_fp32's multi_tensor_l2norm);
# Adam reads grad, master, m, v (4 x 4 B) and writes master, m, v (3 x 4 B); the bf16 model copy reads the
# master again and writes 2 B (a separate multi_tensor_scale, 6 B); the fp32 main grad is zeroed for the
# next step (4 B) = 42 B.
ADAM_BYTES_PER_PARAM = 42.0


def optimizer_state_bytes(sw: SoftwareProfile) -> float:
    """fp32 master weight plus Adam's two moments per parameter: 12 B (ZeRO, arXiv:1910.02054, section 3.1),
    8 B with BF16 moments (DeepSeek-V3, arXiv:2412.19437, section 3.3.3)."""
    return 4.0 + 2.0 * sw.adam_moment_bytes


def optimizer_traffic_bytes(sw: SoftwareProfile) -> float:
    """HBM bytes per parameter of one Adam step: ADAM_BYTES_PER_PARAM with each moment read and written at
    its own width."""
    return ADAM_BYTES_PER_PARAM - 4.0 * (4 - sw.adam_moment_bytes)


RECOMPUTE: tuple[Recompute, ...] = ("none", "selective", "full")
SCHEDULE_NAMES: tuple[Schedule, ...] = ("1f1b", "zb-h1", "zb-v", "dualpipe")
PRECISION: tuple[TrainPrecision, ...] = ("bf16", "fp8", "mxfp8", "nvfp4")
FP8, MXFP8 = PRECISION.index("fp8"), PRECISION.index("mxfp8")  # the 8-bit formats, as Candidates codes them
_WEIGHT_BYTES = np.array([WEIGHT_BYTES[p] for p in PRECISION])  # memory.WEIGHT_BYTES by Candidates' code
_ONE_GPU = ResolvedPlan.single()  # what inner_terms copies its plans from (frozen)


@dataclass
class Candidates:
    """Layouts as parallel numpy arrays (struct of arrays)."""

    tp: np.ndarray
    pp: np.ndarray
    vpp: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    zero: np.ndarray
    mb: np.ndarray
    sp: np.ndarray
    rc: np.ndarray  # index into RECOMPUTE
    prec: np.ndarray  # index into PRECISION
    sched: np.ndarray | None = None  # index into SCHEDULE_NAMES (None: all 1f1b)
    lb: np.ndarray | None = None  # sequences per DP rank per pipeline pass (0: the whole step in one pass)
    rcf: np.ndarray | None = None  # share of a full recompute re-run (1: all of it)
    etp: np.ndarray | None = None  # expert tensor parallel (default: tp)
    sites: np.ndarray | None = None  # sites the job spans (default: 1)
    sync: np.ndarray | None = None  # index into perf.wan.SYNC_NAMES (default: allreduce)
    hin: np.ndarray | None = None  # DiLoCo inner steps H (0: not DiLoCo)
    rcm: np.ndarray | None = None  # selective recompute modules as a bit mask (perf.recompute_modules; 0: none)

    def __post_init__(self) -> None:
        if self.sched is None:
            self.sched = np.zeros(len(self.tp), dtype=np.int8)
        if self.lb is None:
            self.lb = np.zeros(len(self.tp), dtype=np.int64)
        if self.rcf is None:
            self.rcf = np.ones(len(self.tp), dtype=float)
        if self.etp is None:
            self.etp = np.asarray(self.tp).copy()
        if self.sites is None:
            self.sites = np.ones(len(self.tp), dtype=np.int64)
        if self.sync is None:
            self.sync = np.zeros(len(self.tp), dtype=np.int8)
        if self.hin is None:
            self.hin = np.zeros(len(self.tp), dtype=np.int64)
        if self.rcm is None:
            self.rcm = np.zeros(len(self.tp), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.tp)

    @classmethod
    def from_plans(cls, plans: list[ResolvedPlan]) -> Candidates:
        n = len(plans)

        def cols(rows: list[tuple[Any, ...]], width: int, dtype: Any) -> np.ndarray:
            # one array per dtype, a contiguous row per field (one np.array call, not one per field)
            return np.ascontiguousarray(np.array(rows, dtype=dtype).reshape(n, width).T)

        ints = cols(
            [
                (
                    *(p.tp, p.pp, p.vpp, p.cp, p.ep, p.dp, p.zero, p.micro_batch),
                    *(p.local_batch or 0, p.expert_tp, p.sites, p.diloco_inner_steps or 0),
                )
                for p in plans
            ],
            12,
            np.int64,
        )
        codes = cols(
            [
                (
                    RECOMPUTE.index(p.recompute),
                    PRECISION.index(p.precision),
                    SCHEDULE_NAMES.index(p.schedule),
                    SYNC_NAMES.index(p.sync),
                )
                for p in plans
            ],
            4,
            np.int8,
        )
        tp, pp, vpp, cp, ep, dp, zero, mb, lb, etp, sites, hin = ints
        rc, prec, sched, sync = codes
        return cls(
            tp=tp,
            pp=pp,
            vpp=vpp,
            cp=cp,
            ep=ep,
            dp=dp,
            zero=zero,
            mb=mb,
            sp=np.array([p.sequence_parallel for p in plans], dtype=bool),
            rc=rc,
            prec=prec,
            sched=sched,
            lb=lb,
            rcf=np.array([p.recompute_fraction for p in plans], dtype=float),
            etp=etp,
            sites=sites,
            sync=sync,
            hin=hin,
            rcm=np.array([recompute_modules.mask_of(p.recompute_modules) for p in plans], dtype=np.int64),
        )

    def take(self, idx: np.ndarray) -> Candidates:
        return Candidates(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def plan(self, i: int, trusted: bool = False) -> ResolvedPlan:
        """The i-th layout as a plan. ``trusted``: the candidates came from validated plans
        (:meth:`from_plans`), so the values are a validated plan's own and pydantic's validation of them is
        skipped: the validated one-GPU plan is copied with every field set to the layout's (same fields, same
        values; a copy costs a sixth of ``model_construct``, which costs a tenth of an estimate)."""
        values = dict(
            tp=int(self.tp[i]),
            pp=int(self.pp[i]),
            vpp=int(self.vpp[i]),
            cp=int(self.cp[i]),
            ep=int(self.ep[i]),
            dp=int(self.dp[i]),
            zero=int(self.zero[i]),
            sequence_parallel=bool(self.sp[i]),
            micro_batch=int(self.mb[i]),
            recompute=RECOMPUTE[int(self.rc[i])],
            precision=PRECISION[int(self.prec[i])],
            schedule=SCHEDULE_NAMES[int(self.sched[i])] if self.sched is not None else "1f1b",
            local_batch=int(self.lb[i]) or None if self.lb is not None else None,
            recompute_fraction=float(self.rcf[i]) if self.rcf is not None else 1.0,
            etp=int(self.etp[i]) if self.etp is not None and int(self.etp[i]) != int(self.tp[i]) else None,
            sites=int(self.sites[i]) if self.sites is not None else 1,
            sync=SYNC_NAMES[int(self.sync[i])] if self.sync is not None else "allreduce",
            diloco_inner_steps=int(self.hin[i]) or None if self.hin is not None else None,
            recompute_modules=recompute_modules.modules_of(int(self.rcm[i])) if self.rcm is not None else (),
        )
        return _ONE_GPU.model_copy(update=values) if trusted else ResolvedPlan(**values)


@dataclass
class BatchResult:
    """Per-candidate results (arrays). Times are seconds per step; memory of the worst stage."""

    cand: Candidates
    step_time_s: np.ndarray
    compute_s: np.ndarray
    recompute_s: np.ndarray
    tp_comm_s: np.ndarray
    ep_comm_s: np.ndarray
    pp_comm_s: np.ndarray
    bubble_s: np.ndarray
    dp_comm_s: np.ndarray
    optimizer_s: np.ndarray
    wan_s: np.ndarray
    straggler_s: np.ndarray
    fixed_s: np.ndarray
    microbatches: np.ndarray
    model_flops: np.ndarray
    hw_flops: np.ndarray
    weights_bytes: np.ndarray
    grads_bytes: np.ndarray
    optimizer_bytes: np.ndarray
    activations_bytes: np.ndarray
    logits_bytes: np.ndarray
    allowance_bytes: np.ndarray
    activation_first_stage_bytes: np.ndarray
    capacity_bytes: float
    stage_layers: list[tuple[int, ...]]

    @property
    def memory_bytes(self) -> np.ndarray:
        return memory_total(self)  # type: ignore[no-any-return]

    @property
    def fits(self) -> np.ndarray:
        return self.memory_bytes <= self.capacity_bytes

    def breakdown(self, i: int) -> dict[str, float]:
        return {
            "compute_s": float(self.compute_s[i]),
            "recompute_s": float(self.recompute_s[i]),
            "tp_comm_exposed_s": float(self.tp_comm_s[i]),
            "ep_comm_exposed_s": float(self.ep_comm_s[i]),
            "pp_comm_exposed_s": float(self.pp_comm_s[i]),
            "pipeline_bubble_s": float(self.bubble_s[i]),
            "dp_comm_exposed_s": float(self.dp_comm_s[i]),
            "optimizer_s": float(self.optimizer_s[i]),
            "wan_exposed_s": float(self.wan_s[i]),
            "straggler_s": float(self.straggler_s[i]),
            "fixed_overhead_s": float(self.fixed_s[i]),
        }


_INNER_FIELDS = (
    "dense_total",
    "moe_total",
    "fb",
    "rc_s",
    "tp_s",
    "ep_s",
    "bwd_rc",
    "fwd",
    "model_flops_layers",
    "hw_flops_layers",
    "head_fb",
    "head_flops",
    "head_wgrad",
    "kernels_fwd",
    "expert_host",
    "fwd_post",
    "kernels_post",
    "emb_s",
    "act_dense",
    "act_moe",
    "act_work",
    "p2p_bytes",
    "p2p_ag",
    "kernels",
    "gemm_fwd",
    "gemm_fb",
)


_FULL = RECOMPUTE.index("full")
_row_of = itemgetter(*_INNER_FIELDS)  # a terms dict's _INNER_FIELDS as a tuple, in order


def _group(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct codes, index of each candidate's code among them); one candidate skips the sort."""
    if len(codes) == 1:
        return codes, np.zeros(1, dtype=np.int64)
    uniq, index = np.unique(codes, return_inverse=True)
    return uniq, index.reshape(-1)


def _whole_layer_sw(sw: SoftwareProfile) -> SoftwareProfile:
    """The profile a re-run layer's working activations are read under: a layer re-run under full recompute holds
    all it stores but the materialized attention core's score matrix, a ``core-attn`` selective's keep
    (perf.selective_memory), whatever the stack's plain selective keeps (under a fused kernel the working layer is
    read as recompute none, :func:`inner_terms`, and the policy does not enter)."""
    return sw if sw.selective_reruns == "core-attn" else sw.model_copy(update={"selective_reruns": "core-attn"})


def inner_terms(
    model: ModelSpec,
    seq: int,
    system: SystemSpec,
    sw: SoftwareProfile,
    comm: CollectiveModel,
    key: tuple[int, ...],
    memo: dict[tuple[Any, ...], Any] | None = None,
) -> dict[str, float]:
    """Per-layer, head and embedding terms of one inner key. ``memo`` (a context's, perf.context) keeps the pieces
    that depend on fewer knobs than the key, by the knobs they read, for the next key that shares them: a layer's
    costs before its recompute mode (perf.layer.layer_parts), a dense layer's costs and activations without ep and
    etp, the re-run layer's activations without the recompute mode, the output head and the embedding by (tp,
    micro-batch, cp), the kernel count. The pieces are the same functions on the same
    inputs, so every number is the one computed without it (tests/test_speed_identical.py)."""
    tp, cp, mb, sp, rc, prec, ep, etp = key[:8]
    # the selective recompute modules' bit mask, a ninth entry where a candidate has them (perf.recompute_modules)
    modules = recompute_modules.modules_of(key[8]) if len(key) > 8 else ()
    memo = {} if memo is None else memo
    # the validated one-GPU plan copied with the key's knobs (a copy is a sixth of a validation; the key's values are
    # a validated layout's)
    plan = _ONE_GPU.model_copy(
        update={
            "tp": tp,
            "cp": cp,
            "ep": ep,
            "etp": etp if etp != tp else None,
            "dp": max(ep, 1),
            "sequence_parallel": bool(sp),
            "micro_batch": mb,
            "recompute": RECOMPUTE[rc],
            "recompute_modules": modules,  # what a selective recompute keeps (perf.selective_memory)
            "precision": PRECISION[prec],
        }
    )
    acc = system.accelerator

    def cost(moe: bool) -> LayerCost:
        # a dense layer reads neither ep nor etp (perf.layer: every expert term is under ``moe``)
        part_key = ("layer", True, tp, cp, mb, sp, prec, ep, etp) if moe else ("layer", False, tp, cp, mb, sp, prec)
        parts = _kept(memo, part_key, lambda: layer_parts(model, plan, seq, acc, sw, comm, moe, memo))
        return finish(parts, plan.recompute, model.is_mla, sw, modules)

    dense = cost(False)
    moe = cost(True) if model.is_moe else dense
    share = model.moe_layers / model.layers

    def mix(a: float, b: float) -> float:
        return a * (1 - share) + b * share

    head_f, head_b, head_flops = _kept(memo, ("head", tp, mb, cp), lambda: head_cost(model, plan, seq, acc, comm, sw))
    n_moe = model.moe_layers
    # one layer re-run under full recompute holds all its activations (flash: no score matrix)
    work_rc = "none" if sw.attention_kernel == "flash" else "selective"
    p2p_bytes = mb * seq / cp * model.hidden * 2.0 / tp
    p2p_ag = 0.0
    if tp > 1 and not sp:  # the receiver re-assembles the full activation across its TP group
        p2p_ag = float(comm.all_gather(p2p_bytes * tp, span_of(tp, 1, comm.domain)))
    return {
        "dense_total": dense.total_s,
        "moe_total": moe.total_s,
        "fb": mix(dense.fwd_s + dense.bwd_s, moe.fwd_s + moe.bwd_s),
        "rc_s": mix(dense.recompute_s, moe.recompute_s),
        "tp_s": mix(dense.tp_comm_s, moe.tp_comm_s),
        "ep_s": mix(dense.ep_comm_s, moe.ep_comm_s),
        "bwd_rc": mix(dense.bwd_s + dense.recompute_s, moe.bwd_s + moe.recompute_s),
        "fwd": mix(dense.fwd_s, moe.fwd_s),
        # the GEMMs of the forward and of forward + backward (perf.ep_overlap: what an all-to-all cannot run beside)
        "gemm_fwd": mix(dense.fwd_gemm_s, moe.fwd_gemm_s),
        "gemm_fb": mix(dense.fwd_gemm_s + dense.bwd_gemm_s, moe.fwd_gemm_s + moe.bwd_gemm_s),
        "model_flops_layers": (model.layers - n_moe) * dense.model_flops + n_moe * moe.model_flops,
        "hw_flops_layers": (model.layers - n_moe) * dense.hw_flops + n_moe * moe.hw_flops,
        "head_fb": head_f + head_b,
        "head_flops": head_flops,
        "head_wgrad": _kept(
            memo, ("head_wgrad", tp, mb, cp), lambda: embedding_wgrad.head_wgrad_s(model, plan, seq, acc)
        ),
        "emb_s": _kept(memo, ("embedding", tp, mb, cp), lambda: embedding_cost(model, plan, seq, acc, sw)),
        # a dense layer's activations read neither ep nor etp; the re-run layer's not the key's recompute mode
        "act_dense": _kept(
            memo,
            ("act", tp, cp, mb, sp, rc, prec, modules),
            lambda: layer_activation_bytes(model, plan, seq, sw, moe=False),
        ),
        "act_moe": layer_activation_bytes(model, plan, seq, sw, moe=True) if model.is_moe else 0.0,
        # the re-run layer's working activations are held under full recompute only (evaluate books them where
        # rc is full and 0 elsewhere), so a key with another mode does not work them out
        "act_work": _kept(
            memo,
            ("act_work", tp, cp, mb, sp, prec, ep, etp),
            lambda: layer_activation_bytes(
                model, plan.model_copy(update={"recompute": work_rc}), seq, _whole_layer_sw(sw), moe=n_moe > 0
            ),
        )
        if rc == _FULL
        else 0.0,
        "p2p_bytes": p2p_bytes,
        "p2p_ag": p2p_ag,
        "head_f": head_f,
        "kernels": _kept(
            memo, ("kernels", tp, sp, prec, rc, ep), lambda: _layer_kernels(model, sw, tp, sp, prec, rc, ep)
        )
        + _rerun_kernels(model, sw, tp, sp, prec, ep, modules),
        "kernels_fwd": _kept(
            memo, ("kernels_fwd", tp, sp, prec, ep), lambda: _layer_kernels_fwd(model, sw, tp, sp, prec, ep)
        ),
        # GPU seconds of the MoE forward after its host synchronisation: the expert GEMMs and the all-to-alls
        "fwd_post": share
        * host_sync.post_sync_gpu_s(model, moe, RECOMPUTE[rc] == "full" or recompute_modules.reruns_dispatch(modules))
        if model.is_moe
        else 0.0,
        "kernels_post": _kept(
            memo,
            ("kernels_post", prec, ep),
            lambda: host_sync.post_sync_kernels(*_kernel_args(model, sw, tp, sp, prec, ep)[2:]),
        ),
        "expert_host": _kept(
            memo,
            ("expert_host", ep, prec),
            lambda: host_sync.expert_host_s(
                model.moe_experts / max(ep, 1) if model.is_moe else 0.0,
                model.moe_layers / model.layers,
                PRECISION[prec],
            ),
        ),
    }


def _kept(memo: dict[tuple[Any, ...], Any], key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """``memo[key]``, computed by ``compute`` on first use."""
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = compute()
    return hit


def _kernel_args(model: ModelSpec, sw: SoftwareProfile, tp: int, sp: int, prec: int, ep: int) -> tuple:
    """(fused, TP collectives, 8-bit, MoE share, expert-loop launches, all-to-alls) of one (mean) layer, the arguments
    perf.fixed_cost counts a layer's kernels from."""
    local = model.moe_experts / max(ep, 1) if model.is_moe else 0.0
    loop = 6.0 * max(local - 1.0, 0.0) if sw.expert_gemm in ("loop", "multistream") else 0.0
    tp_coll = 0.0 if tp <= 1 else (8.0 if sp else 4.0)
    fp8 = prec in (FP8, MXFP8)
    return sw.elementwise_fused, tp_coll, fp8, model.moe_layers / model.layers, loop, 4.0 if ep > 1 else 0.0


def _layer_kernels(model: ModelSpec, sw: SoftwareProfile, tp: int, sp: int, prec: int, rc: int, ep: int) -> float:
    """Kernels of one (mean) layer and micro-batch as :func:`fixed_cost.kernels_per_layer` counts them."""
    fused, tp_coll, fp8, share, loop, a2a = _kernel_args(model, sw, tp, sp, prec, ep)
    return float(fixed_cost.kernels_per_layer(fused, tp_coll, fp8, RECOMPUTE[rc] == "full", share, loop, a2a))


def _rerun_kernels(
    model: ModelSpec, sw: SoftwareProfile, tp: int, sp: int, prec: int, ep: int, modules: tuple[str, ...]
) -> float:
    """Kernels the selective recompute modules re-run per (mean) layer and micro-batch (perf.recompute_modules)."""
    if not modules:
        return 0.0
    _, tp_coll, _, share, loop, a2a = _kernel_args(model, sw, tp, sp, prec, ep)
    return recompute_modules.rerun_kernels(modules, model.is_mla, share, tp_coll, loop, a2a, model.moe_shared_experts)


def _layer_kernels_fwd(model: ModelSpec, sw: SoftwareProfile, tp: int, sp: int, prec: int, ep: int) -> float:
    """Kernels of one (mean) layer's forward and micro-batch as :func:`fixed_cost.forward_kernels` counts them."""
    return float(fixed_cost.forward_kernels(*_kernel_args(model, sw, tp, sp, prec, ep)))


@dataclass(frozen=True, slots=True)
class _ModelCounts:
    """The parameter counts :func:`_stage_params` reads, worked out once per context from the model's properties
    (each a few microseconds of Python): the same numbers, so the same arithmetic on them."""

    share: float  # MoE layers over all layers
    per_moe_expert: int  # the routed experts of one MoE layer
    shared: int  # the rest of an MoE layer's FFN (shared experts, router)
    attention_params: int
    dense_ffn_params: int
    embedding_params: int
    vocab_hidden: int  # the output head's weights, vocab x hidden
    tied_embeddings: bool
    mtp_depth: int
    mtp_experts: int
    mtp_params: int

    @classmethod
    def of(cls, model: ModelSpec) -> _ModelCounts:
        per_moe_expert = model.moe_experts * model.expert_params if model.is_moe else 0
        return cls(
            share=model.moe_layers / model.layers,
            per_moe_expert=per_moe_expert,
            shared=model.moe_ffn_params - per_moe_expert if model.is_moe else 0,
            attention_params=model.attention_params,
            dense_ffn_params=model.dense_ffn_params,
            embedding_params=model.embedding_params,
            vocab_hidden=model.vocab * model.hidden,
            tied_embeddings=model.tied_embeddings,
            mtp_depth=model.mtp_depth,
            mtp_experts=model.mtp_depth * (model.moe_experts * model.expert_params if model.is_moe else 0),
            mtp_params=model.mtp_params if model.mtp_depth else 0,
        )


def _stage_params(model: _ModelCounts, c: Candidates, layers: np.ndarray, first: Any, last: Any) -> tuple[Any, Any]:
    """(non-expert, expert) parameters one GPU of a stage holds."""
    share = model.share
    per_moe_expert = model.per_moe_expert
    shared = model.shared
    params = (
        layers * model.attention_params + layers * (1 - share) * model.dense_ffn_params + layers * share * shared
    ) / c.tp
    etp = c.etp if c.etp is not None else c.tp
    expert = layers * share * per_moe_expert / (etp * c.ep)
    # ``first`` and ``last`` are masks or plain True (the first stage's and the last stage's own call); where one
    # is True the term is added as is, the same values np.where(True, x, 0) would pick
    emb = model.embedding_params / c.tp
    params = params + (emb if first is True else np.where(first | (c.pp == 1), emb, 0.0))
    head = (c.pp > 1) | (not model.tied_embeddings)
    params = params + np.where(head if last is True else last & head, model.vocab_hidden / c.tp, 0.0)
    if model.mtp_depth:
        mtp_experts = model.mtp_experts
        mtp = (model.mtp_params - mtp_experts) / c.tp
        mtp_expert = mtp_experts / (etp * c.ep)
        params = params + (mtp if last is True else np.where(last, mtp, 0.0))
        expert = expert + (mtp_expert if last is True else np.where(last, mtp_expert, 0.0))
    return params, expert


def _inner_row(ctx: Context, key: tuple[int, ...]) -> tuple[float, ...]:
    """The :data:`_INNER_FIELDS` of :func:`inner_terms` for one inner key, computed once per context."""
    row = ctx.rows.get(key)
    if row is None:
        terms = inner_terms(ctx.model, ctx.seq, ctx.system, ctx.sw, ctx.comm, key, ctx.parts)
        row = ctx.rows[key] = _row_of(terms)
    return row


def _blend_partial_recompute(t: dict[str, np.ndarray], c: Candidates, ctx: Context) -> dict[str, np.ndarray]:
    """Layer terms of candidates that re-run only a share f of a full recompute: f of the full-recompute layer and
    1 - f of the same layer without recompute, in time, FLOPs and held activations (Megatron's block recompute of
    k layers per stage is exactly this with f = k / L; a save-some-matmuls policy is priced as the share of the
    forward it re-runs). Candidates with f = 1 are untouched."""
    rcf = c.rcf if c.rcf is not None else np.ones(len(c))
    partial = np.flatnonzero((c.rc == RECOMPUTE.index("full")) & (rcf < 1.0))
    if len(partial) == 0:
        return t
    out = {f: v.astype(float, copy=True) for f, v in t.items()}
    for i in partial:
        etp_i = int(c.etp[i]) if c.etp is not None else int(c.tp[i])
        key = (int(c.tp[i]), int(c.cp[i]), int(c.mb[i]), int(c.sp[i]), 0, int(c.prec[i]), int(c.ep[i]), etp_i)
        none_row = _inner_row(ctx, key)
        f = float(rcf[i])
        for j, name in enumerate(_INNER_FIELDS):
            if name == "act_work":  # one layer re-run still holds all its activations
                continue
            out[name][i] = f * t[name][i] + (1.0 - f) * none_row[j]
    return out


def evaluate(workload: WorkloadSpec, system: SystemSpec, sw: SoftwareProfile, c: Candidates) -> BatchResult:
    """Step time and memory of every candidate. Candidates must be valid (see layout.check_layout)."""
    model, seq = workload.model, workload.seq
    acc = system.accelerator
    sw = attention_backend.effective(sw, acc, model)  # the attention kernel the stack can run here
    n = len(c)
    if n == 0:
        return _empty(c, acc.hbm_gib * GIB)
    ctx = context(model, seq, system, sw)  # the collective model and inner-key rows, kept between calls
    comm = ctx.comm
    L = model.layers
    share = model.moe_layers / L

    # --- inner keys: per-layer costs, computed once each (and kept in the context for later calls) ---
    # Pack each inner key into one int64 (mixed radix) so 1-D np.unique can group them quickly.
    etp = c.etp if c.etp is not None else c.tp
    if n == 1:  # one candidate (an estimate): one inner key, nothing to group
        inner, first_of = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    else:
        code = ((((c.tp * 4096 + c.cp) * 1024 + c.mb) * 2 + c.sp) * 4 + c.rc) * 2 + c.prec
        code = (code * 4096 + c.ep) * 64 + etp
        rcm_all = c.rcm if c.rcm is not None else np.zeros(n, dtype=np.int64)
        if rcm_all.any():  # the recompute modules' mask (7 bits), only where some candidate has modules
            code = code * 128 + rcm_all
        uniq_codes, inner = _group(code)
        first_of = np.zeros(len(uniq_codes), dtype=np.int64)
        first_of[inner[::-1]] = np.arange(n)[::-1]
    keys = zip(
        c.tp[first_of].tolist(),
        c.cp[first_of].tolist(),
        c.mb[first_of].tolist(),
        c.sp[first_of].astype(np.int64).tolist(),
        c.rc[first_of].tolist(),
        c.prec[first_of].tolist(),
        c.ep[first_of].tolist(),
        etp[first_of].tolist(),
        strict=True,
    )
    rcm = c.rcm if c.rcm is not None else np.zeros(n, dtype=np.int64)
    masks = rcm[first_of].tolist()
    # an inner key grows a ninth entry, the modules' mask, only where it is not 0 (the same keys as before elsewhere)
    keys = ((*key, m) if m else key for key, m in zip(keys, masks, strict=True))
    table = np.array([_inner_row(ctx, key) for key in keys], dtype=float)
    # one gather from the transposed table: a contiguous row per field, each candidate's value (19 gathers cost more)
    t = dict(zip(_INNER_FIELDS, np.ascontiguousarray(table.T)[:, inner], strict=True))
    t = _blend_partial_recompute(t, c, ctx)
    mean_layer = t["dense_total"] * (1 - share) + t["moe_total"] * share

    # --- stage balance, once per (inner key, pp) ---
    pair_code = inner * 65536 + c.pp
    pairs, pair_idx = _group(pair_code)
    # the ends' extra work in layers, as numpy arrays, then one split per (inner key, pp) pair under the stack's split
    # (perf.pp_split). The extras depend on the inner key alone: worked out (and rounded, as pipeline.stage_split keys
    # them) once per inner key, not once per pair; the arithmetic is elementwise, so each is the value a per-pair pass
    # gives
    k_inner, stages = np.divmod(pairs, 65536)
    ml = table[:, 0] * (1 - share) + table[:, 1] * share
    first_extra = (table[:, _INNER_FIELDS.index("emb_s")] / ml).tolist()
    # the last stage's head, and the MTP block where the stack's layout balances it (perf.mtp_stage)
    mtp_block_s = table[:, _INNER_FIELDS.index("moe_total" if model.is_moe else "dense_total")]
    mtp_balanced = model.mtp_depth if sw.mtp_stage_balance else 0
    last_work_s = mtp_stage.last_stage_s(table[:, _INNER_FIELDS.index("head_fb")], mtp_block_s, mtp_balanced)
    last_extra = (last_work_s / ml).tolist()
    extras = [pp_split.split_extras(sw, f, x) for f, x in zip(first_extra, last_extra, strict=True)]
    splits = [pp_split.split_of(sw, L, p, extras[k]) for p, k in zip(stages.tolist(), k_inner.tolist(), strict=True)]
    # (first, last, busiest middle) stage's layers of each pair, one pass over the splits
    ends = np.array([(s[0], s[-1], max(s[1:-1]) if len(s) > 2 else 0) for s in splits], dtype=float)
    n_first, n_last, n_mid = (column[pair_idx] for column in np.ascontiguousarray(ends.T))
    stage_layers = [splits[i] for i in pair_idx.tolist()]

    pp = c.pp.astype(float)
    vpp = c.vpp.astype(float)
    single = c.pp == 1
    # Multi-token prediction: each depth adds a block and another pass through the (shared) output head
    # on the last stage (DeepSeek-V3, arXiv:2412.19437, section 2.2).
    mtp_layer = t["moe_total"] if model.is_moe else t["dense_total"]
    mtp_s = model.mtp_depth * (mtp_layer + t["head_fb"])
    sched = c.sched
    dual = sched == 3
    # DualPipe overlaps one micro-batch's all-to-all with another's computation (DeepSeek-V3, 3.2.1), and so does
    # Megatron-Core's combined 1F1B where the stack turns it on, once the protocol lets it land (perf.ep_overlap)
    # (before Blackwell the combined 1F1B's all-to-alls wait behind GEMMs, and it pairs only its steady-state passes:
    # both priced only where the protocol lets them land, perf.ep_overlap)
    combined = ~dual
    paired = 1.0
    if ep_overlap.FILL_DRAIN_IN_STEP_TIME:
        paired = np.where(combined, ep_overlap.paired_share(workload.global_batch / (c.dp * c.mb), c.pp, c.vpp), 1.0)
    ep_hidden = ep_overlap.hidden_s(
        t["ep_s"],
        t["fwd"],
        t["fb"],
        ep_overlap.overlapped(dual, sw.ep_a2a_overlap),
        sw.ep_comm_sms,
        t["gemm_fwd"],
        t["gemm_fb"],
        combined & (ep_overlap.GEMM_BLOCK_IN_STEP_TIME and ep_overlap.gemm_blocks_comm(acc.sm_arch)),
        paired,
    )
    mean_layer = mean_layer - ep_hidden
    # fixed per-kernel costs of a layer and micro-batch (perf.fixed_cost): in the stage times when the protocol let
    # them land, so the steady state, the fill and the drain all pay them
    fix_layer = fixed_cost.layer_fixed_s(t["kernels"], mean_layer, sw.elementwise_fused)
    if host_sync.synchronises(sw, model) and host_sync.IN_STEP_TIME:
        # a host copy in each MoE layer's forward: the host-bound term per forward and backward (perf.host_sync)
        # the forward's GPU time holds its all-to-alls, as fwd_post does (host_sync.forward_a2a_s): without them
        # the attention-and-router segment would be left that much GPU time short
        # (a re-run MoE block's all-to-alls count as the forward's a third time, as under full recompute)
        rerun_ep = c.rc == _FULL
        if c.rcm is not None and recompute_modules.IN_STEP_TIME:
            rerun_ep = rerun_ep | (
                (c.rc == RECOMPUTE.index("selective")) & (c.rcm & recompute_modules.mask_of(("moe",)) > 0)
            )
        fwd_gpu = t["fwd"] + host_sync.forward_a2a_s(t["ep_s"], rerun_ep)
        fix_layer = fix_layer + host_sync.extra_s(
            t["kernels_fwd"],
            t["kernels"],
            fwd_gpu,
            mean_layer,
            sw.elementwise_fused,
            t["expert_host"],
            t["kernels_post"],
            t["fwd_post"],
            bool(sw.ep_a2a_overlap and ep_overlap.COMBINED_1F1B_IN_STEP_TIME),
        )
    if fixed_cost.IN_STEP_TIME:
        mean_layer = mean_layer + fix_layer
    m = workload.global_batch / (c.dp * c.mb)

    # --- pipeline ---
    crosses = c.tp * c.cp * c.dp >= system.domain_gpus
    p2p_one = np.where(single, 0.0, comm.p2p(t["p2p_bytes"], crosses) + t["p2p_ag"])
    p2p_per_mb = 0.0 * p2p_one if sw.pp_overlap else 2.0 * vpp * p2p_one
    t_first = n_first * mean_layer + t["emb_s"] + np.where(single, t["head_fb"] + mtp_s, 0.0) + p2p_per_mb
    t_last = np.where(single, 0.0, n_last * mean_layer + t["head_fb"] + mtp_s + p2p_per_mb)
    t_mid = np.where(c.pp > 2, n_mid * mean_layer + p2p_per_mb, 0.0)
    t_max = np.maximum(t_first, np.maximum(t_mid, t_last))
    # DualPipe runs two mirrored pipelines on the same ranks: rank i holds stage i of one and stage p-1-i of
    # the other (hence two copies of the parameters, DeepSeek-V3, arXiv:2412.19437, section 3.2.1), so the
    # rank with the embedding also carries the output head and a rank's load per micro-batch is the mean of
    # a mirrored pair of stages.
    # (where no candidate runs DualPipe every np.where below would pick its other side: those are skipped, the same
    # values)
    any_dual = bool(dual.any())
    pair = dual & ~single
    if any_dual:
        t_pair = (t_first + t_last) / 2.0
        t_max = np.where(pair, np.maximum(t_pair, t_mid), t_max)
    t_mean = (L * mean_layer + t["emb_s"] + t["head_fb"] + mtp_s) / pp + p2p_per_mb
    fwd_share = t["fwd"] / np.maximum(t["fwd"] + t["bwd_rc"], 1e-30)
    # Stacks that accumulate gradients outside the pipeline schedule (torch.distributed.pipelining) run the
    # step as several passes of local_batch sequences each, and every pass fills and drains the pipeline.
    lb = c.lb if c.lb is not None else np.zeros(n, dtype=np.int64)
    passes = np.where(lb > 0, workload.global_batch / (c.dp * np.maximum(lb, 1)), 1.0)
    bubble = schedule_bubble(sched, t_mean, fwd_share, pp, vpp)
    moved_per_mb = 0.0
    if sw.embedding_wgrad_deferral is not None and embedding_wgrad.IN_STEP_TIME:
        # the last stage's output-layer weight gradients run in its drain idle, the backward part of the bubble
        # (perf.embedding_wgrad); only a candidate whose last stage paces the step moves
        moved = embedding_wgrad.hidden_s(t["head_wgrad"], m, sw.embedding_wgrad_deferral, bubble * (1.0 - fwd_share))
        moved_per_mb = np.where(single, 0.0, moved / m)
        t_last = t_last - moved_per_mb
        keep = pair if any_dual else False
        t_max = np.where(keep, t_max, np.maximum(t_first, np.maximum(t_mid, t_last)))
    # the first micro-batch's activations and gradients cross every chunk boundary each way before the
    # pipeline is full: p - 1 under 1F1B, p*v - 1 when interleaved (Narayanan et al. 2021, section 2.2.2:
    # interleaving multiplies the pipeline's communication by v)
    fill_latency = 2.0 * (pp * vpp - 1) * p2p_one
    bubble = passes * (bubble + fill_latency)
    t_pipe = m * t_max + bubble
    slow_first = t_first >= np.maximum(t_mid, t_last)
    slow_last = ~slow_first & (t_last > t_mid)
    n_slow = np.where(slow_first, n_first, np.where(slow_last, n_last, n_mid))
    compute_slow = n_slow * t["fb"] + np.where(slow_first, t["emb_s"], 0.0)
    compute_slow = compute_slow + np.where(slow_last | single, t["head_fb"] + mtp_s, 0.0)
    # the deferred output-layer weight gradients left the last stage's steady state (perf.embedding_wgrad)
    compute_slow = compute_slow - np.where(slow_last, moved_per_mb, 0.0)
    if any_dual:
        slow_pair = pair & (t_pair >= t_mid)  # DualPipe: the embedding-and-head rank paces
        n_slow = np.where(slow_pair, (n_first + n_last) / 2.0, np.where(pair, n_mid, n_slow))
        compute_slow = np.where(
            slow_pair,
            n_slow * t["fb"] + (t["emb_s"] + t["head_fb"] + mtp_s) / 2.0,
            np.where(pair, n_mid * t["fb"], compute_slow),
        )

    # --- gradient synchronisation of the first stage (it finishes its backward last) ---
    counts = _kept(ctx.parts, ("model_counts",), lambda: _ModelCounts.of(model))
    params0, expert0 = _stage_params(counts, c, n_first, True, single)
    # across sites the data-parallel groups are reduced (and ZeRO-sharded) inside each site, and the sites then
    # exchange one model's reduced gradients over the WAN (perf.wan); one site (every existing system) is
    # untouched: the groups below divide by 1
    sites = c.sites if c.sites is not None else np.ones(n, dtype=np.int64)
    multi_site = bool((sites > 1).any())
    local = sites if multi_site else 1
    dp_group = c.dp * c.cp // local
    dp_span = span_of(dp_group, c.tp, system.domain_gpus)
    # expert data parallelism: the copies of each expert shard, tp * cp * dp / (etp * ep) (cp * dp / ep when
    # etp = tp), spaced etp * ep ranks apart (MoE Parallel Folding's expert-DP group)
    edp = c.tp * dp_group // (etp * c.ep)  # inside one site: EP groups never cross a site
    edp_span = span_of(edp, etp * c.ep, system.domain_gpus)
    grad_bytes = params0 * sw.grad_reduce_bytes
    exp_bytes = expert0 * sw.grad_reduce_bytes
    # every collective below reads only the (inner key, pp) pair, dp and sites: priced once per such group
    # (perf.group_calls)
    grouping = group_calls.groups((pair_idx * (int(c.dp.max()) + 1) + c.dp) * (int(sites.max()) + 1) + sites)
    reduce_scatter, all_reduce, all_gather = (
        group_calls.by_group(op, grouping) for op in (comm.reduce_scatter, comm.all_reduce, comm.all_gather)
    )
    zero = c.zero
    sharded = zero >= 1
    # DeepSpeed's BF16_Optimizer all-reduces the whole fp32 gradient even with sharded states (SoftwareProfile)
    reduce_scattered = sharded & (not sw.sharded_grad_allreduce)
    sync = _where(
        reduce_scattered,
        lambda: reduce_scatter(grad_bytes, dp_span) + reduce_scatter(exp_bytes, edp_span),
        lambda: all_reduce(grad_bytes, dp_span) + all_reduce(exp_bytes, edp_span),
    )
    # parameters are gathered at their storage width: BF16, or 8 bits where the stack keeps FP8 weights
    low = (c.prec == FP8) | (c.prec == MXFP8)
    p_bytes = np.where(low & sw.fp8_param_gather, 1.0, 2.0)
    gather = _where(
        sharded,
        lambda: all_gather(params0 * p_bytes, dp_span) + all_gather(expert0 * p_bytes, edp_span),
        lambda: 0.0,
    )
    if sw.shard_root_unit:  # one collective per unit and pass, each paying NCCL's latency (perf.fsdp)
        units = fsdp.units_per_pass(n_first)  # the blocks and the root
        unit_rs_s = fsdp.per_unit_s(reduce_scatter, grad_bytes, units, dp_span)
        unit_ag_s = fsdp.per_unit_s(all_gather, params0 * p_bytes, units, dp_span)
        sync = np.where(reduce_scattered, unit_rs_s + reduce_scatter(exp_bytes, edp_span), sync)
        gather = np.where(sharded, unit_ag_s + all_gather(expert0 * p_bytes, edp_span), gather)
    replayed = sw.zero3_max_live_params > 0 and not model.is_moe
    if replayed:  # DeepSpeed ZeRO-3: one gather per submodule, one reduce-scatter per bucket (perf.zero3_prefetch)
        ag_calls, rs_calls = zero3_prefetch.calls_per_pass(model, c.tp, n_first, sw.dp_bucket_params)
        sync = np.where(reduce_scattered, fsdp.per_unit_s(reduce_scatter, grad_bytes, rs_calls, dp_span), sync)
        gather = np.where(sharded, fsdp.per_unit_s(all_gather, params0 * p_bytes, ag_calls, dp_span), gather)
    zero2, zero3 = zero >= 2, zero >= 3
    if zero2.any():  # (where no candidate shards its gradients np.where would pick ``sync`` itself)
        sync = np.where(zero2, sync * m, sync)  # sharded gradients are reduced after every micro-batch
    # parameters gathered for every forward and backward (ZeRO-3), or for every forward where ZeRO-2 frees them after
    # each backward (perf.fsdp)
    regather = (zero == 2) & sw.zero2_regather
    gathers = np.where(zero3, 2 * m, np.where(regather, m, 1.0))
    # DeepSpeed ZeRO-3 prefetches under a live-parameter cap: the gathers it cannot issue ahead run on demand,
    # serially, and full recompute gathers again unless the reuse distance kept them (perf.zero3_prefetch)
    demand_share = np.zeros(n)
    if sw.zero3_max_live_params > 0:
        demand_share, passes = zero3_prefetch.shares(
            model,
            c.tp,
            n_first,
            c.rc == RECOMPUTE.index("full"),
            sw.zero3_max_live_params,
            sw.zero3_prefetch_bucket_params,
            sw.zero3_max_reuse_params,
        )
        demand_share = np.where(zero3, demand_share, 0.0)
        gathers = np.where(zero3, passes * m, gathers)
    gather = gather * gathers
    # FSDP1 under BACKWARD_POST gathers each unit for its backward only after the previous unit's gradients: those
    # m all-gathers run serially with the compute (perf.fsdp.backward_post_serial_s); the rest overlap as before
    post = zero3 & sw.backward_post_prefetch
    if sw.backward_post_prefetch:
        serial_gather_s = np.where(post, fsdp.backward_post_serial_s(gather, gathers, m), 0.0)
        overlap_gathers = np.where(post, gathers - m, gathers)
    else:  # no candidate gathers serially: the values np.where picks there
        serial_gather_s, overlap_gathers = np.zeros(n), gathers
    gather = gather - serial_gather_s
    demand_s = demand_share * gather  # on demand: serial with the compute (perf.zero3_prefetch)
    serial_gather_s = serial_gather_s + demand_s
    gather = gather - demand_s
    overlap_gathers = overlap_gathers * (1.0 - demand_share)
    # DeepSpeed 0.6 ZeRO-3 as measured: none of its gathers hide (perf.zero3_serial)
    gather, serial_gather_s = zero3_serial.serial_gathers(gather, serial_gather_s, zero3, sw.zero3_serial_comm)
    params_all = params0 + expert0
    bucket_share = np.minimum(1.0, sw.dp_bucket_params / np.maximum(params_all, 1.0))
    sync_floor, gather_floor = sync * bucket_share, gather * bucket_share
    if sw.shard_root_unit:  # whole units, not buckets: one per micro-batch cannot hide (perf.fsdp)
        unit = fsdp.unit_params(model, c.tp, c.pp, n_first)
        g_unit, s_unit = fsdp.unit_floors_s(
            comm, unit, dp_span, p_bytes, sw.grad_reduce_bytes, m, zero3 | regather, zero2
        )
        sync_floor = np.minimum(sync, np.maximum(sync_floor, s_unit))
        gather_floor = np.minimum(gather, np.maximum(gather_floor, g_unit))
    # the interference (perf.interference) is the compute's slowdown beside the overlapped collectives: GPUs busy
    # with both, so it is booked as compute time (power follows it), not as exposed communication
    slowed = np.zeros(n)
    # (the chunked terms are skipped where no candidate reduces per chunk: np.where would pick the others there)
    chunked = (~zero2) & (vpp > 1) if sw.chunk_dp_sync and chunk_sync.IN_STEP_TIME else np.zeros(n, dtype=bool)
    any_chunked = bool(chunked.any())
    if any_chunked:  # one collective per model chunk (perf.chunk_sync)
        b_stage, f_stage = n_first * t["bwd_rc"], n_first * t["fwd"]
        sync_floor = np.where(chunked, chunk_sync.floor_s(sync, b_stage, sync_floor, vpp), sync_floor)
        gather_floor = np.where(chunked, chunk_sync.floor_s(gather, f_stage, gather_floor, vpp), gather_floor)
    # DeepSpeed ZeRO-3 with the optimizer offloaded: the backward waits for each bucket's reduce-scatter, which
    # runs serially with the compute (perf.zero3_prefetch)
    serial_sync = zero3 & (sw.zero3_offload_grad_copy_sync or sw.zero3_serial_comm)  # (and perf.zero3_serial)
    if sw.dp_overlap:
        window = n_first * t["bwd_rc"] * np.where(zero2, m, 1.0)
        if any_chunked:
            window = np.where(chunked, chunk_sync.window_s(n_first * t["bwd_rc"], c.pp, vpp), window)
        overlapped = interference.exposed_s(sync, window, sync_floor, slowdown=0.0)
        slowed = slowed + np.where(serial_sync, 0.0, interference.exposed_s(sync, window, sync_floor) - overlapped)
        sync_exposed = np.where(serial_sync, sync, overlapped)
    else:
        sync_exposed = sync
    if sw.param_gather_overlap:
        f_window = n_first * t["fwd"] * overlap_gathers
        if any_chunked:
            f_window = np.where(chunked, chunk_sync.window_s(n_first * t["fwd"], c.pp, vpp), f_window)
        gather_exposed = interference.exposed_s(gather, f_window, gather_floor, slowdown=0.0)
        slowed = slowed + interference.exposed_s(gather, f_window, gather_floor) - gather_exposed
    else:
        gather_exposed = gather
    dp_exposed = sync_exposed + gather_exposed + serial_gather_s
    if sw.shard_copy_out:  # FSDP2 copies each all-gather's output into the parameters, serially (perf.fsdp)
        hbm = acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction
        dp_exposed = dp_exposed + fsdp.copy_out_s(params_all, p_bytes, np.where(sharded, gathers, 0.0), hbm)
    if sw.tied_embedding_grad_bytes > 0:
        # the tied embedding/head gradient, all-reduced between the first and the last stage after the flush
        # (DeepSpeed PipelineEngine ReduceTiedGrads, before ReduceGrads): two ranks a whole pipeline apart
        tied_bytes = model.vocab / c.tp * model.hidden * sw.tied_embedding_grad_bytes
        tied_span = span_of(2, c.tp * c.cp * c.dp * np.maximum(c.pp - 1, 1), system.domain_gpus)
        dp_exposed = dp_exposed + np.where(single, 0.0, comm.all_reduce(tied_bytes, tied_span))
    opt_params = params0 / np.where(sharded, dp_group, 1) + expert0 / np.where(sharded, edp, 1)
    opt_bytes = optimizer_traffic_bytes(sw) * opt_params + sw.grad_scale_bytes_per_param * params_all
    optimizer_s = opt_bytes / (acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction)
    # eager mixed precision casts its fp32 weights in every micro-batch (perf.autocast); GPU work, booked as compute
    cast_s = 0.0
    if sw.autocast_cast_bytes_per_param > 0:
        cast_s = autocast.autocast_s(
            sw.autocast_cast_bytes_per_param,
            autocast.cast_params(params_all, model, c.tp),
            m,
            acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction,
        )
    # the GPU-bound time runs at the pace of the slowest GPU that synchronises each step (perf.straggler); under
    # DiLoCo the sites meet every H inner steps, so a step waits only for the slowest GPU of its own site. Priced
    # always, added to the step only where the accuracy protocol let it land (stragglers.IN_STEP_TIME)
    sync_code = c.sync if c.sync is not None else np.zeros(n, dtype=np.int8)
    job_gpus = c.tp * c.pp * c.cp * c.dp
    sync_ranks = job_gpus // np.where(sync_code == 0, 1, sites)
    compute_s, recompute_s = compute_slow * m, n_slow * t["rc_s"] * m
    straggler = stragglers.straggler_s(compute_s + recompute_s + bubble, sync_ranks)
    sync_scalars = 2.0 * all_reduce(8.0, span_of(job_gpus, 1, system.domain_gpus))
    fixed_mb = n_slow * fix_layer * m  # the micro-batches' fixed costs
    fixed = fixed_mb + fixed_cost.step_fixed_s(opt_params, sw.elementwise_fused, sync_scalars)
    step = t_pipe + slowed + dp_exposed + optimizer_s + cast_s + (straggler if stragglers.IN_STEP_TIME else 0.0)
    if fixed_cost.IN_STEP_TIME:
        step = step + fixed - fixed_mb  # the micro-batches' share is in t_pipe already
    wan = np.zeros(n)
    if multi_site:
        wan = _wan_term(workload, system, sw, c, sites, step, L * t["bwd_rc"])
        step = step + wan

    # --- FLOPs of the whole step, all GPUs ---
    replicas = m * c.dp * c.tp * c.cp
    mtp_flops = model.mtp_depth * (t["model_flops_layers"] / L + t["head_flops"])
    model_flops = (t["model_flops_layers"] + t["head_flops"] + mtp_flops) * replicas
    hw_flops = (t["hw_flops_layers"] + t["head_flops"] + mtp_flops) * replicas

    # --- memory: the first stage holds the most in-flight activations, the last one the logits ---
    cap = acc.hbm_gib * GIB
    m_pass = np.where(lb > 0, lb / c.mb, m)  # micro-batches one pipeline pass holds
    in_flight = inflight(pp, vpp, m_pass)
    # ZB-V keeps 1F1B's peak activations; DualPipe holds p + 1 micro-batches and two copies of the weights
    zb_v = sched == 2
    if zb_v.any():
        in_flight = np.where(zb_v, np.minimum(pp, m_pass), in_flight)
    if any_dual:
        in_flight = np.where(dual, np.minimum(pp + 1, m_pass), in_flight)
    w_bytes = _WEIGHT_BYTES[c.prec]  # plus the quantized copies the GEMMs read
    if sw.fp8_param_gather:
        # the weights are the 8-bit tensors: FP8 keeps them (1 B) and their transposed copy (1 B); MXFP8 its
        # row-wise weights and the column-wise copy; no BF16 copy either way
        w_bytes = np.where(c.prec == FP8, 2.0, np.where(c.prec == MXFP8, w_bytes - 2.0, w_bytes))
    shard = dp_group
    eshard = np.maximum(1, edp)
    # what both stages share, computed once: the sharding divisors of weights (ZeRO-3), gradients (ZeRO-2) and
    # optimizer states (ZeRO-1) of the non-expert and expert parameters, one layer's activations, the logits
    w_div, w_ediv = np.where(zero3, shard, 1), np.where(zero3, eshard, 1)
    g_div, g_ediv = np.where(zero2, shard, 1), np.where(zero2, eshard, 1)
    o_div, o_ediv = np.where(sharded, shard, 1), np.where(sharded, eshard, 1)
    opt_state = optimizer_state_bytes(sw)
    act_layer = t["act_dense"] * (1 - share) + t["act_moe"] * share
    act_work = np.where(c.rc == 2, t["act_work"], 0.0)
    logits_bytes = c.mb * seq / c.cp * model.vocab / c.tp * 6.0  # bf16 logits + fp32 softmax

    def stage_memory(pr: Any, ex: Any, layers: np.ndarray, scaled: np.ndarray, last: Any) -> tuple[np.ndarray, ...]:
        w = w_bytes * (pr / w_div + ex / w_ediv)
        w = w + np.where(zero3, 2 * 2.0 * pr / np.maximum(layers, 1), 0.0)  # gathered layer buffers
        if any_dual:
            w = np.where(dual, 2.0 * w, w)
        gr = sw.grad_accum_bytes * (pr / g_div + ex / g_ediv)
        opt = opt_state * (pr / o_div + ex / o_ediv)
        act = scaled * act_layer * in_flight
        act = act + act_work
        logits = np.where(last, logits_bytes, 0.0)
        allowance = RUNTIME_RESERVE_BYTES + FRAGMENTATION_FRACTION * act
        return w, gr, opt, act, logits, allowance

    first = stage_memory(params0, expert0, n_first, n_first, single)  # the first stage's parameters, from above
    # Later stages hold fewer micro-batches in flight: under 1F1B stage i holds p - i, the last one 1.
    last_pr, last_ex = _stage_params(counts, c, n_last, single, True)
    last = stage_memory(last_pr, last_ex, n_last, np.where(single, n_last, n_last / pp), True)
    tot_first = sum(first)
    tot_last = sum(last)
    worst_last = tot_last > tot_first
    pick = [np.where(worst_last, b, a) for a, b in zip(first, last, strict=True)]

    return BatchResult(
        cand=c,
        step_time_s=step,
        compute_s=compute_s + slowed + cast_s,
        recompute_s=recompute_s,
        tp_comm_s=n_slow * t["tp_s"] * m,
        ep_comm_s=n_slow * (t["ep_s"] - ep_hidden) * m,
        pp_comm_s=p2p_per_mb * m,
        bubble_s=bubble,
        dp_comm_s=dp_exposed,
        optimizer_s=optimizer_s,
        wan_s=wan,
        straggler_s=straggler,
        fixed_s=fixed,
        microbatches=m,
        model_flops=model_flops,
        hw_flops=hw_flops,
        weights_bytes=pick[0],
        grads_bytes=pick[1],
        optimizer_bytes=pick[2],
        activations_bytes=pick[3],
        logits_bytes=pick[4],
        allowance_bytes=pick[5],
        activation_first_stage_bytes=first[3],
        capacity_bytes=cap,
        stage_layers=stage_layers,
    )


def _where(mask: np.ndarray, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> np.ndarray:
    """np.where(mask, if_true(), if_false()) that prices only the side some candidate takes: where every candidate
    takes one side, the other is not computed (np.where with a constant there picks the same values)."""
    if not mask.any():
        return np.where(mask, 0.0, if_false())
    if mask.all():
        return np.where(mask, if_true(), 0.0)
    return np.where(mask, if_true(), if_false())


def _wan_term(
    workload: WorkloadSpec,
    system: SystemSpec,
    sw: SoftwareProfile,
    c: Candidates,
    sites: np.ndarray,
    step_s: np.ndarray,
    last_backward_s: np.ndarray,
) -> np.ndarray:
    """Exposed WAN time per step of candidates spanning several sites (perf.wan): one model's gradients (or DiLoCo's
    outer gradients) over the pair links, the hierarchical all-reduce hidden behind the last micro-batch's backward
    through all layers when the stack overlaps its gradient reduction."""
    wan = system.wan
    if wan is None:  # the rules refuse sites > 1 on a system without a WAN; nothing crosses one here
        return np.zeros(len(c))
    model = workload.model
    params = float(model.total_params + model.mtp_params)
    site_gpus = (c.tp * c.pp * c.cp * c.dp // sites).astype(float)
    nic = system.fabric.nic_busbw_gb_per_s * GB
    return wan_exposed_s(  # type: ignore[no-any-return]
        c.sync if c.sync is not None else np.zeros(len(c), dtype=np.int8),
        sites,
        c.hin if c.hin is not None else np.zeros(len(c), dtype=np.int64),
        params=params,
        layers=model.layers,
        grad_bytes=float(sw.grad_reduce_bytes),
        step_s=step_s,
        window_s=last_backward_s if sw.dp_overlap else 0.0,
        bucket_share=min(1.0, sw.dp_bucket_params / params),
        link_bytes_per_s=wan.gbps_per_site_pair * GBIT,
        latency_s=wan.latency_s,
        site_nic_bytes_per_s=site_gpus * nic,
    )


def _empty(c: Candidates, cap: float) -> BatchResult:
    z = np.zeros(0)
    arrays = {f.name: z for f in fields(BatchResult) if f.name not in ("cand", "capacity_bytes", "stage_layers")}
    return BatchResult(cand=c, capacity_bytes=cap, stage_layers=[], **arrays)
