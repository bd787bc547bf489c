"""Whole-run simulation: failure model, checkpoint formulas, Monte Carlo, CLI."""

import json
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from supercluster import api, catalog
from supercluster.catalog.loader import reliability
from supercluster.errors import SuperclusterError
from supercluster.lifecycle.checkpoint import daly_interval_s, expected_ettr, young_interval_s
from supercluster.lifecycle.failures import job_components, job_rates
from supercluster.lifecycle.montecarlo import simulate
from supercluster.lifecycle.run import setup, simulate_scenario

LLAMA_CATEGORIES = {  # Llama 3 Table 5, summed by category (hardware_facts.md 4a)
    "GPU": 148 + 72 + 19 + 17 + 6 + 6,
    "Dependency": 54 + 2,
    "Network": 35,
    "Unplanned maintenance": 32,
    "Host": 7 + 3 + 3 + 2 + 2 + 2 + 2,
    "Unknown": 7,
}


@pytest.fixture(scope="module")
def llama():
    scn = catalog.load("llama3-405b-16k")
    return scn, api.estimate(scn).step


def test_rates_reproduce_the_llama3_table_in_expectation(llama):
    scn, _ = llama
    rates = job_rates(reliability(), job_components(scn.system, 16384))
    by_cat = rates.by_category(54 * 24)
    assert sum(by_cat.values()) == pytest.approx(419)
    for cat, n in LLAMA_CATEGORIES.items():
        assert by_cat[cat] == pytest.approx(n)
    assert rates.mtbf_s / 3600 == pytest.approx(54 * 24 / 419)


def test_llama3_54_days_simulated(llama):
    scn, step = llama
    rep = simulate_scenario(scn, step, reliability(), trials=300, seed=7, days=54, analyses=False)
    d = rep.to_dict()
    assert d["interruptions"]["mean"] == pytest.approx(419, rel=0.10)
    total = sum(d["by_category"].values())
    for cat, n in LLAMA_CATEGORIES.items():
        assert d["by_category"][cat] / total == pytest.approx(n / 419, abs=0.02)
    assert d["ettr"]["mean"] > 0.90  # the paper: ">90% effective training time"


def test_rates_scale_with_components():
    small = job_rates(reliability(), job_components(catalog.system("dgx-h100-superpod", gpus=1024), 1024))
    big = job_rates(reliability(), job_components(catalog.system("dgx-h100-superpod", gpus=102400), 102400))
    assert big.total_per_hour == pytest.approx(100 * small.total_per_hour)


@pytest.mark.parametrize(("mtbf_h", "expected_min"), [(24, 117), (6, 57), (0.25, 9.1)])
def test_daly_reproduces_his_own_examples(mtbf_h, expected_min):
    # Daly 2006: delta = 5 min, R = 10 min (R drops out of the optimum)
    assert daly_interval_s(300, mtbf_h * 3600) / 60 == pytest.approx(expected_min, abs=0.6)


def test_young_and_daly_agree_for_cheap_checkpoints():
    assert young_interval_s(1.0, 36000) == pytest.approx(math.sqrt(72000))
    assert daly_interval_s(1.0, 36000) == pytest.approx(young_interval_s(1.0, 36000), rel=0.01)
    assert daly_interval_s(10_000, 1000) == 1000  # delta >= 2M: checkpoint once per MTBF


def test_simulated_optimum_is_near_daly(llama):
    scn, step = llama
    rep = simulate_scenario(scn, step, reliability(), trials=60, seed=3, days=30)
    ia = rep.interval_analysis
    assert 0.4 < ia["simulated_optimum_min"] / ia["daly_min"] < 2.5
    curve = [c["ettr_simulated"] for c in ia["curve"]]
    assert max(curve) - min(curve) < 0.1
    sizes = [r["ettr_simulated"] for r in rep.scaling]
    assert sizes == sorted(sizes, reverse=True)  # bigger clusters lose more


def test_deterministic_for_a_seed(llama):
    scn, step = llama
    rs = setup(scn, step, reliability(), days=10)
    a = simulate(rs.inputs, trials=50, seed=11)
    b = simulate(rs.inputs, trials=50, seed=11)
    c = simulate(rs.inputs, trials=50, seed=12)
    assert np.array_equal(a.counts, b.counts) and np.array_equal(a.wall_s, b.wall_s)
    assert not np.array_equal(a.counts, c.counts)


def test_run_to_completion_takes_longer_than_ideal(llama):
    scn, step = llama
    rs = setup(scn, step, reliability(), tokens=2e12)
    res = simulate(rs.inputs, trials=50, seed=1)
    assert np.all(res.wall_s > rs.inputs.work_s)
    assert np.all(res.progress_s == pytest.approx(rs.inputs.work_s))
    assert 0.8 < res.ettr.mean() < 1.0


def test_no_failures_means_ideal_time(llama):
    scn, step = llama
    spec = reliability(
        {"rate_scale": 0, "recovery": {"planned_per_day": 0, "straggler_slowdown": 0, "straggler_sigma": 0}}
    )
    rs = setup(scn, step, spec, tokens=1e12, interval_s=3600)
    res = simulate(rs.inputs, trials=5, seed=0)
    stalls = math.floor(rs.inputs.work_s / 3600) * rs.inputs.stall_s
    assert res.wall_s == pytest.approx(rs.inputs.work_s + stalls)


def test_empty_spare_pool_waits_for_repairs(llama):
    scn, step = llama
    rs = setup(scn, step, reliability({"spare_nodes": 0}), days=10)
    res = simulate(rs.inputs, trials=20, seed=2)
    assert res.spare_wait_s.mean() > 0
    assert res.ettr.mean() < simulate(replace(rs.inputs, spares=50), trials=20, seed=2).ettr.mean()


@pytest.mark.parametrize(
    "override",
    [
        {"rate_scale": -1},
        {"rate_scale": float("nan")},
        {"recovery": {"scheduler_s": -5}},
        {"checkpoint": {"coordination_s": -1}},
        {"checkpoint": {"tier": "disk"}},
        {"checkpoint": {"write_gb_per_s_per_gpu": 0.1}},  # storage is the system's now, not a checkpoint knob
        {"components": {"faulty_gpu": {"rate_per_hour": float("inf")}}},
        {"bogus": 1},
    ],
)
def test_bad_rates_and_times_are_refused(override):
    with pytest.raises(SuperclusterError):
        reliability(override)


def test_absurd_rates_are_refused_before_running(llama):
    scn, step = llama
    with pytest.raises(SuperclusterError, match=r"absurd|never finish"):
        rs = setup(scn, step, reliability({"rate_scale": 900}), days=365)
        simulate(rs.inputs, trials=10)


def test_simulate_cli():
    cli = [sys.executable, "-m", "supercluster.cli", "simulate"]
    out = subprocess.run(
        [*cli, "--scenario", "llama3-405b-16k", "--days", "54", "--trials", "50", "--json", "--no-analysis"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    d = json.loads(out.stdout)
    assert d["mode"] == "window" and d["interruptions"]["mean"] > 300 and d["timeline"]
    bad = subprocess.run([*cli, "--days", "10", "--tokens", "1e12"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not both" in bad.stderr
    table = subprocess.run([*cli, "--trials", "20", "--no-color"], capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and "ETTR" in table.stdout and "assumptions" in table.stdout


def test_first_order_ettr_formula():
    # no failures: only checkpoint stalls
    assert expected_ettr(100.0, 1.0, 0.0, math.inf) == pytest.approx(100 / 101)
