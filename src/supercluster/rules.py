"""Cross-field rules of a job's layout, the same for every command, with the arithmetic in every message.

`check_plan` holds what a plan's fixed knobs must satisfy whatever the blank ones become; it runs when a
scenario is loaded (its own plan) and before any fill or search (the knobs fixed on the command line).
"""

from __future__ import annotations

from supercluster.errors import SuperclusterError
from supercluster.specs import ModelSpec, PlanSpec


def check_plan(
    model: ModelSpec,
    plan: PlanSpec,
    seq: int,
    global_batch: int,
    gpus: int | None = None,
) -> None:
    """Raise with the arithmetic when fixed knobs contradict the model, the batch or the GPUs. (A ZeRO stage the
    user gives is priced by estimate and plan alike, even where the stack's own list lacks it.)"""
    ep, cp, tp, pp = plan.ep, plan.cp or 1, plan.tp, plan.pp
    if ep and ep > 1:
        if not model.is_moe:
            raise SuperclusterError(
                f"ep({ep}) > 1 needs a mixture-of-experts model; {model.name} is dense (moe_experts = 0): use ep 1"
            )
        if model.moe_experts % ep:
            valid = [e for e in range(1, model.moe_experts + 1) if model.moe_experts % e == 0]
            raise SuperclusterError(
                f"ep({ep}) must divide moe_experts({model.moe_experts}) of {model.name}; valid ep: {valid}"
            )
        etp = plan.etp
        if etp is not None and tp and tp % etp:
            raise SuperclusterError(f"etp({etp}) must divide tp({tp}): experts split over a subset of the TP ranks")
        # an EP group folds over the ranks the experts are not split over: tp * cp * dp / etp (cp * dp when
        # etp = tp). A blank etp may be filled down to 1 by a stack that folds (MoE Parallel Folding), so the
        # loosest rule applies here and the search keeps what the stack allows.
        fold = tp // etp if etp is not None and tp else (tp or 1)
        if plan.dp and (plan.dp * cp * fold) % ep:
            ranks = f"dp({plan.dp}) * cp({cp})" + (f" * tp({tp}) / etp({etp})" if fold > 1 else "")
            raise SuperclusterError(f"ep({ep}) must divide {ranks} = {plan.dp * cp * fold}")
        if gpus and tp and pp and gpus % (tp * pp) == 0 and (gpus // (tp * pp) * fold) % ep:
            rest = gpus // (tp * pp) * fold
            raise SuperclusterError(
                f"ep({ep}) must divide dp * cp{' * tp / etp' if fold > 1 else ''} = {rest} "
                f"(gpus({gpus}) / (tp({tp}) * pp({pp})){f' * {fold}' if fold > 1 else ''})"
            )
        if gpus and gpus % ep:
            raise SuperclusterError(f"ep({ep}) must divide dp * cp, a divisor of gpus({gpus}); {gpus} % {ep} != 0")
    if plan.recompute_fraction is not None and plan.recompute not in (None, "full"):
        raise SuperclusterError(
            f"recompute_fraction({plan.recompute_fraction:g}) is a share of a full recompute: it needs recompute "
            f"full, got recompute {plan.recompute}"
        )
    if seq % cp:
        raise SuperclusterError(f"cp({cp}) must divide seq_len({seq}): {seq} / {cp} = {seq / cp:g}")
    if plan.vpp and plan.vpp > 1 and pp == 1:
        raise SuperclusterError(f"vpp({plan.vpp}) > 1 interleaves pipeline stages: it needs pp > 1, got pp(1)")
    if plan.micro_batch:
        dp = plan.dp
        if dp is None and gpus and tp and pp and gpus % (tp * pp * cp) == 0:
            dp = gpus // (tp * pp * cp)
        per_rank = global_batch / dp if dp else global_batch
        if plan.micro_batch > per_rank:
            where = f"global_batch({global_batch}) / dp({dp}) = {per_rank:g}" if dp else f"global_batch({global_batch})"
            raise SuperclusterError(f"micro_batch({plan.micro_batch}) must be <= {where}")
