"""Typed, validated inputs. This package imports nothing else of supercluster."""

from supercluster.specs.accelerator import Accelerator, EfficiencyTable
from supercluster.specs.model import ModelSpec
from supercluster.specs.plan import PlanSpec, ResolvedPlan
from supercluster.specs.reliability import (
    CheckpointSpec,
    ComponentFailure,
    FaultTolerance,
    InfantMortality,
    Recovery,
    ReliabilitySpec,
)
from supercluster.specs.scenario import Assumption, Scenario
from supercluster.specs.sites import SiteSpec, WanSpec
from supercluster.specs.storage import StorageSpec
from supercluster.specs.system import FabricSpec, FacilitySpec, Partition, SoftwareProfile, SystemSpec
from supercluster.specs.workload import WorkloadSpec

__all__ = [
    "Accelerator",
    "Assumption",
    "CheckpointSpec",
    "ComponentFailure",
    "EfficiencyTable",
    "FabricSpec",
    "FacilitySpec",
    "FaultTolerance",
    "InfantMortality",
    "ModelSpec",
    "Partition",
    "PlanSpec",
    "Recovery",
    "ReliabilitySpec",
    "ResolvedPlan",
    "Scenario",
    "SiteSpec",
    "SoftwareProfile",
    "StorageSpec",
    "SystemSpec",
    "WanSpec",
    "WorkloadSpec",
]
