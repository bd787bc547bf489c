"""Compare predictions with published measured runs: every row's error, MAPE per source table.

Reads any CSV in the schema of the validation README. A row the model cannot
handle is reported with the reason and counts as a failure; it never stops
the run.
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf.conventions import flops_per_step
from supercluster.plan import resolve
from supercluster.specs import EfficiencyTable
from supercluster.units import GIB
from supercluster.validate.rows import row_model, row_plan, row_software, row_system, row_workload

METRICS = ("step_time_s", "tokens_per_s_per_gpu", "tflops_per_gpu", "mfu", "activation_gib_per_gpu")
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


@dataclass
class ValidationReport:
    rows: list[RowResult]
    csv_path: str

    def _stats(self, rows: list[RowResult]) -> dict[str, Any]:
        ok = [r for r in rows if r.error_pct is not None]
        errs = [abs(r.error_pct) for r in ok if r.error_pct is not None]
        return {
            "n": len(rows),
            "n_predicted": len(ok),
            "n_failed": len(rows) - len(ok),
            "mape_pct": sum(errs) / len(errs) if errs else None,
            "max_abs_error_pct": max(errs) if errs else None,
        }

    def summary(self) -> dict[str, Any]:
        by_source: dict[str, list[RowResult]] = {}
        by_group: dict[str, list[RowResult]] = {}
        for r in self.rows:
            by_source.setdefault(r.source, []).append(r)
            by_group.setdefault(r.group, []).append(r)
        return {
            **self._stats(self.rows),
            "per_source": {k: self._stats(v) for k, v in by_source.items()},
            "per_group": {k: self._stats(v) for k, v in by_group.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        return {"csv": self.csv_path, "rows": [asdict(r) for r in self.rows], "summary": self.summary()}


def source_table(source: str) -> str:
    """'Narayanan et al. 2021 (arXiv:2104.04473) Table 1' and 'Narayanan et al. 2021 Table 1' are one table."""
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", "", source)).strip() or "(no source)"


def metric_group(metric: str, precision: str, moe: bool = False) -> str:
    if metric == "activation_gib_per_gpu":
        return "memory"
    return f"{precision or 'bf16'} {'moe' if moe else 'dense'} throughput"


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
    try:
        try:
            measured = float(row.get("value") or "")
        except ValueError:
            raise SuperclusterError(f"value '{row.get('value')}' is not a number") from None
        result.measured = measured
        if metric not in METRICS:
            raise SuperclusterError(f"unknown metric '{metric}'; valid: {', '.join(METRICS)}")
        model = row_model(row)
        system = row_system(row, efficiency)
        workload = row_workload(row, model)
        plan = row_plan(row)
        sw = catalog.software(system.software)
        est = resolve(plan, workload, system, sw, system.gpus)
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
        result.layout = est.plan.label()
        result.filled = est.filled
        software, why = row_software(row)
        if software and why != "given":
            result.filled = {"software": why, **result.filled}
        result.fits = est.memory.fits
    except SuperclusterError as err:
        result.status = "failed"
        result.reason = str(err)
    return result


def bundled_csv() -> Path:
    """The bundled copy of ../shared/validation/published_runs.csv."""
    return Path(str(resources.files("supercluster.validate.data").joinpath("published_runs.csv")))


def project_csv() -> Path:
    """The project's own published MoE and FP8 runs (same schema, each row cited)."""
    return Path(str(resources.files("supercluster.validate.data").joinpath("project_runs.csv")))


def read_rows(csv_path: str | Path | None = None) -> tuple[Path, list[dict[str, str]]]:
    """Rows of a CSV; ``None`` or "published" is the bundled shared set, "project" the project's MoE/FP8 set."""
    named = {None: bundled_csv, "published": bundled_csv, "project": project_csv}
    path = named[csv_path]() if csv_path in named else Path(str(csv_path))
    if not path.exists():
        raise SuperclusterError(f"validation CSV not found: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise SuperclusterError(f"{path}: missing column(s) {', '.join(missing)}; see the schema README")
        return path, list(reader)


def run(csv_path: str | Path | None = None, efficiency: dict[str, EfficiencyTable] | None = None) -> ValidationReport:
    """Predict every row; ``efficiency`` replaces accelerators' tables (calibration profiles)."""
    path, rows = read_rows(csv_path)
    return ValidationReport([predict_row(row, efficiency) for row in rows], str(path))
