"""The second out-of-sample MoE batch of 2026-12-01 (benchmarks/results/holdout2_moe_2026-12-01.json): rows from
torchtitan, torchao and DeepSeek-V2, scored before any model code changed, then bundled with their citations."""

import json
from pathlib import Path

from supercluster.validate.harness import read_rows

RESULT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "holdout2_moe_2026-12-01.json"


def test_every_scored_row_is_bundled_with_the_value_it_was_scored_on():
    before = json.loads(RESULT.read_text())["before"]
    assert before["commit"] and len(before["rows"]) >= 12
    assert len({r["source"] for r in before["rows"]}) >= 3
    _, rows = read_rows("all")
    bundled = {r["id"]: r for r in rows}
    for row in before["rows"]:
        assert row["id"] in bundled, row["id"]
        assert float(bundled[row["id"]]["value"]) == row["measured"], row["id"]
        assert row["predicted"] > 0 and row["error_pct"] is not None, row["id"]


def test_the_recorded_summaries_follow_from_the_rows():
    """Hand check: MAPE is the mean absolute error, the bias its signed mean, per source and over the tied rows."""
    data = json.loads(RESULT.read_text())
    for record in [data["before"]] + ([data["after"]] if "after" in data else []):
        rows = record["rows"]
        groups = {"summary": rows, "layout_tied": [r for r in rows if r["layout_tied"]]}
        groups |= {f"per_source/{k}": [r for r in rows if r["source"] == k] for k in record["per_source"]}
        for name, mine in groups.items():
            st = (
                record["summary"]
                if name == "summary"
                else record["layout_tied"]
                if name == "layout_tied"
                else (record["per_source"][name.split("/", 1)[1]])
            )
            errs = [r["error_pct"] for r in mine]
            assert st["n"] == len(errs), name
            assert abs(st["mape_pct"] - sum(abs(e) for e in errs) / len(errs)) < 0.01, name
            assert abs(st["mean_signed_pct"] - sum(errs) / len(errs)) < 0.01, name
            assert abs(st["max_abs_pct"] - max(abs(e) for e in errs)) < 0.01, name


def test_deepseek_v2_derived_rate_and_untied_rows_are_low_confidence():
    """172.8K H800 GPU-hours per trillion tokens (DeepSeek-V2 section 3.2.3) is 1e12 / (172.8e3 x 3600) = 1,607.5
    tokens/s/GPU; rows whose layout is not tied carry confidence low."""
    _, rows = read_rows("all")
    by_id = {r["id"]: r for r in rows}
    assert abs(float(by_id["deepseek-v2-report-h800"]["value"]) - 1e12 / (172.8e3 * 3600)) < 0.05
    for row in json.loads(RESULT.read_text())["before"]["rows"]:
        if not row["layout_tied"]:
            assert by_id[row["id"]]["confidence"] == "low", row["id"]
