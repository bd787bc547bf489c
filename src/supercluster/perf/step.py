"""One optimizer step: compose layer costs, pipeline, data-parallel sync and optimizer.

    step = T_pipeline + exposed gradient sync + optimizer update

T_pipeline from :mod:`supercluster.perf.pipeline`; per-stage micro-batch time
is the sum of its layers' forward, backward, recompute and exposed TP/EP
communication plus pipeline send/receive. Gradient synchronisation is an
all-reduce (or reduce-scatter + all-gather under ZeRO) over the data- and
context-parallel group (Narayanan et al. 2021, section 3.1); overlapped with
the backward of the last micro-batch when the software does so (Megatron-Core
``overlap_grad_reduce``), leaving at least the last bucket exposed. The Adam
update is memory-bound: 34 bytes per parameter moved (read gradient, fp32
master, momentum, variance; write them and the bf16 copy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supercluster.perf.comm import CollectiveModel, span_of
from supercluster.perf.gemm import memory_bound_s
from supercluster.perf.layer import LayerCost, embedding_cost, head_cost, layer_cost
from supercluster.perf.layout import check_layout
from supercluster.perf.memory import MemoryBreakdown, memory_breakdown
from supercluster.perf.pipeline import balance_layers, pipeline_time_s
from supercluster.specs import ModelSpec, ResolvedPlan, SoftwareProfile, SystemSpec, WorkloadSpec
from supercluster.units import GIB

ADAM_BYTES_PER_PARAM = 34.0


@dataclass(frozen=True)
class StepEstimate:
    """Time and memory of one optimizer step for one layout. Every time is seconds per step."""

    plan: ResolvedPlan
    gpus: int
    step_time_s: float
    compute_s: float
    recompute_s: float
    tp_comm_s: float
    ep_comm_s: float
    pp_comm_s: float
    bubble_s: float
    dp_comm_s: float
    optimizer_s: float
    microbatches: int
    stage_layers: list[int]
    tokens_per_step: int
    model_flops_per_step: float
    hw_flops_per_step: float
    peak_flops_per_gpu: float
    memory: MemoryBreakdown
    activation_first_stage_bytes: float
    filled: dict[str, str] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.step_time_s

    @property
    def tokens_per_s_per_gpu(self) -> float:
        return self.tokens_per_s / self.gpus

    @property
    def model_tflops_per_gpu(self) -> float:
        return self.model_flops_per_step / self.step_time_s / self.gpus / 1e12

    @property
    def hw_tflops_per_gpu(self) -> float:
        return self.hw_flops_per_step / self.step_time_s / self.gpus / 1e12

    @property
    def mfu(self) -> float:
        return self.model_tflops_per_gpu * 1e12 / self.peak_flops_per_gpu

    @property
    def hfu(self) -> float:
        return self.hw_tflops_per_gpu * 1e12 / self.peak_flops_per_gpu

    def breakdown(self) -> dict[str, float]:
        return {
            "compute_s": self.compute_s,
            "recompute_s": self.recompute_s,
            "tp_comm_exposed_s": self.tp_comm_s,
            "ep_comm_exposed_s": self.ep_comm_s,
            "pp_comm_exposed_s": self.pp_comm_s,
            "pipeline_bubble_s": self.bubble_s,
            "dp_comm_exposed_s": self.dp_comm_s,
            "optimizer_s": self.optimizer_s,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.model_dump(),
            "layout": self.plan.label(),
            "gpus": self.gpus,
            "step_time_s": self.step_time_s,
            "breakdown": self.breakdown(),
            "microbatches": self.microbatches,
            "stage_layers": self.stage_layers,
            "tokens_per_step": self.tokens_per_step,
            "tokens_per_s": self.tokens_per_s,
            "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
            "model_tflops_per_gpu": self.model_tflops_per_gpu,
            "hw_tflops_per_gpu": self.hw_tflops_per_gpu,
            "mfu": self.mfu,
            "hfu": self.hfu,
            "memory": self.memory.to_dict(),
            "activation_first_stage_gib": self.activation_first_stage_bytes / GIB,
            "filled": self.filled,
            "assumptions": self.assumptions,
        }


def _stage_params(model: ModelSpec, plan: ResolvedPlan, layers: float, first: bool, last: bool) -> tuple[float, float]:
    """(non-expert, expert) parameters one GPU of a stage holds."""
    t = plan.tp
    moe_share = model.moe_layers / model.layers
    dense_layers = layers * (1 - moe_share)
    moe_layers = layers * moe_share
    per_moe_expert = (model.moe_experts * model.expert_params) if model.is_moe else 0
    shared = model.moe_ffn_params - per_moe_expert if model.is_moe else 0
    params = layers * model.attention_params / t + dense_layers * model.dense_ffn_params / t
    params += moe_layers * shared / t
    expert = moe_layers * per_moe_expert / (t * plan.ep)
    if first or plan.pp == 1:
        params += model.embedding_params / t
    if last and (plan.pp > 1 or not model.tied_embeddings):
        params += model.vocab * model.hidden / t
    return params, expert


def estimate(
    workload: WorkloadSpec, system: SystemSpec, sw: SoftwareProfile, plan: ResolvedPlan, gpus: int
) -> StepEstimate:
    model, seq = workload.model, workload.seq
    m = check_layout(model, plan, gpus, seq, workload.global_batch)
    acc = system.accelerator
    comm = CollectiveModel(system)
    dense = layer_cost(model, plan, seq, acc, sw, comm, moe=False)
    moe = layer_cost(model, plan, seq, acc, sw, comm, moe=True) if model.is_moe else dense
    n_moe = model.moe_layers
    mean_layer_s = (dense.total_s * (model.layers - n_moe) + moe.total_s * n_moe) / model.layers
    head_f, head_b, head_flops = head_cost(model, plan, seq, acc, comm)
    emb_s = embedding_cost(model, plan, seq, acc)
    p = plan.pp
    stage_layers = balance_layers(model.layers, p, emb_s / mean_layer_s, (head_f + head_b) / mean_layer_s)

    # Pipeline send/receive: one activation per micro-batch per chunk boundary, each way,
    # scattered over the TP group (Megatron's scatter-gather optimisation).
    p2p_bytes = plan.micro_batch * seq / plan.cp * model.hidden * 2.0 / plan.tp
    crosses = plan.tp * plan.cp * plan.dp >= system.domain_gpus
    p2p_one = comm.p2p(p2p_bytes, crosses) if p > 1 else 0.0
    if p > 1 and plan.tp > 1 and not plan.sequence_parallel:
        # the receiver re-assembles the full activation across its TP group
        p2p_one += comm.all_gather(p2p_bytes * plan.tp, span_of(plan.tp, 1, system.domain_gpus))
    p2p_per_mb = 0.0 if sw.pp_overlap else 2.0 * plan.vpp * p2p_one

    def mix(attr: str, layers: int) -> float:
        moe_share = n_moe / model.layers
        return layers * (getattr(dense, attr) * (1 - moe_share) + getattr(moe, attr) * moe_share)

    stage_times = []
    for i, n in enumerate(stage_layers):
        t_stage = mix("total_s", n) + p2p_per_mb
        if i == 0:
            t_stage += emb_s
        if i == p - 1:
            t_stage += head_f + head_b
        stage_times.append(t_stage)
    t_pipe, bubble = pipeline_time_s(stage_times, m, plan.vpp)
    slow = max(range(p), key=lambda i: stage_times[i])
    n_slow = stage_layers[slow]
    compute_slow = mix("fwd_s", n_slow) + mix("bwd_s", n_slow)
    if slow == 0:
        compute_slow += emb_s
    if slow == p - 1:
        compute_slow += head_f + head_b

    # Gradient synchronisation of the first stage (it finishes its backward last).
    params0, expert0 = _stage_params(model, plan, stage_layers[0], True, p == 1)
    dp_group = plan.dp * plan.cp
    grad_bytes = params0 * sw.grad_reduce_bytes
    dp_span = span_of(dp_group, plan.tp, system.domain_gpus)
    edp = dp_group // plan.ep
    edp_span = span_of(edp, plan.tp * plan.ep, system.domain_gpus)
    exp_bytes = expert0 * sw.grad_reduce_bytes
    if plan.zero == 0:
        sync = comm.all_reduce(grad_bytes, dp_span) + comm.all_reduce(exp_bytes, edp_span)
        gather = 0.0
    else:
        sync = comm.reduce_scatter(grad_bytes, dp_span) + comm.reduce_scatter(exp_bytes, edp_span)
        gather = comm.all_gather(params0 * 2.0, dp_span) + comm.all_gather(expert0 * 2.0, edp_span)
    if plan.zero >= 2:
        sync *= m  # sharded gradients are reduced after every micro-batch
    if plan.zero >= 3:
        gather *= 2 * m  # parameters gathered for every forward and backward
    last_bwd = mix("bwd_s", stage_layers[0]) + mix("recompute_s", stage_layers[0])
    bucket_share = min(1.0, sw.dp_bucket_params / max(params0 + expert0, 1.0))
    if sw.dp_overlap:
        window = last_bwd * (m if plan.zero >= 2 else 1)
        sync_exposed = max(sync - window, sync * bucket_share)
    else:
        sync_exposed = sync
    if sw.param_gather_overlap:
        f_window = mix("fwd_s", stage_layers[0]) * (2 * m if plan.zero >= 3 else 1)
        gather_exposed = max(gather - f_window, gather * bucket_share)
    else:
        gather_exposed = gather
    dp_exposed = sync_exposed + gather_exposed

    opt_params = params0 / (dp_group if plan.zero >= 1 else 1) + expert0 / (edp if plan.zero >= 1 else 1)
    optimizer_s = memory_bound_s(ADAM_BYTES_PER_PARAM * opt_params, acc)
    step = t_pipe + dp_exposed + optimizer_s

    # FLOPs of the whole step, all GPUs.
    per_mb_model = (
        ((model.layers - n_moe) * dense.model_flops + n_moe * moe.model_flops + head_flops) * plan.tp * plan.cp
    )
    per_mb_hw = ((model.layers - n_moe) * dense.hw_flops + n_moe * moe.hw_flops + head_flops) * plan.tp * plan.cp
    replicas = m * plan.dp

    # Memory: the first stage holds the most in-flight activations, the last one the logits.
    n_moe_share = n_moe / model.layers
    cap = acc.hbm_gib * GIB

    def mem(i: int) -> MemoryBreakdown:
        pr, ex = _stage_params(model, plan, stage_layers[i], i == 0, i == p - 1)
        nl = stage_layers[i] * (p - i) / p if p > 1 else stage_layers[i]
        # Later stages hold fewer micro-batches in flight: p - i of them under 1F1B; scale layers
        # so inflight_microbatches(p) * nl matches.
        return memory_breakdown(
            model, plan, seq, sw, cap, pr, ex, nl * (1 - n_moe_share), nl * n_moe_share, m, i == p - 1
        )

    stages_to_check = {0, p - 1}
    memories = [mem(i) for i in sorted(stages_to_check)]
    worst = max(memories, key=lambda x: x.total_bytes)
    act_first = memories[0].activations_bytes

    notes = []
    if model.is_moe:
        notes.append(
            "mixture of experts: uniform routing (no load imbalance) and expert GEMMs at dense efficiency; "
            "the MoE model of a later issue refines both"
        )
    tp_total = mix("tp_comm_s", n_slow) * m
    return StepEstimate(
        plan=plan,
        gpus=gpus,
        step_time_s=step,
        compute_s=compute_slow * m,
        recompute_s=mix("recompute_s", n_slow) * m,
        tp_comm_s=tp_total,
        ep_comm_s=mix("ep_comm_s", n_slow) * m,
        pp_comm_s=p2p_per_mb * m,
        bubble_s=bubble,
        dp_comm_s=dp_exposed,
        optimizer_s=optimizer_s,
        microbatches=m,
        stage_layers=stage_layers,
        tokens_per_step=workload.tokens_per_step,
        model_flops_per_step=per_mb_model * replicas,
        hw_flops_per_step=per_mb_hw * replicas,
        peak_flops_per_gpu=acc.peak_flops("bf16"),
        memory=worst,
        activation_first_stage_bytes=act_first,
        assumptions=notes,
    )


__all__ = ["LayerCost", "StepEstimate", "estimate"]
