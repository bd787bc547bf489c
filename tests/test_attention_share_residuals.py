"""scripts/attention_share_residuals.py: the attention share of a layer, the implied speed-up, the per-class fits."""

import pytest

from supercluster.perf.layer import LayerParts


@pytest.fixture(scope="module")
def asr(load_script):
    return load_script("attention_share_residuals")


def parts(fwd_gemm, fwd_attn, fwd_elem, bwd_gemm, bwd_attn, bwd_elem) -> LayerParts:
    zero = dict.fromkeys(
        (
            "selective_extra_s",
            "mla_selective_s",
            "mla_up_flops",
            "flops_fwd",
            "core_flops",
            "core_hw_flops",
            "model_core_flops",
            "tp_fwd_s",
            "tp_bwd_s",
            "cp_fwd_s",
            "cp_bwd_s",
            "ep_fwd_s",
        ),
        0.0,
    )
    return LayerParts(
        fwd_gemm_s=fwd_gemm,
        fwd_attn_s=fwd_attn,
        fwd_elem_s=fwd_elem,
        bwd_gemm_s=bwd_gemm,
        bwd_attn_s=bwd_attn,
        bwd_elem_s=bwd_elem,
        **zero,
    )


def test_attention_share_is_attention_over_the_layer_compute(asr):
    # by hand: attention 1 + 3 = 4 ms of 2 + 1 + 0.5 + 4 + 3 + 1 = 11.5 ms; communication does not count
    p = parts(2.0, 1.0, 0.5, 4.0, 3.0, 1.0)
    assert asr.attention_share(p) == pytest.approx(4.0 / 11.5)
    assert asr.attention_share(parts(0, 0, 0, 0, 0, 0)) == 0.0


def test_implied_speedup_flattens_the_slope_to_first_order(asr):
    # slope -50 points per unit share: 1 - 1/k = 0.5, k = 2; a row with share 0.3 then gains 100 x 0.3 x 0.5 = 15
    # points, the 15 points the slope took from it (-50 x 0.3)
    assert asr.implied_speedup(-50.0) == pytest.approx(2.0)
    assert asr.implied_speedup(0.0) == pytest.approx(1.0)
    # a positive slope asks for slower attention: +25 -> k = 1 / 1.25 = 0.8
    assert asr.implied_speedup(25.0) == pytest.approx(0.8)
    assert asr.implied_speedup(-100.0) is None


def test_class_fits_recover_a_line_per_class(asr):
    row = asr.ShareRow
    rows = [
        # cudnn: err = 8 - 50 a at a = 0.1, 0.2, 0.4 -> 3, -2, -12 by hand
        row("a", "s1", "cudnn", 0.1, 3.0),
        row("b", "s1", "cudnn", 0.2, -2.0),
        row("c", "s2", "cudnn", 0.4, -12.0),
        # fa2: flat at +5
        row("d", "s3", "fa2", 0.2, 5.0),
        row("e", "s3", "fa2", 0.5, 5.0),
        row("f", "s3", "fa2", 0.8, 5.0),
        # two rows of a class are too few to fit
        row("g", "s4", "pre-fa2", 0.2, 1.0),
        row("h", "s4", "pre-fa2", 0.3, 2.0),
    ]
    fits = asr.class_fits(rows)
    assert set(fits) == {"cudnn", "fa2"}
    assert fits["cudnn"]["intercept_pct"] == pytest.approx(8.0)
    assert fits["cudnn"]["slope_pct_per_share"] == pytest.approx(-50.0)
    assert fits["cudnn"]["implied_attention_speedup"] == pytest.approx(2.0)
    assert fits["cudnn"]["correlation"] == pytest.approx(-1.0)
    assert fits["fa2"]["slope_pct_per_share"] == pytest.approx(0.0, abs=1e-9)
    assert fits["fa2"]["correlation"] is None  # no spread in the error
    assert fits["fa2"]["n"] == 3


def test_a_bundled_dgx_cloud_8b_row_is_a_cudnn_row_with_a_third_of_its_layer_in_attention(asr):
    _, bundled = asr.read_rows("all")
    by_id = {r["id"]: r for r in bundled}
    got = asr.share_row(by_id["dgxc2409-h100-llama31-8b-bf16-8"])
    assert got is not None and got.attention_class == "cudnn"
    # NeMo 24.09, TP 1, CP 2, 8,192 tokens: the model puts 0.30 of the BF16 layer in attention (cuDNN fused)
    assert 0.2 < got.attention_share < 0.4
    assert got.speed_error_pct < 0  # the model reads it too slow
    # an A100 row is outside the Hopper tabulation
    assert asr.share_row(by_id["narayanan21-t1-1.7b"]) is None
