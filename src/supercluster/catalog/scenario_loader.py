"""Read scenario files (or preset names) into a typed :class:`Scenario`.

A scenario names its parts by preset or gives them inline:

    workload: {model: llama3-405b, global_batch: 2048, seq_len: 8192}
    system: {preset: dgx-h100-superpod, gpus: 16384}
    plan: {tp: 8, pp: 16}
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from supercluster.catalog import loader
from supercluster.errors import SuperclusterError, UnknownPresetError
from supercluster.specs import Assumption, ModelSpec, PlanSpec, Scenario, WorkloadSpec

_SCENARIOS = "supercluster.catalog.data.scenarios"


def scenario_names() -> list[str]:
    folder = resources.files(_SCENARIOS)
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise SuperclusterError(f"malformed YAML in {where}{at}: {problem}") from None
    if not isinstance(data, dict):
        raise SuperclusterError(f"{where} must be a YAML mapping with workload, system and plan")
    return data


def resolve_model(value: Any) -> ModelSpec:
    if isinstance(value, str):
        return loader.model(value)
    if isinstance(value, dict):
        value = dict(value)
        base = value.pop("preset", None)
        if base:
            merged = {**loader.model(base).model_dump(), **value}
            return loader.build(ModelSpec, merged, f"model {base}")
        return loader.build(ModelSpec, {"name": value.pop("name", "custom"), **value}, "model")
    raise SuperclusterError("workload.model must be a preset name or a mapping")


def resolve_system(value: Any, gpus: int | None = None) -> Any:
    """A system preset; a generic one is sized to the job, a named machine keeps its own size."""
    if isinstance(value, str):
        value = {"preset": value}
    if not isinstance(value, dict):
        raise SuperclusterError("system must be a preset name or a mapping with 'preset'")
    value = dict(value)
    preset = value.pop("preset", None)
    if preset is None:
        raise SuperclusterError(f"system needs a preset name; valid: {', '.join(loader.names('systems'))}")
    size = value.pop("gpus", None)
    generic = bool(loader.raw("systems", preset).get("generic"))
    if generic and size is None:
        size = gpus
    return loader.system(preset, gpus=size, **value)


def from_dict(data: dict[str, Any], where: str = "scenario") -> Scenario:
    known = {
        "name",
        "description",
        "workload",
        "system",
        "plan",
        "software",
        "gpus",
        "assumptions",
        "reliability",
        "facility",
    }
    extra = set(data) - known
    if extra:
        raise SuperclusterError(f"{where}: unknown key(s) {sorted(extra)}; valid: {sorted(known)}")
    for key in ("workload", "system"):
        if key not in data:
            raise SuperclusterError(f"{where}: missing '{key}'")
    wl = dict(data["workload"]) if isinstance(data["workload"], dict) else None
    if wl is None or "model" not in wl:
        raise SuperclusterError(f"{where}: workload must be a mapping with a 'model'")
    wl["model"] = resolve_model(wl["model"])
    workload = loader.build(WorkloadSpec, wl, "workload")
    system = resolve_system(data["system"], gpus=data.get("gpus"))
    job_gpus = data.get("gpus") or system.gpus
    software = loader.software(data.get("software") or system.software)
    plan = loader.build(PlanSpec, dict(data.get("plan") or {}), "plan")
    assumptions = [loader.build(Assumption, a, "assumption") for a in data.get("assumptions") or []]
    if data.get("reliability") is not None and not isinstance(data["reliability"], dict):
        raise SuperclusterError(f"{where}: reliability must be a mapping of overrides")
    return loader.build(
        Scenario,
        {
            "name": str(data.get("name", where)),
            "description": str(data.get("description", "")),
            "workload": workload,
            "system": system,
            "software": software,
            "plan": plan,
            "gpus": job_gpus,
            "reliability": loader.reliability(data.get("reliability")),
            "facility": loader.facility(data.get("facility")),
            "assumptions": assumptions,
        },
        where,
    )


@cache
def preset_text(name: str) -> str:
    return resources.files(_SCENARIOS).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def load(ref: str) -> Scenario:
    """A scenario from a file path or a bundled preset name."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise SuperclusterError(f"scenario file not found: {ref}")
        return from_dict(read_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))
    if ref not in scenario_names():
        raise UnknownPresetError("scenario", ref, scenario_names())
    return from_dict(read_yaml(preset_text(ref), ref), ref)
