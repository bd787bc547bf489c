"""Training across sites (issue 18): sites and the WAN in the system spec, the hierarchical all-reduce and DiLoCo
over the WAN, the rules, the planner's search over sites and sync, and the WAN bandwidth a run needs."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from supercluster import api, catalog
from supercluster.catalog import loader
from supercluster.errors import SuperclusterError
from supercluster.perf.batch import Candidates, evaluate
from supercluster.perf.step import estimate
from supercluster.perf.wan import exposed_s, fragments, ring_s
from supercluster.plan import SpaceOptions, search
from supercluster.plan.explain import parse_layout
from supercluster.plan.wan_need import needed_gbps
from supercluster.rules import check_sites
from supercluster.specs import PlanSpec, ResolvedPlan, SystemSpec, WorkloadSpec
from supercluster.specs.sites import FIBRE_S_PER_KM, WanSpec

MODEL = "llama2-7b"


def two_sites(gbps: float = 100.0, latency_ms: float | None = 10.0, per_site: int = 32, **wan: float) -> SystemSpec:
    """A DGX H100 cluster split over two equal sites joined by a WAN (a latency given, unless None)."""
    spec = {"gbps_per_site_pair": gbps, "distance_km": 1000.0, **wan}
    if latency_ms is not None:
        spec["latency_ms"] = latency_ms
    return loader.system(
        "dgx-h100-superpod",
        gpus=2 * per_site,
        sites=[{"name": "a", "gpus": per_site}, {"name": "b", "gpus": per_site}],
        wan=spec,
    )


def workload(batch: int = 64) -> WorkloadSpec:
    return WorkloadSpec(model=catalog.model(MODEL), seq_len=4096, global_batch=batch)


def plan(**knobs) -> ResolvedPlan:
    base = dict(tp=8, pp=1, dp=8, sequence_parallel=True, zero=1)
    return ResolvedPlan.single(**(base | knobs))


# ---- the spec ----


def test_latency_from_fibre_distance():
    # 1,000 km at group index 1.4719: 1.4719 / 299,792,458 m/s x 1e6 m = 4.9098 ms
    wan = WanSpec(gbps_per_site_pair=100, distance_km=1000)
    assert pytest.approx(4.9098e-6, rel=1e-4) == FIBRE_S_PER_KM
    assert wan.latency_s == pytest.approx(4.9098e-3, rel=1e-4)
    assert WanSpec(gbps_per_site_pair=100, distance_km=1000, latency_ms=7).latency_s == pytest.approx(7e-3)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"sites": [{"name": "a", "gpus": 40}, {"name": "b", "gpus": 32}]}, "a(40) + b(32) = 72"),
        ({"sites": [{"name": "a", "gpus": 32}, {"name": "a", "gpus": 32}]}, "unique"),
        ({"wan": None}, "need a wan"),
        ({"sites": [{"name": "a", "gpus": 64}]}, "one"),
    ],
)
def test_site_rules_of_the_system_spec(change, words):
    data = {
        "gpus": 64,
        "sites": [{"name": "a", "gpus": 32}, {"name": "b", "gpus": 32}],
        "wan": {"gbps_per_site_pair": 100, "distance_km": 1000},
    }
    with pytest.raises(SuperclusterError, match=re.escape(words)):
        loader.system("dgx-h100-superpod", **(data | change))


def test_fairwater_preset_cites_its_sites_and_wan():
    s = catalog.system("fairwater-multisite")
    assert s.site_count == 2 and sum(s.site_gpus()) == s.gpus
    assert all("microsoft" in site.source.lower() for site in s.sites)
    assert s.wan is not None and "700 miles" in s.wan.source and "assumption" in s.wan.source
    assert {"sites.gpus", "wan.gbps_per_site_pair"} <= set(s.assumed)
    # 1,127 km of fibre: 5.53 ms one way
    assert s.wan.latency_s == pytest.approx(1127 * 4.9098e-6, rel=1e-4)
    with pytest.raises(SuperclusterError, match="made of sites"):
        catalog.system("fairwater-multisite", gpus=1000)


# ---- one site is untouched ----


def test_one_site_prices_exactly_as_before():
    """A one-site job prices bit for bit the same on a plain system and on a two-site system (its WAN unused), and
    priced in one batch beside layouts across sites (the batch then takes the multi-site path)."""
    wl = workload()
    sw = catalog.software("megatron-core-2024")
    plain, split = catalog.system("dgx-h100-superpod", gpus=64), two_sites()
    one = [plan(), plan(zero=2, micro_batch=2), plan(zero=3, tp=4, dp=16)]
    alone = evaluate(wl, plain, sw, Candidates.from_plans(one))
    mixed = evaluate(wl, split, sw, Candidates.from_plans([*one, plan(sites=2), plan(sites=2, sync="diloco")]))
    assert np.array_equal(alone.step_time_s, mixed.step_time_s[:3])
    assert np.array_equal(alone.memory_bytes, mixed.memory_bytes[:3])
    assert not mixed.wan_s[:3].any() and mixed.wan_s[3:].all()


# ---- the WAN terms, by hand ----


def test_hierarchical_allreduce_crosses_the_wan_by_hand():
    """Without overlap (megatron-lm-2022), two sites add a ring all-reduce of one model's FP32 gradients over the
    pair link: 2 (s - 1) latencies + 2 (s - 1) / s x V / B with s = 2."""
    system = two_sites(gbps=100.0, latency_ms=10.0)
    sw = catalog.software("megatron-lm-2022")  # dp_overlap false, 4-byte gradients on the wire
    m = catalog.model(MODEL)
    one = estimate(workload(), system, sw, plan(), 64)
    two = estimate(workload(), system, sw, plan(sites=2), 64)
    v_bytes = (m.total_params + m.mtp_params) * 4  # 6.74e9 parameters x 4 B = 26.95 GB
    by_hand = 2 * 1 * 10e-3 + 2 * 1 / 2 * v_bytes / (100e9 / 8)  # 0.02 s + 2.156 s
    assert two.wan_s == pytest.approx(by_hand, rel=1e-12)
    assert one.wan_s == 0.0
    assert two.breakdown()["wan_exposed_s"] == two.wan_s
    assert two.step_time_s == pytest.approx(sum(two.step_terms().values()), rel=1e-12)
    assert any("only data-parallel traffic crosses the WAN" in a for a in two.assumptions)


def test_diloco_amortises_one_outer_sync_over_h_steps():
    system = two_sites(gbps=100.0, latency_ms=10.0)
    sw = catalog.software("megatron-lm-2022")
    m = catalog.model(MODEL)
    est = estimate(workload(), system, sw, plan(sites=2, sync="diloco", diloco_inner_steps=50), 64)
    outer = (m.total_params + m.mtp_params) * 4.0  # FP32 outer gradients
    assert est.wan_s == pytest.approx((2 * 10e-3 + outer / (100e9 / 8)) / 50, rel=1e-12)
    assert any("500 times less" in a for a in est.assumptions)  # the published quality effect, stated


def test_streaming_diloco_fragments_hide_behind_one_inner_step():
    """1e9 parameters in FP4 over 12 layers: 4 fragments of 0.125 GB; at 1 Gb/s and 5 ms each fragment's
    all-reduce takes 2 x 5 ms + 0.125e9 / 1.25e8 s = 1.01 s. H = 100: with a 0.5 s inner step 4/100 x (1.01 - 0.5)
    = 0.0204 s is exposed per step; with a 2 s inner step nothing is."""
    assert fragments(12) == 4 and fragments(126) == 42
    args = dict(
        params=1e9,
        layers=12,
        grad_bytes=4.0,
        window_s=0.0,
        bucket_share=1.0,
        link_bytes_per_s=1e9 / 8,
        latency_s=5e-3,
        site_nic_bytes_per_s=np.array([1e15, 1e15]),
    )
    two, code, h = np.array([2, 2]), np.array([2, 2]), np.array([100, 100])
    out = exposed_s(code, two, h, step_s=np.array([0.5, 2.0]), **args)
    assert out[0] == pytest.approx(4 / 100 * (1.01 - 0.5), rel=1e-12)
    assert out[1] == 0.0
    # a WAN busier than the compute stalls at least by the difference: 4 fragments of 1.01 s every inner step of 1 ms
    busy = exposed_s(np.array([2]), np.array([2]), np.array([1]), step_s=np.array([0.001]), **args)
    assert busy[0] == pytest.approx(4 * 1.01 / 1 - 0.001, rel=1e-12)


def test_ring_over_more_sites_and_the_site_nics():
    # 4 sites: 6 latencies and 2 x 3/4 of the volume; the site's NICs pace when slower than the pair link
    assert ring_s(8e9, 4, 1e9, 1e-3, 1e12) == pytest.approx(6e-3 + 1.5 * 8, rel=1e-12)
    assert ring_s(8e9, 4, 1e9, 1e-3, 5e8) == pytest.approx(6e-3 + 1.5 * 16, rel=1e-12)
    assert ring_s(8e9, 1, 1e9, 1e-3, 1e12) == 0.0


# ---- the answer: WAN bandwidth for < 5% loss ----


def test_wan_bandwidth_for_five_percent_loss_by_hand():
    """The done-when check: the bandwidth at which two sites cost 5% of one-site throughput is the bytes one site
    sends over the WAN per step over the time the 5% allows beyond the step without the WAN, less the ring's
    latency (no overlap: megatron-lm-2022)."""
    system = two_sites(gbps=100.0, latency_ms=10.0)
    sw = catalog.software("megatron-lm-2022")
    wl = workload()
    m = catalog.model(MODEL)
    p = plan(sites=2)
    need, one_site_step, _ = needed_gbps(wl, system, sw, p, loss=0.05)
    est = estimate(wl, system, sw, p, 64)
    step_without_wan = est.step_time_s - est.wan_s
    allowed_s = one_site_step / 0.95 - step_without_wan  # a 5% throughput loss: step = one-site step / 0.95
    wan_bytes = 2 * (2 - 1) / 2 * (m.total_params + m.mtp_params) * 4  # ring over 2 sites, FP32 gradients
    by_hand_gbps = wan_bytes * 8 / (allowed_s - 2 * 10e-3) / 1e9
    assert need == pytest.approx(by_hand_gbps, rel=1e-8)
    # and DiLoCo every 50 steps: one fiftieth of the (FP32) outer gradients per step, and of the latency
    d = plan(sites=2, sync="diloco", diloco_inner_steps=50)
    need_d, _, _ = needed_gbps(wl, system, sw, d, loss=0.05)
    est_d = estimate(wl, system, sw, d, 64)
    allowed_d = one_site_step / 0.95 - (est_d.step_time_s - est_d.wan_s)
    by_hand_d = wan_bytes / 50 * 8 / (allowed_d - 2 * 10e-3 / 50) / 1e9
    assert need_d == pytest.approx(by_hand_d, rel=1e-8)
    assert need_d < need / 40


def test_latency_alone_can_rule_a_split_out():
    system = two_sites(gbps=100.0, latency_ms=900.0)
    need, _, why = needed_gbps(workload(), system, catalog.software("megatron-lm-2022"), plan(sites=2))
    assert need is None and "unlimited WAN" in why


def test_wan_command_on_the_two_site_scenario(monkeypatch):
    from clirun import ok

    monkeypatch.setenv("COLUMNS", "80")
    r = ok("wan", "--scenario", "fairwater-two-site", "--no-color")
    assert max(len(line) for line in r.out.splitlines()) <= 80 and "needed" in r.out
    data = json.loads(ok("wan", "--scenario", "fairwater-two-site", "--json").out)
    rows = {row["sync"]: row for row in data["rows"]}
    assert set(rows) == {"allreduce", "diloco", "streaming-diloco"} and data["sites"] == 2
    # DiLoCo sends 1/H of FP32 outer gradients, Streaming DiLoCo 1/H of FP4 ones: far less bandwidth
    assert (
        rows["allreduce"]["needed_gbps"]
        > 10 * rows["diloco"]["needed_gbps"]
        > 10 * rows["streaming-diloco"]["needed_gbps"]
    )
    assert any("arXiv:2501.18512" in a for a in data["assumptions"])


# ---- rules, fill and search ----


@pytest.mark.parametrize(
    "knobs, gpus, words",
    [
        ({"sites": 3}, 64, "valid sites: 1 to 2"),
        ({"sites": 1, "sync": "diloco"}, 64, "needs sites >= 2"),
        ({"diloco_inner_steps": 100}, 64, "give sync diloco"),
        ({"sites": 2, "dp": 3, "tp": 8}, 48, "multiple of sites"),
        ({"sites": 1}, 64, "more than the 32 GPUs"),
        ({}, 63, "cannot be split"),
    ],
)
def test_site_rules_with_the_arithmetic(knobs, gpus, words):
    with pytest.raises(SuperclusterError, match=words):
        check_sites(PlanSpec(**knobs), two_sites(), gpus)


def test_diloco_needs_a_multi_site_system():
    with pytest.raises(SuperclusterError, match="one site"):
        check_sites(PlanSpec(sync="diloco"), catalog.system("dgx-h100-superpod", gpus=64), 64)


def test_fill_spans_the_fewest_sites_and_says_so():
    sw = catalog.software("megatron-core-2024")
    system = two_sites()
    big = api.resolve(PlanSpec(tp=8), workload(), system, sw, 64)
    assert big.plan.sites == 2 and big.plan.sync == "allreduce" and "fewest" in big.filled["sites"]
    small = api.resolve(PlanSpec(tp=8), workload(), system, sw, 32)
    assert small.plan.sites == 1 and small.wan_s == 0.0


def test_plan_searches_sites_and_sync_in_one_pass():
    sw = catalog.software("megatron-core-2024")
    slow = two_sites(gbps=1.0, latency_ms=10.0, per_site=32)
    res = search(workload(), slow, sw, 32, PlanSpec(tp=8), SpaceOptions(allow_fp8=False), top_k=3)
    c = res.batch.cand
    assert set(np.unique(c.sites)) == {1, 2} and set(np.unique(c.sync)) == {0, 1, 2}
    assert res.best.plan.sites == 1  # fits one site, and 1 Gb/s makes any split slower
    # 64 GPUs do not fit one site: both sites, and over 1 Gb/s a DiLoCo variant beats the per-step all-reduce
    res2 = search(workload(), slow, sw, 64, PlanSpec(tp=8), SpaceOptions(allow_fp8=False), top_k=3)
    assert all(e.plan.sites == 2 for e in res2.top) and res2.best.plan.sync != "allreduce"
    assert res2.best.wan_s < res2.best_where(res2.batch.cand.sync == 0).wan_s


def test_layouts_across_sites_read_and_explain():
    want = parse_layout("tp8 dp8 sites2 diloco-h500")
    assert (want.sites, want.sync, want.diloco_inner_steps) == (2, "diloco", 500)
    assert parse_layout("tp8 streaming-diloco h100").diloco_inner_steps == 100
    label = plan(sites=2, sync="streaming-diloco", diloco_inner_steps=100).label()
    assert label.endswith("sites2 streaming-diloco-h100") and "sites" not in plan().label()
