"""The typed result of one layout, and `estimate` for a fully specified plan.

The composition itself (pipeline, gradient sync, optimizer, memory) lives in
:mod:`supercluster.perf.batch`, shared with the planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supercluster.perf import fixed_cost
from supercluster.perf import straggler as stragglers
from supercluster.perf.batch import BatchResult, Candidates, evaluate
from supercluster.perf.imbalance import plan_routing_load
from supercluster.perf.layout import check_layout
from supercluster.perf.memory import MEMORY_PARTS, MemoryBreakdown
from supercluster.perf.wan import QUALITY
from supercluster.specs import ResolvedPlan, SoftwareProfile, SystemSpec, WorkloadSpec
from supercluster.units import GIB


@dataclass(frozen=True)
class StepEstimate:
    """Time and memory of one optimizer step for one layout. Every time is seconds per step."""

    plan: ResolvedPlan
    gpus: int
    step_time_s: float
    compute_s: float
    recompute_s: float
    tp_comm_s: float  # exposed TP and context-parallel (CP) communication (JSON tp_comm_exposed_s; perf.layer)
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
    precision_peak_flops_per_gpu: float
    memory: MemoryBreakdown
    activation_first_stage_bytes: float
    filled: dict[str, str] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    wan_s: float = 0.0  # exposed wide-area (cross-site) synchronisation per step
    straggler_s: float = 0.0  # expected wait for the slowest GPU per step (perf.straggler)
    straggler_in_step: bool = False  # whether step_time_s includes it (perf.straggler.IN_STEP_TIME)
    fixed_s: float = 0.0  # fixed per-kernel and per-step costs (perf.fixed_cost)
    fixed_in_step: bool = True  # whether step_time_s includes it (perf.fixed_cost.IN_STEP_TIME)

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
        """Model FLOP/s over the dense peak of the precision the layout multiplies in (PaLM, Chowdhery et al.
        2022, appendix B, defines MFU against the peak of the hardware as used: an FP8 layout is measured
        against the FP8 peak, so FP8 cannot look twice as well utilised as BF16 by changing the yardstick)."""
        return self.model_tflops_per_gpu * 1e12 / self.precision_peak_flops_per_gpu

    @property
    def mfu_bf16_peak(self) -> float:
        """Model FLOP/s over the dense BF16 peak: the figure NVIDIA's and Megatron's FP8 tables print, kept
        beside :attr:`mfu` so FP8 runs compare with published numbers."""
        return self.model_tflops_per_gpu * 1e12 / self.peak_flops_per_gpu

    @property
    def mfu_peak_precision(self) -> str:
        """The precision whose dense peak divides :attr:`mfu` (MXFP8 runs at the FP8 rate, NVFP4 at FP4)."""
        return "bf16" if self.precision_peak_flops_per_gpu == self.peak_flops_per_gpu else self.plan.precision

    @property
    def hfu(self) -> float:
        """Hardware FLOP/s (recompute included) over the same denominator as :attr:`mfu`."""
        return self.hw_tflops_per_gpu * 1e12 / self.precision_peak_flops_per_gpu

    def breakdown(self) -> dict[str, float]:
        """Seconds per step by term. The terms add up to the step time, except ``straggler_s`` when
        :attr:`straggler_in_step` is False: then it is the expected wait for the slowest GPU that the step time
        leaves out (perf.straggler)."""
        return {
            "compute_s": self.compute_s,
            "recompute_s": self.recompute_s,
            "tp_comm_exposed_s": self.tp_comm_s,
            "ep_comm_exposed_s": self.ep_comm_s,
            "pp_comm_exposed_s": self.pp_comm_s,
            "pipeline_bubble_s": self.bubble_s,
            "dp_comm_exposed_s": self.dp_comm_s,
            "optimizer_s": self.optimizer_s,
            "wan_exposed_s": self.wan_s,
            "straggler_s": self.straggler_s,
            "fixed_overhead_s": self.fixed_s,
        }

    def step_terms(self) -> dict[str, float]:
        """The terms of :meth:`breakdown` that make up the step time (they add up to it)."""
        b = self.breakdown()
        if not self.straggler_in_step:
            del b["straggler_s"]
        if not self.fixed_in_step:
            del b["fixed_overhead_s"]
        return b

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.model_dump(),
            "layout": self.plan.label(),
            "gpus": self.gpus,
            "step_time_s": self.step_time_s,
            "breakdown": self.breakdown(),
            "straggler_in_step_time": self.straggler_in_step,
            "fixed_overhead_in_step_time": self.fixed_in_step,
            "microbatches": self.microbatches,
            "stage_layers": self.stage_layers,
            "tokens_per_step": self.tokens_per_step,
            "tokens_per_s": self.tokens_per_s,
            "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
            "model_tflops_per_gpu": self.model_tflops_per_gpu,
            "hw_tflops_per_gpu": self.hw_tflops_per_gpu,
            "mfu": self.mfu,
            "mfu_peak_precision": self.mfu_peak_precision,
            "mfu_peak_tflops_per_gpu": self.precision_peak_flops_per_gpu / 1e12,
            "mfu_bf16_peak": self.mfu_bf16_peak,
            "hfu": self.hfu,
            "memory": self.memory.to_dict(),
            "activation_first_stage_gib": self.activation_first_stage_bytes / GIB,
            "filled": self.filled,
            "assumptions": self.assumptions,
        }


def from_batch(
    res: BatchResult, i: int, workload: WorkloadSpec, system: SystemSpec, gpus: int, trusted: bool = False
) -> StepEstimate:
    """The i-th candidate of a batch as a typed result (``trusted``: the batch's candidates came from validated
    plans, see :meth:`Candidates.plan`)."""
    memory = MemoryBreakdown(
        **{part: float(getattr(res, part)[i]) for part in MEMORY_PARTS}, capacity_bytes=res.capacity_bytes
    )
    notes = []
    plan = res.cand.plan(i, trusted)
    if workload.model.is_moe:
        m = workload.model
        routing = (
            "the benchmark's balanced gate (no imbalance)"
            if m.moe_router in ("fake-balanced", "force-balanced")
            else (
                f"busiest expert rank at {plan_routing_load(m, plan, workload.seq):.3g}x the mean load (sampling "
                f"over {plan.ep} EP ranks; {plan_routing_load(m, plan, workload.seq, skew=True):.3g}x with a "
                f"trained {m.moe_balancing} router's skew, not in the step time)"
            )
        )
        notes.append(
            f"mixture of experts: {routing}; the local experts' GEMMs priced as the software profile's kernel "
            "runs them (expert_gemm: per-expert GEMMs at their own shapes, or one grouped GEMM with each expert's "
            "rows padded to its tile and every expert's weights streamed)"
        )
    b = res.breakdown(i)
    if b["straggler_s"] > 0:
        notes.append(straggler_note(gpus if plan.sync == "allreduce" else gpus // plan.sites, b["straggler_s"]))
    if plan.sites > 1:
        notes.extend(site_notes(system, plan))
    return StepEstimate(
        plan=plan,
        gpus=gpus,
        step_time_s=float(res.step_time_s[i]),
        compute_s=b["compute_s"],
        recompute_s=b["recompute_s"],
        tp_comm_s=b["tp_comm_exposed_s"],
        ep_comm_s=b["ep_comm_exposed_s"],
        pp_comm_s=b["pp_comm_exposed_s"],
        bubble_s=b["pipeline_bubble_s"],
        dp_comm_s=b["dp_comm_exposed_s"],
        optimizer_s=b["optimizer_s"],
        microbatches=round(float(res.microbatches[i])),
        stage_layers=list(res.stage_layers[i]),
        tokens_per_step=workload.tokens_per_step,
        model_flops_per_step=float(res.model_flops[i]),
        hw_flops_per_step=float(res.hw_flops[i]),
        peak_flops_per_gpu=system.accelerator.peak_flops("bf16"),
        precision_peak_flops_per_gpu=system.accelerator.peak_flops(plan.precision),
        memory=memory,
        activation_first_stage_bytes=float(res.activation_first_stage_bytes[i]),
        assumptions=notes,
        wan_s=b["wan_exposed_s"],
        straggler_s=b["straggler_s"],
        straggler_in_step=stragglers.IN_STEP_TIME,
        fixed_s=b["fixed_overhead_s"],
        fixed_in_step=fixed_cost.IN_STEP_TIME,
    )


def straggler_note(ranks: int, straggler_s: float) -> str:
    """What the straggler term rests on (perf.straggler)."""
    lag = stragglers.slowest_rank_fraction(ranks)
    where = (
        "included in the step time"
        if stragglers.IN_STEP_TIME
        else "reported beside the step time, not in it: adding it worsened the leave-one-source-out error on the "
        "validated runs (benchmarks/results/straggler_protocol.json)"
    )
    return (
        f"stragglers: a step waits for the slowest of {ranks:,} GPUs, expected {float(lag) * 100:.1f}% behind the "
        f"mean one on its compute, recompute and bubble ({straggler_s:.3g} s; per-GPU spread sigma "
        f"{stragglers.RANK_SIGMA * 100:.2f}% from PRISM, arXiv:2510.15596, x E[max of {ranks:,} normals] "
        f"{stragglers.expected_max_normal(ranks):.2f}); {where}"
    )


def site_notes(system: SystemSpec, plan: ResolvedPlan) -> list[str]:
    """What a job across sites rests on: where its groups sit, the WAN it is priced on, the sync's published
    effect on quality (perf.wan.QUALITY)."""
    wan = system.wan
    link = (
        f"{wan.gbps_per_site_pair:,.0f} Gb/s per site pair, {wan.latency_s * 1e3:.2f} ms one way"
        + (f" ({wan.distance_km:,.0f} km of fibre at 4.91 us/km)" if wan.latency_ms is None else "")
        if wan is not None
        else "no WAN"
    )
    notes = [
        f"{plan.sites} sites of dp/{plan.sites} = {plan.dp // plan.sites} whole replicas each: TP, CP, EP and PP "
        f"groups stay inside a site, only data-parallel traffic crosses the WAN ({link})"
    ]
    if plan.sync == "allreduce":
        notes.append(
            "hierarchical gradient reduction: reduce-scatter inside each site, ring all-reduce of the shards across "
            "sites every step, all-gather inside the site (ZeRO sharding stays inside a site)"
        )
    else:
        notes.append(QUALITY[plan.sync])
    return notes


def estimate(
    workload: WorkloadSpec, system: SystemSpec, sw: SoftwareProfile, plan: ResolvedPlan, gpus: int
) -> StepEstimate:
    """Time and memory of one fully specified layout (raises with the arithmetic if it cannot run)."""
    check_layout(workload.model, plan, gpus, workload.seq, workload.global_batch)
    res = evaluate(workload, system, sw, Candidates.from_plans([plan]))
    return from_batch(res, 0, workload, system, gpus, trusted=True)  # ``plan`` was validated when it was made
