"""scripts/older_tables_diagnosis.py (issue 14, older tables above 12%): its arithmetic by hand, and the split
reproducing the harness's own numbers on bundled rows."""

import pytest

from supercluster.validate import harness
from supercluster.validate.harness import read_rows


@pytest.fixture(scope="module")
def diag(load_script):
    return load_script("older_tables_diagnosis")


def test_attention_speedup_closes_the_gap(diag):
    """4.0 s of attention and a measured step 2.0 s shorter than the model's: the attention must take 2.0 s, so
    k = 4.0 / (4.0 - 2.0) = 2.0. A model 1.0 s too fast: 4.0 / 5.0 = 0.8 (slower attention). A gap larger than the
    attention itself (1.0 s of attention, 1.5 s to remove) cannot be closed by attention: None."""
    assert diag.attention_speedup(4.0, -2.0) == pytest.approx(2.0)
    assert diag.attention_speedup(4.0, 1.0) == pytest.approx(0.8)
    assert diag.attention_speedup(1.0, -1.5) is None
    assert diag.attention_speedup(0.0, 0.5) is None


def test_measured_step_from_speed_error(diag):
    """Speed error = measured step / model step - 1: a 15.0 s model step with -13.9% gives 15.0 x 0.861 = 12.915 s."""
    assert diag.measured_step(15.0, -13.9) == pytest.approx(12.915)


def test_per_step_split_by_hand(diag):
    """Steps built by hand at 240, 192 and 160 micro-batches: measured 0.2 s per micro-batch + 12 s
    (60.0, 50.4, 44.0 s), model 0.19 s + 7 s (52.6, 43.48, 37.4 s). The split gives back both lines, their slope
    ratio 0.2 / 0.19 and the per-step cost the model misses, 12 - 7 = 5 s."""
    fit = diag.per_step_split([240, 192, 160], [60.0, 50.4, 44.0], [52.6, 43.48, 37.4])
    assert fit["measured_per_microbatch_s"] == pytest.approx(0.2)
    assert fit["measured_per_step_s"] == pytest.approx(12.0)
    assert fit["model_per_microbatch_s"] == pytest.approx(0.19)
    assert fit["model_per_step_s"] == pytest.approx(7.0)
    assert fit["per_microbatch_ratio"] == pytest.approx(0.2 / 0.19)
    assert fit["per_step_missing_s"] == pytest.approx(5.0)


def test_short_id(diag):
    assert diag.short_id("dgxc2409-h100-llama31-8b-bf16-8") == "2409 8b bf16 8"
    assert diag.short_id("mtnlg22-s24-530b-2240") == "mtnlg 2240"


def test_split_reproduces_the_row(diag):
    """On the 8-GPU BF16 24.09 8B row (a step_time_s row: its CSV value is the measured step, 12.91 s) the split's
    model step is the harness's prediction and its measured step the CSV value; the parts it lists are no more
    than the step (the layers' compute, head and the other terms are pieces of it, TP 1 and PP 1: no bubble)."""
    _, rows = read_rows("all")
    (row,) = [r for r in rows if r["id"] == "dgxc2409-h100-llama31-8b-bf16-8"]
    s = diag.split(row)
    res = harness.predict_row(row)
    assert s.model_step_s == pytest.approx(res.predicted)
    assert s.measured_step_s == pytest.approx(float(row["value"]))
    assert s.gap_s == pytest.approx(float(row["value"]) - res.predicted)
    assert s.bubble_s == 0.0 and s.microbatches == 32
    parts = s.gemm_s + s.attention_s + s.elementwise_s + s.head_s + diag.rest_s(s)
    assert parts <= s.model_step_s * (1 + 1e-9)


def test_keys_per_call_and_bins(diag):
    """8,192 tokens: 4,096 keys per call without CP, 8,192 / (2 x 2) = 2,048 with the p2p ring at CP 2, and 4,096
    again when K and V are all-gathered first (one causal call over the whole sequence). Bins: 2,048 -> '2K',
    4,096 -> '4K', 1,024 -> '< 1.5K', 65,536 -> '>= 12K'."""
    assert diag.keys_per_call(8192, 1) == 4096
    assert diag.keys_per_call(8192, 2) == 2048
    assert diag.keys_per_call(8192, 2, "all_gather") == 4096
    assert diag.span_bin(2048) == "2K"
    assert diag.span_bin(4096) == "4K"
    assert diag.span_bin(1024) == "< 1.5K"
    assert diag.span_bin(65536) == ">= 12K"
