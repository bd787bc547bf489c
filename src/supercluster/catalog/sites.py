"""Frontier data-center sites (sites.yaml): Epoch AI's Frontier Data Centers hub figures with their dates."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from supercluster.catalog import loader
from supercluster.specs.datacenter import Site, SiteDataset


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("supercluster.catalog.data").joinpath("sites.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def dataset() -> SiteDataset:
    """The source of every site figure: the hub, its snapshot date and the date it was read."""
    return loader.build(SiteDataset, dict(_raw()["_dataset"]), "sites dataset")


def names() -> list[str]:
    return loader.names("sites")


@cache
def site(name: str) -> Site:
    return loader.build(Site, {"id": name, **loader.raw("sites", name)}, f"site {name}")


def sites() -> list[Site]:
    """Every site, largest recorded or projected power first."""
    return sorted((site(n) for n in names()), key=lambda s: (-s.peak.power_mw, s.id))


def listing() -> dict[str, Any]:
    """What `supercluster presets sites` prints: the dataset's provenance and one row per site."""
    ds = dataset()
    rows = []
    for s in sites():
        peak = s.peak
        counted = [m for m in s.milestones if m.gpus]
        rows.append(
            {
                "id": s.id,
                "name": s.name,
                "owner": s.owner,
                "system": s.system,
                "power_mw": s.power_mw,
                "h100e": s.h100e,
                "peak_power_mw": peak.power_mw,
                "peak_h100e": peak.h100e,
                "peak_date": peak.date.isoformat(),
                "gpus": counted[-1].gpus if counted else None,
                "gpu_type": counted[-1].gpu_type if counted else "",
                "gpus_date": counted[-1].date.isoformat() if counted else None,
                "milestones": len(s.milestones),
            }
        )
    return {"dataset": ds.model_dump(mode="json"), "sites": rows}
