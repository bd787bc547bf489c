"""Which term of the step model holds a layout back from its compute time: the binding term of a row."""

from __future__ import annotations

from typing import Any

from supercluster.perf.step import StepEstimate

# Seconds per step a layout loses to each term of the step model (supercluster.perf.batch: step = pipeline +
# exposed gradient sync + optimizer; the pipeline is micro-batches x the slowest stage + the bubble), named as
# The causes the question names. Recompute is what memory costs: a layout that fits only by re-running the forward.
TERMS: dict[str, tuple[str, ...]] = {
    "TP comm": ("tp_comm_s",),
    "EP all-to-all": ("ep_comm_s",),
    "pipeline bubble": ("bubble_s", "pp_comm_s"),
    "DP sync": ("dp_comm_s",),
    "memory (recompute)": ("recompute_s",),
    "optimizer": ("optimizer_s",),
}


def losses_s(step: StepEstimate) -> dict[str, float]:
    """Seconds per step spent on each non-compute term (exposed communication, bubble, recompute, optimizer)."""
    return {name: sum(float(getattr(step, f)) for f in fields) for name, fields in TERMS.items()}


def binding(step: StepEstimate, global_batch: int, feasible: bool) -> dict[str, Any]:
    """The largest loss term of a layout, with a sentence: its share of the step, and whether the batch is spread
    below one sequence per GPU (the critical batch size then forces the extra GPUs into model parallelism)."""
    lost = losses_s(step)
    name = max(lost, key=lambda k: lost[k])
    share = lost[name] / step.step_time_s
    per_gpu = global_batch / step.gpus
    batch_note = (
        f"; the batch gives {per_gpu:.2g} sequences per GPU, so the GPUs past {global_batch:,} go into model "
        "parallelism (critical batch size)"
        if per_gpu < 1
        else ""
    )
    lead = "fastest layout" if not feasible else "chosen layout"
    why = (
        f"{lead} {step.plan.label()}: {name} takes {share * 100:.0f}% of the {step.step_time_s:.3g} s step, "
        f"MFU {step.mfu * 100:.1f}%" + batch_note
    )
    if lost[name] <= 0:
        name, why = "none", f"{lead} {step.plan.label()}: compute only, MFU {step.mfu * 100:.1f}%"
    return {
        "binding": name,
        "binding_share": share if lost[name] > 0 else 0.0,
        "batch_limited": per_gpu < 1,
        "binding_why": why,
        "losses_s": lost,
    }
