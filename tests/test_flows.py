"""Flow-level check of the fabric's contention term (fabric/flows.py), at reduced size."""

from __future__ import annotations

import numpy as np
import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.fabric import flows
from supercluster.fabric.topology import build

GPUS = 2048


@pytest.fixture(scope="module")
def colossus():
    return catalog.system("colossus-100k")


def _tapered(system, taper: float, pod_gpus: int):
    return system.model_copy(
        update={"fabric": system.fabric.model_copy(update={"oversubscription": taper, "pod_gpus": pod_gpus})}
    )


def test_progressive_filling_matches_hand_computed_max_min_rates():
    # links A (capacity 1) and B (capacity 2); flow 0 crosses A, flow 1 crosses A and B, flow 2 crosses B.
    # A is the bottleneck: flows 0 and 1 get 1/2; flow 2 takes what B has left, 2 - 1/2 = 3/2.
    path = np.array([[0, -1], [0, 1], [1, -1]])
    rates, _ = flows.max_min_rates(path, np.array([1.0, 2.0]))
    assert rates == pytest.approx([0.5, 0.5, 1.5])
    # a chain (Bertsekas & Gallager's kind of example): link 0 cap 1 shared by flows 0-2, link 1 cap 3 by
    # flows 2-3, link 2 cap 10 by flows 3-4: 1/3 each on link 0, flow 3 gets 3 - 1/3, flow 4 the rest of 10.
    path = np.array([[0, -1], [0, -1], [0, 1], [1, 2], [2, -1]])
    rates, _ = flows.max_min_rates(path, np.array([1.0, 3.0, 10.0]))
    assert rates == pytest.approx([1 / 3, 1 / 3, 1 / 3, 8 / 3, 10 - 8 / 3])


def test_link_level_tree_has_the_topology_switch_counts(colossus):
    for gpus in (GPUS, 16384, 98304):
        topo = build(colossus, gpus)
        t = flows.tree(colossus, gpus)
        counts = {tier.name: tier.switches for tier in topo.tiers}
        assert t.leaves == counts["leaf"] and t.spines == counts["spine"]
        if "core" in counts:  # cores are rounded up to whole switches in each core group
            assert counts["core"] <= t.cores < counts["core"] + t.pod_leaves


@pytest.mark.parametrize("collective,size,stride", [*flows.layout_cases(GPUS), ("dp_ring", GPUS // 8, 1)])
@pytest.mark.parametrize("order", ["packed", "scattered"])
def test_adaptive_routing_reaches_line_rate_on_a_non_blocking_tree(colossus, collective, size, stride, order):
    r = flows.simulate(colossus, GPUS, collective, size, stride, "adaptive", order)
    assert r.busbw_fraction == pytest.approx(1.0, rel=1e-9)
    assert r.mean_rate_fraction == pytest.approx(1.0, rel=1e-9)


def test_ecmp_collisions_match_the_expected_maximum_of_balls_in_bins(colossus):
    """A scattered ring sends one line-rate flow per NIC; a leaf hashes its ~64 leaving flows onto 64 uplinks
    and ~64 flows arrive over its 64 downlinks. The slowest flow shares the fullest link, so the phase runs
    at 1/max load; that maximum should be the maximum of (2 x leaves) independent 64-balls-in-64-bins draws."""
    r = flows.simulate(colossus, GPUS, "dp_ring", GPUS // 8, 1, "ecmp", "scattered")
    assert r.busbw_fraction < 0.5
    assert r.busbw_fraction == pytest.approx(1 / r.max_flows_per_link)
    t = flows.tree(colossus, GPUS)
    groups = 2 * (GPUS // 8 // t.half) * 8  # up and down bundles of the 8 GPU rails' leaves
    rng = np.random.default_rng(1)
    offsets = np.repeat(np.arange(groups) * t.u1, t.half)
    draws = [np.bincount(rng.integers(0, t.u1, groups * t.half) + offsets).max() for _ in range(200)]
    lo, hi = np.percentile(draws, [2.5, 97.5])
    assert lo <= r.max_flows_per_link <= hi
    assert 0.4 < r.mean_rate_fraction < 0.9  # aggregate throughput, near NVIDIA's "60%" of standard Ethernet


def test_ecmp_more_queue_pairs_per_connection_spread_the_load(colossus):
    one = flows.simulate(colossus, GPUS, "dp_ring", GPUS // 8, 1, "ecmp", "scattered")
    four = flows.simulate(colossus, GPUS, "dp_ring", GPUS // 8, 1, "ecmp", "scattered", qps=4)
    assert four.flows == 4 * one.flows
    assert four.busbw_fraction > one.busbw_fraction


def test_analytic_contention_term_agrees_with_adaptive_routing_on_a_non_blocking_tree(colossus):
    """What the analytic model claims for Colossus: a non-blocking tree costs nothing beyond the NIC (its
    contention factor is 1); with adaptive routing the flow simulation agrees to 1e-9. It has no ECMP term:
    under ECMP the flows reach 12-50% of the analytic bandwidth in the slowest flow (reported, not hidden)."""
    rows = flows.compare(colossus, GPUS, flows.layout_cases(GPUS))
    for row in rows:
        assert row["analytic_fraction"] == 1.0
        if row["routing"] == "adaptive":
            assert row["ratio"] == pytest.approx(1.0, rel=1e-9)
    ecmp = [row["ratio"] for row in rows if row["routing"] == "ecmp" and row["order"] == "scattered"]
    assert max(ecmp) < 0.6


def test_analytic_taper_agrees_for_an_all_to_all_over_many_pods_and_is_pessimistic_for_rings():
    """Above an oversubscribed tier the analytic model divides by the taper. For an all-to-all spread over P
    pods only (P - 1)/P of the traffic crosses the thin tier, so the flows run at 1/(taper (P-1)/P): within
    15% of the analytic term at P = 8 (and exact as P grows). A ring whose neighbours sit together barely
    crosses it: the analytic term is then 2x too pessimistic (the flows run at line rate)."""
    system = _tapered(catalog.system("dgx-h100-superpod"), 2.0, 256)  # a 32-node leaf per rail is one pod
    a2a = flows.compare(system, GPUS, [("ep_all_to_all", 64, 4)], routings=("adaptive",), orders=("packed",))[0]
    assert a2a["analytic_fraction"] == 0.5
    assert a2a["flow_fraction"] == pytest.approx(a2a["crossing_estimate"], rel=0.02)
    assert a2a["flow_fraction"] == pytest.approx(0.5 * 8 / 7, rel=0.02)
    assert 1.0 < a2a["ratio"] < 1.15
    ring = flows.compare(system, GPUS, [("dp_ring", GPUS // 8, 1)], routings=("adaptive",), orders=("packed",))[0]
    assert ring["analytic_fraction"] == 0.5 and ring["flow_fraction"] == pytest.approx(1.0)


def test_dragonfly_and_bad_groups_are_refused(colossus):
    with pytest.raises(SuperclusterError, match="fat trees"):
        flows.tree(catalog.system("frontier"), 4096)
    with pytest.raises(SuperclusterError, match="does not fit"):
        flows.node_pairs("dp_ring", 16, 32)
