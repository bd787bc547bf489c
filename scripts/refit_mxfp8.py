"""Refit the MXFP8 GEMM overhead per Blackwell card family by the whole-set leave-one-source-out protocol.

``mxfp8_overhead_fraction`` (catalog accelerators.yaml, perf.gemm) multiplies the compute time of every MXFP8 GEMM
by (1 + overhead), on top of the FP8 GEMM fraction: it stands for the block-scale quantization of both operand
layouts (one E8M0 scale per 32 elements, OCP Microscaling Formats v1.0) that per-tensor FP8 does not pay. It was
fitted (scripts/fit_efficiency.py fit_mxfp8) on two B200 FP8-MX / FP8-CS throughput ratios of one document (the
Megatron-Bridge 25.11 performance summary), before scripts/refit_fp8.py moved the B200/GB200 FP8 fraction
0.63 -> 0.565. This script, issue 14 item 2 / issue 15 (protocol of scripts/refit_fp8.py, whose helpers it
imports):

1. families: refit_fp8.FAMILIES (B200/GB200, compute capability 10.0; B300/GB300, 10.3); a family whose MXFP8 rows
   come from fewer than fit_efficiency.MIN_DOCUMENTS documents is tabulated, not fitted;
2. fit rows: every predictable MXFP8 throughput row of the family; every such row is predicted once per grid point
   (the family's cards all at that overhead, every other constant the catalog's); the fit minimises their MAPE
   (grid minimum refined by refit_protocol._argmin's parabola); each document is held out in turn and its rows
   predicted with the overhead refitted on the others (leave-one-source-out). No other row depends on this constant
   (perf.gemm applies it to MXFP8 GEMMs only), so every other row's error is unchanged;
3. the evidence that separates this constant from the rest of the step model: paired differences, MXFP8 minus FP8
   and MXFP8 minus BF16 signed speed error (+ = model too fast) of rows of one document, card, model and GPU count
   (``same_layout``: every layout field equal too). A paired difference near zero says the MXFP8 rate relative to
   the other precision is right and the rows' error comes from terms they share.

Run (PYTHONPATH=src:scripts):

    python scripts/refit_mxfp8.py OUT.json                                # grid, fits, tables
    python scripts/refit_mxfp8.py --evaluate OUT.json ALL.json PUB.json    # before/after of validate's figures
    python scripts/refit_mxfp8.py --records OUT.json ALL.json FAMILY...    # fit_sources.json's MXFP8 records
"""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from fit_efficiency import MIN_DOCUMENTS
from refit_fp8 import (
    FAMILIES,
    LAYOUT_KEYS,
    _load,
    _prec,
    _speed,
    _summary,
    interp_on,
    lands_by_rule,
    merge_table_records,
    rescored_rows,
    tables_moved,
    write_fit_records,
)
from refit_protocol import FIT_SOURCES
from refit_protocol import _argmin as refit_argmin
from script_args import guarded

from supercluster import catalog
from supercluster.validate.harness import predict_row, read_rows, source_document, source_table

GRID = [round(0.01 * i, 2) for i in range(41)]  # overhead 0.00 .. 0.40
MX_TAG = " (whole-set fit on every MXFP8 row of the family)"  # ends the name of every record this script writes
OLD_RECORD = "mxfp8_overhead_fraction (Blackwell: b200, gb200, b300, gb300)"  # the ratio fit's record


def _with_overhead(acc_id: str, overhead: float):
    base = catalog.accelerator(acc_id).efficiency
    return base.model_copy(update={"mxfp8_overhead_fraction": overhead})


def _interp(errs: list[float], x: float) -> float:
    """Linear interpolation of a row's cached error at overhead ``x`` between this script's grid points."""
    return interp_on(GRID, errs, x)


def _throughput(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["metric"] != "activation_gib_per_gpu"]


def family_rows(rows: list[dict], cards: list[str]) -> list[dict]:
    """Predictable MXFP8 throughput rows of the family's cards (the only rows the overhead moves)."""
    mine = [r for r in _throughput(rows) if r["gpu"] in cards and _prec(r) == "mxfp8"]
    return [r for r in mine if predict_row(r).error_pct is not None]


def fit_family(fam: dict) -> dict:
    """The overhead minimising the family's MXFP8 rows' MAPE, on all of them and without each document; every
    row's error in sample and leave-one-source-out, from the cached grid errors."""
    rows = fam["rows"]
    docs = sorted({r["doc"] for r in rows})

    def fit(idx: list[int]) -> float:
        return refit_argmin(
            [sum(abs(rows[i]["grid_errors"][j]) for i in idx) / len(idx) for j in range(len(GRID))], GRID
        )

    every = list(range(len(rows)))
    fam["refit_overhead"] = round(fit(every), 4)
    fam["refit_without_document"] = {d: round(fit([i for i in every if rows[i]["doc"] != d]), 4) for d in docs}
    for r in rows:
        r["in_sample"] = _interp(r["grid_errors"], fam["refit_overhead"])
        r["loso"] = _interp(r["grid_errors"], fam["refit_without_document"][r["doc"]])
    for key in ("catalog", "in_sample", "loso"):
        fam[f"{key}_mape_pct"] = round(sum(abs(r[key]) for r in rows) / len(rows), 3)
        fam[f"{key}_signed_pct"] = round(sum(_speed(r["metric"], r[key]) for r in rows) / len(rows), 3)
    return fam


def _moe(row: dict) -> bool:
    experts = (row.get("moe_experts") or "").strip()
    if experts and experts != "0":
        return True
    name = (row.get("model") or "").strip()
    return name in catalog.names("models") and catalog.model(name).is_moe


def tabulate(rows: list[dict]) -> dict:
    """MXFP8 rows' MAPE and mean signed speed error at the catalog's constants, by card, model, dense/MoE and
    source document."""
    mx = []
    for r in _throughput(rows):
        if _prec(r) != "mxfp8":
            continue
        e = predict_row(r).speed_error_pct
        if e is not None:
            mx.append((r, e))

    def by(key) -> dict:
        groups: dict[str, list[float]] = {}
        for r, e in mx:
            groups.setdefault(key(r), []).append(e)
        return {
            k: {
                "rows": len(v),
                "mape_pct": round(sum(map(abs, v)) / len(v), 2),
                "signed_pct": round(sum(v) / len(v), 2),
            }
            for k, v in sorted(groups.items())
        }

    return {
        "by_card": by(lambda r: r["gpu"]),
        "by_model": by(lambda r: r["model"]),
        "by_kind": by(lambda r: "moe" if _moe(r) else "dense"),
        "by_document": by(lambda r: source_document(r["source"])),
        "by_card_and_kind": by(lambda r: f"{r['gpu']} {'moe' if _moe(r) else 'dense'}"),
    }


def paired(rows: list[dict]) -> list[dict]:
    """MXFP8 minus FP8 and MXFP8 minus BF16 signed speed error of rows of one document, card, model and GPU count
    (the catalog's constants); ``same_layout`` when every layout field (refit_fp8.LAYOUT_KEYS) matches as well."""
    errs: dict[str, float] = {}
    for r in _throughput(rows):
        e = predict_row(r).speed_error_pct
        if e is not None:
            errs[r["id"]] = e
    key = lambda r: (source_document(r["source"]), r["gpu"], r["model"], str(r["gpus"]).strip())  # noqa: E731
    layout = lambda r: tuple(str(r.get(k) or "").strip() for k in LAYOUT_KEYS)  # noqa: E731
    others: dict[tuple, list[dict]] = {}
    for r in _throughput(rows):
        if r["id"] in errs and _prec(r) in ("fp8", "bf16", "fp16"):
            others.setdefault(key(r), []).append(r)
    out = []
    for r in _throughput(rows):
        if _prec(r) != "mxfp8" or r["id"] not in errs:
            continue
        for o in others.get(key(r), []):
            out.append(
                {
                    "mxfp8_id": r["id"],
                    "other_id": o["id"],
                    "other_precision": "bf16" if _prec(o) == "fp16" else _prec(o),
                    "gpu": r["gpu"],
                    "model": r["model"],
                    "gpus": int(float(r["gpus"])),
                    "same_layout": layout(r) == layout(o),
                    "mxfp8_signed_pct": round(errs[r["id"]], 2),
                    "other_signed_pct": round(errs[o["id"]], 2),
                    "difference_pct": round(errs[r["id"]] - errs[o["id"]], 2),
                    "measured_ratio": round(float(r["value"]) / float(o["value"]), 4)
                    if r["metric"] == o["metric"] and r["metric"] != "step_time_s"
                    else None,
                }
            )
    return sorted(out, key=lambda p: (p["other_precision"], p["gpu"], p["model"], p["mxfp8_id"]))


def paired_summary(pairs: list[dict]) -> dict:
    """Mean paired difference by the other precision, all pairs and same-layout pairs only."""
    out = {}
    for prec in ("fp8", "bf16"):
        for name, sub in (("all", pairs), ("same_layout", [p for p in pairs if p["same_layout"]])):
            d = [p["difference_pct"] for p in sub if p["other_precision"] == prec]
            if d:
                out[f"mxfp8_minus_{prec}_{name}"] = {"pairs": len(d), "mean_pct": round(sum(d) / len(d), 2)}
    return out


# Published same-table pairs of per-tensor FP8 (current scaling) and MXFP8 pre-training throughput on Blackwell
# (tokens/s/GPU), the measurement that isolates the MXFP8 overhead from every term the two precisions share. Each:
# (container, FP8 row id in the bundled CSV, overrides of that row for the pair (both rows), MXFP8 layout, FP8 and
# MXFP8 value, the table row(s) quoted). Megatron-Bridge docs/performance-summary-archive.md at 067f987d
# (https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/067f987df03b8355b03192d88d70f1709fedf51a/docs/performance-summary-archive.md)
# and docs/performance-summary.md (25.11, the bundled fp8cs/fp8mx rows). The archive's "FP8" column is current
# scaling (its recipes are the *_FP8_CS_* configs, scripts/performance/configs/llama/llama3_workload_base_configs.py,
# quoted in the bundled FP8 rows' notes). Left out: the LLAMA3_70B pairs (FP8 with Megatron-FSDP over 64 GPUs
# against MXFP8 with pipeline parallelism: the ratio would measure the layouts) and 25.09 (its table names no
# precision per column).
PAIRS: list[tuple[str, str, dict, dict, float, float, str]] = [
    (
        "25.11",
        "mbridge2511-b200-llama3-8b-fp8cs",
        {},
        {},
        30624,
        29521,
        "LLAMA3_8B | 8 | FP8-CS (FP8-MX) | ... | 30624 (29521)",
    ),
    (
        "25.11",
        "mbridge2511-b200-llama31-405b-fp8cs",
        {},
        {},
        661,
        624,
        "LLAMA3.1_405B | 128 | FP8-CS (FP8-MX) | ... | 661 (624)",
    ),
    (
        "25.11",
        "mbridge2511-gb200-llama3-8b-fp8cs",
        {},
        {},
        31508,
        29789,
        "LLAMA3_8B | 8 | FP8-CS (FP8-MX) | ... | 31508 (29789)",
    ),
    (
        "25.11",
        "mbridge2511-gb200-llama3-8b-fp8cs",
        {"gpu": "gb300"},
        {},
        37556,
        36108,
        "25.11, System: DGX-GB300: LLAMA3_8B | 8 | FP8-CS (FP8-MX) | 128 | 2 | 8192 | ... | 37556 (36108)",
    ),
    (
        "26.02",
        "mbridge2602-gb300-llama3-405b-256-fp8",
        {},
        {"tp": 2, "cp": 2},
        988,
        931,
        "DGX-GB300 | 256 | MXFP8 | 1536 | 1 | 8192 | 0 | 2 | 8 | 2 | 4 | n/a | 931",
    ),
    (
        "26.02",
        "mbridge2602-gb200-llama3-405b-256-fp8",
        {},
        {"vpp": 8},
        793,
        786,
        "DGX-GB200 | 256 | MXFP8 | 1536 | 1 | 8192 | 0 | 4 | 16 | 1 | 8 | n/a | 786",
    ),
    (
        "26.02.01",
        "mbridge260201-gb300-llama3-405b-256-fp8",
        {},
        {},
        1024,
        949,
        "DGX-GB300 | 256 | MXFP8 | 1536 | 1 | 8192 | 0 | 2 | 8 | 2 | 4 | n/a | 949",
    ),
    (
        "26.02.01",
        "mbridge260201-gb200-llama3-405b-256-fp8",
        {},
        {"vpp": 8},
        818,
        775,
        "DGX-GB200 | 256 | MXFP8 | 1536 | 1 | 8192 | 0 | 4 | 16 | 1 | 8 | n/a | 775",
    ),
    (
        "26.04",
        "mbridge2604-gb300-llama3-405b-256-fp8",
        {},
        {"tp": 2, "cp": 2},
        1036,
        968,
        "DGX-GB300 | 256 | MXFP8 | 1536 | 1 | 8192 | 0 | 2 | 8 | 2 | 4 | n/a | 968",
    ),
    (
        "26.04",
        "mbridge2604-gb200-llama3-405b-256-fp8",
        {},
        {"vpp": 8},
        842,
        793,
        "DGX-GB200 | 256 | MXFP8 | 1536 | 1 | 8192 | 0 | 4 | 16 | 1 | 8 | n/a | 793",
    ),
    (
        "26.04.01",
        "mbridge260401-gb300-llama3-405b-256-fp8",
        {},
        {"tp": 2, "cp": 2},
        1024,
        960,
        "DGX-GB300 | 256 | MXFP8 | 1536 | 1 | 8192 | 0 | 2 | 8 | 2 | 4 | n/a | 960",
    ),
    (
        "26.04.01",
        "mbridge260401-gb200-llama3-405b-256-fp8",
        {},
        {"vpp": 8},
        864,
        800,
        "DGX-GB200 | 256 | MXFP8 | 1536 | 1 | 8192 | 0 | 4 | 16 | 1 | 8 | n/a | 800",
    ),
    (
        "26.06",
        "mbridge2606-gb300-llama3-405b-256-fp8",
        {},
        {"tp": 2, "cp": 2},
        1048,
        952,
        "DGX-GB300 | 256 | MXFP8 | 1536 | 1 | 8192 | 2 | 8 | 2 | 4 | n/a | 952",
    ),
    (
        "26.06",
        "mbridge2606-gb200-llama3-405b-256-fp8",
        {},
        {"vpp": 8},
        843,
        783,
        "DGX-GB200 | 256 | MXFP8 | 1536 | 1 | 8192 | 4 | 16 | 1 | 8 | n/a | 783",
    ),
]


def pair_rows(rows: list[dict]) -> list[tuple[str, dict, dict]]:
    """(container, FP8 row, MXFP8 row) of every PAIRS entry, the MXFP8 row the FP8 row with its precision, layout
    and value replaced (data parallelism re-derived from the GPU count)."""
    by_id = {r["id"]: r for r in rows}
    out = []
    for container, fp8_id, both, mx_layout, fp8_value, mx_value, _ in PAIRS:
        fp8 = {**by_id[fp8_id], **{k: str(v) for k, v in both.items()}, "value": str(fp8_value)}
        if both:
            fp8["id"] = f"{fp8_id}-as-{both.get('gpu', 'pair')}"
        mx = {**fp8, **{k: str(v) for k, v in mx_layout.items()}, "precision": "mxfp8", "value": str(mx_value)}
        par = int(mx["tp"] or 1) * int(mx["pp"] or 1) * int(mx["cp"] or 1)
        mx["dp"] = str(int(float(mx["gpus"])) // par)
        mx["id"] = fp8["id"] + "-mxfp8"
        out.append((container, fp8, mx))
    return out


def ratio_error(pairs: list[dict], overhead: float, signed: bool = False) -> float:
    """Mean (absolute or signed) error of the predicted MXFP8 / FP8 ratio at ``overhead``, % (+ = MXFP8 too fast)."""
    errs = [_interp(p["grid_ratio_errors"], overhead) for p in pairs]
    return round(sum(errs if signed else map(abs, errs)) / len(errs), 3)


def ratio_error_by_family(pairs: list[dict], overhead: dict[str, float]) -> float | None:
    """Mean absolute ratio error of ``pairs``, each at its family's overhead."""
    if not pairs:
        return None
    return round(sum(abs(_interp(p["grid_ratio_errors"], overhead[p["family"]])) for p in pairs) / len(pairs), 3)


def fit_pairs(rows: list[dict]) -> dict:
    """The overhead that reproduces the published MXFP8 / FP8 throughput ratios, per card family and for all
    Blackwell cards together, fitted on every pair and without each container release in turn (leave-one-release-
    out; the pairs come from two documents, too few for leave-one-source-out)."""
    pairs = pair_rows(rows)
    cards_of = {fam: cards for fam, cards in FAMILIES.items() if fam != "hopper"}
    table = []
    for container, fp8, mx in pairs:
        fam = next(f for f, cards in cards_of.items() if mx["gpu"] in cards)
        fp8_pred = predict_row(fp8).predicted
        ratios = [predict_row(mx, {a: _with_overhead(a, o) for a in cards_of[fam]}).predicted / fp8_pred for o in GRID]
        measured = float(mx["value"]) / float(fp8["value"])
        table.append(
            {
                "container": container,
                "family": fam,
                "gpu": mx["gpu"],
                "model": mx["model"],
                "same_layout": all(fp8[k] == mx[k] for k in ("tp", "pp", "vpp", "cp")),
                "measured_ratio": round(measured, 4),
                "grid_ratio_errors": [round((r / measured - 1) * 100, 3) for r in ratios],
            }
        )
    out: dict = {"pairs": table, "fits": {}}
    for name, fams in (("blackwell", ["blackwell"]), ("blackwell-ultra", ["blackwell-ultra"]), ("all", list(cards_of))):
        sub = [p for p in table if p["family"] in fams]

        def fit(ps: list[dict]) -> float:
            return refit_argmin(
                [sum(abs(p["grid_ratio_errors"][j]) for p in ps) / len(ps) for j in range(len(GRID))], GRID
            )

        best = round(fit(sub), 4)
        held = {
            c: round(fit([p for p in sub if p["container"] != c]), 4) for c in sorted({p["container"] for p in sub})
        }
        catalog_o = catalog.accelerator(cards_of[fams[0]][0]).efficiency.mxfp8_overhead_fraction
        res = {
            "pairs": len(sub),
            "releases": len(held),
            "overhead": best,
            "overhead_without_release": held,
            "measured_ratio_mean": round(sum(p["measured_ratio"] for p in sub) / len(sub), 4),
        }
        for key, at in (("catalog", catalog_o), ("in_sample", best)):
            res[f"ratio_error_{key}_pct"] = ratio_error(sub, at)
            res[f"ratio_signed_{key}_pct"] = ratio_error(sub, at, signed=True)
        res["ratio_error_leave_one_release_out_pct"] = round(
            sum(abs(_interp(p["grid_ratio_errors"], held[p["container"]])) for p in sub) / len(sub), 3
        )
        out["fits"][name] = res
    return out


def run(path: str) -> dict:
    _, rows = read_rows("all")
    t0 = time.perf_counter()
    pairs = paired(rows)
    out: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(),
        "grid": [GRID[0], GRID[-1], 0.01],
        "tables": tabulate(rows),
        "paired_summary": paired_summary(pairs),
        "paired": pairs,
        "families": {},
    }
    print(json.dumps(out["tables"], indent=1), json.dumps(out["paired_summary"], indent=1), flush=True)
    out["published_ratios"] = fit_pairs(rows)
    print(json.dumps(out["published_ratios"]["fits"], indent=1), flush=True)
    for fam, cards in FAMILIES.items():
        mine = family_rows(rows, cards)
        cat = {a: catalog.accelerator(a).efficiency.mxfp8_overhead_fraction for a in cards}
        docs = sorted({source_document(r["source"]) for r in mine})
        res: dict = {"cards": cards, "catalog_overhead": cat, "fit_rows": len(mine), "documents": docs}
        if len(docs) < MIN_DOCUMENTS:  # not fitted: leave-one-source-out cannot score it
            out["families"][fam] = {**res, "fitted": False}
            print(fam, json.dumps(out["families"][fam]), flush=True)
            continue
        t1 = time.perf_counter()
        res["rows"] = [
            {
                "id": r["id"],
                "gpu": r["gpu"],
                "model": r["model"],
                "metric": r["metric"],
                "gpus": int(float(r["gpus"])),
                "doc": source_document(r["source"]),
                "table": source_table(r["source"]),
                "catalog": predict_row(r).error_pct,
                "grid_errors": [
                    round(predict_row(r, {a: _with_overhead(a, o) for a in cards}).error_pct, 3) for o in GRID
                ],
            }
            for r in mine
        ]
        res["fitted"] = True
        out["families"][fam] = fit_family(res)
        mine_pairs = [p for p in out["published_ratios"]["pairs"] if p["family"] == fam]
        if mine_pairs:  # what the whole-set refit does to the published MXFP8 / FP8 ratios of the family
            res["published_ratio_error_at_refit_pct"] = ratio_error(mine_pairs, res["refit_overhead"])
            res["published_ratio_signed_at_refit_pct"] = ratio_error(mine_pairs, res["refit_overhead"], signed=True)
        res["search_s"] = round(time.perf_counter() - t1, 1)
        print(fam, json.dumps({k: v for k, v in res.items() if k != "rows"}), flush=True)
    out["elapsed_s"] = round(time.perf_counter() - t0, 1)
    Path(path).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print("wrote", path, f"{out['elapsed_s']:.0f} s")
    return out


def _base_constants() -> list[dict]:
    """fit_sources.json's records without this script's: its own records dropped and the records it adjusted
    restored, so that writing them again is idempotent."""
    base = []
    for c in json.loads(FIT_SOURCES.read_text(encoding="utf-8"))["constants"]:
        c = dict(c)
        if "loso_mape_pct_before_mxfp8_refit" in c:
            c["loso_mape_pct"] = c.pop("loso_mape_pct_before_mxfp8_refit")
            c["constant"] = c["constant"].split("; mxfp8_overhead_fraction")[0]
            c.pop("mxfp8_rows", None)
        elif c["constant"].endswith(MX_TAG):
            continue
        base.append(c)
    return base


def mx_records(result: dict, families: list[str], validated: list[dict]) -> list[dict]:
    """fit_sources.json's records with ``families`` refitted: every source table holding an MXFP8 row of those
    families gets the mean absolute error of its rows, the MXFP8 rows predicted with the overhead refitted without
    the table's document. A table with a record keeps its other rows' recorded errors (its record's mean, with the
    MXFP8 rows' change added); a table without one takes its other rows' in-sample errors. The one-document record
    of fit_efficiency.fit_mxfp8 is dropped (its constant is refitted)."""
    loso, cat, tables = {}, {}, {}
    for fam in families:
        name = f"{'/'.join(result['families'][fam]['cards'])} mxfp8_overhead_fraction"
        for r in result["families"][fam]["rows"]:
            loso[r["id"]], cat[r["id"]] = r["loso"], r["catalog"]
            tables[r["table"]] = name
    constants = [c for c in _base_constants() if not (families and c["constant"] == OLD_RECORD)]
    kind = (
        "leave-one-source-out: refitted on every other bundled MXFP8 row of the card family (scripts/refit_mxfp8.py); "
        "the table's rows predicted with that refit"
    )
    note = "MXFP8 rows predicted with the MXFP8 overhead refitted without the document"
    return merge_table_records(constants, tables, loso, cat, validated, (MX_TAG, "mxfp8", kind, note))


def evaluate(result: dict, validated_all: dict, validated_published: dict) -> dict:
    """Before/after of validate's figures for each choice of refitted families (refit_fp8.evaluate's rule: the
    all-rows and published leave-one-source-out MAPE do not rise and every band's signed mean stays within +-4%;
    and, for this constant, the published MXFP8 / FP8 ratios of the refitted families (PAIRS) are reproduced no
    worse than at the catalog's overhead)."""
    fitted = [f for f, res in result["families"].items() if res.get("fitted")]
    choices = [[]] + [[f] for f in fitted] + ([fitted] if len(fitted) > 1 else [])
    out: dict = {}
    for choice in choices:
        moved = {r["id"]: r for f in choice for r in result["families"][f]["rows"]}
        records = {c["document"]: c["loso_mape_pct"] for c in mx_records(result, choice, validated_all["rows"])}
        kept = {k: v for k, v in records.items() if v is not None}
        res: dict = {
            name: _summary(rescored_rows(val["rows"], moved), kept)
            for name, val in (("all", validated_all), ("published", validated_published))
        }
        out["+".join(choice) or "catalog"] = res
        if choice:
            base = out["catalog"]
            res["lands_by_validate_rule"] = lands_by_rule(res, base)
            # the measurement that isolates this constant: the published MXFP8 / FP8 ratios of the refitted
            # families, at the catalog's overhead and at the refit (a refit that absorbs other terms' error
            # moves them away from what was measured)
            pairs = [p for p in result["published_ratios"]["pairs"] if p["family"] in choice]
            cat_o = {f: next(iter(result["families"][f]["catalog_overhead"].values())) for f in choice}
            res["published_ratio_error_pct"] = {
                "catalog": ratio_error_by_family(pairs, cat_o),
                "refit": ratio_error_by_family(pairs, {f: result["families"][f]["refit_overhead"] for f in choice}),
            }
            res["lands"] = res["lands_by_validate_rule"] and (
                not pairs or res["published_ratio_error_pct"]["refit"] <= res["published_ratio_error_pct"]["catalog"]
            )
            res["tables_moved_over_2_points"] = tables_moved(res, base)
    return out


def write_records(result: dict, families: list[str], validated_all: dict) -> None:
    write_fit_records(
        mx_records(result, families, validated_all["rows"]),
        " MXFP8 overhead of the families refitted by scripts/refit_mxfp8.py (benchmarks/results/refit_mxfp8.json):"
        " every table holding an MXFP8 row of the family, those rows predicted with the overhead refitted without"
        " its document.",
    )


def main() -> None:
    if sys.argv[1] == "--records":  # RESULT.json VALIDATE_ALL.json FAMILY...
        write_records(_load(sys.argv[2]), sys.argv[4:], _load(sys.argv[3]))
        print("MXFP8 records written to", FIT_SOURCES)
        return
    if sys.argv[1] == "--evaluate":  # RESULT.json VALIDATE_ALL.json VALIDATE_PUBLISHED.json
        result = _load(sys.argv[2])
        result["evaluation"] = evaluate(result, _load(sys.argv[3]), _load(sys.argv[4]))
        Path(sys.argv[2]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        for choice, res in result["evaluation"].items():
            groups = {g: round(s["mape_pct"], 2) for g, s in res["all"]["per_group"].items() if "mxfp8" in g}
            brief = {k: res[k]["loso_mape_pct"] for k in ("all", "published")}
            print(choice, res["all"]["mape_pct"], brief, groups, res.get("published_ratio_error_pct"), res.get("lands"))
        return
    run(sys.argv[1])


if __name__ == "__main__":
    guarded(
        main,
        "refit_mxfp8.py OUT.json | --evaluate OUT.json ALL.json PUB.json | --records OUT.json ALL.json FAMILY...",
        flags=("--records", "--evaluate"),
        valued=(),
        paths=(1, None),
    )
