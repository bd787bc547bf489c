"""Does the straggler term (supercluster.perf.straggler) land in the step time? The accuracy protocol decides.

    python scripts/straggler_protocol.py           # validate all + published, without and with the term (~30 s)
    python scripts/straggler_protocol.py --refit   # also with the fitted constants refitted with the term (~3 min)

Runs every bundled validation set with the term left out of the step time and with it added, and records for each:
the MAPE of all rows, their leave-one-source-out MAPE, the mean signed speed error, the BF16/FP8 dense and MoE
groups, every GPU-count band's MAPE and signed error, the published set in sample and leave-one-source-out, and the
source tables whose error moved by more than 2 points. With ``--refit`` it also refits each card's fitted constants
on their one source with the term in (scripts/refit_protocol.py's one-source stage), reports each fit's held-out
error, and validates again with the refitted constants. The term lands only if leave-one-source-out error (all rows
and the published set) does not rise, either as it is or with the constants refitted (then the held-out error of
each fit must not rise either). Writes benchmarks/results/straggler_protocol.json; the
verdict is perf.straggler.IN_STEP_TIME.
"""

from __future__ import annotations

import sys
from typing import Any

from fit_efficiency import FITS, mape, table_with
from refit_protocol import one_source
from script_args import guarded
from term_protocol import figures, judge, r2

from supercluster.perf import straggler
from supercluster.validate.harness import read_rows, run, source_table


def refit() -> dict[str, Any]:
    """scripts/refit_protocol.py's one-source fit with and without the term in the step time: each card's constants,
    fit error and held-out error (every other row of the card, FP8 rows left out); then validate all and published
    with the constants refitted with the term in."""
    _, rows = read_rows()
    out: dict[str, Any] = {}
    tables = {}
    for in_step in (False, True):
        straggler.IN_STEP_TIME = in_step
        cards = {}
        for acc_id, res in one_source().items():
            spec = FITS[acc_id]
            held = [
                r
                for r in rows
                if r["gpu"] == acc_id
                and r["metric"] != "activation_gib_per_gpu"
                and source_table(r["source"]) != spec["fit_source"]
                and r["precision"] != "fp8"
            ]
            eff = {acc_id: table_with(acc_id, res["gemm_bf16_fraction"], res["attention_fwd_fraction"])}
            cards[acc_id] = {
                "gemm_bf16_fraction": res["gemm_bf16_fraction"],
                "fit_mape_pct": r2(res["fit_mape_pct"]),
                "held_out_mape_pct": r2(mape(held, eff)) if held else None,
            }
            if "gemm_fp8_fraction" in res:
                cards[acc_id] |= {
                    "gemm_fp8_fraction": res["gemm_fp8_fraction"],
                    "fp8_fit_mape_pct": r2(res["fp8_fit_mape_pct"]),
                    "fp8_leave_one_out_mape_pct": r2(res["fp8_leave_one_out_mape_pct"]),
                }
            if in_step:
                tables[acc_id] = table_with(
                    acc_id, res["gemm_bf16_fraction"], res["attention_fwd_fraction"], res.get("gemm_fp8_fraction")
                )
        out["with_term" if in_step else "without_term"] = cards
    straggler.IN_STEP_TIME = True
    v = figures(run("all", tables).summary(), run("published", tables).summary())
    del v["per_source_mape_pct"]
    v["all_rows"]["note"] = "fitted documents keep their recorded leave-one-source-out error (fit_sources.json)"
    out["validate_with_term_and_refit"] = v
    return out


def check_refit(result: dict[str, Any], before: dict[str, Any], _set_term: Any) -> None:
    """With the fitted constants refitted on their sources with the term in (``--refit``): the held-out error of
    each fit and the published set's leave-one-source-out error must not rise either."""
    if "--refit" not in sys.argv:
        return
    ref = result["refit"] = refit()
    held = all(
        (ref["with_term"][c]["held_out_mape_pct"] or 0) <= (ref["without_term"][c]["held_out_mape_pct"] or 0)
        for c in ref["with_term"]
    )
    v = ref["validate_with_term_and_refit"]
    result["lands"] = result["lands"] or (
        held
        and v["all_rows"]["loso_mape_pct"] <= before["all_rows"]["loso_mape_pct"]
        and v["published"]["loso_mape_pct"] <= before["published"]["loso_mape_pct"]
    )


def main() -> None:
    judge(straggler, "IN_STEP_TIME", "straggler", {"sigma": straggler.RANK_SIGMA}, check_refit)


if __name__ == "__main__":
    guarded(
        main,
        "straggler_protocol.py [--refit]",
        flags=("--refit",),
        valued=(),
        paths=(0, 0),
    )
