"""`supercluster limits`: the scaling rules against their published numbers, the knee and wall definitions on
hand-made curves, and a coarse grid planned end to end (seconds)."""

from __future__ import annotations

import json
import math

import pytest

from supercluster.errors import SuperclusterError
from supercluster.limits import analysis, sources
from supercluster.limits.frontier import ladder, ladder_index
from supercluster.limits.laws import batch_tokens, compute_optimal_params, dense_shape, nice_count, train_tokens
from supercluster.limits.workload import compute_job


# ---- the rules, by hand ----
@pytest.mark.parametrize(
    ("flop", "params", "tokens"),
    [
        # Hoffmann et al. 2022 (arXiv:2203.15556), Table 3, Approach 1 rows: parameters, FLOPs, tokens
        (1.21e20, 1e9, 20.2e9),
        (1.27e26, 1e12, 21.2e12),
        (1.30e28, 10e12, 216.2e12),
    ],
)
def test_chinchilla_rule_reproduces_table_3(flop, params, tokens):
    """N = sqrt(C / (6 * 20)): 1.27e26 / 120 = 1.058e24, sqrt = 1.029e12 (Table 3: 1 trillion). D = C / (6 N) on
    the table's own N: 1.27e26 / 6e12 = 2.117e13 (Table 3: 21.2 trillion)."""
    rules = sources.rules()
    n = compute_optimal_params(flop, rules.tokens_per_param)
    assert n == pytest.approx(params, rel=0.05)
    assert train_tokens(flop, params) == pytest.approx(tokens, rel=0.02)
    assert compute_optimal_params(1.27e26, 20.0) == pytest.approx(math.sqrt(1.27e26 / 120), rel=1e-12)


def test_batch_law_by_hand():
    """DeepSeek LLM Formula 1 at C = 1e20: log10 B = log10 0.2920 + 0.3271 * 20 = -0.53462 + 6.542 = 6.00738,
    B = 1.0171e6 tokens; at 1e28 log10 B = -0.53462 + 9.1588 = 8.62418, B = 4.209e8 tokens."""
    rules = sources.rules()
    assert (rules.batch_coefficient_tokens, rules.batch_exponent) == (0.2920, 0.3271)
    assert batch_tokens(1e20, 0.2920, 0.3271) == pytest.approx(1.0171e6, rel=1e-3)
    assert batch_tokens(1e28, 0.2920, 0.3271) == pytest.approx(4.209e8, rel=1e-3)


def test_nice_counts_are_powers_of_two_or_three_halves():
    """The nearest of 2^k and 3 * 2^k in ratio: 3,000 -> 3,072 (3 * 2^10); 5,000 -> 4,096 (5000/4096 = 1.22 <
    6144/5000 = 1.23); 51,380 -> 49,152."""
    assert nice_count(3000) == 3072
    assert nice_count(5000) == 4096
    assert nice_count(51380) == 49152
    assert nice_count(1.2) == 1
    assert [ladder(i) for i in range(6)] == [8, 12, 16, 24, 32, 48]
    assert ladder(ladder_index(100_000)) == 98304


def test_gpt3_shape_from_its_parameter_count():
    """175e9 parameters at aspect ratio 128: d = (128 * 175e9 / 12)^(1/3) = (1.8667e12)^(1/3) = 12,311 -> 96.2
    heads of 128, rounded to a multiple of 8 = 96 heads, d_model 12,288; layers 175e9 / (12 * 12288^2) =
    175e9 / 1.8119e9 = 96.6 -> 97 (GPT-3 175B: 96 layers of 12,288, Brown et al. 2020, Table 2.1)."""
    s = dense_shape(175e9, 128.0, 128)
    assert (s.d_model, s.heads, s.n_layers) == (12288, 96, 97)


def test_job_spends_exactly_its_compute():
    rules = sources.rules()
    from supercluster import catalog

    job = compute_job(1e27, rules, catalog.model(rules.template_model), 8192, rules.aspect_ratio)
    assert 6 * job.params * job.tokens == pytest.approx(1e27, rel=1e-9)
    assert job.workload.global_batch * 8192 == job.workload.tokens_per_step
    # the batch is the law's, rounded to 2^k or 3 * 2^k sequences (within a factor of 1.22)
    assert 1 / 1.23 < job.workload.tokens_per_step / job.batch_tokens_law < 1.23
    # 30,720 / 128 = 240 heads: at least 8 x 16 and under 8 x 32, so a multiple of 16 (head_multiple)
    assert job.model.heads == 240 and job.model.heads % 16 == 0


# ---- the definitions, on hand-made curves ----
def test_knee_interpolates_the_crossing():
    """Plateau 0.5, threshold 0.45: between 1e25 (0.5) and 1e26 (0.4) the line crosses halfway, at 10^25.5."""
    k = analysis.utilisation_knee([1e24, 1e25, 1e26, 1e27], [0.5, 0.5, 0.4, 0.2], [True] * 4)
    assert k.flop == pytest.approx(10**25.5, rel=1e-9)
    assert k.index == 2


def test_knee_ignores_a_dip_that_recovers():
    """A dip at 1e25 that recovers at 1e26 is not the knee: every later point must stay below. From 1e26 (0.5,
    +0.05 above 0.45) to 1e27 (0.3, -0.15) the crossing is a quarter of the way: 10^26.25."""
    k = analysis.utilisation_knee([1e24, 1e25, 1e26, 1e27], [0.5, 0.4, 0.5, 0.3], [True] * 4)
    assert k.flop == pytest.approx(10**26.25, rel=1e-9)


def test_knee_none_start_and_infeasible_points():
    flat = analysis.utilisation_knee([1e24, 1e25], [0.5, 0.49], [True, True])
    assert flat.flop is None
    # a point that cannot finish counts as below, at zero utilisation for the crossing: 0.05 / 0.45 of the way
    k = analysis.utilisation_knee([1e24, 1e25, 1e26], [0.5, 0.5, 0.45], [True, True, False])
    assert k.flop == pytest.approx(10 ** (25 + 0.05 / 0.5), rel=1e-9)


def test_wall_interpolates_log_days():
    """Limit 90 days, fastest 50 then 200 days: y = ln(90/50) = 0.5878 and ln(90/200) = -0.7985; the crossing is
    0.5878 / 1.3863 = 0.424 of the way from 1e25 to 1e26."""
    w = analysis.latency_wall([1e24, 1e25, 1e26, 1e27], [10.0, 50.0, 200.0, 1000.0], 90.0)
    assert w.flop == pytest.approx(10 ** (25 + 0.5878 / 1.3863), rel=1e-3)
    assert analysis.latency_wall([1e24, 1e25], [10.0, 20.0], 90.0).flop is None
    start = analysis.latency_wall([1e24, 1e25], [100.0, math.inf], 90.0)
    assert start.below_grid and start.flop == 1e24
    # no layout at all (inf) past a feasible point: the wall is that point
    assert analysis.latency_wall([1e24, 1e25], [10.0, math.inf], 90.0).flop == 1e25


def test_fabric_wall():
    """524,288 GPUs wired: 262,144 needed (ln 2 = 0.693 under) then 1,572,864 (ln 3 = 1.099 over): 0.387 of the
    way from 1e26 to 1e27."""
    f = analysis.fabric_wall([1e25, 1e26, 1e27], [1e4, 262144.0, 1572864.0], 524288)
    assert f.flop == pytest.approx(10 ** (26 + math.log(2) / (math.log(2) + math.log(3))), rel=1e-9)
    assert analysis.factor_apart(3e27, 1e28) == pytest.approx(10 / 3)


# ---- a coarse grid end to end ----
@pytest.fixture(scope="module")
def coarse():
    from supercluster import api

    return api.limits(min_flop=1e26, max_flop=1e30, points_per_decade=2).to_dict()


def test_coarse_grid_finds_knee_and_wall(coarse):
    d = coarse
    knee, wall, limit = d["utilisation_knee_flop"], d["latency_wall_flop"], d["limit_days"]
    assert limit == 90
    assert knee is not None and wall is not None and knee < wall
    rows = d["rows"]
    k = d["wall"]["first_point_past"]
    # consistent: every point before the wall's first point finishes in time, every one after it does not
    assert all(r["feasible"] and r["days"] <= limit for r in rows[:k])
    assert not any(r["feasible"] for r in rows[k:])
    assert rows[k - 1]["compute_flop"] <= wall <= rows[k]["compute_flop"]
    # the knee: past it MFU stays under 90% of the plateau
    plateau = d["plateau_mfu"]
    past = d["knee"]["first_point_past"]
    assert all((not r["feasible"]) or r["mfu"] < 0.9 * plateau for r in rows[past:])
    # feasible points need more GPUs as the compute grows; the fastest time past the wall only grows
    gpus = [r["gpus"] for r in rows[:k]]
    assert gpus == sorted(gpus)
    slowest = [r["min_days"] for r in rows[k:] if r["min_days"] is not None]
    assert slowest == sorted(slowest)


def test_coarse_grid_reports_binding_terms_and_valid_schedules(coarse):
    terms = {"TP comm", "EP all-to-all", "pipeline bubble", "DP sync", "memory (recompute)", "optimizer", "none"}
    for r in coarse["rows"]:
        assert r["binding"] in terms | {"memory"}
        assert r["binding_why"]
        if r["plan"] and r["plan"]["schedule"] != "1f1b":
            micro = r["global_batch"] / (r["plan"]["dp"] * r["plan"]["micro_batch"])
            assert micro >= r["plan"]["pp"]  # zero-bubble schedules only where their formula holds
    wall_row = coarse["rows"][coarse["wall"]["first_point_past"]]
    assert wall_row["batch_limited"]  # past the wall the batch is spread below one sequence per GPU


def test_paper_figures_side_by_side(coarse):
    p = coarse["paper"]
    assert (p["utilisation_knee_flop"], p["latency_wall_flop"]) == (1e28, 1e31)
    assert "10^28" in p["utilisation_knee_quote"] and "10^31" in p["latency_wall_quote"]
    cmp = {c["figure"]: c for c in coarse["comparison"]}
    assert cmp["utilisation knee"]["paper_flop"] == 1e28
    assert cmp["latency wall"]["supercluster_flop"] == coarse["latency_wall_flop"]
    assert all(c["why"] for c in coarse["comparison"])
    first = ["model and tokens", "batch (critical batch size)", "GPUs per sequence"]
    assert [t["term"] for t in coarse["terms"]][:3] == first


# ---- the command line ----
def test_cli_json_and_80_columns(monkeypatch):
    from clirun import invoke

    monkeypatch.setenv("COLUMNS", "80")
    r = invoke("limits", "--min-flop", "1e25", "--max-flop", "1e26", "--points-per-decade", "1", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert {"utilisation_knee_flop", "latency_wall_flop", "rows", "paper", "comparison"} <= set(d)
    assert len(d["rows"]) == 2
    t = invoke("limits", "--min-flop", "1e25", "--max-flop", "1e26", "--points-per-decade", "1", "--no-color")
    assert t.code == 0, t.err
    assert max(len(line) for line in t.out.splitlines()) <= 80
    assert "latency wall" in t.out and "arxiv.org/abs/2411.01137" in t.out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--min-flop", "1e30", "--max-flop", "1e25"], "must exceed"),
        (["--points-per-decade", "0"], "points_per_decade"),
        (["--min-flop", "1e20", "--max-flop", "1e36", "--points-per-decade", "8"], "exceed 64"),
        (["--accelerator", "nope"], "nope"),
        (["--system", "colossus-100k"], "generic"),
        (["--months", "0"], "months"),
        (["--software", "nope"], "nope"),
    ],
)
def test_cli_bad_input_is_one_line(args, needle):
    from clirun import invoke

    r = invoke("limits", *args)
    assert r.code == 2
    assert needle in r.err and len(r.err.strip().splitlines()) == 1


def test_question_rejects_a_grid_that_is_too_large():
    from supercluster.catalog.loader import build
    from supercluster.specs.limits import LimitsQuestion

    with pytest.raises(SuperclusterError, match="exceed 64"):
        build(LimitsQuestion, {"min_flop": 1e20, "max_flop": 1e36, "points_per_decade": 8}, "limits options")
