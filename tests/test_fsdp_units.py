"""Fully sharded data parallelism as PyTorch FSDP runs it (perf.fsdp) and compute-communication interference
(perf.interference): the unit sizes by hand, the per-micro-batch floors, SHARD_GRAD_OP's re-gather, and the overlap
formula against hand arithmetic."""

import numpy as np
import pytest

from supercluster import catalog
from supercluster.perf import estimate, fsdp, interference
from supercluster.perf.comm import CollectiveModel, span_of
from supercluster.specs import ResolvedPlan, WorkloadSpec


def test_unit_params_llama3_8b_by_hand():
    """Llama 3 8B: embedding 128,256 x 4,096 = 525,336,576, untied head the same; one block: Q and O 4,096 x 4,096
    each (16,777,216), K and V 4,096 x 1,024 each (4,194,304) = 41,943,040, SwiGLU 3 x 4,096 x 14,336 = 176,160,768,
    block 218,103,808. One stage: 2 x 525,336,576 + 218,103,808 = 1,268,776,960; the first of several stages holds
    no head: 743,440,384; TP 2 halves both."""
    m = catalog.model("llama3-8b")
    assert fsdp.unit_params(m, 1, 1, 32) == pytest.approx(1_268_776_960)
    assert fsdp.unit_params(m, 1, 4, 8) == pytest.approx(743_440_384)
    assert fsdp.unit_params(m, 2, 1, 32) == pytest.approx(1_268_776_960 / 2)


def test_unit_floors_one_collective_per_microbatch():
    """m micro-batches pay m all-gathers and m reduce-scatters of the unit, each priced by the collective model;
    a stack that does not gather (or reduce) per micro-batch pays none."""
    system = catalog.system("dgx-h100-superpod", gpus=64)
    sw = catalog.software("fsdp-2024")
    comm = CollectiveModel(system)
    span = span_of(64, 1, system.domain_gpus)
    unit = 1e9
    g, r = fsdp.unit_floors_s(comm, unit, span, 2.0, sw.grad_reduce_bytes, 4, True, np.array([True, False]))
    assert g == pytest.approx(4 * comm.all_gather(2e9, span))
    assert r[0] == pytest.approx(4 * comm.reduce_scatter(unit * sw.grad_reduce_bytes, span)) and r[1] == 0.0


def test_exposed_reduces_to_perfect_overlap_without_slowdown():
    """s = 0: max(C - W, F). C = 1 s behind a W = 10 s window with a 0.1 s last bucket: 0.1 s; C = 10 s behind W = 2 s:
    8 s."""
    assert interference.exposed_s(1.0, 10.0, 0.1, slowdown=0.0) == pytest.approx(0.1)
    assert interference.exposed_s(10.0, 2.0, 0.1, slowdown=0.0) == pytest.approx(8.0)


def test_exposed_with_lee_2025_slowdown_by_hand():
    """s = 0.189 (Lee et al. 2025): compute beside communication runs at 1/1.189 of its speed. C = 1 s overlapped with
    W = 10 s, no floor: the compute advances 1/1.189 = 0.8410 s while the collective runs, so the phase lasts
    1 + (10 - 0.8410) = 10.1590 s: 0.1590 s exposed (= 0.189 / 1.189). With a 0.1 s floor: 0.1 + 0.9 x 0.1590 =
    0.2431 s. Communication-bound (C = 10 s, W = 2 s): 8 s, as without interference."""
    assert interference.exposed_s(1.0, 10.0, 0.0, slowdown=0.189) == pytest.approx(0.189 / 1.189)
    assert interference.exposed_s(1.0, 10.0, 0.1, slowdown=0.189) == pytest.approx(0.1 + 0.9 * 0.189 / 1.189)
    assert interference.exposed_s(10.0, 2.0, 0.0, slowdown=0.189) == pytest.approx(8.0)


def test_interference_switch_follows_the_protocol(monkeypatch):
    """The default slowdown is the cited one only while the term is in the step time (protocol verdict)."""
    monkeypatch.setattr(interference, "IN_STEP_TIME", True)
    assert interference.exposed_s(1.0, 10.0, 0.0) == pytest.approx(0.189 / 1.189)
    monkeypatch.setattr(interference, "IN_STEP_TIME", False)
    assert interference.exposed_s(1.0, 10.0, 0.0) == 0.0


def _fsdp_run(zero: int, **sw_update):
    """Llama 3 8B on 64 H100, FSDP, two micro-batches of 2 sequences per GPU per step."""
    system = catalog.system("dgx-h100-superpod", gpus=64)
    wl = WorkloadSpec(model=catalog.model("llama3-8b"), seq_len=8192, global_batch=256)
    plan = ResolvedPlan.single(tp=1, pp=1, dp=64, zero=zero, micro_batch=2)
    sw = catalog.software("fsdp-2024").model_copy(update=sw_update)
    return estimate(wl, system, sw, plan, 64)


def test_root_unit_exposes_more_than_a_bucket(monkeypatch):
    """With whole units the first all-gather and last reduce-scatter of each micro-batch (1.27 B parameters for
    Llama 3 8B) cannot hide; with 25 M-parameter buckets they nearly all do. Nothing else in the step changes.
    Overlap is perfect here (compute-communication interference off), so only the units' exposure is compared."""
    monkeypatch.setattr(interference, "IN_STEP_TIME", False)
    units = _fsdp_run(3, shard_copy_out=False)
    buckets = _fsdp_run(3, shard_root_unit=False, shard_copy_out=False)
    assert units.dp_comm_s > 5 * buckets.dp_comm_s > 0
    assert units.compute_s == buckets.compute_s
    assert units.step_time_s - buckets.step_time_s == pytest.approx(units.dp_comm_s - buckets.dp_comm_s)


def test_shard_grad_op_regathers_every_microbatch():
    """ZeRO-2 under FSDP (SHARD_GRAD_OP) gathers the parameters before each of the 2 micro-batches' forwards, so
    its exposed all-gather floor is twice the once-per-step gather's."""
    fsdp_zero2 = _fsdp_run(2, shard_copy_out=False)
    deepspeed_like = _fsdp_run(2, zero2_regather=False, shard_copy_out=False)
    assert fsdp_zero2.dp_comm_s > deepspeed_like.dp_comm_s


def test_profiles_carry_the_fsdp_behaviour():
    """PyTorch FSDP stacks move whole units and re-gather under ZeRO-2; MaxText's XLA sharding does neither."""
    for name in ("fsdp-2024", "fsdp-eager-2024", "fsdp1-2023", "fsdp1-eager-2024"):
        sw = catalog.software(name)
        assert sw.shard_root_unit and sw.zero2_regather
    # torchtitan (FSDP2) reduces in fp32 (its only mixed_precision_reduce); llm-foundry PURE and fms-fsdp in bf16
    widths = {n: catalog.software(n).grad_reduce_bytes for n in ("fsdp-2024", "fsdp-eager-2024", "fsdp1-2023")}
    assert widths == {"fsdp-2024": 4, "fsdp-eager-2024": 4, "fsdp1-2023": 2}
    assert catalog.software("fsdp1-eager-2024").grad_reduce_bytes == 2
    assert not catalog.software("fsdp1-eager-2024").elementwise_fused
    mt = catalog.software("jax-fsdp-2024")
    assert not mt.shard_root_unit and not mt.zero2_regather and not mt.shard_copy_out
    assert catalog.software("fsdp-2024").shard_copy_out and not catalog.software("fsdp1-2023").shard_copy_out
    assert not catalog.software("megatron-core-2024").shard_root_unit


def test_fsdp2_copy_out_by_hand():
    """FSDP2 copies each all-gather's output into the parameters: 8e9 parameters x (2 B read + 2 B written) x 2
    all-gathers (forward and backward of one micro-batch) over 2.4 TB/s = 64e9 B / 2.4e12 B/s = 26.67 ms."""
    assert fsdp.copy_out_s(8e9, 2.0, 2, 2.4e12) == pytest.approx(64e9 / 2.4e12)


def test_copy_out_enters_the_step_serially():
    """The copy runs on the compute stream: switching it off removes exactly its time, at the card's HBM rate
    (4 micro-batch all-gathers of the local weights: 2 micro-batches x forward and backward)."""
    with_copy, without = _fsdp_run(3), _fsdp_run(3, shard_copy_out=False)
    acc = catalog.system("dgx-h100-superpod", gpus=64).accelerator
    params = catalog.model("llama3-8b").total_params
    expected = fsdp.copy_out_s(params, 2.0, 4, acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction)
    assert with_copy.step_time_s - without.step_time_s == pytest.approx(expected, rel=1e-6)
