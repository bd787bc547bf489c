"""Load the cited YAML catalog and turn preset names into typed specs."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from supercluster.errors import SuperclusterError, UnknownPresetError
from supercluster.specs import Accelerator, ModelSpec, ReliabilitySpec, SoftwareProfile, SystemSpec
from supercluster.specs.facility import FacilityAssumptions
from supercluster.specs.swings import SwingAssumptions

_DATA = "supercluster.catalog.data"


@cache
def _table(name: str) -> dict[str, Any]:
    text = resources.files(_DATA).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    # libyaml's C parser where PyYAML has it: the same safe loader, ten times faster on the catalog (0.58 to 0.07 s)
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    # Keys starting with "_" hold YAML anchors shared by entries; they are not presets.
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def pydantic_message(err: ValidationError, what: str) -> str:
    """One readable line from a pydantic error: field path, problem, input."""
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].replace("Value error, ", "")
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = f" (+{len(err.errors()) - 3} more)" if len(err.errors()) > 3 else ""
    return f"invalid {what}: " + "; ".join(parts) + more


def build(cls: type, data: dict[str, Any], what: str) -> Any:
    try:
        return cls(**data)
    except ValidationError as err:
        raise SuperclusterError(pydantic_message(err, what)) from None
    except TypeError as err:
        raise SuperclusterError(f"invalid {what}: {err}") from None


def names(kind: str) -> list[str]:
    return sorted(_table(kind))


def raw(kind: str, name: str) -> dict[str, Any]:
    """The catalog entry as written (for callers that need a flag before building)."""
    return _entry(kind, name, kind.rstrip("s"))


def _entry(kind: str, name: str, label: str) -> dict[str, Any]:
    table = _table(kind)
    if name not in table:
        raise UnknownPresetError(label, name, list(table))
    return dict(table[name])


@cache
def accelerator(name: str) -> Accelerator:
    return build(Accelerator, {"id": name, **_entry("accelerators", name, "accelerator")}, f"accelerator {name}")


@cache
def model(name: str) -> ModelSpec:
    return build(ModelSpec, {"name": name, **_entry("models", name, "model")}, f"model {name}")


@cache
def software(name: str) -> SoftwareProfile:
    return build(SoftwareProfile, {"id": name, **_entry("software", name, "software")}, f"software {name}")


def node(name: str) -> dict[str, Any]:
    return _entry("nodes", name, "node")


def system(name: str, gpus: int | None = None, **overrides: Any) -> SystemSpec:
    """A system preset; generic presets take any GPU count, named machines at most their own."""
    entry = _entry("systems", name, "system")
    storage = overrides.get("storage")
    if isinstance(storage, dict) and isinstance(entry.get("storage"), dict):
        # a scenario may change one storage figure (say the write bandwidth) and keep the rest of the preset's
        base = entry["storage"]
        note = storage.get("source") or (
            f"set by the scenario: {', '.join(sorted(str(k) for k in storage))}; the rest: {base.get('source', '')}"
        )
        overrides = {**overrides, "storage": {**base, **storage, "source": note}}
    entry.update(overrides)
    acc = entry.pop("accelerator")
    if isinstance(acc, Accelerator):
        entry["accelerator"] = acc
    elif isinstance(acc, str):
        entry["accelerator"] = accelerator(acc)
    else:
        entry["accelerator"] = build(Accelerator, acc, "accelerator")
    if gpus is not None:
        gpus = whole_number(gpus, "gpus")
        if gpus < 1:
            raise SuperclusterError(f"gpus must be >= 1, got {gpus}")
        if not entry.get("generic") and gpus > entry["gpus"]:
            raise SuperclusterError(
                f"system {name} has {entry['gpus']} GPUs; a job cannot use {gpus} "
                f"(use a generic system such as dgx-h100-superpod for any size)"
            )
        if _table("systems")[name].get("sites") and "sites" not in overrides and gpus != entry["gpus"]:
            raise SuperclusterError(
                f"system {name} is made of sites and cannot be resized to {gpus:,} GPUs; give the job's "
                "GPUs as the scenario's gpus (a job may use part of a system)"
            )
        entry["gpus"] = gpus
    spec = build(SystemSpec, {"id": name, **entry}, f"system {name}")
    if gpus is not None and entry.get("generic"):
        from supercluster.fabric.topology import max_gpus

        limit, why = max_gpus(spec)
        if gpus > limit:
            raise SuperclusterError(f"gpus({gpus:,}) exceed what system {name}'s fabric can build: {limit:,} ({why})")
    return spec


def whole_number(value: Any, name: str) -> int:
    """A count as an int: 64 and 64.0 are; 64.9, true, 'many', NaN and infinity are not."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise SuperclusterError(f"{name} must be a whole number, got {value!r}")


def reliability(overrides: dict[str, Any] | None = None) -> ReliabilitySpec:
    """The cited failure model (rates per component-hour from the Llama 3 table), with user overrides.

    ``overrides`` may set ``rate_scale``, ``spare_nodes``, ``infant_mortality``, fields of ``recovery``,
    ``checkpoint`` and ``fault_tolerance``, and per component ``rate_per_hour``, ``detect_s`` or ``swap``.
    """
    raw = _table("reliability")
    basis = raw["basis"]
    per_count = {"gpu": basis["gpus"], "node": basis["nodes"], "nic": basis["nics"]}
    comps: dict[str, Any] = {}
    for name, c in raw["components"].items():
        comps[name] = {
            "category": c["category"],
            "per": c["per"],
            "rate_per_hour": c["count"] / (per_count[c["per"]] * basis["hours"]),
            "detect_s": c["detect_s"],
            "swap": c["swap"],
        }
    recovery = {k: v for k, v in raw["recovery"].items() if k != "source"}
    ckpt = {k: v for k, v in raw["checkpoint"].items() if k != "source"}
    tolerance = dict(raw.get("fault_tolerance") or {})
    data: dict[str, Any] = {
        "components": comps,
        "recovery": recovery,
        "checkpoint": ckpt,
        "fault_tolerance": tolerance,
        "source": basis["source"],
        "sources": dict(raw.get("sources") or {}),
    }
    over = dict(overrides or {})
    allowed = {
        "rate_scale",
        "spare_nodes",
        "infant_mortality",
        "recovery",
        "checkpoint",
        "components",
        "fault_tolerance",
    }
    unknown = set(over) - allowed
    if unknown:
        raise SuperclusterError(f"reliability: unknown key(s) {sorted(unknown)}; valid: {sorted(allowed)}")
    for key in ("recovery", "checkpoint", "fault_tolerance"):
        change = over.pop(key, None) or {}
        if not isinstance(change, dict):
            raise SuperclusterError(f"reliability.{key} must be a mapping, got {type(change).__name__}")
        data[key] = {**data[key], **change}
    for name, change in (over.pop("components", None) or {}).items():
        if name not in comps:
            comps[name] = dict(change)
        else:
            comps[name] = {**comps[name], **change}
    data.update(over)
    return build(ReliabilitySpec, data, "reliability")


def facility(overrides: dict[str, Any] | None = None) -> FacilityAssumptions:
    """Facility assumptions (facility.yaml) with scenario overrides of any field."""
    raw = _table("facility")
    power = {k: v for k, v in raw["power"].items() if not k.endswith("_source")}
    prices = {k: v for k, v in raw["prices"].items() if not k.endswith("_source")}
    sources = {f"power.{k.removesuffix('_source')}": v for k, v in raw["power"].items() if k.endswith("_source")}
    sources |= {f"prices.{k.removesuffix('_source')}": v for k, v in raw["prices"].items() if k.endswith("_source")}
    sources |= {"pue": raw["pue"]["source"], "water": raw["water"]["source"], "emissions": raw["emissions"]["source"]}
    data: dict[str, Any] = {
        "power": power,
        "prices": prices,
        "pue_liquid": raw["pue"]["liquid"],
        "pue_air": raw["pue"]["air"],
        "wue_l_per_kwh": raw["water"]["wue_l_per_kwh"],
        "kg_co2_per_kwh": raw["emissions"]["kg_co2_per_kwh"],
        "sources": sources,
    }
    over = dict(overrides or {})
    allowed = {"power", "prices", "pue", "wue_l_per_kwh", "kg_co2_per_kwh", "pue_liquid", "pue_air"}
    unknown = set(over) - allowed
    if unknown:
        raise SuperclusterError(f"facility: unknown key(s) {sorted(unknown)}; valid: {sorted(allowed)}")
    for key in ("power", "prices"):
        data[key] = {**data[key], **(over.pop(key, None) or {})}
    data.update(over)
    return build(FacilityAssumptions, data, "facility")


def power_swings() -> SwingAssumptions:
    """Power-swing assumptions (power_swings.yaml) as a typed spec; MW and MWh there, W and J in the spec."""
    raw = _table("power_swings")
    store = raw["reference_storage"]
    sources = {k.removesuffix("_source"): v for k, v in raw.items() if k.endswith("_source")}
    sources |= {f"reference_storage.{k.removesuffix('_source')}": v for k, v in store.items() if k.endswith("_source")}
    data = {
        "gpu_slew_s": raw["gpu_slew_s"],
        "grid_response_s": raw["grid_response_s"],
        "bands": raw["bands"],
        "ramp_limits_w_per_s": [float(r) * 1e6 for r in raw["ramp_limits_mw_per_s"]],
        "reference_storage": {
            "name": store["name"],
            "power_w": float(store["power_mw"]) * 1e6,
            "energy_j": float(store["energy_mwh"]) * 3.6e9,
        },
        "sources": sources,
    }
    result: SwingAssumptions = build(SwingAssumptions, data, "power_swings.yaml")
    return result
