"""Turn one row of the published-runs CSV schema into workload, system and plan.

Schema: ../shared/validation/README.md. Blank cells are unknowns: the model
fills them (:mod:`supercluster.plan.fill`, choosing among the layouts that fit by
the stack's documented defaults, :mod:`supercluster.validate.fill_rule`) and
reports what it chose.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from supercluster import catalog
from supercluster.catalog.loader import build
from supercluster.errors import SuperclusterError
from supercluster.specs import EfficiencyTable, ModelSpec, PlanSpec, SoftwareProfile, SystemSpec, WorkloadSpec

ARCH_INT = (
    "layers",
    "hidden",
    "ffn_hidden",
    "heads",
    "kv_heads",
    "head_dim",
    "vocab",
    "seq_len",
    "moe_experts",
    "moe_topk",
    "moe_ffn_hidden",
    "moe_shared_experts",
    "moe_dense_layers",
    # optional column beyond the shared schema: multi-token-prediction modules the run trained (DeepSeek-V3's preset
    # carries 1; a run that switched MTP off says 0)
    "mtp_depth",
)
PLAN_INT = ("tp", "pp", "vpp", "cp", "ep", "etp", "dp", "zero", "micro_batch", "local_batch")

# The generic cluster of each accelerator when a row names no system (schema README).
GENERIC_SYSTEM = {
    "a100-sxm-80gb": "dgx-a100-superpod",
    "a100-sxm-40gb": "dgx-a100-superpod",
    "h100-sxm-80gb": "dgx-h100-superpod",
    "h100-pcie-80gb": "dgx-h100-superpod",
    "h100-hbm2e-96gb": "dgx-h100-superpod",
    "h800-sxm-80gb": "dgx-h100-superpod",
    "h200-sxm-141gb": "dgx-h100-superpod",
    "b200": "dgx-b200-superpod",
    "gb200": "gb200-nvl72-cluster",
    "b300": "dgx-b300-superpod",
    "gb300": "gb300-nvl72-cluster",
    "mi250x": "mi250x-cluster",
    "mi300x": "mi300x-cluster",
    "mi300a": "mi300x-cluster",
    "max-1550": "max-1550-cluster",
}


# The training stack of a published run whose source fixes it, where the row names none: the code a paper
# measured is part of the run, as its GPU is. Narayanan et al. 2021 measured Megatron-LM before its 2021-22
# additions; NeMo's performance summaries ran its performance recipes (BF16 gradients); Llama 3 ran Meta's
# own FSDP stack (ZeRO-2). Each profile cites its evidence in software.yaml; a row's own software column
# takes precedence.
SOURCE_SOFTWARE = {
    "Narayanan et al. 2021": "megatron-lm-2021",
    "NVIDIA/NeMo docs performance_summary.md": "nemo-2024",
    "Llama 3 Herd of Models": "llama3-meta-2024",
}


def row_software(row: dict[str, str]) -> tuple[str, str]:
    """(software profile, why) for a row: its software column, else its source's known stack, else ("", "")
    for the system's default stack."""
    named = (row.get("software") or "").strip()
    if named:
        return named, "given"
    source = (row.get("source") or "").strip()
    for prefix, software in SOURCE_SOFTWARE.items():
        if source.startswith(prefix):
            return software, f"{software} (the stack behind {prefix})"
    return "", ""


def blank(row: dict[str, str], key: str) -> bool:
    return (row.get(key) or "").strip() == ""


def as_int(row: dict[str, str], key: str) -> int | None:
    if blank(row, key):
        return None
    text = row[key].strip()
    try:
        value = float(text)
    except ValueError:
        raise SuperclusterError(f"column {key}: '{text}' is not a number") from None
    if value != int(value):
        raise SuperclusterError(f"column {key}: '{text}' must be a whole number")
    return int(value)


def as_bool(row: dict[str, str], key: str) -> bool | None:
    if blank(row, key):
        return None
    text = row[key].strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise SuperclusterError(f"column {key}: '{row[key]}' must be true or false")


def row_model(row: dict[str, str]) -> ModelSpec:
    name = (row.get("model") or "").strip() or "custom"
    base: dict[str, Any] = {}
    if name in catalog.names("models"):
        base = catalog.model(name).model_dump()
    base["name"] = name
    for key in ARCH_INT:
        value = as_int(row, key)
        if value is not None:
            base[key] = value
    if not blank(row, "activation"):
        base["activation"] = row["activation"].strip()
    # optional column beyond the shared schema: the router the measured run used; NeMo AutoModel's benchmark
    # recipes replace the learned router with a balanced one (fake_balanced_gate: true)
    if not blank(row, "moe_router"):
        router = row["moe_router"].strip().lower()
        # a published run's routing as its recipe names it -> the model's router and capacity: Megatron-Core's
        # dropless and token-dropping routers are learned routers, the latter with experts padded to a
        # capacity factor (token-drop-cf<N>, --moe-expert-capacity-factor N)
        if router == "dropless":
            router = "learned"
        elif router.startswith("token-drop-cf"):
            try:
                base["moe_capacity_factor"] = float(router.removeprefix("token-drop-cf"))
            except ValueError:
                raise SuperclusterError(f"moe_router '{router}': token-drop-cf must end in a number") from None
            router = "learned"
        base["moe_router"] = router
    missing = [k for k in ("layers", "hidden", "heads", "vocab") if k not in base]
    if missing:
        raise SuperclusterError(f"model '{name}' is not a preset and the row lacks {', '.join(missing)}")
    base.setdefault("ffn_hidden", 4 * base["hidden"])
    if base.get("kv_heads") == base.get("heads"):
        base["kv_heads"] = None
    return build(ModelSpec, base, f"model {name}")


def row_system(row: dict[str, str], efficiency: dict[str, EfficiencyTable] | None = None) -> SystemSpec:
    gpu = (row.get("gpu") or "").strip()
    gpus = as_int(row, "gpus")
    if gpus is None:
        raise SuperclusterError("column gpus is blank")
    name = (row.get("system") or "").strip()
    if not name:
        if gpu not in GENERIC_SYSTEM:
            raise SuperclusterError(f"unknown gpu '{gpu}'; valid: {', '.join(sorted(GENERIC_SYSTEM))}")
        name = GENERIC_SYSTEM[gpu]
    overrides: dict[str, Any] = {"generic": True}
    # optional column beyond the shared schema: the training stack the run used (FSDP, DualPipe, ...);
    # blank keeps the system's default stack
    software = row_software(row)[0]
    if (row.get("precision") or "").strip().lower() == "fp16":
        software = row_fp16_software(row, software or catalog.system(name).software)
    if software:
        overrides["software"] = _known_software(software)
    if gpu:
        overrides["accelerator"] = gpu
    if efficiency:
        acc_id = gpu or catalog.system(name).accelerator.id
        if acc_id in efficiency:
            overrides["accelerator"] = catalog.accelerator(acc_id).model_copy(update={"efficiency": efficiency[acc_id]})
    return catalog.system(name, gpus=gpus, **overrides)


def row_workload(row: dict[str, str], model: ModelSpec) -> WorkloadSpec:
    gb = as_int(row, "global_batch")
    if gb is None:
        raise SuperclusterError("column global_batch is blank")
    return build(WorkloadSpec, {"model": model, "seq_len": as_int(row, "seq_len"), "global_batch": gb}, "workload")


# FP16 (with loss scaling) runs the tensor cores at the BF16 rate on every card the schema names (A100 datasheet:
# 312 TFLOP/s for both; H100 SXM: 989 for both), with the same operand and activation bytes: the step model
# prices it as BF16 and says so.
PRECISION_ALIASES = {"fp16": "bf16"}


def _known_software(name: str) -> str:
    """``name`` when it is a software profile of the catalog, else the error that lists the valid ones."""
    if name not in catalog.names("software"):
        raise SuperclusterError(f"unknown software '{name}'; valid: {', '.join(catalog.names('software'))}")
    return name


def row_fp16_software(row: dict[str, str], software: str) -> str:
    """The software profile a row runs under: ``software``, or the profile it names as its FP16 path
    (SoftwareProfile.fp16_profile) when the row trained in FP16. FP16 runs the tensor cores as BF16 does
    (PRECISION_ALIASES), but a stack's FP16 optimizer may reduce its gradients differently (DeepSpeed's ZeRO FP16
    optimizer: fp16 on the wire, catalog/data/software.yaml megatron-deepspeed-2022-fp16)."""
    if not software or (row.get("precision") or "").strip().lower() != "fp16":
        return software
    variant = catalog.software(_known_software(software)).fp16_profile
    if variant is None:
        return software
    if variant not in catalog.names("software"):
        valid = ", ".join(catalog.names("software"))
        raise SuperclusterError(f"software '{software}' names unknown fp16_profile '{variant}'; valid: {valid}")
    return variant


def row_precision(row: dict[str, str]) -> tuple[str | None, str]:
    """(precision the step model runs, why it differs from the row's) for a row."""
    if blank(row, "precision"):
        return None, ""
    given = row["precision"].strip().lower()
    if given in PRECISION_ALIASES:
        alias = PRECISION_ALIASES[given]
        return alias, f"{given} priced as {alias} (same tensor-core rate and bytes per element)"
    return given, ""


def row_plan(row: dict[str, str]) -> PlanSpec:
    data: dict[str, Any] = {k: as_int(row, k) for k in PLAN_INT}
    data["sequence_parallel"] = as_bool(row, "sequence_parallel")
    data["recompute"] = None if blank(row, "recompute") else row["recompute"].strip().lower()
    # optional column beyond the shared schema: the share of a full recompute the run re-ran
    if not blank(row, "recompute_fraction"):
        try:
            data["recompute_fraction"] = float(row["recompute_fraction"])
        except ValueError:
            text = row["recompute_fraction"]
            raise SuperclusterError(f"column recompute_fraction: '{text}' is not a number") from None
    modules = row_recompute_modules(row)
    if modules:
        # Megatron-Core's module list acts under --recompute-granularity selective only (every quote says so)
        if data["recompute"] not in (None, "selective"):
            raise SuperclusterError(
                f"row {row.get('id', '')}: recompute_modules.csv lists {' '.join(modules)}, a selective recompute, "
                f"but column recompute says {data['recompute']}; valid: selective or blank"
            )
        data["recompute"], data["recompute_modules"] = "selective", modules
    data["precision"] = row_precision(row)[0]
    return build(PlanSpec, data, "plan")


@cache
def _modules_table() -> dict[str, tuple[str, ...]]:
    """validate/data/recompute_modules.csv: the Megatron-Core selective recompute modules of the rows whose source
    states them, by row id, each with its quote and address."""
    text = resources.files("supercluster.validate.data").joinpath("recompute_modules.csv").read_text()
    return {r["id"]: tuple(r["recompute_modules"].split()) for r in csv.DictReader(io.StringIO(text))}


def row_recompute_modules(row: dict[str, str]) -> tuple[str, ...]:
    """The recompute modules the row's source states (validate/data/recompute_modules.csv), or () when none."""
    return _modules_table().get((row.get("id") or "").strip(), ())


@dataclass(frozen=True)
class RowSpecs:
    """The specs one row is predicted from: its model, system, workload, plan and the system's software profile."""

    model: ModelSpec
    system: SystemSpec
    workload: WorkloadSpec
    plan: PlanSpec
    software: SoftwareProfile


def row_specs(row: dict[str, str], efficiency: dict[str, EfficiencyTable] | None = None) -> RowSpecs:
    """Every spec of ``row`` (row_model, row_system, row_workload, row_plan, in that order, and the system's software
    profile from the catalog): the one place that assembles what the harness and the tests resolve a row with."""
    model = row_model(row)
    system = row_system(row, efficiency)
    workload = row_workload(row, model)
    plan = row_plan(row)
    return RowSpecs(model, system, workload, plan, catalog.software(system.software))
