"""When no layout exists: say why and what nearby choices would work."""

from __future__ import annotations

from supercluster.specs import PlanSpec, SystemSpec, WorkloadSpec

SEARCH_RADIUS = 0.25


def _has_layout(workload: WorkloadSpec, system: SystemSpec, gpus: int, fixed: PlanSpec, global_batch: int) -> bool:
    from supercluster.plan.space import cp_choices, tp_choices

    model = workload.model
    for tp in [fixed.tp] if fixed.tp else tp_choices(model, system):
        for cp in [fixed.cp] if fixed.cp else cp_choices(workload.seq):
            if gpus % (tp * cp):
                continue
            rest = gpus // (tp * cp)
            for pp in [fixed.pp] if fixed.pp else range(1, min(rest, model.layers) + 1):
                if rest % pp:
                    continue
                dp = rest // pp
                if global_batch % dp == 0 and (not fixed.dp or fixed.dp == dp):
                    return True
    return False


def nearest_gpu_counts(workload: WorkloadSpec, system: SystemSpec, gpus: int, fixed: PlanSpec) -> list[int]:
    below = above = None
    for delta in range(1, max(2, int(gpus * SEARCH_RADIUS))):
        if (
            below is None
            and gpus - delta >= 1
            and _has_layout(workload, system, gpus - delta, fixed, workload.global_batch)
        ):
            below = gpus - delta
        if above is None and _has_layout(workload, system, gpus + delta, fixed, workload.global_batch):
            above = gpus + delta
        if below and above:
            break
    return [g for g in (below, above) if g]


def nearest_batches(workload: WorkloadSpec, system: SystemSpec, gpus: int, fixed: PlanSpec) -> list[int]:
    gb = workload.global_batch
    below = above = None
    for delta in range(1, max(2, gb)):
        if below is None and gb - delta >= 1 and _has_layout(workload, system, gpus, fixed, gb - delta):
            below = gb - delta
        if above is None and _has_layout(workload, system, gpus, fixed, gb + delta):
            above = gb + delta
        if below and above:
            break
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
