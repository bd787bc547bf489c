"""The residual tabulation of scripts/residual_features.py: features of a row, the printed HFU/MFU, the fits."""

import pytest


@pytest.fixture(scope="module")
def rf(load_script):
    return load_script("residual_features")


def test_printed_hfu_over_mfu_is_four_thirds_with_checkpointing_and_one_without(rf):
    # llm-foundry README, H100 80GB BF16 (Large Scale): 13b, 128 GPUs, checkpointing True: MFU 42.18, HFU 56.24
    assert rf.printed_hfu_over_mfu("reported MFU 42.18% HFU 56.24% ('Model TFLOP' 417/GPU") == pytest.approx(
        56.24 / 42.18
    )
    assert rf.printed_hfu_over_mfu("reported MFU 42.18% HFU 56.24%") == pytest.approx(4 / 3, abs=0.001)
    # same README, H100 80GB BF16: 13b, 8 GPUs, checkpointing False: MFU 39.79, HFU 39.79
    assert rf.printed_hfu_over_mfu("reported MFU 39.79% HFU 39.79%") == 1.0
    assert rf.printed_hfu_over_mfu("no utilisation printed") is None


def test_least_squares_recovers_an_exact_line_and_its_zero_residual(rf):
    # y = 2 + 3 x at x = 0, 1, 2, 3: 2, 5, 8, 11 by hand
    coef, rms = rf.least_squares([[0.0, 1.0, 2.0, 3.0]], [2.0, 5.0, 8.0, 11.0])
    assert coef == pytest.approx([2.0, 3.0])
    assert rms == pytest.approx(0.0, abs=1e-9)
    # a constant error (no slope) leaves the mean as intercept and the spread as residual: 1, 3 -> 2, RMS 1
    coef, rms = rf.least_squares([[1.0, 1.0]], [1.0, 3.0])
    assert sum(coef) == pytest.approx(2.0)
    assert rms == pytest.approx(1.0)


def test_features_of_two_bundled_llm_foundry_rows(rf):
    rows = {r["id"]: r for r in rf.matching("foundry")}
    plain = rf.features(rows["foundry24-h100-mpt-13b-s2048-g8-mb2"])
    assert plain.recompute == "none" and plain.no_recompute == 1.0
    assert plain.tokens_per_microbatch == 2 * 2048  # micro-batch 2 x sequence 2048
    assert plain.hfu_over_mfu == 1.0
    assert 0.0 < plain.memory_fraction < 1.0
    checkpointed = rf.features(rows["foundry24-h100-mpt-13b-s2048-g128-mb16"])
    assert checkpointed.recompute == "full" and checkpointed.no_recompute == 0.0
    assert checkpointed.tokens_per_microbatch == 16 * 2048
    assert checkpointed.log2_tokens == pytest.approx(15.0)
    assert checkpointed.hfu_over_mfu == pytest.approx(4 / 3, abs=0.001)


def test_fits_name_every_feature_set_and_rank_an_informative_feature_first(rf):
    # errors made to follow log2 tokens exactly (-5 per doubling), with recompute and memory unrelated
    rows = [
        rf.RowFeatures(f"r{i}", rc, 2**k, mem, None, 70.0 - 5.0 * k)
        for i, (rc, k, mem) in enumerate(
            [("full", 12, 0.9), ("none", 12, 0.4), ("full", 14, 0.5), ("none", 14, 0.8), ("full", 16, 0.6)]
        )
    ]
    fitted = rf.fits(rows)
    assert set(fitted) == set(rf.FITS)
    assert fitted["log2 tokens/micro-batch"]["slopes"] == pytest.approx([-5.0])
    assert fitted["log2 tokens/micro-batch"]["residual_rms_pct"] == pytest.approx(0.0, abs=1e-9)
    assert fitted["recompute"]["residual_rms_pct"] > 1.0
