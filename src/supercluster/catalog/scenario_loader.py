"""Read scenario files (or preset names) into a typed :class:`Scenario`.

A scenario names its parts by preset or gives them inline:

    workload: {model: llama3-405b, global_batch: 2048, seq_len: 8192}
    system: {preset: dgx-h100-superpod, gpus: 16384}
    plan: {tp: 8, pp: 16}
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from supercluster import inputs
from supercluster.catalog import loader
from supercluster.errors import SuperclusterError, UnknownPresetError
from supercluster.rules import check_plan, check_sites
from supercluster.specs import Assumption, ModelSpec, PlanSpec, Scenario, WorkloadSpec

_SCENARIOS = "supercluster.catalog.data.scenarios"


def scenario_names() -> list[str]:
    folder = resources.files(_SCENARIOS)
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_yaml(text: str, where: str) -> dict[str, Any]:
    data = inputs.load_yaml(text, where)
    if not isinstance(data, dict):
        raise SuperclusterError(f"{where} must be a YAML mapping with workload, system and plan")
    return data


def read_file(ref: str) -> dict[str, Any]:
    """The raw mapping of a scenario file."""
    return read_yaml(inputs.read_text(ref, "scenario file"), ref)


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


KNOWN_KEYS = (
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
)
_MAPPINGS = ("workload", "plan", "reliability", "facility")


def check_shape(data: dict[str, Any], where: str = "scenario") -> None:
    """The top level of a scenario mapping: known keys, each of the right kind, before anything reads them."""
    extra = [str(k) for k in data if k not in KNOWN_KEYS]
    if extra:
        raise SuperclusterError(f"{where}: unknown key(s) {sorted(extra)}; valid: {sorted(KNOWN_KEYS)}")
    for key in ("workload", "system"):
        if key not in data or data[key] is None:
            raise SuperclusterError(f"{where}: missing '{key}'")
    for key in _MAPPINGS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise SuperclusterError(
                f"{where}: {key} must be a mapping (key: value lines), got {type(data[key]).__name__} {data[key]!r:.40}"
            )
    if "model" not in data["workload"]:
        raise SuperclusterError(f"{where}: workload must be a mapping with a 'model'")
    for key in ("name", "description", "software"):
        if data.get(key) is not None and not isinstance(data[key], str | int | float):
            raise SuperclusterError(f"{where}: {key} must be text, got {type(data[key]).__name__}")
    assumptions = data.get("assumptions")
    if assumptions is not None and not (
        isinstance(assumptions, list) and all(isinstance(a, dict) for a in assumptions)
    ):
        raise SuperclusterError(f"{where}: assumptions must be a list of mappings with what, value and why")


def from_dict(data: dict[str, Any], where: str = "scenario") -> Scenario:
    check_shape(data, where)
    wl = dict(data["workload"])
    wl["model"] = resolve_model(wl["model"])
    workload = loader.build(WorkloadSpec, wl, "workload")
    system = resolve_system(data["system"], gpus=data.get("gpus"))
    job_gpus = data["gpus"] if data.get("gpus") is not None else system.gpus
    software = loader.software(str(data.get("software") or system.software))
    plan = loader.build(PlanSpec, dict(data.get("plan") or {}), "plan")
    check_plan(workload.model, plan, workload.seq, workload.global_batch)
    if isinstance(job_gpus, int) and not isinstance(job_gpus, bool) and 1 <= job_gpus <= system.gpus:
        check_sites(plan, system, job_gpus)  # (a bad gpus is reported when the scenario is built)
    assumptions = [loader.build(Assumption, a, "assumption") for a in data.get("assumptions") or []]
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
    if inputs.is_file_ref(ref):
        return from_dict(read_file(ref), ref)
    if ref not in scenario_names():
        raise UnknownPresetError("scenario", ref, scenario_names())
    return from_dict(read_yaml(preset_text(ref), ref), ref)
