"""Checks that a parallel layout can run, with the arithmetic in every message."""

from __future__ import annotations

from typing import get_args

from supercluster.errors import SuperclusterError
from supercluster.perf.pipeline import EMBEDDING_HEAD_CHUNKS
from supercluster.rules import check_plan
from supercluster.specs import Accelerator, ModelSpec, PlanSpec, ResolvedPlan
from supercluster.specs.plan import TrainPrecision


def microbatches(global_batch: int, plan: ResolvedPlan) -> int:
    per_replica = global_batch / plan.dp
    m = per_replica / plan.micro_batch
    if per_replica != int(per_replica) or m != int(m) or m < 1:
        raise SuperclusterError(
            f"global_batch({global_batch}) / (dp({plan.dp}) * micro_batch({plan.micro_batch})) = "
            f"{global_batch / (plan.dp * plan.micro_batch):g} micro-batches; it must be a whole number >= 1"
        )
    return int(m)


def check_layout(model: ModelSpec, plan: ResolvedPlan, gpus: int, seq: int, global_batch: int) -> int:
    """Raise with the arithmetic when the layout cannot run; return the micro-batches per step."""
    t, p, c, d = plan.tp, plan.pp, plan.cp, plan.dp
    if t * p * c * d != gpus:
        raise SuperclusterError(f"tp({t}) * pp({p}) * cp({c}) * dp({d}) = {t * p * c * d} != gpus({gpus})")
    if model.heads % t or model.kv % t:
        raise SuperclusterError(
            f"tp({t}) must divide heads({model.heads}) and kv_heads({model.kv}); "
            f"valid tp: {[x for x in range(1, model.heads + 1) if model.heads % x == 0 and model.kv % x == 0]}"
        )
    if p > model.layers:
        raise SuperclusterError(f"pp({p}) > layers({model.layers}): every stage needs a layer")
    if plan.vpp > 1:
        if p == 1:
            raise SuperclusterError(f"vpp({plan.vpp}) needs pp > 1")
        if model.layers + EMBEDDING_HEAD_CHUNKS < p * plan.vpp:
            raise SuperclusterError(
                f"pp({p}) * vpp({plan.vpp}) = {p * plan.vpp} model chunks > layers({model.layers}) + "
                f"{EMBEDDING_HEAD_CHUNKS} (a chunk each for the embedding and the output head)"
            )
    if seq % c:
        raise SuperclusterError(f"cp({c}) must divide seq_len({seq})")
    if c > 1 and (seq // c) % 2:
        raise SuperclusterError(f"seq_len({seq}) / cp({c}) must be even for causal load balancing")
    if plan.ep > 1:
        if not model.is_moe:
            raise SuperclusterError(f"ep({plan.ep}) > 1 needs a mixture-of-experts model; {model.name} is dense")
        if model.moe_experts % plan.ep:
            raise SuperclusterError(f"ep({plan.ep}) must divide moe_experts({model.moe_experts})")
        if plan.expert_ranks % plan.ep:
            raise SuperclusterError(
                f"ep({plan.ep}) must divide tp({t}) * cp({c}) * dp({d}) / etp({plan.expert_tp}) = {plan.expert_ranks}"
            )
    if t % plan.expert_tp:
        raise SuperclusterError(f"etp({plan.expert_tp}) must divide tp({t})")
    if plan.sites > 1:
        if d % plan.sites:
            raise SuperclusterError(f"dp({d}) must be a multiple of sites({plan.sites}): whole replicas per site")
        if (plan.expert_ranks // plan.sites) % plan.ep:
            raise SuperclusterError(
                f"ep({plan.ep}) must divide the expert ranks of one site, {plan.expert_ranks} / sites({plan.sites}) "
                f"= {plan.expert_ranks // plan.sites}"
            )
    if plan.sequence_parallel and t == 1:
        raise SuperclusterError("sequence_parallel needs tp > 1")
    m = microbatches(global_batch, plan)
    if plan.local_batch is not None:
        per_replica = global_batch // d
        if plan.local_batch % plan.micro_batch or per_replica % plan.local_batch:
            raise SuperclusterError(
                f"local_batch({plan.local_batch}) must be a multiple of micro_batch({plan.micro_batch}) and divide "
                f"the sequences per data-parallel rank: global_batch({global_batch}) / dp({d}) = {per_replica}"
            )
        m = plan.local_batch // plan.micro_batch  # the schedule runs one pass at a time
    if plan.schedule != "1f1b":
        if p == 1:
            raise SuperclusterError(f"schedule {plan.schedule} needs pp > 1")
        need_v = {"zb-h1": 1, "zb-v": 2, "dualpipe": 1}[plan.schedule]
        if plan.vpp != need_v:
            raise SuperclusterError(
                f"schedule {plan.schedule} runs {need_v} chunk(s) per rank: vpp must be {need_v}, got {plan.vpp}"
            )
        if plan.schedule == "dualpipe" and (p % 2 or m < p):
            raise SuperclusterError(
                f"dualpipe needs an even pp and at least pp micro-batches: pp({p}), micro-batches({m})"
            )
    if plan.vpp > 1 and m % p:
        raise SuperclusterError(
            f"the interleaved schedule needs micro-batches({m}) to be a multiple of pp({p}) "
            f"(global_batch {global_batch} / (dp {d} * micro_batch {plan.micro_batch})"
            + (f", one pass of local_batch {plan.local_batch})" if plan.local_batch else ")")
        )
    return microbatches(global_batch, plan)


def _valid_tp(model: ModelSpec, limit: int = 64) -> list[int]:
    return [x for x in range(1, limit + 1) if model.heads % x == 0 and model.kv % x == 0]


def precheck(
    model: ModelSpec,
    plan: PlanSpec,
    gpus: int,
    global_batch: int,
    acc: Accelerator | None = None,
    seq: int | None = None,
) -> None:
    """Reject fixed axes that no filling can rescue, before any search, with the arithmetic."""
    check_plan(model, plan, seq or model.seq_len, global_batch, gpus)
    if acc is not None and plan.precision and not acc.supports(plan.precision):
        valid = [p for p in get_args(TrainPrecision) if acc.supports(p)]
        why = " (block-scaled formats need Blackwell tensor cores)" if plan.precision in ("mxfp8", "nvfp4") else ""
        raise SuperclusterError(
            f"{acc.id} does not multiply in {plan.precision}{why}; valid precisions: {', '.join(valid)}"
        )
    if plan.tp and (model.heads % plan.tp or model.kv % plan.tp):
        raise SuperclusterError(
            f"tp({plan.tp}) must divide heads({model.heads}) and kv_heads({model.kv}); valid tp: {_valid_tp(model)}"
        )
    if plan.pp and plan.pp > model.layers:
        raise SuperclusterError(f"pp({plan.pp}) > layers({model.layers}): every stage needs a layer")
    if plan.schedule and plan.schedule != "1f1b":
        if plan.pp == 1:
            raise SuperclusterError(f"schedule {plan.schedule} needs pp > 1")
        if plan.schedule == "dualpipe" and plan.pp and plan.pp % 2:
            raise SuperclusterError(
                f"dualpipe needs an even pp (two chunks per rank, fed from both ends): pp({plan.pp})"
            )
        need_v = {"zb-h1": 1, "zb-v": 2, "dualpipe": 1}[plan.schedule]
        if plan.vpp and plan.vpp != need_v:
            raise SuperclusterError(f"schedule {plan.schedule} runs {need_v} chunk(s) per rank: vpp must be {need_v}")
    fixed = (plan.tp or 1) * (plan.pp or 1) * (plan.cp or 1)
    if plan.dp:
        prod = fixed * plan.dp
        if plan.tp and plan.pp and prod != gpus:
            raise SuperclusterError(
                f"tp({plan.tp}) * pp({plan.pp}) * cp({plan.cp or 1}) * dp({plan.dp}) = {prod} != gpus({gpus})"
            )
    if gpus % fixed:
        lower = gpus - gpus % fixed
        raise SuperclusterError(
            f"tp({plan.tp or 1}) * pp({plan.pp or 1}) * cp({plan.cp or 1}) = {fixed} does not divide gpus({gpus}); "
            f"nearest GPU counts that work: {lower if lower else fixed} or {lower + fixed}"
        )
    if plan.local_batch is not None and plan.micro_batch and plan.local_batch % plan.micro_batch:
        raise SuperclusterError(
            f"local_batch({plan.local_batch}) must be a multiple of micro_batch({plan.micro_batch}): a pipeline pass "
            "runs whole micro-batches"
        )
    if plan.tp and plan.pp:
        dp = plan.dp or gpus // fixed
        if plan.local_batch is not None and not global_batch % dp and (global_batch // dp) % plan.local_batch:
            raise SuperclusterError(
                f"local_batch({plan.local_batch}) must divide the sequences per data-parallel rank: "
                f"global_batch({global_batch}) / dp({dp}) = {global_batch // dp}"
            )
        if global_batch % dp:
            raise SuperclusterError(
                f"global_batch({global_batch}) is not a multiple of dp({dp}) = gpus({gpus}) / "
                f"(tp*pp*cp = {fixed}); use a global batch that is a multiple of {dp}"
            )
