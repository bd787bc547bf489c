"""The speed shortcuts of perf.shape_memo, CollectiveModel's one-message twins, the per-inner-key stage extras and
evaluate's skipped DualPipe/BACKWARD_POST terms give the very numbers of the paths they shortcut, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from supercluster import catalog
from supercluster.fabric.collectives import CollectiveModel, Span, span_of
from supercluster.perf import context, pipeline, shape_memo
from supercluster.perf.batch import Candidates, evaluate
from supercluster.perf.layer import layer_parts
from supercluster.specs import ResolvedPlan, WorkloadSpec


def test_a_kept_gemm_is_the_direct_one_and_is_reused():
    from supercluster.perf.expert_gemm import expert_linear_gemms_s
    from supercluster.perf.gemm import linear_gemms_s

    acc = catalog.system("dgx-h100-superpod", gpus=64).accelerator
    memo: dict = {}
    first = shape_memo.gemms(memo, 8192.0, 3072.0, 16384.0, acc, "fp8")
    assert first == linear_gemms_s(8192.0, 3072.0, 16384.0, acc, "fp8")
    assert shape_memo.gemms(memo, 8192.0, 3072.0, 16384.0, acc, "fp8") is first  # the kept tuple, not recomputed
    assert shape_memo.gemms(None, 8192.0, 3072.0, 16384.0, acc, "bf16") == linear_gemms_s(
        8192.0, 3072.0, 16384.0, acc, "bf16"
    )
    args = ("grouped", 8.0, 700.0, 2048.0, 6144.0, acc, "bf16", False)
    kept = shape_memo.expert_gemms(memo, *args)
    assert kept == expert_linear_gemms_s(*args) and shape_memo.expert_gemms(memo, *args) is kept
    assert len(memo) == 2


@pytest.mark.parametrize(
    ("model", "software"),
    [("llama3-70b", None), ("grok-1", None), ("deepseek-v3", "megatron-core-deepep-2025"), ("gpt3-175b", None)],
)
def test_a_layer_s_parts_are_the_same_with_and_without_the_memo(model, software):
    """One memo shared across layouts (as the planner's context shares it) against a fresh computation each."""
    system = catalog.system("dgx-h100-superpod", gpus=1024)
    sw = catalog.software(software or system.software)
    spec = catalog.model(model)
    acc, comm, seq = system.accelerator, CollectiveModel(system), 4096
    memo: dict = {}
    for tp, cp, mb, sp, prec, ep in [
        (4, 2, 1, True, "fp8", 8),
        (8, 1, 2, True, "bf16", 8),
        (8, 1, 2, False, "bf16", 8),  # the same GEMMs as the key above (no sequence parallelism)
        (4, 1, 2, True, "fp8", 1),
        (4, 2, 4, True, "fp8", 8),  # the same tokens per GPU as tp 4, cp 1, mb 2
    ]:
        ep = ep if spec.is_moe else 1
        plan = ResolvedPlan.single(tp=tp, cp=cp, micro_batch=mb, sequence_parallel=sp, precision=prec, ep=ep, dp=8)
        for moe in (False, True) if spec.is_moe else (False,):
            assert layer_parts(spec, plan, seq, acc, sw, comm, moe, memo) == layer_parts(
                spec, plan, seq, acc, sw, comm, moe
            )
    assert any(k[0] == "gemm" for k in memo) and any(k[0] == "attention_speed" for k in memo)


SPANS = [(8, 1), (64, 1), (16, 8), (64, 8), (2048, 4), (2, 16)]  # inside a domain, across, strided, one pod up


@pytest.mark.parametrize("system_name", ["dgx-h100-superpod", "colossus-100k", "dgx-a100-superpod"])
def test_one_message_twins_are_the_array_formulas_first_entry(system_name):
    """all_to_all, dispatch and p2p of Python floats against the same call on one-element arrays (the array path)."""
    system = catalog.system(system_name, gpus=32768 if system_name.startswith("dgx") else None)
    comm = CollectiveModel(system)
    for size, stride in SPANS:
        s = span_of(size, stride, comm.domain)
        arr = Span(np.array([s.n]), np.array([s.k]), np.array([s.extent]))
        for nbytes in (0.0, 1024.0, 3.3e6, 7.0e8):
            one = comm.all_to_all(nbytes, s)
            assert type(one) is float and one == comm.all_to_all(np.array([nbytes]), arr)[0]
            for ranks, domains in ((1.0, 1.0), (3.7, 2.2), (8.0, 4.0)):
                one = comm.dispatch(nbytes, ranks, domains, s)
                assert type(one) is float
                assert one == comm.dispatch(np.array([nbytes]), np.array([ranks]), np.array([domains]), arr)[0]
            for crosses in (True, False, np.bool_(True)):
                one = comm.p2p(nbytes, crosses)
                assert type(one) is float and one == comm.p2p(np.array([nbytes]), np.array([crosses]))[0]
    assert comm.all_to_all(1e6, span_of(8, 1, comm.domain)) > 0.0  # not a twin that prices nothing


def test_extras_rounded_once_split_as_stage_split_does():
    for layers, stages, first, last in [(126, 16, 0.41234567, 1.9876543), (61, 8, 0.0005, 0.4995), (32, 1, 2.0, 3.0)]:
        rounded = pipeline.split_rounded(layers, stages, pipeline.rounded_extra(first), pipeline.rounded_extra(last))
        assert rounded == pipeline.stage_split(layers, stages, first, last)
        assert sum(rounded) == layers


def test_a_dualpipe_batch_prices_each_candidate_as_it_prices_it_alone():
    """evaluate skips DualPipe's terms where no candidate runs it: a batch mixing schedules gives each candidate the
    numbers of a batch that holds only it (where the terms are or are not computed)."""
    scn = catalog.load("colossus-grok")
    sw = catalog.software("deepseek-hai-2024")
    model = catalog.model("deepseek-v3")
    wl = WorkloadSpec(model=model, seq_len=4096, global_batch=1024)
    plans = [
        ResolvedPlan.single(tp=1, pp=8, dp=64, ep=64, micro_batch=1, schedule="dualpipe", precision="fp8"),
        ResolvedPlan.single(tp=1, pp=8, dp=64, ep=64, micro_batch=1, schedule="1f1b", precision="fp8"),
        ResolvedPlan.single(tp=2, pp=4, dp=64, ep=32, micro_batch=2, schedule="dualpipe", precision="fp8"),
    ]
    context.clear()
    both = evaluate(wl, scn.system, sw, Candidates.from_plans(plans))
    for i, plan in enumerate(plans):
        alone = evaluate(wl, scn.system, sw, Candidates.from_plans([plan]))
        assert alone.step_time_s[0] == both.step_time_s[i]
        assert alone.memory_bytes[0] == both.memory_bytes[i]
        assert alone.compute_s[0] == both.compute_s[i]
    assert both.step_time_s[0] != both.step_time_s[1]  # DualPipe is priced: the schedules differ


def test_a_collective_priced_per_group_is_the_full_array_s_value_for_every_candidate():
    from supercluster.perf import group_calls

    comm = CollectiveModel(catalog.system("colossus-100k"))
    rng = np.random.default_rng(7)
    group_of = rng.integers(0, 40, size=400)  # 400 candidates in 40 groups, each group one message and one span
    sizes = np.array([1, 2, 8, 16, 64, 512, 2048, 8192])[group_of % 8]
    strides = np.array([1, 8, 4, 2, 16])[group_of % 5]
    nbytes = (1.0 + group_of) * 3.7e6
    span = span_of(sizes, strides, comm.domain)
    grouping = group_calls.groups(group_of)
    assert grouping is not None and len(grouping[0]) == 40
    for op in (comm.all_reduce, comm.reduce_scatter, comm.all_gather):
        full = op(nbytes, span)
        grouped = group_calls.by_group(op, grouping)(nbytes, span)
        assert grouped.shape == full.shape and (grouped == full).all()
        assert (group_calls.by_group(op, grouping)(8.0, span) == op(8.0, span)).all()  # a scalar message too
    assert group_calls.groups(np.arange(10)) is None  # nothing to share: the plain call
    assert group_calls.groups(np.zeros(10, dtype=np.int64)) is None  # one group: the plain call
