"""scripts/scalegrowth_diagnosis.py and scripts/straggler_refit.py (issue 14 item 3): their arithmetic, by hand."""

import pytest


@pytest.fixture(scope="module")
def sg(load_script):
    return load_script("scalegrowth_diagnosis")


@pytest.fixture(scope="module")
def sr(load_script):
    return load_script("straggler_refit")


def test_table3_step_from_table2_and_the_two_mfus(sg):
    """MegaScale Table 2, Megatron-LM, 256 GPUs, batch 768: 40.0 s at 53.0% MFU; Table 3's baseline at batch 256:
    47.7%. A third of the tokens at 47.7 / 53.0 of the rate: 40.0 x 256 / 768 x 53.0 / 47.7 = 13.333 x 1.11111
    = 14.815 s."""
    assert sg.table3_step_s() == pytest.approx(14.8148, abs=1e-3)


def test_ablation_saving_in_seconds(sg):
    """Table 3's PP overlap, 55.5% -> 58.0%, on a 14.815 s step at 47.7%: 14.815 x 0.477 = 7.0667 MFU-seconds;
    7.0667 x (1/0.555 - 1/0.580) = 7.0667 x (1.80180 - 1.72414) = 7.0667 x 0.077666 = 0.5488 s."""
    assert sg.ablation_saved_s(sg.table3_step_s(), 0.477, 0.555, 0.580) == pytest.approx(0.5488, abs=1e-3)


def test_speed_error_sign(sg):
    """Measured 40.0 s, predicted 37.97 s: the model is too fast by 40.0 / 37.97 - 1 = +5.35%."""
    assert sg.speed_error_pct(40.0, 37.97) == pytest.approx(5.346, abs=1e-3)


def test_residual_fit_recovers_fraction_and_constant(sg):
    """Residuals built by hand as 1.10 s + 4% of the GPU-bound time at 5, 10, 20 and 30 s (1.30, 1.50, 1.90, 2.30 s)
    give back f = 0.04 and c = 1.10."""
    f, c = sg.residual_fit([5.0, 10.0, 20.0, 30.0], [1.30, 1.50, 1.90, 2.30])
    assert f == pytest.approx(0.04, abs=1e-9)
    assert c == pytest.approx(1.10, abs=1e-9)


def test_residual_fit_refuses_an_unidentified_slope(sg):
    """Two distinct GPU-bound times (8.3, 8.3, 6.2 s, as Nemotron-4's three rows) cannot separate a fraction from a
    constant: f is 0 and c the mean residual, (1.28 + 1.27 + 1.10) / 3 = 1.2167 s."""
    f, c = sg.residual_fit([8.3, 8.3, 6.2], [1.28, 1.27, 1.10])
    assert f == 0.0
    assert c == pytest.approx(1.2167, abs=1e-4)


def test_speed_from_time_error(sr):
    """A time error of -5.08% (predicted 0.9492 of measured) is a speed error of 1 / 0.9492 - 1 = +5.35%; +90% is
    1 / 1.9 - 1 = -47.4%."""
    assert sr.speed_pct(-5.08) == pytest.approx(5.352, abs=1e-3)
    assert sr.speed_pct(90.0) == pytest.approx(-47.368, abs=1e-3)


def test_verdict_needs_both_loso_figures_not_to_rise(sr):
    """The term lands only if the all-rows and the published LOSO MAPE both hold or fall."""

    def summary(all_rows: float, published: float) -> dict:
        return {"loso": {"all_rows": {"mape_pct": all_rows}, "published": {"mape_pct": published}}}

    assert sr.verdict(summary(7.75, 4.16), summary(7.75, 4.10))
    assert not sr.verdict(summary(7.75, 4.16), summary(7.99, 4.29))
    assert not sr.verdict(summary(7.75, 4.16), summary(7.70, 4.20))


def test_unstated_depth_moves_nemotron_as_the_bubble_says(sg):
    """Nemotron-4 340B Table 2 at 1,536 GPUs (tp 8, pp 12, 48 micro-batches): validation fills 8 chunks per stage,
    so the vpp=8 prediction is the row's own; with 2 chunks the bubble (p - 1) / (v m) = 11 / 96 is four times
    11 / 384, so the prediction is slower and the speed error falls."""
    from supercluster.validate.harness import read_rows

    _, rows = read_rows("all")
    row = next(r for r in rows if r["id"] == "nemotron4-340b-t2-1536")
    errs = sg.unstated_sensitivity([row])["nemotron4-340b-t2-1536"]
    assert errs["vpp=8"] == pytest.approx(sg.row_record(row)["speed_error_pct"], abs=1e-9)
    assert errs["vpp=2"] < errs["vpp=4"] < errs["vpp=8"]
