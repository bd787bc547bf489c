"""scripts/zoo4k_breakdown.py (issue 15): the ModelZoo Qwen3-235B H100 4K table's step by term."""

import pytest


@pytest.fixture(scope="module")
def zb(load_script):
    return load_script("zoo4k_breakdown")


def test_needed_fixed_cost_by_hand(zb):
    """A model step of 38.07 s holding 21.92 s of fixed cost, against a measured 29.0 s, over 12 layers x 256
    micro-batches = 3,072: (29.0 - 38.07 + 21.92) / 3,072 = 12.85 / 3,072 = 4.183 ms per layer and micro-batch."""
    assert zb.needed_fixed_per_layer_s(29.0, 38.07, 21.92, 3072) == pytest.approx(12.85 / 3072)
    # a model too slow even without its fixed cost leaves a negative room
    assert zb.needed_fixed_per_layer_s(17.6, 21.85, 0.06, 376) < 0


def test_short_names(zb):
    assert zb.short_name("zoo-qwen3-235b-h100-256-cross-ep32-deepep-st") == "ep32"
    assert zb.short_name("zoo-qwen3-235b-h100-256-cross-ep32-deepep-1f1b-overlap-st") == "ep32-1f1b"
    assert zb.short_name("zoo-qwen3-235b-h100-256-intra-ep8-a2a-pp32-st") == "ep8-a2a-pp32"


def test_the_five_rows_and_their_layer_micro_batches(zb):
    """Layers of the slowest stage x micro-batches, from the table's layouts: PP 8 -> 12 layers (94 + embedding and
    loss = 96 over 8), GA 128 or 256; PP 32 -> 3 layers, GA 512; PP 1 -> 94 layers, GA 4."""
    from supercluster.validate.harness import read_rows

    _, rows = read_rows("moe")
    got = {zb.short_name(t.row_id): t for t in (zb.terms(r) for r in zb.table_rows(rows))}
    assert sorted(got) == ["ep32", "ep32-1f1b", "ep8-a2a-pp32", "ep8-fsdp", "ep8-tp4"]
    want = {"ep32": 12 * 128, "ep32-1f1b": 12 * 128, "ep8-tp4": 12 * 256, "ep8-a2a-pp32": 3 * 512, "ep8-fsdp": 94 * 4}
    assert {k: t.layer_microbatches for k, t in got.items()} == want
    for t in got.values():  # the needed cost is what closes the gap: model - fixed + needed x layer_mb = measured
        closed = t.model_step_s - t.fixed_s + t.needed_per_layer_ms * 1e-3 * t.layer_microbatches
        assert closed == pytest.approx(t.measured_step_s)


def test_spearman_by_hand(zb):
    """Measured steps ep32 19.7, ep32-1f1b 17.6, ep8-fsdp 17.6, ep8-a2a-pp32 24.2, ep8-tp4 29.0 s rank (3, 1.5, 1.5,
    4, 5) (the tie at the mean of ranks 1 and 2); a model ranking them (2, 1, 3, 4, 5) gives, about the mean rank 3,
    deviations (0, -1.5, -1.5, 1, 2) and (-1, -2, 0, 1, 2): covariance 0 + 3 + 0 + 1 + 4 = 8, variances 9.5 and 10,
    rho = 8 / sqrt(95) = 0.821; ranking them (2, 1, 4, 3, 5) gives 5.5 / sqrt(95) = 0.564."""
    measured = [19.7, 17.6, 17.6, 24.2, 29.0]
    assert zb.ranks(measured) == [3.0, 1.5, 1.5, 4.0, 5.0]
    assert zb.spearman(measured, [20.1, 16.3, 21.9, 23.0, 38.0]) == pytest.approx(8 / 95**0.5)
    assert zb.spearman(measured, [19.4, 15.3, 21.9, 20.5, 38.1]) == pytest.approx(5.5 / 95**0.5)
    assert zb.spearman(measured, measured) == pytest.approx(1.0)
