"""scripts/container_pairs.py: same card, model and layout measured in two releases of one NVIDIA stack (issue 14
item 3), measured speed ratio against the model's."""

import pytest

from supercluster.validate.harness import read_rows


@pytest.fixture(scope="module")
def cp(load_script):
    return load_script("container_pairs")


@pytest.fixture(scope="module")
def rows():
    return read_rows("all")[1]


@pytest.fixture(scope="module")
def got(cp, rows):
    return {(p.first_id, p.second_id): p for p in (cp.pair_ratio(a, b) for a, b in cp.pairs(rows)) if p is not None}


def test_release_is_read_from_the_table_title(cp) -> None:
    bridge = "NVIDIA-NeMo/Megatron-Bridge docs/performance-summary-archive.md, 26.04.01 NeMo container, Model X"
    assert (cp.release({"source": bridge}).line, cp.release({"source": bridge}).version) == ("nemo", "26.04.01")
    nemo = "NVIDIA NeMo Framework performance summary, NeMo 25.02, DGX-B200, FP8 (docs.nvidia.com)"
    assert str(cp.release({"source": nemo})) == "nemo 25.02"
    assert str(cp.release({"source": "NVIDIA/NeMo docs performance_summary.md (NeMo 24.07)"})) == "nemo 24.07"
    dgxc = "NVIDIA DGX Cloud Benchmarking recipes (github NVIDIA/dgxc-benchmarking v25.05.01) nemotron/README.md"
    assert str(cp.release({"source": dgxc})) == "dgxc 25.05.01"
    # a release orders by its numbers, not as text: 26.04.01 after 26.04, 24.11.1 before 25.02
    assert cp.Release("nemo", "26.04.01").order > cp.Release("nemo", "26.04").order
    assert cp.Release("dgxc", "24.11.1").order < cp.Release("dgxc", "25.02").order
    assert cp.release({"source": "Narayanan et al. 2021 Table 1"}) is None
    assert cp.release({"source": "NVIDIA NeMo AutoModel performance summary, DGX-H100, BF16"}) is None


def test_pairs_share_card_layout_and_metric_and_order_by_release(cp, rows) -> None:
    found = cp.pairs(rows)
    assert len(found) > 100
    for a, b in found:
        assert cp._layout(a) == cp._layout(b)
        ra, rb = cp.release(a), cp.release(b)
        assert ra.line == rb.line and ra.order < rb.order
        # a precision change is only between 8-bit recipes
        if cp._prec(a) != cp._prec(b):
            assert {cp._prec(a), cp._prec(b)} <= set(cp.EIGHT_BIT)


def test_dense_bridge_pair_by_hand(got) -> None:
    # GB200 Llama 3.1 405B FP8 on 256 GPUs, one stack profile in both: 26.04.01 over 26.02, tokens/s/GPU
    p = got["mbridge2602-gb200-llama3-405b-256-fp8", "mbridge260401-gb200-llama3-405b-256-fp8"]
    assert (p.first_release, p.second_release, p.family, p.kind) == ("26.02", "26.04.01", "dense", "same-recipe")
    assert p.first_software == p.second_software
    # the model has no release term: one profile, one layout, the same prediction
    assert p.model_ratio == pytest.approx(1.0)
    assert p.measured_ratio == pytest.approx(1.090, abs=0.001)
    assert p.ratio_error_pct == pytest.approx((1.0 / p.measured_ratio - 1.0) * 100.0)


def test_recipe_change_pair_and_moe_family(got) -> None:
    # B200 Qwen3-30B-A3B on 8 GPUs: FP8-CS in 25.09 (drop-and-pad), MXFP8 in 25.11 (dropless)
    p = got["mb2509-b200-qwen3-30b-a3b-8-fp8", "mb2511-b200-qwen3-30b-a3b-8-mxfp8"]
    assert (p.family, p.kind, p.precision) == ("moe", "recipe-change", "fp8 > mxfp8")
    assert p.first_software != p.second_software


def test_step_time_rows_ratio_is_inverse(cp) -> None:
    assert cp._speed(2.0, "step_time_s") == 0.5
    assert cp._speed(2.0, "tokens_per_s_per_gpu") == 2.0


def test_summary_by_hand(cp) -> None:
    def pair(first, second, measured, model):
        return cp.ReleasePair(
            "a", "b", "nemo", first, second, "h100", 64, "m", "dense", "fp8", "same-recipe", "s", "s",
            measured, model, (model / measured - 1.0) * 100.0,
        )  # fmt: skip

    # two pairs of one step: geometric means sqrt(1.10 x 1.00) and 1.0; errors -9.09 and 0.0
    s = cp.summary([pair("26.02", "26.04", 1.10, 1.0), pair("26.02", "26.04", 1.00, 1.0)])
    g = s["nemo 26.02 > 26.04 dense"]
    assert g["pairs"] == 2
    assert g["measured_ratio"] == pytest.approx((1.10 * 1.00) ** 0.5, abs=1e-4)
    assert g["model_ratio"] == 1.0
    assert g["mean_ratio_error_pct"] == pytest.approx((-9.0909 + 0.0) / 2, abs=0.01)
    assert (g["missed_gain"], g["missed_loss"]) == (1, 0)


def test_release_notes_are_quoted_with_a_url(cp) -> None:
    assert cp.RELEASE_NOTES
    for n in cp.RELEASE_NOTES:
        assert n.quote and n.url.startswith("https://")
