"""MoE load imbalance from the router (perf.imbalance): the busiest EP rank's expected load over the mean."""

import itertools
import math

import pytest

from supercluster import catalog
from supercluster.perf.imbalance import (
    ROUTER_CV,
    SKEW_IN_STEP_TIME,
    busiest_rank_load,
    plan_routing_load,
    rank_load_sd,
    routing_load,
)
from supercluster.perf.straggler import expected_max_normal
from supercluster.specs import ResolvedPlan


def exact_multinomial_max(copies: int, ranks: int) -> float:
    """E[max count] of ``copies`` balls thrown uniformly into ``ranks`` bins, by enumerating every outcome."""
    total = 0.0
    for cut in itertools.combinations(range(copies + ranks - 1), ranks - 1):
        counts = [b - a - 1 for a, b in itertools.pairwise((-1, *cut, copies + ranks - 1))]
        ways = math.factorial(copies)
        for c in counts:
            ways //= math.factorial(c)
        total += max(counts) * ways / ranks**copies
    return total


def test_two_tokens_two_experts_by_hand():
    # top-1 over 2 experts, one per rank, 2 tokens: counts (2,0), (1,1), (0,2) with 1/4, 1/2, 1/4, so
    # E[max] = 2/4 + 1/2 + 2/4 = 1.5 tokens, 1.5x the mean of 1
    assert exact_multinomial_max(2, 2) == pytest.approx(1.5)
    # the normal approximation: s^2 = mu (E - k)/(E - 1) = 1, E[M_2] = 1/sqrt(pi) = 0.564: 1.564
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-5)
    assert busiest_rank_load(2, 1, 2, 2, cv=0.0) == pytest.approx(1 + 1 / math.sqrt(math.pi), rel=1e-5)
    assert busiest_rank_load(2, 1, 2, 2, cv=0.0) == pytest.approx(1.5, rel=0.05)


@pytest.mark.parametrize(("copies", "ranks"), [(16, 4), (40, 4), (18, 6)])
def test_normal_order_statistic_matches_the_exact_multinomial(copies, ranks):
    # top-1 routing of ``copies`` tokens over ``ranks`` one-expert ranks (E = ep, k = 1): the exact expected
    # maximum of the multinomial, by enumeration, against mu + sqrt(mu) E[M_ep]
    mu = copies / ranks
    exact = exact_multinomial_max(copies, ranks) / mu
    model = busiest_rank_load(ranks, 1, ranks, copies, cv=0.0)
    assert model == pytest.approx(exact, rel=0.04)


def test_hypergeometric_spread_of_top_k():
    # 8 experts top-2 over 4 ranks of 2 experts, T tokens: per token variance k (b/E)(1 - b/E)(E - k)/(E - 1)
    # = 2 x 1/4 x 3/4 x 6/7 = 9/28; mu = T k / ep = T / 2; s^2 = Var / (1 - 1/ep) / mu^2
    tokens = 1000
    var = tokens * 9 / 28
    s = math.sqrt(var / (1 - 1 / 4)) / (tokens / 2)
    assert rank_load_sd(8, 2, 4, tokens, cv=0.0) == pytest.approx(s)
    # top-k = E: every token on every rank, no sampling spread
    assert rank_load_sd(8, 8, 4, tokens, cv=0.0) == 0.0


def test_imbalance_grows_with_ep_and_shrinks_with_tokens():
    cv = ROUTER_CV["aux-loss"]
    by_ep = [busiest_rank_load(256, 8, ep, 4096 * ep, cv) for ep in (1, 2, 4, 8, 16, 32, 64, 128, 256)]
    assert by_ep[0] == 1.0
    assert all(b > a for a, b in itertools.pairwise(by_ep))
    by_tokens = [busiest_rank_load(64, 6, 16, t, 0.0) for t in (512, 4096, 32768, 262144)]
    assert all(b < a for a, b in itertools.pairwise(by_tokens))
    # sampling alone falls as 1 / sqrt(tokens): 64x the tokens, 1/8 the excess
    assert (by_tokens[3] - 1) == pytest.approx((by_tokens[1] - 1) / 8, rel=1e-9)


def test_router_skew_from_the_measured_maxvio():
    # Wang et al. 2024 (arXiv:2408.15664) Table 2, MaxVio_global over 64 experts: aux loss 0.72 and 0.52, loss-free
    # 0.04; E[M_64] = 2.3437 (the exact integral; between Harter's 2.2491 at 50 and 2.5076 at 100):
    # c = 0.62 / 2.3437 = 0.265 and 0.04 / 2.3437 = 0.0171
    assert 2.2491 < expected_max_normal(64) < 2.5076
    assert expected_max_normal(64) == pytest.approx(2.3437, abs=2e-4)
    assert ROUTER_CV["aux-loss"] == pytest.approx(0.62 / 2.3437, rel=1e-3)
    assert ROUTER_CV["aux-free"] == pytest.approx(0.04 / 2.3437, rel=1e-3)
    # a rank of one expert out of 8 ranks, many tokens: the skew alone, 1 + c E[M_8] (E[M_8] = 1.4236)
    assert busiest_rank_load(8, 2, 8, 1e12, ROUTER_CV["aux-loss"]) == pytest.approx(
        1 + ROUTER_CV["aux-loss"] * 1.4236, rel=1e-3
    )


def test_capacity_cap_and_balanced_gates_are_exact():
    mixtral = catalog.model("mixtral-8x22b")
    for ep, tokens in ((1, 4096), (8, 64), (8, 1e6)):
        assert routing_load(mixtral.model_copy(update={"moe_router": "fake-balanced"}), ep, tokens) == 1.0
        assert routing_load(mixtral.model_copy(update={"moe_router": "force-balanced"}), ep, tokens, skew=True) == 1.0
        # padded to the capacity factor: every rank computes exactly cf x the mean, the dropless load does not
        # show through (at 64 tokens per rank dropless would be well above 1.25)
        capped = mixtral.model_copy(update={"moe_capacity_factor": 1.25})
        assert routing_load(capped, ep, tokens, skew=True) == 1.25
    assert routing_load(mixtral, 8, 64, skew=True) > 1.25
    # a run that states its imbalance keeps it
    assert routing_load(mixtral.model_copy(update={"moe_imbalance": 1.3}), 8, 4096) == 1.3


def test_plan_tokens_and_the_step_time_verdict():
    model = catalog.model("grok-1")
    plan = ResolvedPlan.single(tp=4, cp=2, ep=8, dp=8, micro_batch=1, sequence_parallel=True)
    # each EP rank routes mb x seq / cp x etp / tp = 8192 / 2 tokens (etp = tp): mu = 4096 x 2 copies
    expected = busiest_rank_load(8, 2, 8, 4096 * 8, ROUTER_CV["aux-loss"] if SKEW_IN_STEP_TIME else 0.0)
    assert plan_routing_load(model, plan, 8192) == pytest.approx(expected)
    assert plan_routing_load(model, plan, 8192, skew=True) > plan_routing_load(model, plan, 8192, skew=False)
    # DeepSeek-V3's bias balancing leaves far less skew than an auxiliary loss
    ds = catalog.model("deepseek-v3")
    assert ds.moe_balancing == "aux-free"
    aux = ds.model_copy(update={"moe_balancing": "aux-loss"})
    assert routing_load(ds, 64, 4096, skew=True) < routing_load(aux, 64, 4096, skew=True)
