"""Properties that must hold for any layout (hypothesis)."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf import estimate
from supercluster.specs import ResolvedPlan, WorkloadSpec

MODEL = catalog.model("llama3-70b")
SW = catalog.software("megatron-core-2024")
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run(tp=8, pp=4, dp=8, zero=1, mb=1, gb=256, vpp=1, rc="selective", sp=True):
    gpus = tp * pp * dp
    system = catalog.system("dgx-h100-superpod", gpus=gpus)
    wl = WorkloadSpec(model=MODEL, seq_len=4096, global_batch=gb)
    plan = ResolvedPlan.single(
        tp=tp, pp=pp, vpp=vpp, dp=dp, zero=zero, sequence_parallel=sp and tp > 1, micro_batch=mb, recompute=rc
    )
    return estimate(wl, system, SW, plan, gpus)


rc_st = st.sampled_from(["none", "selective", "full"])


@FAST
@given(rc=rc_st, zero=st.integers(0, 3), mb=st.sampled_from([1, 2]))
def test_memory_never_grows_with_tp(rc, zero, mb):
    mems = [run(tp=t, pp=4, dp=8, zero=zero, mb=mb, rc=rc).memory.total_bytes for t in (1, 2, 4, 8)]
    assert all(b <= a * 1.0001 for a, b in itertools.pairwise(mems))


@FAST
@given(rc=rc_st, zero=st.integers(0, 3))
def test_memory_never_grows_with_pp(rc, zero):
    mems = [run(tp=8, pp=p, dp=4, zero=zero, rc=rc, gb=256).memory.total_bytes for p in (1, 2, 4, 8, 16)]
    assert all(b <= a * 1.0001 for a, b in itertools.pairwise(mems))


@FAST
@given(rc=rc_st, tp=st.sampled_from([2, 4, 8]), pp=st.sampled_from([1, 2, 4]))
def test_memory_never_grows_with_zero_stage(rc, tp, pp):
    mems = [run(tp=tp, pp=pp, dp=8, zero=z, rc=rc).memory.total_bytes for z in (0, 1, 2, 3)]
    assert all(b <= a * 1.0001 for a, b in itertools.pairwise(mems))


@FAST
@given(k=st.integers(1, 6), rc=rc_st, zero=st.integers(0, 3))
def test_step_time_grows_with_batch(k, rc, zero):
    small = run(gb=64 * k, rc=rc, zero=zero).step_time_s
    big = run(gb=64 * (k + 1), rc=rc, zero=zero).step_time_s
    assert big > small


@FAST
@given(tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 4]), dp=st.integers(1, 64))
def test_wrong_product_is_rejected_with_the_arithmetic(tp, pp, dp):
    system = catalog.system("dgx-h100-superpod", gpus=4096)
    wl = WorkloadSpec(model=MODEL, seq_len=4096, global_batch=4096)
    gpus = tp * pp * dp + 1
    plan = ResolvedPlan.single(tp=tp, pp=pp, dp=dp, zero=1)
    with pytest.raises(SuperclusterError) as err:
        estimate(wl, system, SW, plan, gpus)
    assert f"tp({tp}) * pp({pp}) * cp(1) * dp({dp}) = {tp * pp * dp} != gpus({gpus})" in str(err.value)


@FAST
@given(tp=st.sampled_from([1, 2, 4, 8]), rc=rc_st)
def test_mfu_and_hfu_are_fractions_and_hfu_covers_recompute(tp, rc):
    e = run(tp=tp, pp=4, dp=8, rc=rc)
    assert 0 < e.mfu <= e.hfu < 1
    parts = sum(e.breakdown().values())
    assert parts == pytest.approx(e.step_time_s, rel=0.35)  # breakdown is the slowest stage's view
