"""Compare predictions with published measured runs: every row's error, MAPE per source table.

Reads any CSV in the schema of the validation README. A row the model cannot
handle is reported with the reason and counts as a failure; it never stops
the run.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf.conventions import flops_per_step
from supercluster.perf.step import StepEstimate
from supercluster.plan import resolve
from supercluster.specs import EfficiencyTable
from supercluster.units import GIB
from supercluster.validate import fill_rule
from supercluster.validate.rows import RowSpecs, as_int, row_precision, row_software, row_specs

METRICS = ("step_time_s", "tokens_per_s_per_gpu", "tflops_per_gpu", "mfu", "activation_gib_per_gpu")

# The bundled sets, each a CSV in the schema of the validation README with its rows' sources: 'published' is the
# copy of ../shared/validation; the others were mined by the project from papers, vendor tables and benchmark
# files (each row with the quoted table line or sentence, its URL and a confidence). 'all' is every set.
DATASETS = {
    "published": "published_runs.csv",
    "project": "project_runs.csv",
    "fsdp": "fsdp_runs.csv",
    "reports": "reports_runs.csv",
    "moe": "moe_runs.csv",
    "vendor": "vendor_runs.csv",
    "scale": "scale_runs.csv",
}

# GPU-count bands in which the model's error is reported (is it optimistic at scale?)
GPU_BANDS = ((0, 256, "< 256"), (256, 2048, "256-2,047"), (2048, 16384, "2,048-16,383"), (16384, None, ">= 16,384"))


def gpu_band(gpus: int | None) -> str:
    if gpus is None:
        return "(unknown)"
    for low, high, name in GPU_BANDS:
        if gpus >= low and (high is None or gpus < high):
            return name
    return "(unknown)"


REQUIRED_COLUMNS = ("id", "gpu", "gpus", "metric", "value")


@dataclass
class RowResult:
    id: str
    source: str
    group: str
    metric: str
    measured: float | None
    predicted: float | None
    error_pct: float | None
    layout: str = ""
    filled: dict[str, str] = field(default_factory=dict)
    fits: bool | None = None
    status: str = "ok"
    reason: str = ""
    gpus: int | None = None
    # predicted speed over measured speed, minus 1, in percent: positive = the model is optimistic (too fast),
    # whatever the metric (for step_time_s rows it is measured/predicted - 1, the opposite sign of error_pct)
    speed_error_pct: float | None = None
    software: str = ""
    precision: str = ""
    confidence: str = ""


@dataclass
class ValidationReport:
    rows: list[RowResult]
    csv_path: str

    def _stats(self, rows: list[RowResult]) -> dict[str, Any]:
        ok = [r for r in rows if r.error_pct is not None]
        errs = [abs(r.error_pct) for r in ok if r.error_pct is not None]
        signed = [r.speed_error_pct for r in ok if r.speed_error_pct is not None]
        return {
            "n": len(rows),
            "n_predicted": len(ok),
            "n_failed": len(rows) - len(ok),
            "mape_pct": sum(errs) / len(errs) if errs else None,
            # positive: the model is optimistic (predicts a faster run than measured)
            "mean_speed_error_pct": sum(signed) / len(signed) if signed else None,
            "max_abs_error_pct": max(errs) if errs else None,
        }

    def _by(self, key: Any, rows: list[RowResult] | None = None) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[RowResult]] = {}
        for r in self.rows if rows is None else rows:
            groups.setdefault(key(r), []).append(r)
        return {k: self._stats(v) for k, v in groups.items()}

    def summary(self) -> dict[str, Any]:
        throughput = [r for r in self.rows if r.metric != "activation_gib_per_gpu"]
        bands = self._by(lambda r: gpu_band(r.gpus), throughput)
        per_source = self._by(lambda r: r.source)
        fitted = fit_documents()
        loso_sum = loso_n = 0.0
        for name, st in per_source.items():
            # a document no constant was fitted on is held out by construction: its error is out-of-sample
            st["fitted_here"] = name in fitted
            st["loso_mape_pct"] = fitted[name] if name in fitted else st["mape_pct"]
            if st["loso_mape_pct"] is not None and st["n_predicted"]:
                loso_sum += st["loso_mape_pct"] * st["n_predicted"]
                loso_n += st["n_predicted"]
        return {
            **self._stats(self.rows),
            "loso_mape_pct": loso_sum / loso_n if loso_n else None,
            "per_source": per_source,
            "per_document": self._by(lambda r: source_document(r.source)),
            "per_group": self._by(lambda r: r.group),
            # throughput rows only: the regimes in which the model must generalise
            "per_gpu_band": {name: bands[name] for _, _, name in GPU_BANDS if name in bands},
            "per_stack": self._by(lambda r: r.software or "(system default)", throughput),
            "per_precision": self._by(lambda r: r.precision or "(filled)", throughput),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"csv": self.csv_path, "rows": [asdict(r) for r in self.rows], "summary": self.summary()}


def source_table(source: str) -> str:
    """'Narayanan et al. 2021 (arXiv:2104.04473) Table 1' and 'Narayanan et al. 2021 Table 1' are one table."""
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", "", source)).strip() or "(no source)"


@lru_cache(maxsize=1)
def fit_documents() -> dict[str, float | None]:
    """Source tables a step-model constant was fitted on -> their recorded leave-one-source-out MAPE
    (data/fit_sources.json, written from scripts/fit_efficiency.py's records)."""
    path = Path(str(resources.files("supercluster.validate.data").joinpath("fit_sources.json")))
    data = json.loads(path.read_text(encoding="utf-8"))
    return {c["document"]: c["loso_mape_pct"] for c in data["constants"]}


def source_document(source: str) -> str:
    """The document a source table belongs to (the text before its first comma): the unit that
    leave-one-source-out holds out, so that two tables of one vendor page or paper count as one source."""
    return source_table(source).split(",")[0].strip() or "(no source)"


def metric_group(metric: str, precision: str, moe: bool = False) -> str:
    if metric == "activation_gib_per_gpu":
        return "memory"
    return f"{precision or 'bf16'} {'moe' if moe else 'dense'} throughput"


def measured_estimate(
    row: dict[str, str], efficiency: dict[str, EfficiencyTable] | None = None
) -> tuple[RowSpecs, StepEstimate]:
    """``row``'s specs and its step estimate at the layout validation prices it at (rows.row_specs, blank knobs
    filled by fill_rule.measured): the one resolve :func:`predict_row` and the diagnosis scripts share, so a script's
    split of a row is the layout the row's error was read at."""
    specs = row_specs(row, efficiency)
    system = specs.system
    return specs, resolve(specs.plan, specs.workload, system, specs.software, system.gpus, fill_rule.measured)


def predict_row(row: dict[str, str], efficiency: dict[str, EfficiencyTable] | None = None) -> RowResult:
    rid = (row.get("id") or "").strip() or "(no id)"
    metric = (row.get("metric") or "").strip()
    src = source_table(row.get("source") or "")
    experts = (row.get("moe_experts") or "").strip()
    model_name = (row.get("model") or "").strip()
    is_moe = bool(experts and experts != "0") or (
        model_name in catalog.names("models") and catalog.model(model_name).is_moe
    )
    group = metric_group(metric, (row.get("precision") or "").strip().lower(), is_moe)
    result = RowResult(rid, src, group, metric, None, None, None)
    result.precision = (row.get("precision") or "").strip().lower()
    result.confidence = (row.get("confidence") or "").strip().lower()
    result.software = row_software(row)[0]
    try:
        result.gpus = as_int(row, "gpus")
    except SuperclusterError:
        result.gpus = None
    try:
        try:
            measured = float(row.get("value") or "")
        except ValueError:
            raise SuperclusterError(f"value '{row.get('value')}' is not a number") from None
        if not math.isfinite(measured) or measured <= 0:
            raise SuperclusterError(f"value '{row.get('value')}' must be a finite positive measurement")
        result.measured = measured
        if metric not in METRICS:
            raise SuperclusterError(f"unknown metric '{metric}'; valid: {', '.join(METRICS)}")
        specs, est = measured_estimate(row, efficiency)
        model, system, workload = specs.model, specs.system, specs.workload
        conv = (row.get("flops_convention") or "").strip()
        step = est.step_time_s
        if metric == "step_time_s":
            pred = step
        elif metric == "tokens_per_s_per_gpu":
            pred = est.tokens_per_s_per_gpu
        elif metric == "activation_gib_per_gpu":
            pred = est.activation_first_stage_bytes / GIB
        else:
            flops = flops_per_step(conv, model, workload.global_batch, workload.seq, est.model_flops_per_step)
            per_gpu = flops / step / system.gpus
            pred = per_gpu / 1e12 if metric == "tflops_per_gpu" else per_gpu / system.accelerator.peak_flops("bf16")
        result.predicted = pred
        result.error_pct = (pred - measured) / measured * 100.0 if measured else None
        if metric == "step_time_s" and pred > 0:
            result.speed_error_pct = (measured / pred - 1.0) * 100.0
        elif metric != "activation_gib_per_gpu":
            result.speed_error_pct = result.error_pct
        result.layout = est.plan.label()
        result.filled = est.filled
        result.software = system.software
        software, why = row_software(row)
        if software and why != "given":
            result.filled = {"software": why, **result.filled}
        if software and system.software != software:  # the stack's FP16 optimizer path (rows.row_fp16_software)
            result.filled = {"software": f"{system.software} (the fp16 path of {software})", **result.filled}
        alias_why = row_precision(row)[1]
        if alias_why:
            result.filled = {"precision": alias_why, **result.filled}
        result.fits = est.memory.fits
    except SuperclusterError as err:
        result.status = "failed"
        result.reason = str(err)
    return result


def dataset_csv(name: str) -> Path:
    """The bundled CSV of a named set (see DATASETS)."""
    return Path(str(resources.files("supercluster.validate.data").joinpath(DATASETS[name])))


def bundled_csv() -> Path:
    """The bundled copy of ../shared/validation/published_runs.csv."""
    return dataset_csv("published")


def project_csv() -> Path:
    """The project's own published MoE and FP8 runs (same schema, each row cited)."""
    return dataset_csv("project")


def _read_one(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        bundled = ", ".join([*DATASETS, "all"])
        raise SuperclusterError(f"validation CSV not found: {path}; give a CSV path or a bundled set: {bundled}")
    # utf-8-sig: a byte-order mark (spreadsheets write one) is not part of the first column's name
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise SuperclusterError(f"{path}: missing column(s) {', '.join(missing)}; see the schema README")
        return list(reader)


def read_rows(csv_path: str | Path | None = None) -> tuple[Path, list[dict[str, str]]]:
    """Rows of a CSV; ``None`` or "published" is the bundled shared set, another name of DATASETS that set, "all"
    every bundled set, anything else a path."""
    if csv_path is None:
        csv_path = "published"
    if csv_path == "all":
        rows = [row for name in DATASETS for row in _read_one(dataset_csv(name))]
        return Path("all"), rows
    path = dataset_csv(str(csv_path)) if csv_path in DATASETS else Path(str(csv_path))
    return path, _read_one(path)


def run(csv_path: str | Path | None = None, efficiency: dict[str, EfficiencyTable] | None = None) -> ValidationReport:
    """Predict every row; ``efficiency`` replaces accelerators' tables (calibration profiles)."""
    path, rows = read_rows(csv_path)
    return ValidationReport([predict_row(row, efficiency) for row in rows], str(path))
