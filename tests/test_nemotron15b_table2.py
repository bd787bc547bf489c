"""Nemotron-4 15B (Parmar et al. 2024, arXiv:2402.16819): the preset against Table 1 and the three Table 2 rows of
scale_runs.csv against the table's own MFU and training-time columns (issue 14 transcription check).

Table 2 ("Batch size rampup schedule, along with time and efficiency metrics"), as printed:

    Data-parallel size  GPUs   Iteration time (secs)  MFU (%)  Batch size  Tokens (B)  Time (days)
    96                  768    0.57                   34.3     384         200         0.8
    192                 1,536  0.58                   33.3     768         200         0.4
    288                 2,304  0.64                   30.5     1,152       7,600       11.9

Section 2: "The degree of data parallelism was varied from 96 to 384 as the batch size was ramped up. Table 2
summarizes the 3 stages of batch size ramp". Every stage holds 4 sequences per data-parallel replica (384 / 96 =
768 / 192 = 1,152 / 288 = 4). The MFU and time columns are independent of the batch column, so a mistyped batch,
GPU count or iteration time in the CSV breaks the arithmetic below.
"""

import pytest

from supercluster import catalog
from supercluster.validate.harness import read_rows

# Table 2, row by row: id -> (dp, gpus, iteration_time_s, mfu, global_batch, tokens, days)
TABLE2 = {
    "nemotron4-15b-t2-768": (96, 768, 0.57, 0.343, 384, 200e9, 0.8),
    "nemotron4-15b-t2-1536": (192, 1536, 0.58, 0.333, 768, 200e9, 0.4),
    "nemotron4-15b-t2-2304": (288, 2304, 0.64, 0.305, 1152, 7600e9, 11.9),
}
SEQ_LEN = 4096  # Table 1
# Section 2: "Each H100 GPU has a peak throughput of 989 teraFLOP/s when doing 16-bit floating point (bfloat16)"
PEAK_FLOPS = 989e12
# Section 2: "Nemotron-4 has 3.2 billion embedding parameters and 12.5 billion non-embedding parameters"
PARAMS = 3.2e9 + 12.5e9
TIME_HALF_STEP_S = 0.005  # iteration time printed to 0.01 s
MFU_HALF_STEP = 0.0005  # MFU printed to 0.1 %
DAYS_HALF_STEP = 0.05  # training time printed to 0.1 day


def _rows() -> dict[str, dict[str, str]]:
    return {r["id"]: r for r in read_rows("scale")[1] if r["id"] in TABLE2}


def test_rows_transcribe_table2():
    rows = _rows()
    assert set(rows) == set(TABLE2)
    for rid, (dp, gpus, step_s, _mfu, batch, _tokens, _days) in TABLE2.items():
        row = rows[rid]
        # "8-way tensor parallelism ... and data parallelism": TP 8, no pipeline, GPUs = 8 x DP
        assert (int(row["tp"]), int(row["pp"]), int(row["dp"]), int(row["gpus"])) == (8, 1, dp, gpus)
        assert int(row["gpus"]) == 8 * int(row["dp"])
        assert int(row["global_batch"]) == batch and batch == 4 * dp  # 4 sequences per replica in every stage
        assert row["metric"] == "step_time_s" and float(row["value"]) == step_s
        assert int(row["seq_len"]) == SEQ_LEN and row["model"] == "nemotron4-15b"
        # the layout fields the report does not state stay blank (filled by the planner, flagged in the output)
        assert not row["micro_batch"].strip() and not row["recompute"].strip()


@pytest.mark.parametrize("rid", sorted(TABLE2))
def test_iteration_time_and_batch_reproduce_the_printed_mfu(rid):
    """MFU = 6 N B s / (t G peak) (Chowdhery et al. 2022, appendix B, the report's cited definition, without the
    attention term: with it the 768-GPU row would read 37.8%). 768 GPUs: 6 x 15.7e9 x 384 x 4096 / (0.57 x 768 x
    989e12) = 0.3422, printed 34.3%; an iteration time anywhere in its rounding interval [0.565, 0.575] s gives
    [0.3392, 0.3452], which holds 0.343."""
    _dp, gpus, _step, mfu, _batch, _tokens, _days = TABLE2[rid]
    row = _rows()[rid]
    step_s, batch = float(row["value"]), int(row["global_batch"])
    flops = 6.0 * PARAMS * batch * SEQ_LEN
    hi = flops / ((step_s - TIME_HALF_STEP_S) * gpus * PEAK_FLOPS)
    lo = flops / ((step_s + TIME_HALF_STEP_S) * gpus * PEAK_FLOPS)
    assert lo <= mfu + MFU_HALF_STEP and mfu - MFU_HALF_STEP <= hi, (lo, hi, mfu)


@pytest.mark.parametrize("rid", sorted(TABLE2))
def test_iteration_time_and_batch_reproduce_the_printed_training_days(rid):
    """Days = tokens / (B s) x t / 86,400. 2,304 GPUs: 7.6e12 / (1,152 x 4,096) = 1,610,650 iterations x 0.64 s =
    1,030,816 s = 11.93 days, printed 11.9; 768 GPUs: 127,157 x 0.57 s = 0.84 days, printed 0.8."""
    _dp, _gpus, _step, _mfu, _batch, tokens, days = TABLE2[rid]
    row = _rows()[rid]
    step_s, batch = float(row["value"]), int(row["global_batch"])
    iterations = tokens / (batch * SEQ_LEN)
    lo = iterations * (step_s - TIME_HALF_STEP_S) / 86400.0
    hi = iterations * (step_s + TIME_HALF_STEP_S) / 86400.0
    assert lo <= days + DAYS_HALF_STEP and days - DAYS_HALF_STEP <= hi, (lo, hi, days)


def test_preset_matches_table1_and_the_parameter_split():
    """Table 1: 32 layers, hidden 6144, 48 attention heads, 8 KV heads, sequence 4096, vocabulary 256,000; section 2:
    3.2B embedding and 12.5B non-embedding parameters, untied input and output embeddings. 256,000 x 6,144 =
    1.573e9 per table, two tables = 3.146e9, which the report prints as 3.2B (it rounds up: 3.146 is 3.1 to one
    decimal, so the check allows 0.06); the rest 12.48e9 (12.5B printed)."""
    m = catalog.model("nemotron4-15b")
    assert (m.layers, m.hidden, m.heads, m.kv_heads, m.seq_len, m.vocab) == (32, 6144, 48, 8, 4096, 256000)
    assert m.activation == "squared_relu"
    embedding = m.embedding_params + m.head_params
    assert embedding == 2 * 256000 * 6144
    assert embedding / 1e9 == pytest.approx(3.2, abs=0.06)
    assert (m.total_params - embedding) / 1e9 == pytest.approx(12.5, abs=0.05)
