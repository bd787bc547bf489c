"""Stragglers (perf.straggler) and fabric contention (perf.contention): the expected maximum by hand and against the
published tables, the sigma from its source, the terms in the estimate, and the report's scaling rows."""

import itertools
import math

import pytest

from supercluster import api, catalog
from supercluster.catalog import loader
from supercluster.perf import estimate
from supercluster.perf import straggler as st
from supercluster.perf.contention import contention_s, exposed_comm_s, non_blocking
from supercluster.report import collect
from supercluster.specs import ResolvedPlan, WorkloadSpec

SW = catalog.software("megatron-core-2024")


def llama(gpus: int, tp: int = 8, pp: int = 4, gb: int = 512):
    system = catalog.system("dgx-h100-superpod", gpus=gpus)
    wl = WorkloadSpec(model=catalog.model("llama3-70b"), seq_len=4096, global_batch=gb)
    plan = ResolvedPlan.single(tp=tp, pp=pp, dp=gpus // (tp * pp), zero=1, sequence_parallel=True)
    return estimate(wl, system, SW, plan, gpus)


# ---- the expected maximum of N normal variables ----


def test_expected_max_closed_forms_and_published_tables():
    """E[max of 2] = 1/sqrt(pi), of 3 = 3/(2 sqrt(pi)) (David & Nagaraja, Order Statistics, section 3.1); 8, 10,
    100 and 1,000 against Harter's 1961 table of expected normal order statistics (Biometrika 48): 1.42360,
    1.53875, 2.50759, 3.24144."""
    assert st.expected_max_normal(1) == 0.0  # one rank waits for nobody
    assert st.expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), abs=1e-9)
    assert st.expected_max_normal(3) == pytest.approx(1.5 / math.sqrt(math.pi), abs=1e-9)
    for n, table in ((8, 1.42360), (10, 1.53875), (100, 2.50759), (1000, 3.24144)):
        assert st.expected_max_normal(n) == pytest.approx(table, abs=2e-5)


@pytest.mark.parametrize(
    ("n", "by_hand", "exact_below_by"),
    [
        # a = sqrt(2 ln 8) = sqrt(4.15888) = 2.03933; b = a - (ln ln 8 + ln 4 pi) / 2a
        #   = 2.03933 - (0.73210 + 2.53102) / 4.07866 = 1.23928; + gamma / a = 0.57722 / 2.03933 = 0.28305
        (8, 1.23928 + 0.28305, 0.0987),
        # a = sqrt(2 ln 1000) = sqrt(13.81551) = 3.71692; (1.93264 + 2.53102) / 7.43384 = 0.60046 -> b = 3.11646;
        # gamma / a = 0.15530
        (1000, 3.11646 + 0.15530, 0.0303),
        # a = sqrt(2 ln 1e5) = sqrt(23.02585) = 4.79853; (2.44347 + 2.53102) / 9.59706 = 0.51833 -> b = 4.28020;
        # gamma / a = 0.12029
        (100_000, 4.28020 + 0.12029, 0.0162),
    ],
)
def test_gumbel_asymptote_by_hand_and_its_gap_to_the_exact_value(n, by_hand, exact_below_by):
    assert st.gumbel_expected_max(n) == pytest.approx(by_hand, abs=2e-5)
    exact = st.expected_max_normal(n)
    assert st.gumbel_expected_max(n) - exact == pytest.approx(exact_below_by, abs=5e-4)
    assert exact < math.sqrt(2 * math.log(n))  # the classical upper bound


def test_expected_max_grows_with_n_and_slowly():
    ns = [2, 8, 64, 512, 1024, 16_384, 100_000, 1_000_000]
    em = [st.expected_max_normal(n) for n in ns]
    assert all(b > a for a, b in itertools.pairwise(em))
    # 1,000 GPUs already pay three quarters of what 100,000 do: 3.2414 / 4.3843 = 0.739
    assert st.expected_max_normal(1000) / st.expected_max_normal(100_000) == pytest.approx(0.7393, abs=1e-3)


def test_sigma_from_its_sources():
    """PRISM's 9% over 65,536 GPUs read as a range: 0.09 / (2 x 4.29113) = 1.0487%; Sinha et al.'s 8% over Summit's
    27,648 GPUs: 0.08 / (2 x 4.09474) = 0.9769%, within 8% of it."""
    assert pytest.approx(0.09 / (2 * 4.29113), rel=1e-5) == st.RANK_SIGMA
    cross = st.sigma_from_spread(st.CROSS_CHECK_SPREAD_FRACTION, st.CROSS_CHECK_GPUS)
    assert cross == pytest.approx(0.08 / (2 * 4.09474), rel=1e-5)
    assert abs(cross / st.RANK_SIGMA - 1) < 0.08


# ---- the term in the estimate ----


def test_estimate_carries_the_cited_expectation():
    """512 GPUs: straggler_s = sigma x E[M_512] x (compute + recompute + bubble) = 1.0487% x 3.0439 x ..."""
    e = llama(512)
    gpu_bound = e.compute_s + e.recompute_s + e.bubble_s
    assert e.breakdown()["straggler_s"] == pytest.approx(0.010487 * 3.0439 * gpu_bound, rel=1e-4)
    assert e.straggler_s > 0 and any(a.startswith("stragglers:") for a in e.assumptions)
    assert e.to_dict()["straggler_in_step_time"] is st.IN_STEP_TIME


def test_straggler_share_grows_with_the_gpu_count():
    shares = [(e := llama(g)).straggler_s / (e.compute_s + e.recompute_s + e.bubble_s) for g in (64, 512, 4096)]
    assert shares == pytest.approx([st.RANK_SIGMA * st.expected_max_normal(g) for g in (64, 512, 4096)], rel=1e-9)
    assert shares[0] < shares[1] < shares[2]


def test_in_step_time_switch_adds_exactly_the_term(monkeypatch):
    monkeypatch.setattr(st, "IN_STEP_TIME", False)
    out = llama(512)
    monkeypatch.setattr(st, "IN_STEP_TIME", True)
    inside = llama(512)
    assert inside.straggler_in_step and not out.straggler_in_step
    assert inside.step_time_s - out.step_time_s == pytest.approx(out.straggler_s, rel=1e-9)
    assert inside.step_time_s == pytest.approx(sum(inside.breakdown().values()), rel=1e-12)
    assert out.step_time_s == pytest.approx(sum(out.step_terms().values()), rel=1e-12)
    assert "straggler_s" in out.breakdown() and "straggler_s" not in out.step_terms()


def test_diloco_waits_only_for_the_slowest_gpu_of_its_own_site():
    """Two sites of 32 GPUs: all-reduce every step waits for the slowest of 64, DiLoCo's inner steps for the slowest
    of 32 (the sites meet every H steps)."""
    system = loader.system(
        "dgx-h100-superpod",
        gpus=64,
        sites=[{"name": "a", "gpus": 32}, {"name": "b", "gpus": 32}],
        wan={"gbps_per_site_pair": 100.0, "distance_km": 1000.0},
    )
    wl = WorkloadSpec(model=catalog.model("llama2-7b"), seq_len=4096, global_batch=64)
    base = dict(tp=8, pp=1, dp=8, sequence_parallel=True, zero=1, sites=2)
    for sync, ranks in (("allreduce", 64), ("diloco", 32)):
        e = estimate(wl, system, SW, ResolvedPlan.single(**base, sync=sync), 64)
        gpu_bound = e.compute_s + e.recompute_s + e.bubble_s
        assert e.straggler_s == pytest.approx(st.RANK_SIGMA * st.expected_max_normal(ranks) * gpu_bound, rel=1e-9)


# ---- contention ----


def tapered(pod: int, taper: float, gpus: int):
    base = catalog.system("dgx-h100-superpod", gpus=gpus)
    fabric = base.fabric.model_copy(update={"pod_gpus": pod, "oversubscription": taper})
    return base.model_copy(update={"fabric": fabric})


def test_contention_is_what_the_taper_adds_above_the_pod():
    wl = WorkloadSpec(model=catalog.model("llama3-8b"), seq_len=4096, global_batch=512)
    plan = ResolvedPlan.single(tp=1, pp=1, dp=512, zero=1)  # the DP ring spans all 512 GPUs
    sw = catalog.software("megatron-lm-2022")  # no overlap: the whole gradient all-reduce is exposed
    c2, c4 = (contention_s(wl, tapered(128, t, 512), sw, plan, 512) for t in (2.0, 4.0))
    assert 0 < c2 < c4
    free = estimate(wl, non_blocking(tapered(128, 4.0, 512)), sw, plan, 512)
    assert c4 == pytest.approx(
        exposed_comm_s(estimate(wl, tapered(128, 4.0, 512), sw, plan, 512)) - exposed_comm_s(free)
    )
    assert contention_s(wl, tapered(1024, 4.0, 512), sw, plan, 512) == 0.0  # the job fits in one pod
    assert contention_s(wl, catalog.system("dgx-h100-superpod", gpus=512), sw, plan, 512) == 0.0  # non-blocking


# ---- the report's scaling section ----


def test_report_scaling_rows_carry_both_terms_and_the_band(monkeypatch):
    monkeypatch.setattr(collect, "SCALING_GPUS", (1024, 8192))
    scn = api.build_scenario(None)
    rows = collect._scaling(scn, lambda _msg: None)
    assert [r["gpus"] for r in rows] == [1024, 8192]
    for r in rows:
        assert r["straggler_s"] > 0 and r["contention_s"] >= 0
        assert r["straggler_share"] == pytest.approx(r["straggler_s"] / r["step_time_s"])
        lo, hi = r["step_time_interval_s"]
        assert lo < r["step_time_s"] < hi
        assert r["straggler_in_step"] is st.IN_STEP_TIME
        assert r["contention_s"] == 0.0  # Colossus' Spectrum-X fabric is modelled non-blocking (1:1)
