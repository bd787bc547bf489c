"""Power swings of a synchronous job, the battery that smooths them, and the report section (issue 18 item 4)."""

import itertools
import json
import math

import numpy as np
import pytest
from clirun import bad, ok
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from supercluster import api, catalog
from supercluster.facility import smoothing
from supercluster.facility import step_power as sp
from supercluster.facility.power import cluster_power
from supercluster.facility.swings import floor_alternative
from supercluster.perf.timeline import simulate_step
from supercluster.report import figures
from supercluster.specs.swings import FrequencyBand

MWH_J = 3.6e9
SMALL = ["--model", "llama3-8b", "--system", "dgx-h100-superpod", "--gpus", "64", "--global-batch", "64"]


def square(amplitude_w: float, period_s: float, n: int, high_share: float = 0.5, base_w: float = 300e6):
    """One period sampled n times: high for the first high_share of it, then low."""
    return np.where(np.arange(n) < round(n * high_share), base_w + amplitude_w, base_w), period_s / n


# --- battery sizing: hand arithmetic ---------------------------------------------------------------------------


def test_square_wave_battery_when_the_grid_can_follow_each_edge():
    """A = 100 MW, T = 2 s, r = 200 MW/s >= 2A/T = 100 MW/s: the grid ramps through each edge in A/r = 0.5 s and
    the battery covers the triangle A x (A/r) / 2 = 100 MW x 0.5 s / 2 = 25 MJ = 25e6 / 3.6e9 = 0.006944 MWh."""
    load, dt = square(100e6, 2.0, 4000)
    need = smoothing.periodic_need(load, dt, 200e6)
    assert need.energy_mwh == pytest.approx(0.006944, rel=0.01)
    assert need.power_w == pytest.approx(100e6, rel=0.01)  # the whole step at the instant of the edge
    assert need.grid_ramp_w_per_s == pytest.approx(200e6, rel=1e-6)  # the grid uses exactly the limit
    assert smoothing.square_wave_energy_j(100e6, 2.0, 200e6) == pytest.approx(25e6)


def test_square_wave_battery_when_the_grid_cannot_follow():
    """r = 10 MW/s < 2A/T: the grid rides near the 350 MW mean and the battery covers A/2 for half a period:
    50 MW x 1 s = 50 MJ = A T / 4 = 100 MW x 2 s / 4 = 0.013889 MWh, whatever r below 100 MW/s."""
    load, dt = square(100e6, 2.0, 4000)
    for r in (10e6, 1e6):
        need = smoothing.periodic_need(load, dt, r)
        assert need.energy_mwh == pytest.approx(0.013889, rel=0.01)
        assert need.grid_swing_w <= r * 1.0 + 1.0  # a triangle of r x T/2 at most
    assert smoothing.square_wave_energy_j(100e6, 2.0, 10e6) == pytest.approx(50e6)


def test_battery_for_a_swing_limit_alone():
    """A 50 MW grid swing on the 100 MW square wave: the grid moves between 325 and 375 MW, the battery takes the
    other 25 MW for half a period: 25 MW x 1 s = 25 MJ."""
    load, dt = square(100e6, 2.0, 4000)
    need = smoothing.periodic_need(load, dt, None, 50e6)
    assert need.grid_swing_w == pytest.approx(50e6, rel=1e-6)
    assert need.energy_j == pytest.approx(25e6, rel=0.01)
    assert need.power_w == pytest.approx(25e6, rel=1e-6)


def test_restart_battery_hand_arithmetic():
    """A 50 MW drop for 600 s, grid ramp 1 MW/s: the grid needs 50 s to come down, so the battery absorbs
    50 MW x 50 s / 2 = 1,250 MJ = 0.3472 MWh and gives it back at the restart (nothing left over).
    A 20 s outage is shorter than the 50 s ramp: it absorbs 50 x 20 - 1 x 20^2 / 2 = 800 MJ and gives back only
    1 x 20^2 / 2 = 200 MJ; 600 MJ stay for the slow loop to return. At 1,000 MW/s the ramp takes 50 ms:
    50 x 0.05 / 2 = 1.25 MJ, counted exactly although the window is 1,000 s."""
    need = smoothing.segments_need([(100.0, 100e6), (600.0, 50e6), (300.0, 100e6)], 1e6)
    assert need.energy_j == pytest.approx(1250e6)
    assert need.power_w == pytest.approx(50e6) and need.grid_swing_w == pytest.approx(50e6)
    assert need.leftover_j == pytest.approx(0.0, abs=1.0)
    need = smoothing.segments_need([(100.0, 100e6), (20.0, 50e6), (880.0, 100e6)], 1e6)
    assert need.energy_j == pytest.approx(800e6)
    assert need.leftover_j == pytest.approx(600e6)
    assert need.grid_swing_w == pytest.approx(20e6)
    fast = smoothing.segments_need([(100.0, 100e6), (600.0, 50e6), (300.0, 100e6)], 1e9)
    assert fast.energy_j == pytest.approx(1.25e6)
    # the sampled grid line the report draws agrees with the exact figure
    dt = 0.01
    t = np.arange(0.0, 1000.0, dt) + dt / 2
    load = np.where((t >= 100) & (t < 700), 50e6, 100e6)
    grid = smoothing.event_grid(load, dt, 1e6)
    sampled = smoothing.need_of(load, grid, dt, periodic=False)
    assert sampled.energy_j == pytest.approx(1250e6, rel=0.002)


def test_tighter_ramp_limit_never_needs_less_battery():
    """Monotone on an uneven wave (90% high) and on a real job's sweep, smallest limit first."""
    load, dt = square(100e6, 2.0, 2000, high_share=0.9)
    needs = [smoothing.periodic_need(load, dt, r).energy_j for r in (1e9, 3e8, 1e8, 3e7, 1e7, 1e6, 1e5)]
    assert all(a <= b + 1e-6 for a, b in itertools.pairwise(needs)), needs
    assert needs[-1] == pytest.approx(100e6 * 0.1 * 0.9 * 2.0, rel=0.01)  # r -> 0: A f (1 - f) T
    d = api.power_swings("llama3-405b-16k")
    mwh = [row["battery_mwh"] for row in d["sweep"]]  # sorted by limit, loosest last
    limits = [row["ramp_limit_mw_per_s"] for row in d["sweep"]]
    assert limits == sorted(limits)
    assert all(a >= b for a, b in itertools.pairwise(mwh)), mwh
    assert mwh[0] > mwh[-1]  # the check can fail: the limit matters


# --- the step series --------------------------------------------------------------------------------------------


def test_levels_are_the_facility_models():
    """busy 1 is cluster_power's training figure and busy 0 the same load with every node at its idle draw."""
    scn = api.build_scenario("llama3-405b-16k")
    lv = sp.power_levels(scn.system, scn.gpus, scn.facility)
    train = cluster_power(scn.system, scn.gpus, scn.facility, "training")
    assert lv.facility_w(1.0) == pytest.approx(train.facility_w, rel=1e-12)
    # 2,048 nodes x (0.76 - 0.30) x 10.2 kW x PUE 1.25 = 12.0 MW between the two
    assert lv.full_swing_w == pytest.approx(2048 * 0.46 * 10_200 * 1.25, rel=1e-9)


def test_swing_amplitude_is_compute_minus_comm_power_times_nodes_times_pue():
    """A one-stage job (no pipeline stagger, no intra-chunk communication at tp1): compute phase at 0.76 x 10.2 kW
    per node, the exposed gradient sync (0.7 ms) at 0.30 x 10.2 kW. With a 0.1 ms slew the trough is reached:
    swing = PUE 1.25 x 8 nodes x (7,752 - 3,060) W = 46,920 W."""
    scn = api.build_scenario(
        None, model="llama3-8b", system="dgx-h100-superpod", gpus=64, global_batch=64, tp=1, pp=1, zero=1
    )
    step = api.estimate(scn).step
    assert sp.compute_share(step) == 1.0 and step.dp_comm_s > 5e-4
    lv = sp.power_levels(scn.system, scn.gpus, scn.facility)
    s = sp.step_series(scn, step, lv, 1e-4)
    assert s.source.startswith("event simulation")
    assert float(s.facility_w.max() - s.facility_w.min()) == pytest.approx(46_920.0, rel=1e-3)
    # 10 ms slew: the 0.7 ms dip never reaches the trough (the check can fail the other way)
    s10 = sp.step_series(scn, step, lv, 0.01)
    assert float(s10.facility_w.max() - s10.facility_w.min()) < 0.2 * 46_920.0


def test_pipeline_staggers_the_stages_and_keeps_the_busy_time():
    """Llama 3 405B (pp16): every count of busy stages from 1 to 15 occurs (warm-up and drain), so the aggregate
    is not a two-level wave; and the series holds exactly the simulated busy time."""
    scn = api.build_scenario("llama3-405b-16k")
    step = api.estimate(scn).step
    tl = simulate_step(scn.workload, scn.system, scn.software, step)
    share = sp.compute_share(step)
    busy = sp.busy_from_timeline(tl, share, 32_768)
    stages = np.round(busy / share * tl.stages)
    for k in range(1, tl.stages):
        assert (stages == k).sum() >= 50, k  # each level lasts at least 50 of 32,768 samples (11.6 ms)
    expected = share * sum(o.end_s - o.start_s for o in tl.ops) / (tl.stages * tl.total_s) + tl.optimizer_s / tl.total_s
    assert busy.mean() == pytest.approx(expected, rel=1e-9)


def test_spectrum_of_a_square_wave():
    """Fourier series of a 50% square wave: odd harmonics with amplitudes 1/k, so the fundamental carries 8/pi^2 =
    81.06% of the variance and the first two odd lines (0.5 and 1.5 Hz for T = 2 s) 8/pi^2 x (1 + 1/9) = 90.06%."""
    load, _ = square(100e6, 2.0, 8192)
    bands = [FrequencyBand(name="0.1-2 Hz", lo_hz=0.1, hi_hz=2.0), FrequencyBand(name="0.4-0.6", lo_hz=0.4, hi_hz=0.6)]
    spec = sp.spectrum(load, 2.0, bands)
    assert spec["dominant_hz"] == pytest.approx(0.5)
    assert spec["band_share"]["0.4-0.6"] == pytest.approx(8 / math.pi**2, rel=1e-3)
    assert spec["band_share"]["0.1-2 Hz"] == pytest.approx(8 / math.pi**2 * (1 + 1 / 9), rel=1e-3)
    assert spec["fundamental_mw"] == pytest.approx(4 / math.pi * 50, rel=1e-3)  # 4/pi x A/2


def test_floor_alternative_hand_arithmetic():
    """Half the ramp allowed: the floor goes halfway from 3,060 to 7,752 W (5,406 W), the swing halves, and each
    step burns PUE 1.2 x 10 nodes x (5,406 - 3,060) W x 0.5 s low = 14,076 J extra."""
    lv = sp.PowerLevels(nodes=10, compute_node_w=7752.0, comm_node_w=3060.0, fixed_w=0.0, pue=1.2)
    busy = np.where(np.arange(1000) < 500, 1.0, 0.0)  # 1 s step, half low
    power = lv.facility_w(busy)
    series = sp.StepSeries(1.0, 1e-3, busy, power, ramp_w_per_s=1e6, source="test")
    fl = floor_alternative(lv, series, 0.5e6, None, usd_per_kwh=0.1)
    assert fl["floor_node_w"] == pytest.approx(5406.0)
    assert fl["swing_after_mw"] == pytest.approx(0.5 * lv.full_swing_w / 1e6)
    assert fl["wasted_mwh_per_day"] == pytest.approx(14_076.0 * 86_400 / MWH_J)


# --- command line and report ------------------------------------------------------------------------------------


def test_power_command_json_and_table(monkeypatch):
    r = ok("power", *SMALL, "--ramp-limit-mw-per-s", "0.01", "--json")
    d = json.loads(r.out)
    assert d["smoothing"]["ramp_limit_mw_per_s"] == 0.01 and d["smoothing"]["ramp_limit_note"] == "given"
    for key in ("swing_mw", "ramp_mw_per_s", "dominant_hz", "band_share"):
        assert key in d["step"]
    for key in ("battery_mw", "battery_mwh"):
        assert d["smoothing"][key] > 0
    assert {"floor_node_w", "wasted_mwh_per_day"} <= set(d["floor"])
    assert d["reference_storage"]["energy_mwh"] == pytest.approx(811.2)
    monkeypatch.setenv("COLUMNS", "80")
    r = ok("power", *SMALL, "--max-swing-mw", "0.01", "--no-color")
    assert "\x1b" not in r.out and "battery" in r.out
    assert max(len(line) for line in r.out.splitlines()) <= 80


def test_power_command_refuses_bad_limits():
    bad("power", *SMALL, "--ramp-limit-mw-per-s", "0", needles=("ramp_limit_mw_per_s", "(0, 1e+07]"))
    bad("power", *SMALL, "--ramp-limit-mw-per-s", "nan", needles=("ramp_limit_mw_per_s",))
    bad("power", *SMALL, "--gpu-slew-ms", "-1", needles=("gpu_slew_ms",))


def test_catalog_numbers_carry_sources():
    a = catalog.loader.power_swings()
    assert a.reference_storage.power_w == 150e6 and a.reference_storage.energy_j == pytest.approx(811.2 * MWH_J)
    for key in ("gpu_slew", "grid_response", "bands", "reference_storage.power", "reference_storage.energy"):
        assert len(a.sources.get(key, "")) > 40, key


def test_report_section_renders():
    """The report's section (its own template, included by report.html.j2) and both figures, from a small job."""
    ps = api.power_swings(None, plot=True, model="llama3-8b", system="dgx-h100-superpod", gpus=64, global_batch=64)
    figs = [figures.swing_steps(ps), figures.swing_event(ps)]
    for fig in figs:
        assert len(fig.data) == 3 and all(len(tr.x) > 10 for tr in fig.data)
    env = Environment(loader=PackageLoader("supercluster.report", "templates"), autoescape=True)
    plots = {"swing_steps": Markup('<div id="a"></div>'), "swing_event": Markup('<div id="b"></div>')}
    text = env.get_template("power_swings.html.j2").render(d={"power_swings": ps}, plots=plots)
    assert "Power swings and smoothing" in text and 'id="a"' in text and 'id="b"' in text
    assert "Megapacks" in text and "MWh" in text
    assert "{{" not in text and "None" not in text
    main_source = env.loader.get_source(env, "report.html.j2")[0]
    assert '{% include "power_swings.html.j2" %}' in main_source


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--ramp-limit-mw-per-s", "inf"),
        ("--ramp-limit-mw-per-s", "1e30"),
        ("--ramp-limit-mw-per-s", "abc"),
        ("--max-swing-mw", "-5"),
        ("--max-swing-mw", "1e-9"),
        ("--gpu-slew-ms", "1e9"),
        ("--gpu-slew-ms", "0.001"),
        ("--gpus", "7"),
    ],
)
def test_power_command_contract(flag, value):
    """Any value: exit 0 with JSON of finite numbers, or exit 2 with one line; never a traceback."""
    from clirun import check_contract, invoke

    check_contract(invoke("power", *SMALL, flag, value, "--json"))
