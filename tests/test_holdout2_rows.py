"""The second out-of-sample check of 2026-12-01 (dense): 42 rows from four source documents the project had not used,
scored before they were added (benchmarks/results/holdout2_2026-12-01.json), then bundled with their citations."""

import json
from pathlib import Path

from supercluster.validate.harness import predict_row, read_rows

RESULT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "holdout2_2026-12-01.json"


def _data():
    return json.loads(RESULT.read_text())


def test_every_scored_row_is_bundled_with_the_value_it_was_scored_on():
    scored = _data()["rows"]
    assert len(scored) >= 15
    assert len({r["source"].split(" (")[0] for r in scored}) >= 4
    _, rows = read_rows("all")
    bundled = {r["id"]: r for r in rows}
    for row in scored:
        assert row["id"] in bundled, row["id"]
        assert float(bundled[row["id"]]["value"]) == row["measured"], row["id"]
        assert bundled[row["id"]]["notes"].startswith("stack:"), row["id"]
        assert bundled[row["id"]]["quote"], row["id"]


def test_the_recorded_class_errors_follow_from_the_rows():
    """Each class's MAPE is the mean of its rows' absolute errors; the dense BF16 figure carries the issue's verdict."""
    data = _data()
    rows = data["rows"]
    for name, st in data["after_tie_fix"]["per_class"].items():
        errs = [abs(r["error_pct"]) for r in rows if r["class"] == name]
        assert st["n"] == len(errs)
        assert abs(st["mape_pct"] - sum(errs) / len(errs)) < 0.01
        assert abs(st["max_abs_error_pct"] - max(errs)) < 0.01
    dense = data["after_tie_fix"]["dense_bf16_fp16_layout_tied"]
    assert dense["meets_issue14"] == (dense["mape_pct"] <= 12 and dense["max_abs_error_pct"] <= 30)


def test_nanotron_mfu_matches_its_flop_counter_on_the_playbook_comment():
    """nanotron models/llama.py get_flops (3 x forward matmuls, full s x s attention, LM head) is the Megatron
    non-causal count: for the 3.57B (28 layers, hidden 3072, 32 heads, FFN 8192, vocab 131072) at 4,096 tokens it
    gives 25.67 GFLOP per token, the ratio of scripts/scaling_benchmarks.py's comment '363.66 TFLOPs, 14167.25
    tok/s/gpu'."""
    from supercluster.perf.conventions import megatron_flops
    from supercluster.validate.rows import row_model

    model = row_model(
        {
            "model": "x",
            "layers": "28",
            "hidden": "3072",
            "heads": "32",
            "ffn_hidden": "8192",
            "vocab": "131072",
            "activation": "swiglu",
        }
    )
    per_token = megatron_flops(model, 1, 4096) / 4096
    assert abs(per_token / (363.66e12 / 14167.25) - 1) < 0.001


def test_the_nanotron_rows_state_a_plain_1f1b_schedule():
    """The one tie fix after scoring: nanotron has no interleaved schedule, so its rows say vpp 1 (blank let the
    fill rule choose an interleaved split)."""
    _, rows = read_rows("all")
    usp = [r for r in rows if r["id"].startswith("usp25-nanotron-")]
    assert len(usp) == 26
    for row in usp:
        assert row["vpp"] == "1", row["id"]
        assert "vpp1 " in predict_row(row).layout, row["id"]
