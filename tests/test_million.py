"""A million GPUs end to end (issue 18, item 5): surviving failures at that size (replica fault tolerance, scalable
collective initialisation), renewal-reward pricing of very many interruptions against the event replay, and the
fabric of a system made of sites. Sizes are reduced where the full run would take more than a second."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from clirun import invoke
from runinputs import run_inputs

from supercluster import api, catalog
from supercluster.catalog.loader import reliability
from supercluster.errors import SuperclusterError
from supercluster.fabric.topology import bill_of_materials
from supercluster.lifecycle.failures import FailureRates, job_components, job_rates
from supercluster.lifecycle.montecarlo import RENEWAL_MIN_EVENTS, RunInputs, method_for, simulate
from supercluster.lifecycle.plan import restart
from supercluster.lifecycle.tolerance import contained_costs, split

MILLION = 1_048_576


def _inputs(**kw) -> RunInputs:
    """One failure per 1,000 s, a 100 s restart, a checkpoint every second."""
    return run_inputs(3.6, **{"restart_s": 100.0, "interval_s": 1.0, **kw})


# ---- renewal-reward pricing ----
def test_renewal_reward_rate_by_hand():
    # Cycle: exponential uptime (mean M = 1,000 s), a failure loses U(0, tau = 1 s) of it, then R = 100 s of restart
    # during which Poisson(R / M) more failures each add R: E[C] = M + R (1 + R/M) = 1,110 s,
    # E[kept] = M - tau/2 = 999.5 s: ETTR = 999.5 / 1,110 = 0.90045 (Ross, Thm 3.6.1).
    res = simulate(_inputs(), trials=200, seed=3, method="renewal-reward")
    assert res.method == "renewal-reward"
    assert res.ettr.mean() == pytest.approx(999.5 / 1110.0, abs=0.002)
    # interruptions: the job-stopping ones plus those during recovery, 1.1 per cycle: 60 days / 1,110 s x 1.1
    assert res.interruptions.mean() == pytest.approx(60 * 86400 / 1110 * 1.1, rel=0.01)


@pytest.mark.parametrize(
    "kw",
    [
        {},  # a 20-day window, ~1,700 interruptions per trial
        {"interval_s": 300.0, "stall_s": 2.0, "drain_s": 30.0, "straggler_mean": 0.02, "straggler_sigma": 0.01},
        {"horizon_s": math.inf, "work_s": 10 * 86400.0, "interval_s": 120.0, "stall_s": 1.0},  # to completion
    ],
)
def test_renewal_reward_agrees_with_the_event_replay(kw):
    inp = _inputs(**{"horizon_s": 20 * 86400.0, **kw})
    events = simulate(inp, trials=120, seed=1, method="events")
    priced = simulate(inp, trials=120, seed=1, method="renewal-reward")
    assert priced.ettr.mean() == pytest.approx(events.ettr.mean(), abs=0.004)
    assert priced.ettr.std() == pytest.approx(events.ettr.std(), rel=0.3)  # the CLT spread, not just the mean
    assert priced.interruptions.mean() == pytest.approx(events.interruptions.mean(), rel=0.02)
    assert priced.lost_work_s.mean() == pytest.approx(events.lost_work_s.mean(), rel=0.05)
    assert priced.wall_s.mean() == pytest.approx(events.wall_s.mean(), rel=0.005)
    assert priced.checkpoints.mean() == pytest.approx(events.checkpoints.mean(), rel=0.02)


def test_the_method_is_chosen_by_the_work_of_replaying():
    many = _inputs()  # ~5,200 interruptions per trial
    assert method_for(many, trials=100) == "events"  # 520,000 trial-interruptions: replayed
    assert method_for(many, trials=1000) == "renewal-reward"  # 5.2 million: priced
    assert method_for(many, trials=100, budget=1e5) == "renewal-reward"
    few = _inputs(horizon_s=(RENEWAL_MIN_EVENTS - 100) * 1000.0)  # below the minimum: replay or refuse
    assert method_for(few, trials=3000) == "events"
    with pytest.raises(SuperclusterError, match="at most"):
        method_for(few, trials=20_000)
    with pytest.raises(SuperclusterError, match="infant mortality"):
        method_for(replace(many, infant_factor=2.0), trials=1000)


def test_renewal_reward_is_deterministic_and_lists_a_timeline():
    a = simulate(_inputs(), trials=50, seed=9, method="renewal-reward")
    b = simulate(_inputs(), trials=50, seed=9, method="renewal-reward")
    assert np.array_equal(a.wall_s, b.wall_s) and np.array_equal(a.progress_s, b.progress_s)
    assert a.timeline and all(e["kind"] == "failure" for e in a.timeline)
    assert not simulate(_inputs(), trials=50, seed=9, method="renewal-reward", timeline_trial=-1).timeline


# ---- replica fault tolerance and scalable initialisation ----
def test_the_cost_of_a_contained_failure_by_hand():
    spec = reliability({"fault_tolerance": {"mode": "replica"}})
    rates = FailureRates(("faulty_gpu",), ("GPU",), np.array([3.6]), np.array([150.0]), np.array([True]))
    c = contained_costs(spec, rates, dp=1024, replica_gpus=1024, step_s=2.0, peer_copy_s=0.7)
    # out = detect 150 + swap 300 + scheduler 60 + start 60 + init 30 s x 1,024 / 10,000 + copy 0.7 = 573.772 s
    assert c.out_s[0] == pytest.approx(573.772)
    # cost = heartbeat 5 + step 2 + 573.772 / 1,024 = 7.56032 s; tax = 0.001/s x 7.56032
    assert c.cost_s[0] == pytest.approx(7.560324, rel=1e-6)
    assert c.tax == pytest.approx(0.001 * 7.560324, rel=1e-6)
    assert c.replicas_out == pytest.approx(0.573772)  # Little's law: 0.001/s x 573.772 s
    hang = contained_costs(
        reliability({"fault_tolerance": {"mode": "replica", "hangs": ["faulty_gpu"]}}), rates, 1024, 1024, 2.0, 0.7
    )
    assert hang.cost_s[0] - c.cost_s[0] == pytest.approx(60.0 - 5.0)  # the collective timeout, not the heartbeat


def test_too_many_replicas_out_is_refused():
    spec = reliability({"fault_tolerance": {"mode": "replica"}})
    rates = FailureRates(("faulty_gpu",), ("GPU",), np.array([36.0]), np.array([150.0]), np.array([True]))
    with pytest.raises(SuperclusterError, match="more than half"):
        contained_costs(spec, rates, dp=8, replica_gpus=1024, step_s=2.0, peer_copy_s=0.7)


def test_job_wide_failures_are_the_software_and_sdc_share_of_llama3():
    system = catalog.system("dgx-h100-superpod", gpus=16384)
    rates = job_rates(reliability(), job_components(system, 16384))
    wide, inside = split(rates, reliability().fault_tolerance.contained)
    # software bugs 54 + dependencies 2 + silent data corruption 6 = 62 of 419 in 1,296 hours
    assert wide.total_per_hour == pytest.approx(62 / 1296)
    assert wide.total_per_hour + inside.total_per_hour == pytest.approx(419 / 1296)
    assert set(wide.names) == {"software_bug", "dependency", "silent_data_corruption"}


def test_scalable_initialisation_at_a_million_gpus():
    linear = restart(reliability(), MILLION)
    scalable = restart(reliability({"fault_tolerance": {"init": "scalable"}}), MILLION)
    # 30 s and 30 / 11 = 2.7 s per 10,000 GPUs, x 104.8576
    assert linear.init_s == pytest.approx(3145.728) and linear.total_s == pytest.approx(3265.728)
    assert scalable.init_s == pytest.approx(283.11552) and scalable.total_s == pytest.approx(403.11552)


@pytest.mark.parametrize(
    "override",
    [
        {"mode": "elastic"},
        {"contained": ["warp_drive"]},
        {"hangs": ["software_bug"]},  # a hang must be contained
        {"heartbeat_timeout_s": 0},
        "replica",
    ],
)
def test_bad_fault_tolerance_is_refused(override):
    with pytest.raises(SuperclusterError):
        reliability({"fault_tolerance": override})


def test_million_gpus_restarting_on_every_failure_never_finish():
    with pytest.raises(SuperclusterError, match=r"every 157 s against 3268 s .* never finish"):
        api.simulate(
            "million-gpu", trials=2, days=1, analyses=False, fault_tolerance="global-restart", collective_init="linear"
        )


@pytest.fixture(scope="module")
def million_run():
    return api.simulate("million-gpu", trials=40, days=30, seed=2).to_dict()


def test_million_gpus_make_progress_with_replica_fault_tolerance(million_run):
    d = million_run
    ft = d["fault_tolerance"]
    assert ft["mode"] == "replica" and ft["init"] == "scalable" and ft["dp"] == 1024
    assert 0.0 < ft["tax"] < 0.2 and ft["contained_failures"] > 1000
    assert 0.2 < d["ettr"]["mean"] < 0.8
    opts = {(o["mode"], o["init"]): o for o in d["recovery_options"]}
    assert len(opts) == 4
    assert all(opts[k]["never_finishes"] for k in opts if k != ("replica", "scalable"))
    best = opts[("replica", "scalable")]
    assert not best["never_finishes"] and best["ettr_first_order"] > d["ettr"]["mean"]  # first order omits re-failures
    assert "157 s" in opts[("global-restart", "linear")]["why"]
    # the size sweep reaches the job's own size, and the interval sweep prices its 30-day runs
    assert d["ettr_vs_cluster_size"][-1]["gpus"] == MILLION
    assert d["ettr_vs_cluster_size"][-1]["ettr_simulated"] == pytest.approx(d["ettr"]["mean"], abs=0.05)


def test_simulate_cli_prints_the_four_ways_at_80_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = invoke("simulate", "-s", "million-gpu", "--trials", "20", "--days", "10", "--no-analysis", "--no-color")
    assert r.code == 0, r.err
    assert "surviving failures" in r.out and "replica failures" in r.out and "never" in r.out
    assert max(len(line) for line in r.out.splitlines()) <= 80
    js = invoke("simulate", "-s", "million-gpu", "--trials", "5", "--days", "5", "--no-analysis", "--json")
    assert json.loads(js.out)["fault_tolerance"]["mode"] == "replica"
    bad = invoke("simulate", "-s", "million-gpu", "--fault-tolerance", "elastic", "--no-analysis")
    assert bad.code == 2 and "global-restart or replica" in bad.err


# ---- the fabric of a system made of sites ----
def test_a_two_site_system_is_two_fabrics_and_a_wan():
    system = catalog.system("fairwater-multisite")
    both = bill_of_materials(system)
    one = bill_of_materials(system.model_copy(update={"gpus": 200_000, "sites": [], "wan": None}), 200_000)
    assert both.topology.switch_count == 2 * one.topology.switch_count
    assert both.nics == 2 * one.nics == 400_000 and both.transceivers == 2 * one.transceivers
    assert both.switch_power_w == pytest.approx(2 * one.switch_power_w)
    d = both.to_dict()
    assert [s["site"] for s in d["sites"]] == ["atlanta", "wisconsin"]
    # the worst cut is the WAN: 1 Pb/s = 125 TB/s each way; 1,127 km x 4.910 us/km = 5.53 ms
    assert d["bisection_tb_per_s"] == pytest.approx(125.0)
    assert d["wan"]["pairs"] == 1 and d["wan"]["latency_ms"] == pytest.approx(5.534, abs=0.01)
    # a job that fits one site uses that site's fabric alone
    assert "wan" not in bill_of_materials(system, 150_000).to_dict()


@pytest.mark.parametrize("command", ["fabric", "top500"])
def test_fabric_and_top500_build_a_multi_site_system(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = invoke(command, "--system", "fairwater-multisite", "--no-color")
    assert r.code == 0, r.err
    assert max(len(line) for line in r.out.splitlines()) <= 80
    assert ("WAN" in r.out) if command == "fabric" else ("atlanta, 200,000 GPUs" in r.out)
