"""Cross-field rules of a job's layout, the same for every command, with the arithmetic in every message.

`check_plan` holds what a plan's fixed knobs must satisfy whatever the blank ones become; it runs when a
scenario is loaded (its own plan) and before any fill or search (the knobs fixed on the command line).
"""

from __future__ import annotations

from supercluster.errors import SuperclusterError
from supercluster.specs import ModelSpec, PlanSpec, SoftwareProfile, SystemSpec


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
    if plan.recompute_modules and plan.recompute != "selective":
        raise SuperclusterError(
            f"recompute_modules({', '.join(plan.recompute_modules)}) are what a selective recompute re-runs: they "
            f"need recompute selective, got recompute {plan.recompute or 'blank'} (give --recompute selective)"
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


def check_vpp_split(model: ModelSpec, plan: PlanSpec, sw: SoftwareProfile) -> None:
    """Raise with the arithmetic when a given pp and vpp split the layers in a way the stack refuses to run (an exact
    split, perf.vpp_split: Megatron's "num_layers_per_pipeline_rank should be divisible by vp_size")."""
    from supercluster.perf import vpp_split  # perf imports the catalog, which imports these rules

    if plan.pp and plan.vpp and not vpp_split.allows(sw, model.layers, plan.pp, plan.vpp):
        raise SuperclusterError(vpp_split.refusal(sw, model.layers, plan.pp, plan.vpp))
    if plan.pp and not plan.vpp and not vpp_split.valid_vpps(sw, model.layers, plan.pp, model.layers):
        raise SuperclusterError(vpp_split.refusal(sw, model.layers, plan.pp, None))


def check_sites(plan: PlanSpec, system: SystemSpec, gpus: int) -> None:
    """Raise with the arithmetic when a plan's site knobs contradict the system's sites or the job: a job spans at
    most the system's sites, in equal shares each site can hold, with whole replicas (and whole expert groups) per
    site; DiLoCo synchronises sites, so it needs two or more; diloco_inner_steps belongs to a DiLoCo sync."""
    have = system.site_count
    sizes = system.site_gpus()
    s = plan.sites
    if s is not None and s > have:
        where = f"{have} sites" if have > 1 else "one site (no sites and WAN in its spec)"
        raise SuperclusterError(f"sites({s}) exceeds system {system.id}'s {where}; valid sites: 1 to {have}")
    if plan.sync in ("diloco", "streaming-diloco"):
        if have == 1:
            raise SuperclusterError(
                f"sync {plan.sync} synchronises replicas in different sites; system {system.id} is one site: use "
                "sync allreduce or a multi-site system"
            )
        if s == 1:
            raise SuperclusterError(f"sync {plan.sync} synchronises sites: it needs sites >= 2, got sites(1)")
    if plan.diloco_inner_steps is not None and plan.sync not in ("diloco", "streaming-diloco"):
        raise SuperclusterError(
            f"diloco_inner_steps({plan.diloco_inner_steps}) is DiLoCo's H: give sync diloco or streaming-diloco "
            f"with it (sync is {plan.sync or 'blank = allreduce'})"
        )
    if have == 1:  # one site: the GPU count is the job's business (commands size generic systems to it)
        return
    if s is None:
        valid = valid_sites(system, gpus)
        if plan.sync in ("diloco", "streaming-diloco"):
            valid = [k for k in valid if k > 1]
        if not valid:
            shares = ", ".join(f"{k}: {gpus / k:,.6g} per site of <= {sizes[k - 1]:,}" for k in range(1, have + 1))
            raise SuperclusterError(
                f"gpus({gpus:,}) cannot be split into equal whole shares the sites of {system.id} hold ({shares}); "
                "use a GPU count that divides evenly"
            )
        return
    if gpus % s:
        raise SuperclusterError(f"gpus({gpus:,}) must split evenly over sites({s}): {gpus:,} % {s} = {gpus % s}")
    if gpus // s > sizes[s - 1]:
        raise SuperclusterError(
            f"gpus({gpus:,}) / sites({s}) = {gpus // s:,} per site, more than the {sizes[s - 1]:,} GPUs of the "
            f"{'smallest' if s == have else f'{s}-th largest'} site used; use more sites or fewer GPUs"
        )
    if plan.dp and plan.dp % s:
        raise SuperclusterError(
            f"dp({plan.dp}) must be a multiple of sites({s}): each site holds dp / sites whole model replicas, "
            f"{plan.dp} / {s} = {plan.dp / s:g}"
        )
    if plan.dp and plan.ep and plan.ep > 1:
        fold = plan.tp // plan.etp if plan.etp and plan.tp else 1
        ranks = plan.dp * (plan.cp or 1) * fold // s
        if ranks % plan.ep:
            raise SuperclusterError(
                f"ep({plan.ep}) must divide the expert ranks of one site, dp({plan.dp}) * cp({plan.cp or 1})"
                + (f" * tp / etp({fold})" if fold > 1 else "")
                + f" / sites({s}) = {ranks}: expert all-to-all never crosses the WAN"
            )


def valid_sites(system: SystemSpec, gpus: int) -> list[int]:
    """Site counts a job of ``gpus`` GPUs can span: equal whole shares, each within the k-th largest site."""
    sizes = system.site_gpus()
    return [k for k in range(1, len(sizes) + 1) if gpus % k == 0 and gpus // k <= sizes[k - 1]]
