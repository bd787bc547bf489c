"""Typed, validated inputs. This package imports nothing else of supercluster."""

from supercluster.specs.accelerator import Accelerator, EfficiencyTable
from supercluster.specs.model import ModelSpec
from supercluster.specs.plan import PlanSpec, ResolvedPlan
from supercluster.specs.scenario import Assumption, Scenario
from supercluster.specs.system import FabricSpec, FacilitySpec, Partition, SoftwareProfile, SystemSpec
from supercluster.specs.workload import WorkloadSpec

__all__ = [
    "Accelerator",
    "Assumption",
    "EfficiencyTable",
    "FabricSpec",
    "FacilitySpec",
    "ModelSpec",
    "Partition",
    "PlanSpec",
    "ResolvedPlan",
    "Scenario",
    "SoftwareProfile",
    "SystemSpec",
    "WorkloadSpec",
]
