"""The model against published measured runs (../shared/validation schema)."""

import csv
from pathlib import Path

import pytest

from supercluster.validate import run
from supercluster.validate.harness import bundled_csv


@pytest.fixture(scope="module")
def report():
    return run()


def test_bundled_copy_matches_schema_columns():
    header = bundled_csv().read_text().splitlines()[0].split(",")
    for col in ("id", "gpu", "gpus", "model", "tp", "pp", "metric", "value", "flops_convention"):
        assert col in header


def test_every_row_gets_a_prediction(report):
    assert all(r.predicted is not None for r in report.rows), [r.reason for r in report.rows if r.reason]


def test_bf16_throughput_accuracy(report):
    s = report.summary()["per_group"]["bf16 dense throughput"]
    assert s["mape_pct"] <= 8.0
    # every row within 20%, except where the source leaves the micro-batch unstated and validation fills the stack's
    # recipe default (validate.fill_rule): there within 25%. The one such row past 20% is the Megatron-LM README's
    # 32B H100 row (-22%): its ZeRO-1 is the source's (core_r0.8.0's --overlap-param-gather assert), and its
    # micro-batch alone moves it from 342 (mb 1) to 443 (mb 4) TFLOP/s against 460 measured
    rows = [r for r in report.rows if r.group == "bf16 dense throughput" and r.error_pct is not None]
    stated = [abs(r.error_pct) for r in rows if "micro_batch" not in r.filled]
    filled = [abs(r.error_pct) for r in rows if "micro_batch" in r.filled]
    assert stated and filled
    assert max(stated) <= 20.0
    assert max(filled) <= 25.0


def test_fp8_throughput_accuracy(report):
    # issue 5: the FP8 rows at most 10% MAPE (the FP8 GEMM fraction is fitted on them: fit 6.0%,
    # leave-one-out 6.6%, benchmarks/results/efficiency_fit.json)
    s = report.summary()["per_group"]["fp8 dense throughput"]
    assert s["mape_pct"] <= 10.0
    assert s["max_abs_error_pct"] <= 25.0


def test_memory_accuracy(report):
    s = report.summary()["per_group"]["memory"]
    assert s["mape_pct"] <= 10.0
    assert s["max_abs_error_pct"] <= 20.0


def test_korthikanti_table5_rows_are_within_ten_percent(report):
    rows = [r for r in report.rows if r.source.startswith("Korthikanti et al. 2022 Tables")]
    assert len(rows) == 8
    assert all(abs(r.error_pct) < 10 for r in rows)


def test_summary_has_per_source_mape(report):
    d = report.to_dict()
    assert {"n", "mape_pct", "max_abs_error_pct", "per_source"} <= set(d["summary"])
    for row in d["rows"]:
        assert {"id", "metric", "measured", "predicted", "error_pct", "filled"} <= set(row)


def test_unseen_rows_and_bad_rows_do_not_stop_the_run(tmp_path: Path):
    header = bundled_csv().read_text().splitlines()[0]
    cols = header.split(",")
    rows = [
        # an architecture with no preset, GQA and SwiGLU, fully described
        dict(
            id="new-1",
            source="test",
            gpu="h100-sxm-80gb",
            gpus="64",
            model="my-model",
            layers="40",
            hidden="5120",
            ffn_hidden="17408",
            heads="40",
            kv_heads="8",
            vocab="100000",
            seq_len="4096",
            activation="swiglu",
            tp="4",
            pp="2",
            dp="8",
            global_batch="256",
            precision="bf16",
            metric="tokens_per_s_per_gpu",
            value="3000",
        ),
        # an unknown model without its shape: reported as a failure with the reason
        dict(
            id="bad-1",
            source="test",
            gpu="h100-sxm-80gb",
            gpus="8",
            model="mystery",
            tp="8",
            pp="1",
            global_batch="8",
            metric="step_time_s",
            value="1.0",
        ),
        # an impossible layout
        dict(
            id="bad-2",
            source="test",
            gpu="a100-sxm-80gb",
            gpus="10",
            model="gpt-22b",
            tp="8",
            pp="1",
            global_batch="8",
            metric="step_time_s",
            value="1.0",
        ),
    ]
    path = tmp_path / "runs.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    rep = run(path)
    by_id = {r.id: r for r in rep.rows}
    assert by_id["new-1"].predicted and by_id["new-1"].status == "ok"
    assert by_id["bad-1"].status == "failed" and "lacks" in by_id["bad-1"].reason
    assert by_id["bad-2"].status == "failed" and "gpus(10)" in by_id["bad-2"].reason
    assert rep.summary()["n_failed"] == 2
