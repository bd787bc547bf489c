"""Gigawatt-era presets (issue 18, item 1): GB300, Colossus 2, Stargate Abilene, the million-GPU template and
scenario, and Epoch AI's data-center sites. Every new number carries a source or is listed as assumed."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from clirun import bad, ok

from supercluster import catalog
from supercluster.catalog import loader, sites
from supercluster.errors import SuperclusterError
from supercluster.fabric.topology import bill_of_materials, max_gpus

NEW_SYSTEMS = ["colossus-2", "stargate-abilene", "gigawatt-1m"]


def _numbers(entry: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every numeric leaf of a raw catalog entry: (dotted path, the mapping that holds it)."""
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(entry, dict):
        for key, value in entry.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                out.append((sub, entry))
            else:
                out += [(p, holder) for p, holder in _numbers(value, sub)]
    elif isinstance(entry, list):
        for i, value in enumerate(entry):
            out += _numbers(value, f"{path}[{i}]")
    return out


UNIT_SUFFIXES = ("_gb_per_s", "_tb_per_s", "_gib", "_w")


def _names(path: str) -> set[str]:
    """A field's dotted path, every prefix of it, and each with its unit suffix dropped (hbm_tb_per_s -> hbm)."""
    parts = path.replace("[", ".[").split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    stems = set()
    for p in prefixes:
        for suffix in UNIT_SUFFIXES:
            if p.endswith(suffix):
                stems.add(p.removesuffix(suffix))
    return {p.replace(".[", "[") for p in prefixes | stems}


def unsourced(entry: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    """Numeric fields with no source: a `sources` key naming the field (or a field that contains it), an `assumed`
    item that starts with such a name, or a non-empty `source` text in the mapping that holds the number."""
    sources = entry.get("sources") or {}
    assumed = [str(a) for a in entry.get("assumed") or []]
    missing = []
    for path, holder in _numbers(entry):
        if path.startswith(("sources", "assumed", *skip)):
            continue
        names = _names(path)
        if names & set(sources) or any(a.startswith(n) for a in assumed for n in names):
            continue
        if str(holder.get("source") or "").strip():
            continue
        missing.append(path)
    return missing


def test_the_rule_catches_an_unsourced_number():
    """The check can fail: a number with neither a source nor an assumption is reported."""
    assert unsourced({"gpus": 5, "sources": {"gpus": "x"}}) == []
    assert unsourced({"gpus": 5, "tdp_w": 700, "sources": {"gpus": "x"}}) == ["tdp_w"]
    assert unsourced({"hbm_tb_per_s": 8.0, "assumed": ["hbm (as b200)"]}) == []
    assert unsourced({"facility": {"pue": 1.2, "source": ""}}) == ["facility.pue"]
    assert unsourced({"facility": {"pue": 1.2, "source": "assumption"}}) == []


def test_gb300_loads_and_every_number_has_a_source():
    acc = catalog.accelerator("gb300")
    assert acc.microscaling and acc.scale_up_domain == 72 and acc.efficiency.source
    # the efficiency table is inherited (listed under assumed); its numbers are covered by its own source text
    assert unsourced(loader.raw("accelerators", "gb300"), skip=("efficiency",)) == []


def test_gb300_rack_totals_match_nvidia():
    """72 GPUs x 5 PF dense FP8 = 360 PF ("360 PF FP8 for training"); 72 x 15 PF NVFP4 = 1.08 EF ("1.1 EF dense
    FP4"); 72 x 8 TB/s = 576 TB/s of HBM ("20 TB HBM at 576 TB/s")."""
    acc = catalog.accelerator("gb300")
    assert 72 * acc.peak_flops("fp8") == pytest.approx(360e15)
    assert 72 * acc.peak_flops("nvfp4") == pytest.approx(1.1e18, rel=0.02)
    assert 72 * acc.hbm_tb_per_s == pytest.approx(576)
    # Blackwell Ultra's gain over GB200 is in NVFP4 (1.5x) and memory, not BF16 (NVIDIA blog)
    gb200 = catalog.accelerator("gb200")
    assert acc.peak_flops("nvfp4") / gb200.peak_flops("nvfp4") == pytest.approx(1.5)
    assert acc.peak_flops("bf16") == gb200.peak_flops("bf16")


def test_gb300_tray_power_is_the_rack_figure_over_18_trays():
    tray = catalog.node("gb300-nvl72-tray")
    assert tray["gpus"] == 4 and tray["nics"] == 4 and tray["nic_gbps"] == 800
    assert "142 kW" in tray["source"]
    assert 18 * tray["max_power_w"] == pytest.approx(142_000, rel=0.001)  # 18 x 7,890 = 142,020 W


@pytest.mark.parametrize("name", NEW_SYSTEMS)
def test_new_systems_load_and_every_number_has_a_source(name):
    system = catalog.system(name)
    assert system.gpus >= 400_000 and system.gpus_per_node == 4
    assert unsourced(loader.raw("systems", name)) == []


def test_press_figures_are_marked_with_an_uncertainty():
    for name in ("colossus-2", "stargate-abilene"):
        raw = loader.raw("systems", name)
        assert "[press]" in raw["sources"]["gpus"] and "+-" in raw["sources"]["gpus"]
        assert "[press]" in raw["facility"]["source"]


def test_colossus_2_matches_epochs_hub():
    c2 = catalog.system("colossus-2")
    full = sites.site("colossus-2").peak
    assert c2.gpus == full.gpus == 550_000
    assert c2.gpus - c2.other_partitions[0].gpus == 110_000  # the GB200 the hub counted on 2025-10-19
    assert sites.site("colossus-2").at(dt.date(2025, 10, 19)).gpus == 110_000


def test_stargate_abilene_gpus_agree_with_epochs_compute_estimate():
    """Press: about 400,000 GB200. Epoch's hub: 2.016e21 8-bit OP/s for 8 buildings = 403,200 GB200 at 5e15
    dense FP8 each, 1,018,696 H100 equivalents at 1.979e15."""
    sa = catalog.system("stargate-abilene")
    eight = next(m for m in sites.site("stargate-abilene").milestones if m.buildings == 8)
    h100_fp8 = catalog.accelerator("h100-sxm-80gb").peak_flops("fp8")
    gb200_count = eight.h100e * h100_fp8 / sa.accelerator.peak_flops("fp8")
    assert gb200_count == pytest.approx(403_200, rel=0.001)
    assert sa.gpus == pytest.approx(gb200_count, rel=0.02)


def test_the_million_gpu_fabric_builds_by_hand_arithmetic():
    """1,048,576 NIC ports on radix-128 switches (SN5600, 128 x 400G): one 3-tier tree reaches 128^3/4 = 524,288
    ports, so two rail groups of 524,288; per group 524,288 / 64 = 8,192 leaves, as many spines, and
    8,192 x 64 / 128 = 4,096 cores: 2 x 20,480 = 40,960 switches."""
    system = catalog.system("gigawatt-1m")
    bom = bill_of_materials(system)
    assert bom.topology.gpus == 1_048_576 and bom.topology.radix == 128
    assert bom.switches == {"leaf": 16_384, "spine": 16_384, "core": 8_192}
    assert sum(bom.switches.values()) == 40_960
    assert bom.nics == 1_048_576
    assert any("2 rail groups" in n for n in bom.topology.notes)
    assert bom.bisection_tb_per_s == pytest.approx(1_048_576 / 2 * 400 / 8 / 1000)
    limit, _ = max_gpus(system)
    assert limit == 4 * 524_288  # four rails, one tree each, 4 GPUs per tray
    with pytest.raises(SuperclusterError, match="exceed what system gigawatt-1m's fabric can build"):
        catalog.system("gigawatt-1m", gpus=limit + 4)


def test_frontier_model_parameters_by_hand():
    """192 layers x (2 x 40960^2 attention q/o + 2 x 40960 x 16 x 128 k/v + 3 x 40960 x 143360 SwiGLU) plus two
    262,144 x 40,960 embeddings = 4.08e12 (norms add < 1e-6)."""
    m = catalog.model("frontier-4t-dense")
    per_layer = 2 * 40960**2 + 2 * 40960 * 16 * 128 + 3 * 40960 * 143360
    assert m.total_params == pytest.approx(192 * per_layer + 2 * 262144 * 40960, rel=1e-5)
    assert m.source.startswith("assumption")


@pytest.fixture(scope="module")
def million():
    return json.loads(ok("estimate", "--scenario", "million-gpu", "--json").out)


def test_million_gpu_scenario_lists_its_assumptions():
    scn = catalog.load("million-gpu")
    assert scn.gpus == 1_048_576 and scn.system.id == "gigawatt-1m"
    whats = {a.what for a in scn.assumptions}
    assert {"training compute", "model", "training tokens", "global batch", "layout", "system"} <= whats
    # 6 N D = 9.8e27: about 1e28 FLOP, the compute the scenario is about
    assert 6 * scn.workload.model.total_params * scn.workload.train_tokens == pytest.approx(9.79e27, rel=0.01)


def test_million_gpu_scenario_estimates(million):
    d = million
    assert d["gpus"] == 1_048_576 and d["memory"]["fits"]
    assert "dp1024" in d["layout"] and "tp16" in d["layout"]
    assert math.isfinite(d["step_time_s"]) and d["step_time_s"] > 0
    # the run's tokens over the predicted throughput is the predicted time (hand arithmetic on the output)
    assert d["time_to_train_s"] == pytest.approx(4.0e14 / d["tokens_per_s"], rel=1e-6)
    assert d["time_to_train_s"] < 90 * 86400  # inside Erdil and Schneider-Joseph's three-month limit
    assert 0.2 < d["mfu"] < 0.9


def test_million_gpu_plan_is_fast(million):
    """`plan --scenario million-gpu` within 10 s (issue 18), and its best layout is at least as fast as the
    scenario's own."""
    r = ok("plan", "--scenario", "million-gpu", "--json", "--top", "1", limit_s=10.0)
    best = json.loads(r.out)
    assert best["gpus"] == 1_048_576 and len(best["top"]) == 1
    assert best["best_time_to_train_days"] * 86400 <= million["time_to_train_s"] * (1 + 1e-9)


def test_sites_load_with_their_dates():
    ds = sites.dataset()
    assert ds.url == "https://epoch.ai/data/data-centers"
    assert ds.snapshot_date == dt.date(2025, 12, 17) and ds.read_date >= ds.snapshot_date
    names = sites.names()
    covered = {"colossus-1", "colossus-2", "stargate-abilene", "meta-prometheus", "meta-hyperion"}
    assert covered | {"fairwater-atlanta", "fairwater-wisconsin"} <= set(names)
    for s in sites.sites():
        if s.system:
            catalog.system(s.system)  # a linked system preset exists


@pytest.mark.parametrize("name", sites.names())
def test_site_snapshot_figures_match_its_timeline(name):
    """The hub's two files agree: the site's power and H100e at the snapshot date are those of its last
    milestone on or before that date (0 when none is operational yet)."""
    s = sites.site(name)
    snap = sites.dataset().snapshot_date
    last = s.at(snap)
    assert s.power_mw == (last.power_mw if last else 0)
    assert s.h100e == pytest.approx(last.h100e if last else 0, abs=1)


def test_sites_refuse_bad_input():
    with pytest.raises(SuperclusterError, match=r"unknown site preset 'colossus-9'; valid: .*colossus-2"):
        sites.site("colossus-9")
    from supercluster.specs.datacenter import Site

    good = sites.site("colossus-2").model_dump()
    good["milestones"] = list(reversed(good["milestones"]))
    with pytest.raises(SuperclusterError, match="milestones must be in date order"):
        loader.build(Site, good, "site")


def test_presets_sites_table_and_json(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    table = ok("presets", "sites", "--no-color").out
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "snapshot 2025-12-17" in table and "colossus-2" in table and "550k" in table
    data = json.loads(ok("presets", "sites", "--json").out)
    assert data["dataset"]["snapshot_date"] == "2025-12-17"
    assert {r["id"] for r in data["sites"]} == set(sites.names())
    assert "colossus-2" in json.loads(ok("presets", "--json").out)["sites"]
    bad("presets", "site", needles=("valid: all, accelerators", "sites"))


@pytest.mark.parametrize("name", NEW_SYSTEMS)
def test_fabric_command_builds_each_new_system(name):
    data = json.loads(ok("fabric", "--system", name, "--json", limit_s=10.0).out)
    assert data["bom"]["gpus"] == catalog.system(name).gpus and data["bom"]["tiers"] == 3


def test_top500_and_facility_run_at_a_million_gpus():
    top = json.loads(ok("top500", "--system", "gigawatt-1m", "--json", limit_s=10.0).out)
    assert top["gpus"] == 1_048_576 and top["hpl_power_mw"] > 1000
    fac = json.loads(ok("facility", "--scenario", "million-gpu", "--json", limit_s=10.0).out)
    training = fac["power"]["training"]
    # a gigawatt campus: 262,144 trays x 6,667 W x 0.76 = 1,328.3 MW of compute before network, storage and PUE
    assert training["compute_w"] == pytest.approx(262_144 * 6667 * 0.76)
    assert 1000 < training["facility_mw"] <= fac["grid_mw"]
