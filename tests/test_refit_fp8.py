"""The FP8 whole-set protocol of scripts/refit_fp8.py: grid minimum, interpolation, speed sign, the leave-one-source-
out fit from cached errors, and the card families it groups."""

import pytest

from supercluster import catalog


@pytest.fixture(scope="module")
def rf(load_script):
    return load_script("refit_fp8")


def test_grid_minimum_refined_by_the_parabola_through_its_neighbours(rf):
    grid = rf.GRID
    # MAPE = |f - 0.623| x 100 sampled on the grid: minimum at 0.62 (0.3), neighbours 0.61 (1.3) and 0.63 (0.7);
    # parabola vertex 0.62 + 0.01 x 0.5 x (1.3 - 0.7) / (1.3 - 2 x 0.3 + 0.7) = 0.62 + 0.003 / 1.4 = 0.622143
    values = [abs(f - 0.623) * 100 for f in grid]
    assert rf._argmin(values) == pytest.approx(0.62 + 0.003 / 1.4, abs=1e-9)
    # a minimum on the grid's edge is not extrapolated
    assert rf._argmin([float(i) for i in range(len(grid))]) == grid[0]


def test_interpolation_between_grid_points_and_speed_sign(rf):
    errs = [float(i) for i in range(len(rf.GRID))]  # error = index: 0.40 -> 0, 0.41 -> 1, ...
    assert rf._interp(errs, 0.455) == pytest.approx(5.5)
    # a step time predicted 25% long is a model 20% too slow: 1 / 1.25 - 1 = -0.20
    assert rf._speed("step_time_s", 25.0) == pytest.approx(-20.0)
    assert rf._speed("tokens_per_s_per_gpu", 25.0) == 25.0


def test_leave_one_source_out_fit_from_cached_errors(rf):
    grid = rf.GRID

    def row(doc: str, best: float, prec: str = "fp8") -> dict:
        # a row whose signed error is 100 x (f - best): exact at ``best``, linear elsewhere
        return {"id": f"{doc}-{best}", "precision": prec, "doc": doc, "catalog": 0.0,
                "grid_errors": [100 * (f - best) for f in grid]}  # fmt: skip

    # document A: three rows exact at 0.60; B and C one row each at 0.62; an MXFP8 row is scored, never fitted on
    fam = {"rows": [*[row("A", 0.60)] * 3, row("B", 0.62), row("C", 0.62), row("A", 0.50, "mxfp8")]}
    rf.fit_family(fam)
    # all FP8 rows, sum of |f - best| in points: 0.59 -> 3 + 2 x 3 = 9, 0.60 -> 2 x 2 = 4, 0.61 -> 3 + 2 x 1 = 5;
    # parabola: 0.60 + 0.01 x 0.5 x (9 - 5) / (9 - 8 + 5) = 0.60 + 0.02 / 6
    assert fam["refit_fp8_fraction"] == pytest.approx(0.60 + 0.02 / 6, abs=1e-4)
    # without C: 0.59 -> 3 + 3 = 6, 0.60 -> 2, 0.61 -> 3 + 1 = 4: 0.60 + 0.005 x 2 / 6; without A: B and C at 0.62
    assert fam["refit_without_document"]["C"] == pytest.approx(0.60 + 0.01 / 6, abs=1e-4)
    assert fam["refit_without_document"]["A"] == pytest.approx(0.62, abs=1e-4)
    # C held out is predicted at 0.6017 (fractions kept to 4 decimals): 100 x (0.6017 - 0.62) = -1.83 points; in
    # sample at 0.6033: -1.67
    c = next(r for r in fam["rows"] if r["doc"] == "C")
    assert c["loso"] == pytest.approx(-1.83, abs=1e-6) and c["in_sample"] == pytest.approx(-1.67, abs=1e-6)
    # FP8 rows in sample: (3 x 0.33 + 2 x 1.67) / 5 = 0.866; the MXFP8 row adds 100 x (0.6033 - 0.50) = 10.33
    assert fam["fp8_rows_in_sample_mape_pct"] == pytest.approx(0.866, abs=1e-3)
    assert fam["scored_rows_in_sample_mape_pct"] == pytest.approx((4.33 + 10.33) / 6, abs=1e-3)


def test_families_share_a_compute_capability_and_an_fp8_rate(rf):
    for cards in rf.FAMILIES.values():
        accs = [catalog.accelerator(a) for a in cards]
        # the H800 is the export H100: same sm_arch (NVIDIA compute-capability table, quoted in the catalog)
        assert len({a.sm_arch for a in accs}) == 1
        assert all(a.supports("fp8") for a in accs)
    assert {c for cards in rf.FAMILIES.values() for c in cards} >= {"h100-sxm-80gb", "b200", "gb200", "gb300"}
