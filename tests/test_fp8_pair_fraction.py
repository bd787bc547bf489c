"""scripts/fp8_pair_fraction.py: the bisection, the rate ratio, the pairing and the fraction one real pair implies."""

import pytest

from supercluster.errors import SuperclusterError
from supercluster.validate.harness import predict_row, read_rows


@pytest.fixture(scope="module")
def fpf(load_script):
    return load_script("fp8_pair_fraction")


def test_bisection_finds_the_root_of_a_linear_error(fpf):
    # error(f) = 100 (f / 0.5 - 1): +10% at f = 0.55 (10 = 100 (0.55 / 0.5 - 1))
    f, ok = fpf.implied_fraction(lambda f: 100.0 * (f / 0.5 - 1.0), 10.0)
    assert ok
    assert abs(f - 0.55) <= fpf.TOL


def test_bisection_outside_the_bracket_returns_the_nearer_end(fpf):
    err = lambda f: 100.0 * (f / 0.5 - 1.0)  # noqa: E731  -50% at 0.25, +100% at 1.0
    assert fpf.implied_fraction(err, 150.0) == (fpf.HI, False)
    assert fpf.implied_fraction(err, -60.0) == (fpf.LO, False)
    with pytest.raises(SuperclusterError, match="bracket"):
        fpf.implied_fraction(err, 0.0, lo=0.6, hi=0.6)


def test_gemm_rate_ratio_by_hand(fpf):
    # Blackwell: 2 x 0.565 / 0.517 = 1.130 / 0.517 = 2.186; Hopper SXM: 2 x 0.63 / 0.690 = 1.826
    assert fpf.gemm_rate_ratio(0.565, 0.517) == pytest.approx(2.186, abs=1e-3)
    assert fpf.gemm_rate_ratio(0.63, 0.690) == pytest.approx(1.826, abs=1e-3)
    with pytest.raises(SuperclusterError):
        fpf.gemm_rate_ratio(0.5, 0.0)


def _row(rid, precision, tp="4", metric="step_time_s", source="Doc A, table 1", gpu="gb200"):
    row = {k: "" for k in ("gpus", "model", "pp", "vpp", "cp", "ep", "dp", "micro_batch", "global_batch", "seq_len")}
    row.update(id=rid, precision=precision, tp=tp, metric=metric, source=source, gpu=gpu, gpus="8", model="m")
    return row


def test_pairs_match_document_card_and_layout(fpf):
    rows = [
        _row("b", "bf16"),
        _row("f", "fp8"),
        _row("mx", "mxfp8"),
        _row("other-layout", "fp8", tp="8"),
        _row("other-card", "fp8", gpu="b200"),
        _row("other-table-same-doc", "fp8", source="Doc A, table 2"),
        _row("memory", "fp8", metric="activation_gib_per_gpu"),
    ]
    got = {r["id"]: [b["id"] for b in bs] for r, bs in fpf.pairs(rows)}
    # a document's tables pool (source_document cuts at the first comma), layouts and cards do not
    assert got == {"f": ["b"], "mx": ["b"], "other-table-same-doc": ["b"]}


def test_a_real_pair_is_equalised_at_its_implied_fraction(fpf):
    _, rows = read_rows("all")
    by_id = {r["id"]: r for r in rows}
    fp8 = by_id["dgxc2504-gb200-llama31-405b-fp8-128"]
    bf16 = by_id["dgxc2504-gb200-llama31-405b-bf16-128"]
    p = fpf.pair_fraction(fp8, [bf16])
    assert p is not None and p.bracketed
    # at the implied fraction the FP8 row reads its BF16 partner's signed error (the bisection's tolerance in
    # fraction moves the FP8 GEMMs' time by well under 1%)
    at = predict_row(fp8, {"gb200": fpf._with_fp8("gb200", p.implied_fp8)}).speed_error_pct
    assert at == pytest.approx(p.bf16_signed_pct, abs=0.5)
    # and the fraction moves the way the two errors say: FP8 reading faster than BF16 asks for a lower fraction
    assert (p.implied_fp8 < p.catalog_fp8) == (p.fp8_signed_pct > p.bf16_signed_pct)
