"""scripts/longctx_attention_speed.py: the per-table two-factor fit 1 + err/100 = x (1 - a) + a / k, by hand."""

import pytest


@pytest.fixture(scope="module")
def las(load_script):
    return load_script("longctx_attention_speed")


def row(las, source: str, share: float, err: float):
    return las.SpanRow(
        id=f"r{share}",
        source=source,
        router="",
        attention_class="cudnn",
        seq=131072,
        cp=8,
        span_keys=8192.0,
        attention_share=share,
        speed_error_pct=err,
        k=None,
        modelled_fraction=0.27,
        implied_fraction=None,
    )


def test_fit_recovers_x_and_k_by_hand(las) -> None:
    """x = 1.5, k = 2: a = 0.5 gives 1 + e = 0.75 + 0.25 = 1.00 (err 0); a = 0.8: 0.30 + 0.40 = 0.70 (err -30);
    a = 0.9: 0.15 + 0.45 = 0.60 (err -40). The fit returns x 1.5, k 2, no residual, and the implied fraction
    0.27 x 2 = 0.54."""
    rows = [row(las, "T", 0.5, 0.0), row(las, "T", 0.8, -30.0), row(las, "T", 0.9, -40.0)]
    (fit,) = las.table_fits(rows)
    assert fit["x"] == pytest.approx(1.5, rel=1e-9)
    assert fit["k"] == pytest.approx(2.0, rel=1e-9)
    assert fit["rms_pct"] == pytest.approx(0.0, abs=1e-9)
    assert fit["implied_fraction"] == pytest.approx(0.54, rel=1e-9)


def test_tables_of_fewer_than_three_rows_are_left_out(las) -> None:
    assert las.table_fits([row(las, "T", 0.5, 0.0), row(las, "T", 0.8, -30.0)]) == []
