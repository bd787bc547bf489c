"""Re-judge the Hopper attention fractions with the whole-set refit protocol (issue 14/15): summarise runs of
scripts/refit_protocol.py, one per attention variant, on the same figures for each.

Each run refits the shared GEMM fractions around its attention pair (``--catalog-attention`` for the catalog's
pair, ``--hopper-attention FWD,BWD`` for a variant held at those values, no flag for the protocol's own one-source
attention fit). For each run this prints and records, in sample and leave-one-source-out (LOSO): every row's MAPE,
each metric group's, each GPU-count band's MAPE and signed mean speed error (+ = model too fast; a step-time row's
speed error is measured / predicted - 1), the published set's MAPE, the source tables above 12% and 15% (LOSO), the
source tables whose LOSO error moves by more than 2 points and the rows that move most against the first run. Run:

    python scripts/attn_rejudge.py OUT.json LABEL=RUN.json [LABEL=RUN.json ...]

Reads the bundled sets through the harness (groups, GPU counts, the published set's rows); bounded by the rows of
the runs given (and one validation pass for each row's group and GPU count).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from script_args import run

from supercluster.errors import SuperclusterError
from supercluster.validate.harness import GPU_BANDS, gpu_band, read_rows
from supercluster.validate.harness import run as validate

LOSS_LIMITS = (12.0, 15.0)


def speed_error(metric: str, error_pct: float) -> float:
    """Signed speed error (+ = model too fast) from the harness's signed error of the predicted value: a step time
    predicted too short is a model too fast, (measured / predicted - 1) = 1 / (1 + e) - 1 (harness.predict_row)."""
    if metric == "step_time_s":
        return (1.0 / (1.0 + error_pct / 100.0) - 1.0) * 100.0
    return error_pct


def _mape(errs: list[float]) -> float | None:
    return round(sum(abs(e) for e in errs) / len(errs), 3) if errs else None


def summarise(run: dict, meta: dict[str, dict], published: set[str]) -> dict:
    """One run's figures (see the module docstring), rounded to 0.001."""
    scored = [r for r in run["score"]["rows"] if r["in_sample"] is not None]
    rows = [r for r in scored if meta[r["id"]]["metric"] != "memory"]
    out: dict = {"all": {}, "groups": {}, "bands": {}, "published": {}}
    for col in ("in_sample", "loso"):
        out["all"][col] = _mape([r[col] for r in rows])
        # the published set as `validate published` reports it: its activation-memory rows included
        out["published"][col] = _mape([r[col] for r in scored if r["id"] in published])
        groups: dict[str, list[float]] = defaultdict(list)
        bands: dict[str, list[float]] = defaultdict(list)
        tables: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            m = meta[r["id"]]
            groups[m["group"]].append(r[col])
            bands[m["band"]].append(speed_error(m["metric"], r[col]))
            tables[r["table"]].append(r[col])
        for g, errs in sorted(groups.items()):
            out["groups"].setdefault(g, {})[col] = _mape(errs)
        for _, _, name in GPU_BANDS:
            if name in bands:
                errs = bands[name]
                out["bands"].setdefault(name, {})[col] = {
                    "mape_pct": _mape(errs),
                    "signed_pct": round(sum(errs) / len(errs), 3),
                    "n": len(errs),
                }
        if col == "loso":
            per = {t: _mape(e) for t, e in tables.items()}
            out["tables_over"] = {
                str(lim): sorted(((t, v) for t, v in per.items() if v > lim), key=lambda x: -x[1])
                for lim in LOSS_LIMITS
            }
            out["table_loso"] = per
    out["n_rows"] = len(rows)
    out["gemm_bf16"] = {a: w.get("refit_gemm_fraction") for a, w in run["whole_set"].items()}
    out["attention"] = run.get("hopper_attention") or run.get("whole_set_attention")
    return out


USAGE = "attn_rejudge.py OUT.json LABEL=RUN.json [LABEL=RUN.json ...]"


def parse_args(argv: list[str]) -> tuple[str, dict[str, str]]:
    """(output path, {label: run path}); a missing or malformed argument or a run file that does not exist raises
    SuperclusterError with the usage (script_args.run turns it into one line and exit 2)."""
    if len(argv) < 2 or argv[0].startswith("-") or "=" in argv[0]:
        raise SuperclusterError(f"expected an output path and at least one LABEL=RUN.json; usage: {USAGE}")
    bad = [a for a in argv[1:] if a.startswith("-") or "=" not in a or not all(a.split("=", 1))]
    if bad:
        raise SuperclusterError(f"'{bad[0]}' is not LABEL=RUN.json; usage: {USAGE}")
    runs = dict(a.split("=", 1) for a in argv[1:])
    missing = [p for p in runs.values() if not Path(p).is_file()]
    if missing:
        raise SuperclusterError(f"no run file '{missing[0]}' (a scripts/refit_protocol.py output); usage: {USAGE}")
    return argv[0], runs


def main(argv: list[str]) -> None:
    path, runs = parse_args(argv)
    meta = {
        r["id"]: {
            "metric": r["metric"] if r["group"] != "memory" else "memory",
            "group": r["group"],
            "band": gpu_band(r["gpus"]),
        }
        for r in validate("all").to_dict()["rows"]
    }
    published = {r["id"] for r in read_rows("published")[1]}
    loaded = {}
    for label, run_path in runs.items():
        with open(run_path) as fh:
            loaded[label] = json.load(fh)
    res = {label: summarise(run, meta, published) for label, run in loaded.items()}
    first = next(iter(loaded.values()))
    base = {r["id"]: r for r in first["score"]["rows"]}
    for label, other in list(loaded.items())[1:]:
        moved = [
            (r["id"], base[r["id"]]["in_sample"], r["in_sample"])
            for r in other["score"]["rows"]
            if r["in_sample"] is not None and base[r["id"]]["in_sample"] is not None
        ]
        moved.sort(key=lambda m: -abs(m[2] - m[1]))
        b_tab, v_tab = res[next(iter(res))]["table_loso"], res[label]["table_loso"]
        res[label]["tables_moved_over_2_points"] = sorted(
            ((t, b_tab[t], v) for t, v in v_tab.items() if t in b_tab and abs(v - b_tab[t]) > 2.0),
            key=lambda x: -abs(x[2] - x[1]),
        )
        res[label]["moved_most"] = [{"id": i, "from": round(a, 2), "to": round(b, 2)} for i, a, b in moved[:12]]
    with open(path, "w") as fh:
        json.dump(res, fh, indent=1)
    for label, s in res.items():
        print(f"== {label}: attention {s['attention']} gemm {s['gemm_bf16']}")
        print(f"  all {s['all']}  published {s['published']}")
        for g, v in s["groups"].items():
            print(f"  group {g}: {v}")
        for b, v in s["bands"].items():
            print(f"  band {b}: {v}")
        print(f"  tables > 12: {len(s['tables_over']['12.0'])}, > 15: {len(s['tables_over']['15.0'])}")


if __name__ == "__main__":
    run(main, sys.argv[1:])
