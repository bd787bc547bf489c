"""DeepSpeed ZeRO-3's prefetch under the live-parameter cap (perf.zero3_prefetch): the replay against hand-walked
traces, the Azure recipes' 1T and 2T layers, and the on-demand gathers entering the step serially."""

import pytest

from supercluster import catalog
from supercluster.perf import estimate, fsdp, interference, zero3_prefetch
from supercluster.perf.comm import CollectiveModel, span_of
from supercluster.specs import ModelSpec, ResolvedPlan, WorkloadSpec

# one layer of four submodules of 3, 1, 4 and 4 elements; trace: forward M0 M1 M2 M3, backward M3 M2 M1 M0
TOY = (3.0, 1.0, 4.0, 4.0)


def test_replay_with_room_prefetches_all_but_the_first_by_hand():
    """Cap 5, bucket 0.5, reuse distance 0, no recompute. Walk (live = gathered and not released):
    M0 on demand (3; live 3), prefetch M1 (live 4), release M0 (live 1); M1: prefetch M2 (live 5), release M1 (4);
    M2: prefetch M3 (live 8), release M2 (4); M3: headroom 1 > 0 pops M3's backward visit (already there), kept for
    it (the next visit, within reuse distance 0); M3 bwd: prefetch M2 (live 8), release M3 (4); M2 bwd: prefetch M1
    (5), release M2 (1); M1: prefetch M0 (4). Gathered 3+1+4+4+4+1+3 = 20 of which 3 on demand: share 0.15,
    passes 20 / 12."""
    share, passes = zero3_prefetch.replay(TOY, 1, False, 5.0, 0.5, 0.0)
    assert share == pytest.approx(3.0 / 20.0)
    assert passes == pytest.approx(20.0 / 12.0)


def test_replay_under_a_tight_cap_gathers_on_demand_by_hand():
    """Cap 4, otherwise as above: after M2's prefetch the live elements reach 5 > 4, so from M2 on the headroom is
    gone: M3 (4), M2 backward (4) and M1 backward (1) are gathered on demand; M1 then has room again and prefetches
    M0. On demand 3 + 4 + 4 + 1 = 12 of 20 gathered: share 0.6."""
    share, passes = zero3_prefetch.replay(TOY, 1, False, 4.0, 0.5, 0.0)
    assert share == pytest.approx(12.0 / 20.0)
    assert passes == pytest.approx(20.0 / 12.0)


def _gpt(hidden: int, layers: int, heads: int) -> ModelSpec:
    return ModelSpec(
        name=f"gpt-{hidden}", layers=layers, hidden=hidden, ffn_hidden=4 * hidden, heads=heads, vocab=50257
    )


def test_layer_modules_megatron_gpt_by_hand():
    """The Azure 1T layer (h = 25,600): QKV 3h^2 = 1.966e9, output h^2 = 6.55e8, FFN up and down 4h^2 = 2.621e9."""
    h = 25600
    assert zero3_prefetch.layer_modules(_gpt(h, 128, 160)) == pytest.approx((3 * h * h, h * h, 4 * h * h, 4 * h * h))
    assert zero3_prefetch.layer_modules(_gpt(h, 128, 160), tp=2)[0] == pytest.approx(1.5 * h * h)


def test_azure_recipe_cap_serialises_the_2t_layers_not_the_1t():
    """With the recipes' 3e9 cap, prefetch bucket 5e7 and reuse distance 3e9 (run-1t.sh ds_config): the 2T
    model's QKV (3.2e9) and FFN matrices (4.3e9) each exceed the cap, so the gathers after them go on demand
    (most of the step's); the 1T model's largest matrix (2.6e9) leaves headroom, and only the very first gather
    waits. Full recompute gathers a module up to three times (forward, recompute, backward), fewer where the
    reuse distance keeps it from its recompute to its backward."""
    cap = dict(max_live=3e9, prefetch_bucket=5e7, max_reuse=3e9)
    s2, p2 = zero3_prefetch.replay(zero3_prefetch.layer_modules(_gpt(32768, 160, 128)), 160, True, **cap)
    s1, p1 = zero3_prefetch.replay(zero3_prefetch.layer_modules(_gpt(25600, 128, 160)), 128, True, **cap)
    assert s2 > 0.5
    assert s1 < 0.01
    assert 2.0 < p1 <= 3.0 and 2.0 < p2 <= 3.0


def _azure_2t(**sw_update):
    """The 2T model on 1,024 A100 under DeepSpeed ZeRO-3, 8 sequences of 1,024 per GPU, full recompute."""
    system = catalog.system("dgx-a100-superpod", gpus=1024)
    wl = WorkloadSpec(model=_gpt(32768, 160, 128), seq_len=1024, global_batch=8192)
    plan = ResolvedPlan.single(tp=1, pp=1, dp=1024, zero=3, micro_batch=8, recompute="full")
    # priced overlapped (zero3_serial_comm off): these tests compare the prefetch replay's exposure (perf.zero3_serial
    # makes all of it serial in the profile)
    sw = catalog.software("deepspeed-zero3-2022").model_copy(update={"zero3_serial_comm": False, **sw_update})
    return estimate(wl, system, sw, plan, 1024)


def test_on_demand_gathers_enter_the_step_serially(monkeypatch):
    """The replayed profile's on-demand gathers are exposed data-parallel time; without the replay (cap 0) every
    gather hides behind the compute. Nothing else in the step changes (overlap taken as perfect: compute-
    communication interference off, so only the exposure is compared)."""
    monkeypatch.setattr(interference, "IN_STEP_TIME", False)
    capped = _azure_2t()
    free = _azure_2t(zero3_max_live_params=0.0)
    assert capped.compute_s == free.compute_s
    assert capped.dp_comm_s > free.dp_comm_s + 10.0
    assert capped.step_time_s - free.step_time_s == pytest.approx(capped.dp_comm_s - free.dp_comm_s, rel=1e-6)


def test_calls_per_pass_by_hand():
    """Four gathers per layer; reduce-scatters with a 9e7-element bucket: the Azure 175B layer's matrices (h =
    12,288: 4.5e8, 1.5e8, 6.0e8, 6.0e8 elements) are each larger than the bucket, one call each; a 1,024-wide layer
    (3.1e6, 1.0e6, 4.2e6, 4.2e6 = 1.26e7) shares one bucket: 1.26e7 / 9e7 = 0.14 of a call."""
    ag, rs = zero3_prefetch.calls_per_pass(_gpt(12288, 96, 96), 1, 96, 9e7)
    assert float(ag) == 384.0 and float(rs) == 384.0
    _, rs_small = zero3_prefetch.calls_per_pass(_gpt(1024, 24, 16), 1, 24, 9e7)
    assert float(rs_small) == pytest.approx(24 * 12 * 1024 * 1024 / 9e7)


def test_offloaded_optimizer_serialises_the_reduce_scatters(monkeypatch):
    """With the optimizer on the host (blocking gradient copy in the hook) every bucket's reduce-scatter is waited
    for: the step grows by the reduce-scatters' time (one call per submodule, 4 x 160 calls sharing the 2T
    model's fp16 gradients, 2.06e12 x 2 bytes), less the floor the overlapped profile already exposed."""
    monkeypatch.setattr(interference, "IN_STEP_TIME", False)
    plain = _azure_2t()
    offload = _azure_2t(zero3_offload_grad_copy_sync=True)
    model = _gpt(32768, 160, 128)
    comm = CollectiveModel(catalog.system("dgx-a100-superpod", gpus=1024))
    params = 12 * 32768**2 * 160 + 2 * 50257 * 32768  # layers' matrices, token embedding and (untied) head
    _, rs_calls = zero3_prefetch.calls_per_pass(model, 1, 160, 9e7)
    rs_s = float(fsdp.per_unit_s(comm.reduce_scatter, params * 2.0, rs_calls, span_of(1024, 1, 8)))
    grown = offload.step_time_s - plain.step_time_s
    assert 0.9 * rs_s < grown <= rs_s * (1 + 1e-9)
    assert offload.compute_s == plain.compute_s


def test_profiles_carry_the_recipes_zero3_settings():
    """run-1t.sh / run-175b.sh ds_config: "stage3_max_live_parameters": 3e9, "stage3_max_reuse_distance": 3e9,
    "stage3_prefetch_bucket_size": 5e7; only the 1T recipe offloads the optimizer."""
    for name in ("deepspeed-zero3-2022", "deepspeed-zero3-2022-offload"):
        sw = catalog.software(name)
        assert (sw.zero3_max_live_params, sw.zero3_max_reuse_params, sw.zero3_prefetch_bucket_params) == (
            3e9,
            3e9,
            5e7,
        )
    assert catalog.software("deepspeed-zero3-2022-offload").zero3_offload_grad_copy_sync
    assert not catalog.software("deepspeed-zero3-2022").zero3_offload_grad_copy_sync
    assert catalog.software("fsdp-2024").zero3_max_live_params == 0.0  # FSDP: no DeepSpeed coordinator
