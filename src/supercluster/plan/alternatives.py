"""When no layout exists: say why and what nearby choices would work.

A layout of g GPUs exists when g = tp * cp * pp * dp for allowed tp, cp and pp, with dp dividing the global
batch. So the GPU counts that work are the products u * d of a model-parallel size u = tp * cp * pp and a
divisor d of the batch, and the batches that work on g GPUs are the multiples of some g / u: both are found by
arithmetic over those few sets, never by walking over counts.
"""

from __future__ import annotations

from supercluster.plan.space import divisors
from supercluster.specs import PlanSpec, SystemSpec, WorkloadSpec


def _model_parallel_sizes(workload: WorkloadSpec, system: SystemSpec, fixed: PlanSpec) -> set[int]:
    """Every tp * cp * pp the fixed knobs allow."""
    from supercluster.plan.space import cp_choices, tp_choices

    tps = [fixed.tp] if fixed.tp else tp_choices(workload.model, system)
    cps = [fixed.cp] if fixed.cp else cp_choices(workload.seq)
    pps = [fixed.pp] if fixed.pp else range(1, workload.model.layers + 1)
    return {t * c * p for t in tps for c in cps for p in pps}


def nearest_gpu_counts(workload: WorkloadSpec, system: SystemSpec, gpus: int, fixed: PlanSpec) -> list[int]:
    gb = workload.global_batch
    dps = [fixed.dp] if fixed.dp else divisors(gb)
    dps = [d for d in dps if gb % d == 0]
    below = above = None
    for u in _model_parallel_sizes(workload, system, fixed):
        for d in dps:
            g = u * d
            if g < gpus and (below is None or g > below):
                below = g
            elif g > gpus and (above is None or g < above):
                above = g
    return [g for g in (below, above) if g]


def nearest_batches(workload: WorkloadSpec, system: SystemSpec, gpus: int, fixed: PlanSpec) -> list[int]:
    gb = workload.global_batch
    below = above = None
    for u in _model_parallel_sizes(workload, system, fixed):
        if gpus % u:
            continue
        dp = gpus // u
        if fixed.dp and fixed.dp != dp:
            continue
        lower, upper = (gb - 1) // dp * dp, (gb // dp + 1) * dp
        if lower >= 1 and (below is None or lower > below):
            below = lower
        if above is None or upper < above:
            above = upper
    return [b for b in (below, above) if b]


def no_layout_message(workload: WorkloadSpec, system: SystemSpec, gpus: int, fixed: PlanSpec, options: object) -> str:
    fixed_axes = {k: v for k, v in fixed.model_dump().items() if v is not None}
    gpu_alt = nearest_gpu_counts(workload, system, gpus, fixed)
    batch_alt = nearest_batches(workload, system, gpus, fixed)
    parts = [
        f"no layout of {gpus} GPUs gives a whole number of sequences per data-parallel rank for "
        f"global_batch({workload.global_batch})" + (f" with {fixed_axes}" if fixed_axes else "")
    ]
    if gpu_alt:
        parts.append(f"GPU counts that work: {', '.join(f'{g:,}' for g in gpu_alt)}")
    if batch_alt:
        parts.append(f"global batches that work on {gpus:,} GPUs: {', '.join(str(b) for b in batch_alt)}")
    return "; ".join(parts)
