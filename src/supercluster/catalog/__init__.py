"""Cited catalog data and the loaders that turn preset names and scenario files into specs."""

from supercluster.catalog.loader import accelerator, model, names, node, software, system
from supercluster.catalog.scenario_loader import from_dict, load, scenario_names

__all__ = [
    "accelerator",
    "from_dict",
    "load",
    "model",
    "names",
    "node",
    "scenario_names",
    "software",
    "system",
]
