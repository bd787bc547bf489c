"""Checkpoints that storage can sustain: storage as a system property, the interval clamped to the drain, the
drain window in the simulation, in-memory checkpoints, restart times, and the ETTR's printed basis."""

import json
import math
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runinputs import run_inputs

from supercluster import api, catalog
from supercluster.catalog.loader import reliability
from supercluster.catalog.scenario_loader import from_dict
from supercluster.errors import SuperclusterError
from supercluster.lifecycle.checkpoint import choose_interval, daly_interval_s, expected_ettr, write_s
from supercluster.lifecycle.memtier import group_loss_probability
from supercluster.lifecycle.montecarlo import RunInputs, simulate
from supercluster.lifecycle.plan import restart
from supercluster.lifecycle.run import setup
from supercluster.lifecycle.storage import storage_path
from supercluster.specs import StorageSpec

SMALL = {
    "name": "small",
    "workload": {"model": "llama3-8b", "global_batch": 64, "seq_len": 8192, "train_tokens": 1e11},
    "system": "dgx-h100-superpod",
    "gpus": 64,
    "plan": {"tp": 8, "pp": 1},
}


@pytest.fixture(scope="module")
def small():
    scn = from_dict(SMALL)
    return scn, api.estimate(scn).step


def test_superpod_storage_is_the_reference_architectures_rule():
    # RA-11333-001 Table 6 "Better": 20 GBps write / 40 read per 256-GPU SU; the 4-SU row is 80 / 160.
    path = storage_path(catalog.system("dgx-h100-superpod", gpus=1024), 1024)
    assert path.storage_write_bytes_per_s == pytest.approx(80e9)
    assert path.storage_read_bytes_per_s == pytest.approx(160e9)
    assert path.host_path_bytes_per_s == pytest.approx(128 * 40e9)  # 128 DGX x 40 GBps storage fabric
    # Llama 3 70B: 70.55e9 parameters x 16 B = 1.129 TB; / 80 GB/s = 14.1 s
    nbytes = 70.552387584e9 * 16
    assert write_s(nbytes, path) == pytest.approx(1.1288e12 / 80e9, rel=1e-3)


def test_write_time_is_bytes_over_the_narrower_of_storage_and_node_links():
    system = catalog.system("colossus-100k")
    big = storage_path(system, 98_304)
    assert big.write_bytes_per_s == pytest.approx(7_800e9) and big.write_limited_by == "storage"
    # a 1,024-GPU job on the same storage: 128 nodes x 50 GB/s = 6,400 GB/s < 7,800: the node links bind
    small_job = storage_path(system, 1024)
    assert small_job.write_bytes_per_s == pytest.approx(6_400e9)
    assert small_job.write_limited_by == "node storage links"
    # Grok-1's 315.68e9 parameters x 16 B = 5.051 TB; / 7.8 TB/s = 0.648 s
    assert write_s(315.683241984e9 * 16, big) == pytest.approx(5.0509e12 / 7.8e12, rel=1e-3)


def test_a_system_without_storage_is_refused_with_the_fix():
    system = catalog.system("dgx-h100-superpod", gpus=64).model_copy(update={"storage": None})
    with pytest.raises(SuperclusterError, match="gives no checkpoint storage"):
        storage_path(system, 64)


def test_daly_clamped_to_the_drain_by_hand():
    # delta 1 s, M 3600 s: sqrt(7200) = 84.853; x = 1/7200; 84.853 (1 + 0.003928 + 0.0000154) - 1 = 84.19 s
    assert daly_interval_s(1.0, 3600.0) == pytest.approx(84.19, abs=0.01)
    c = choose_interval(stall=1.0, drain=100.0, mtbf_s=3600.0)
    assert c.clamped and c.interval_s == 100.0 and c.wanted_s == pytest.approx(84.19, abs=0.01)
    assert "drain sets the interval" in c.why()
    free = choose_interval(stall=1.0, drain=10.0, mtbf_s=3600.0)
    assert not free.clamped and free.interval_s == pytest.approx(84.19, abs=0.01)
    asked = choose_interval(stall=1.0, drain=100.0, mtbf_s=3600.0, requested_s=30.0)
    assert asked.clamped and asked.interval_s == 100.0 and "asked for" in asked.why()


def test_first_order_ettr_counts_the_drain():
    # delta 1, tau 100, R 200, M 10,000, W 50: waste = 0.01 + (50 + 50 + 200) / 10,000 = 0.04 -> 1 / 1.04
    assert expected_ettr(100.0, 1.0, 200.0, 10_000.0, 50.0) == pytest.approx(1 / 1.04)


def test_restart_components_at_colossus_scale():
    rs = restart(reliability(), 98_304)
    # 60 s requeue + 60 s process start + 30 s per 10,000 GPUs x 9.8304 = 294.9 s
    assert rs.init_s == pytest.approx(294.912) and rs.total_s == pytest.approx(414.912)


def _inputs(**kw) -> RunInputs:
    """One failure per 10 hours, nothing else costing time, a checkpoint every 600 s."""
    return run_inputs(0.1, **kw)


def test_a_failure_while_the_last_checkpoint_drains_rolls_back_one_more_interval():
    # failures land uniformly in a 600 s cycle: lost = s, plus 600 when s < W. E[lost] = 300 + W.
    for drain, expected in ((0.0, 300.0), (300.0, 600.0)):
        res = simulate(_inputs(drain_s=drain), trials=200, seed=4)
        per_failure = res.lost_work_s.sum() / res.interruptions.sum()
        assert per_failure == pytest.approx(expected, rel=0.05)


def test_an_interval_shorter_than_the_drain_is_refused():
    with pytest.raises(SuperclusterError, match=r"shorter than the .* drain"):
        simulate(_inputs(interval_s=100.0, drain_s=300.0), trials=2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stall=st.floats(0.0, 600.0),
    drain=st.floats(0.0, 20_000.0),
    mtbf=st.floats(60.0, 1e7),
    requested=st.one_of(st.none(), st.floats(1.0, 1e6)),
)
def test_property_interval_never_shorter_than_the_drain(stall, drain, mtbf, requested):
    c = choose_interval(stall, drain, mtbf, requested)
    assert c.interval_s >= drain
    assert c.clamped == (c.wanted_s < drain)
    if not c.clamped:
        assert c.interval_s == c.wanted_s


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    write_gb_per_s=st.floats(0.5, 50_000.0),
    node_gb_per_s=st.floats(1.0, 400.0),
    coordination=st.floats(0.0, 60.0),
    rate_scale=st.floats(0.1, 50.0),
    asked_min=st.one_of(st.none(), st.floats(0.1, 600.0)),
    tier=st.sampled_from(["storage", "memory"]),
    seed=st.integers(0, 1000),
)
def test_property_no_two_checkpoint_writes_overlap(
    small, write_gb_per_s, node_gb_per_s, coordination, rate_scale, asked_min, tier, seed
):
    """For any storage, coordination cost, failure rate, requested interval and tier: the interval is at least
    the drain, and in the simulated run every two checkpoint starts are at least a drain apart."""
    scn, step = small
    storage = StorageSpec(write_gb_per_s=write_gb_per_s, read_gb_per_s=write_gb_per_s, node_gb_per_s=node_gb_per_s)
    system = scn.system.model_copy(update={"storage": storage})
    spec = reliability({"rate_scale": rate_scale, "checkpoint": {"coordination_s": coordination, "tier": tier}})
    rs = setup(scn, step, spec, days=2, interval_s=asked_min * 60 if asked_min else None, system=system)
    assert rs.inputs.interval_s >= rs.inputs.drain_s
    assert rs.checkpoint.interval.clamped == (rs.checkpoint.interval.wanted_s < rs.inputs.drain_s)
    if rs.checkpoint.persist:
        assert rs.checkpoint.persist.interval_s >= rs.write_s
    res = simulate(rs.inputs, trials=3, seed=seed)
    if res.checkpoints.sum() > 0:
        assert res.min_checkpoint_gap_s >= rs.inputs.drain_s


def test_slow_storage_clamps_the_interval_and_says_so(small):
    scn, step = small
    system = scn.system.model_copy(
        update={"storage": StorageSpec(write_gb_per_s=0.5, read_gb_per_s=1, node_gb_per_s=40)}
    )
    rs = setup(scn, step, reliability({"rate_scale": 50}), days=5, system=system)
    # llama3-8b: 8.03e9 x 16 B = 128.5 GB / 0.5 GB/s = 257 s of drain, longer than Daly's optimum here
    assert rs.write_s == pytest.approx(8.029995008e9 * 16 / 0.5e9)
    assert rs.checkpoint.interval.clamped and rs.inputs.interval_s == pytest.approx(rs.write_s)
    assert any("drain sets the interval" in b["value"] for b in rs.basis)


def test_a_scenario_overrides_one_storage_figure_and_keeps_the_rest():
    data = {**SMALL, "system": {"preset": "dgx-h100-superpod", "storage": {"write_gb_per_s": 5}}}
    st_ = from_dict(data).system.storage
    assert st_.write_gb_per_s == 5 and st_.read_gb_per_s == 40 and st_.per_gpus == 256
    assert "set by the scenario: write_gb_per_s" in st_.source
    bad = {**SMALL, "system": {"preset": "dgx-h100-superpod", "storage": {"write_gb_per_s": -1}}}
    with pytest.raises(SuperclusterError):
        from_dict(bad)


def test_group_loss_probability_by_hand():
    # share 0.5 of failures lose a node; lambda = 1e-6 /s per node; W = 1000 s; 2 copies:
    # 0.5 x (1 - exp(-0.001)) = 0.5 x 9.995e-4 = 4.998e-4; with 3 copies it is squared: 0.5 x 9.99e-7
    assert group_loss_probability(2, 1e-6, 1000.0, 0.5) == pytest.approx(0.5 * (1 - math.exp(-1e-3)))
    assert group_loss_probability(3, 1e-6, 1000.0, 0.5) == pytest.approx(0.5 * (1 - math.exp(-1e-3)) ** 2)


def test_memory_tier_pays_off_where_storage_is_slow(small):
    scn, step = small
    slow = scn.system.model_copy(update={"storage": StorageSpec(write_gb_per_s=1, read_gb_per_s=2, node_gb_per_s=40)})
    spec = {"rate_scale": 30}
    on_storage = setup(scn, step, reliability(spec), days=10, system=slow)
    in_memory = setup(scn, step, reliability({**spec, "checkpoint": {"tier": "memory"}}), days=10, system=slow)
    assert in_memory.inputs.load_s < on_storage.inputs.load_s / 10  # a peer over the fabric, not 1 GB/s storage
    assert in_memory.checkpoint.persist.interval_s >= on_storage.write_s
    a = simulate(on_storage.inputs, trials=40, seed=1).ettr.mean()
    b = simulate(in_memory.inputs, trials=40, seed=1).ettr.mean()
    assert b > a


def test_memory_tier_refuses_copies_that_do_not_fit_host_memory(small):
    scn, step = small
    with pytest.raises(SuperclusterError, match="host memory per node"):
        setup(scn, step, reliability({"checkpoint": {"tier": "memory", "host_memory_budget_gb_per_node": 1}}), days=1)


def test_simulate_prints_the_colossus_ettr_and_what_it_rests_on():
    cli = [sys.executable, "-m", "supercluster.cli", "simulate", "--trials", "20", "--no-analysis"]
    out = subprocess.run([*cli, "--json"], capture_output=True, text=True, timeout=120)
    d = json.loads(out.stdout)
    what = {b["what"]: b for b in d["ettr_basis"]}
    for key in (
        "failure rates",
        "checkpoint size",
        "checkpoint storage",
        "write time",
        "interval",
        "scheduler requeue",
        "process start",
        "collective initialisation",
        "detection",
    ):
        assert key in what and what[key]["source"], key
    assert "assumed" in what["checkpoint storage"]["source"]  # xAI publishes no storage bandwidth
    ck = d["checkpoint"]
    assert ck["interval_s"] >= ck["drain_s"] and ck["restart_s"]["total"] == pytest.approx(414.912)
    table = subprocess.run([*cli, "--no-color"], capture_output=True, text=True, timeout=120)
    assert "what the ETTR of" in table.stdout and "collective" in table.stdout
    assert f"{d['ettr']['mean'] * 100:.1f}%" in table.stdout


@pytest.mark.parametrize("name", catalog.loader.names("systems"))
def test_every_system_states_its_checkpoint_storage_and_where_it_comes_from(name):
    st_ = catalog.system(name).storage
    assert st_ is not None and len(st_.source) > 40
    if st_.assumed:  # an assumed figure says so, and why, in its source
        assert "assum" in st_.source.lower()
    if name in ("frontier", "dgx-h100-superpod"):  # Orion and the SuperPOD RA are published, not assumed
        assert not st_.assumed
