"""The default report's answers to the questions asked of Colossus, checked against hand arithmetic."""

from datetime import date, timedelta

import pytest

from supercluster import api
from supercluster.facility.buildout import phases_data
from supercluster.report import story


@pytest.fixture(scope="module")
def told():
    scn = api.build_scenario(None)
    data = {"scenario": {"gpus": scn.gpus}, "facility": api.facility(None), "top500": api.top500("colossus-100k")}
    return scn, data, story.story(scn, data, lambda _msg: None)


def test_only_systems_with_a_recorded_build_out_get_the_story():
    assert story.has_story(api.build_scenario(None))
    assert not story.has_story(api.build_scenario("llama3-405b-16k"))
    assert story.story(api.build_scenario("llama3-405b-16k"), {}, lambda _m: None) is None


def test_reference_run_converts_reported_gpu_hours_at_the_models_own_rate(told):
    _, _, st = told
    rr = st["reference_run"]
    assert {r["gpus"] for r in rr["rows"]} == {98304, 196608}
    # 200M GPU-hours converted to FLOP at the 196,608-GPU job's rate, then priced on that job, give back 200M
    back = next(r for r in rr["rows"] if r["estimate"] == "reported GPU-hours" and r["gpus"] == 196608)
    assert back["gpu_hours"] == pytest.approx(2.0e8, rel=1e-9)
    for r in rr["rows"]:
        assert r["days_interval"][0] <= r["days_without_failures"] <= r["days_interval"][1]
        assert r["days_with_failures_p50"] >= r["days_without_failures"]  # failures never make a run faster
        # GPU-hours = days x 24 x GPUs
        assert r["gpu_hours"] == pytest.approx(r["days_without_failures"] * 24 * r["gpus"])


def test_power_margin_is_supply_minus_demand_batteries_apart(told):
    _, data, st = told
    pw = st["power"]
    phase = next(p for p in phases_data()["phases"] if p["name"] == pw["phase"])
    assert pw["phase"] == "100k H100"  # 98,304 GPUs run in the 100,000-GPU phase
    assert pw["supply_total_mw"] == 150 + 35  # grid + turbines; the 150 MW of Megapacks store, not supply
    assert pw["batteries_mw"] == phase["power_mw"]["batteries"] == 150
    assert pw["margin_mw"] == pytest.approx(185 - data["facility"]["power"]["training"]["facility_mw"])


def test_standing_counts_dense_bf16_peak(told):
    _, _, st = told
    sd = st["standing"]
    # 100,000 H100 SXM x 989 TFLOP/s dense BF16 (NVIDIA datasheet) = 98.9 EFLOP/s
    assert sd["colossus"]["bf16_peak_ef"] == pytest.approx(100_000 * 989e12 / 1e18, rel=0.01)
    frontier = next(p for p in sd["peers"] if p["system"].startswith("Frontier"))
    assert frontier["rmax_pf"] == 1353.0  # the published Rmax, not an estimate
    lo, hi = sd["colossus"]["rmax_interval_pf"]
    assert lo < sd["colossus"]["rmax_pf"] < hi


def test_b200_decision_is_delivery_plus_build_plus_training(told):
    _, _, st = told
    dc = st["decision"]
    dec = phases_data()["decision"]
    for r in dc["rows"]:
        avail = date.fromisoformat(r["available"])
        # finish = the day the last training day ends: available + 122 build days + training days
        expect = avail + timedelta(days=dec["build_days"] + r["train_days"])
        assert abs((date.fromisoformat(r["finish"]) - expect).days) <= 1
    h100 = next(r for r in dc["rows"] if r["system"] == "colossus-100k")
    assert h100["available"] == "2024-05-03"  # 2024-09-02 minus the 122-day build
    assert date(2024, 9, 2) - timedelta(days=122) == date(2024, 5, 3)
    assert dc["time_to_result"]["winner"] in {r["system"] for r in dc["rows"]}
