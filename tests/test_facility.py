"""Facility power, cost, build-out, HPL/TOP500 and what-if comparisons."""

import json
import subprocess
import sys

import pytest

from supercluster import api, catalog
from supercluster.catalog.loader import facility as facility_assumptions
from supercluster.errors import SuperclusterError
from supercluster.facility.buildout import buildout
from supercluster.facility.compare import compare
from supercluster.facility.cost import capex, run_cost
from supercluster.facility.power import cluster_power
from supercluster.hpl import estimate as hpl


def test_colossus_power_arithmetic_and_public_range():
    fa = facility_assumptions()
    system = catalog.system("colossus-100k")
    p = cluster_power(system, 100_000, fa)
    node = catalog.node(system.node)
    assert p.nodes == 12_500
    assert p.compute_w == pytest.approx(12_500 * node["max_power_w"] * fa.power.training_node_fraction)
    assert p.storage_w == pytest.approx(p.compute_w * fa.power.storage_fraction)
    assert p.it_w == pytest.approx(p.compute_w + p.network_w + p.storage_w + p.cooling_pumps_w)
    assert p.facility_w == pytest.approx(p.it_w * system.facility.pue)
    # public reporting: "at least 150 MW" for 100k H100, and the site ran on a 150 MW substation (+ turbines)
    assert 100e6 < p.facility_w <= 150e6
    assert p.compute_w > 100_000 * 700  # more than the bare 70 MW of GPUs


def test_every_assumption_has_a_source_and_can_be_overridden(tmp_path):
    fa = facility_assumptions()
    for field in type(fa.power).model_fields:
        assert f"power.{field}" in fa.sources, field
    for key in (
        "prices.electricity",
        "prices.server",
        "prices.network",
        "prices.facility",
        "prices.depreciation",
        "pue",
        "water",
        "emissions",
    ):
        assert fa.sources.get(key), key
    scn_file = tmp_path / "s.yaml"
    scn_file.write_text(
        "workload: {model: llama3-70b, global_batch: 1024, train_tokens: 1.0e12}\n"
        "system: dgx-h100-superpod\ngpus: 1024\n"
        "facility: {pue: 1.5, power: {training_node_fraction: 0.9}, prices: {electricity_usd_per_kwh: 0.2}}\n"
    )
    base = api.facility(str(scn_file))
    assert base["power"]["training"]["pue"] == 1.5
    assert base["power"]["training"]["node_w"] == pytest.approx(10200 * 0.9)
    cheap = api.facility("llama3-405b-16k")
    assert cheap["power"]["training"]["pue"] == catalog.system("dgx-h100-superpod").facility.pue


@pytest.mark.parametrize(
    "bad",
    [
        {"pue": 0.5},
        {"prices": {"electricity_usd_per_kwh": -1}},
        {"power": {"x": 1}},
        {"wue_l_per_kwh": float("nan")},
        {"pue_gold": 1},
    ],
)
def test_bad_facility_overrides_are_refused(bad):
    with pytest.raises(SuperclusterError):
        facility_assumptions(bad)


def test_energy_is_a_few_percent_of_amortised_cost():
    # Cottier et al. 2024 (arXiv:2405.21015): energy is 2-6% of the amortised cost of training runs
    scn = catalog.load("colossus-grok")
    p = cluster_power(scn.system, scn.gpus, scn.facility)
    cost = run_cost(p, capex(scn.system, scn.gpus, p, scn.facility), 30 * 86400, 1e12, scn.facility)
    assert 0.02 <= cost.energy_share <= 0.07
    assert cost.water_m3 > 0 and cost.co2_t > 0


def test_buildout_phases_fit_their_power():
    phases = buildout(catalog.load("colossus-grok"))
    assert [p.gpus for p in phases] == [1024, 100_000, 200_000]
    assert all(p.margin_mw > 0 for p in phases)
    assert phases[2].facility_mw == pytest.approx(2 * phases[1].facility_mw, rel=0.02)


@pytest.mark.parametrize(("sid", "tolerance"), [("eagle", 0.10), ("frontier", 0.15), ("el-capitan", 0.15)])
def test_hpl_estimates_from_specs(sid, tolerance):
    s = hpl.systems()[sid]
    est = hpl.estimate(s["accelerator"], s["gpus"], exclude=sid)
    assert sid not in est.calibrated_on
    assert est.rmax_pf == pytest.approx(s["rmax"], rel=tolerance)


def test_hpl_estimate_never_reads_its_own_rmax(monkeypatch):
    before = hpl.estimate("h100-sxm-80gb", 14_400, exclude="eagle").rmax_pf
    data = hpl._data()
    monkeypatch.setitem(data["systems"]["eagle"], "rmax", 1.0)
    assert hpl.estimate("h100-sxm-80gb", 14_400, exclude="eagle").rmax_pf == pytest.approx(before)


def test_colossus_would_top_the_list():
    d = api.top500("colossus-100k", list_name="nov-2025")
    assert d["ranking"]["rank"] == 1 and d["ranking"]["ratio_to_leader"] > 1.5
    assert d["hpl"]["notes"]  # it says that it extrapolates
    with pytest.raises(SuperclusterError, match="valid: nov-2024"):
        hpl.ranking(1.0, "nov-1999", "x")


def test_newer_accelerators_train_faster_at_equal_gpus():
    scn = api.build_scenario("colossus-grok", gpus=8192, global_batch=4096)
    variants = {v.accelerator: v for v in compare(scn).variants}
    assert variants["b200"].time_to_train_days < variants["h100-sxm-80gb"].time_to_train_days
    assert variants["gb200"].time_to_train_days < variants["h100-sxm-80gb"].time_to_train_days


def test_facility_top500_compare_cli():
    cli = [sys.executable, "-m", "supercluster.cli"]
    f = json.loads(subprocess.run([*cli, "facility", "--json"], capture_output=True, text=True, timeout=180).stdout)
    assert f["buildout"] and f["run"]["energy_mwh"] > 0
    t = json.loads(
        subprocess.run(
            [*cli, "top500", "--system", "eagle", "--json"], capture_output=True, text=True, timeout=60
        ).stdout
    )
    assert t["ranking"]["rank"] is not None and "eagle" not in t["hpl"]["calibrated_on"]
    bad = subprocess.run([*cli, "top500", "--list", "nov-1999"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "valid:" in bad.stderr
    c = subprocess.run([*cli, "compare", "--equal", "watts"], capture_output=True, text=True, timeout=60)
    assert c.returncode == 2


def test_facility_power_needs_no_runnable_job():
    # 100,000 GPUs split no global batch of 512 evenly: power and capital are still reported, the run's
    # energy is not, and the reason names GPU counts that would work
    out = api.facility(None, system="colossus-100k", gpus=100_000, buildout=False)
    assert out["power"]["training"]["facility_mw"] * 1e6 == pytest.approx(
        cluster_power(catalog.system("colossus-100k"), 100_000, facility_assumptions()).facility_w
    )
    assert "run" not in out and "98,304" in out["run_note"]


def test_compare_at_colossus_scale_sizes_every_fabric():
    # 98,304 B200 on radix-64 InfiniBand exceed one 3-tier tree; the fabric splits into rail groups
    scn = api.build_scenario("colossus-grok")
    variants = compare(scn, ("dgx-b200-superpod",)).variants
    assert variants[0].facility_mw > 0


def test_buildout_plans_a_scenario_files_own_workload(tmp_path):
    # a file's scenario is not a preset: the build-out must plan the scenario object, not look it up by name
    f = tmp_path / "mine.yaml"
    f.write_text(
        "name: my-colossus-run\n"
        "workload: {model: llama3-70b, seq_len: 8192, global_batch: 2048, train_tokens: 1.5e13}\n"
        "system: colossus-100k\n"
        "gpus: 16384\n"
    )
    phases = buildout(api.build_scenario(str(f)), planner=api.best_on_phase)
    assert all(p.layout for p in phases)
    assert all(p.job_gpus <= p.gpus for p in phases)


def test_facility_floor_does_not_import_the_api_layer():
    """Dependencies run bottom to top (DESIGN.md): the build-out gets its planner as an argument."""
    import ast
    from pathlib import Path

    import supercluster.facility as pkg

    for path in Path(pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("supercluster.api", "supercluster.cli"), path.name
                assert not (node.module or "").startswith("supercluster.report"), path.name
