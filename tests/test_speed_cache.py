"""What the estimate keeps between calls (perf.context) changes no number.

One estimate reuses the collective model and the per-layer rows of earlier calls on the same specs, skips
re-validating its own plan and evaluates a single candidate through the planner's code path. These tests compare
every such shortcut with the path that does not take it: a cold cache, a fresh row from ``inner_terms``, a
validated plan, the same layout evaluated among others in one batch. The residual tests (test_validation,
test_evidence, test_interval) pin the numbers themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

from supercluster import catalog
from supercluster.perf import context, estimate
from supercluster.perf.batch import _INNER_FIELDS, Candidates, evaluate, inner_terms
from supercluster.perf.comm import CollectiveModel
from supercluster.plan import resolve
from supercluster.specs import ResolvedPlan, WorkloadSpec

SCENARIOS = ("llama3-405b-16k", "colossus-grok", "grok-3-class", "fairwater-two-site")


@pytest.fixture(scope="module")
def layouts():
    """(scenario, its filled layout) for a dense model, two MoE models and a job across two sites."""
    out = []
    for name in SCENARIOS:
        scn = catalog.load(name)
        out.append((scn, resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus).plan))
    return out


def one(scn, plan):
    return estimate(scn.workload, scn.system, scn.software, plan, scn.gpus).to_dict()


def test_a_warm_estimate_equals_a_cold_one_whatever_ran_in_between(layouts):
    context.clear()
    cold = [one(scn, plan) for scn, plan in layouts]  # each on an empty context of its own
    for _ in range(2):  # interleaved: every context is reused after the others ran
        assert [one(scn, plan) for scn, plan in layouts] == cold
    for (scn, plan), expected in zip(reversed(layouts), reversed(cold), strict=True):
        context.clear()
        assert one(scn, plan) == expected


def test_the_kept_rows_are_inner_terms_own_numbers(layouts):
    context.clear()
    for scn, plan in layouts:
        one(scn, plan)
        ctx = context.context(scn.workload.model, scn.workload.seq, scn.system, scn.software)
        assert ctx.rows, "the estimate left its inner-key row in the context"
        fresh = CollectiveModel(scn.system)  # nothing shared with the cached one
        for key, row in ctx.rows.items():
            terms = inner_terms(scn.workload.model, scn.workload.seq, scn.system, scn.software, fresh, key)
            assert row == tuple(terms[f] for f in _INNER_FIELDS)


def test_the_sequence_length_is_part_of_the_context():
    scn = catalog.load("llama3-405b-16k")
    plan = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus).plan
    short = scn.workload.model_copy(update={"seq_len": scn.workload.seq // 2})
    context.clear()
    long_s = estimate(scn.workload, scn.system, scn.software, plan, scn.gpus).step_time_s
    short_s = estimate(short, scn.system, scn.software, plan, scn.gpus).step_time_s
    context.clear()
    assert estimate(short, scn.system, scn.software, plan, scn.gpus).step_time_s == short_s
    assert short_s < long_s  # half the tokens per step


def test_one_layout_alone_and_among_others_gives_the_same_numbers(layouts):
    for scn, plan in layouts:
        others = [
            plan.model_copy(update={"micro_batch": plan.micro_batch * 2}),
            plan.model_copy(update={"recompute": "full", "recompute_fraction": 0.5}),
            plan.model_copy(update={"zero": 3 - plan.zero}),
        ]
        alone = evaluate(scn.workload, scn.system, scn.software, Candidates.from_plans([plan]))
        batch = evaluate(scn.workload, scn.system, scn.software, Candidates.from_plans([*others, plan]))
        assert batch.stage_layers[3] == alone.stage_layers[0]
        for name in ("step_time_s", "memory_bytes", "dp_comm_s", "bubble_s", "straggler_s", "fixed_s", "wan_s"):
            got, want = float(getattr(batch, name)[3]), float(getattr(alone, name)[0])
            assert got == pytest.approx(want, rel=1e-12, abs=0.0), name


def test_the_estimate_returns_the_plan_validation_would_build():
    scn = catalog.load("colossus-grok")
    plan = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus).plan
    # an explicit expert TP equal to TP is the default: both paths give it back as blank
    explicit = plan.model_copy(update={"etp": plan.tp, "recompute_fraction": 0.75, "recompute": "full"})
    for p in (plan, explicit):
        c = Candidates.from_plans([p])
        trusted, validated = c.plan(0, trusted=True), c.plan(0)
        assert trusted == validated and trusted.model_dump() == validated.model_dump()
        assert ResolvedPlan.model_validate(trusted.model_dump()) == trusted
    assert Candidates.from_plans([explicit]).plan(0, trusted=True).etp is None
    got = estimate(scn.workload, scn.system, scn.software, explicit, scn.gpus).plan
    assert got == Candidates.from_plans([explicit]).plan(0) and got.recompute_fraction == 0.75


def test_candidates_from_plans_keeps_every_field_and_dtype():
    plans = [
        ResolvedPlan.single(tp=8, pp=4, vpp=2, cp=2, dp=16, zero=1, sequence_parallel=True, micro_batch=2),
        ResolvedPlan.single(tp=2, ep=8, dp=8, etp=1, recompute="full", recompute_fraction=0.25, precision="fp8"),
        ResolvedPlan.single(pp=8, dp=4, schedule="dualpipe", local_batch=4, sites=2, sync="diloco"),
    ]
    c = Candidates.from_plans(plans)
    assert c.tp.tolist() == [8, 2, 1] and c.pp.tolist() == [4, 1, 8] and c.vpp.tolist() == [2, 1, 1]
    assert c.cp.tolist() == [2, 1, 1] and c.ep.tolist() == [1, 8, 1] and c.dp.tolist() == [16, 8, 4]
    assert c.zero.tolist() == [1, 0, 0] and c.mb.tolist() == [2, 1, 1] and c.sp.tolist() == [True, False, False]
    assert c.rc.tolist() == [0, 2, 0] and c.prec.tolist() == [0, 1, 0] and c.sched.tolist() == [0, 0, 3]
    assert c.lb.tolist() == [0, 0, 4] and c.rcf.tolist() == [1.0, 0.25, 1.0] and c.etp.tolist() == [8, 1, 1]
    assert c.sites.tolist() == [1, 1, 2] and c.sync.tolist() == [0, 0, 1] and c.hin.tolist() == [0, 0, 0]
    ints = (c.tp, c.pp, c.vpp, c.cp, c.ep, c.dp, c.zero, c.mb, c.lb, c.etp, c.sites, c.hin)
    assert all(a.dtype == np.int64 and a.flags.c_contiguous for a in ints)
    assert c.rc.dtype == c.prec.dtype == c.sched.dtype == c.sync.dtype == np.int8
    assert c.sp.dtype == bool and c.rcf.dtype == float
    assert [c.plan(i) for i in range(3)] == plans
    assert len(Candidates.from_plans([])) == 0 and Candidates.from_plans([]).rcf.shape == (0,)


def test_the_cache_is_bounded(monkeypatch):
    context.clear()
    system = catalog.system("dgx-h100-superpod", gpus=64)
    sw = catalog.software("megatron-core-2024")
    model = catalog.model("llama3-8b")
    for seq in range(1024, 1024 * (context.MAX_CONTEXTS + 3), 1024):
        context.context(model, seq, system, sw)
    assert len(context._contexts) == context.MAX_CONTEXTS
    assert len(context._comms) == 1  # one system, one collective model
    monkeypatch.setattr(context, "MAX_ROWS", 1)
    wl = WorkloadSpec(model=model, seq_len=4096, global_batch=64)
    plans = [ResolvedPlan.single(tp=t, dp=64 // t, sequence_parallel=t > 1) for t in (1, 2, 4)]
    evaluate(wl, system, sw, Candidates.from_plans(plans))
    assert len(context.context(model, 4096, system, sw).rows) == 0  # three rows > 1: dropped on the next use


def test_a_flipped_switch_gets_rows_of_its_own(monkeypatch):
    from supercluster.perf import moe_kernels, tp_overlap

    scn = catalog.load("colossus-grok")  # MoE: the routing kernels are in its layer rows
    plan = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus).plan
    context.clear()
    on = one(scn, plan)
    monkeypatch.setattr(moe_kernels, "ENABLED", False)  # as scripts/*_protocol.py flip a verdict
    off = one(scn, plan)
    context.clear()
    assert one(scn, plan) == off != on
    monkeypatch.undo()
    assert one(scn, plan) == on
    before = context.context(scn.workload.model, scn.workload.seq, scn.system, scn.software)
    monkeypatch.setattr(tp_overlap, "ENABLED", not tp_overlap.ENABLED)
    assert context.context(scn.workload.model, scn.workload.seq, scn.system, scn.software) is not before
    monkeypatch.undo()
    assert context.context(scn.workload.model, scn.workload.seq, scn.system, scn.software) is before


def test_any_scalar_constant_of_the_model_is_part_of_the_key(monkeypatch):
    from supercluster.perf import layer

    scn = catalog.load("llama3-405b-16k")
    plan = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus).plan
    context.clear()
    base = one(scn, plan)
    assert context.switches() == context.switches()  # nothing the estimate runs changes the key
    monkeypatch.setattr(layer, "H_PASSES", 2 * layer.H_PASSES)  # no protocol flips it; a test might
    more = one(scn, plan)
    context.clear()
    assert one(scn, plan) == more != base
