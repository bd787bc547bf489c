"""A scenario bundles one workload, one system and one plan."""

from pydantic import Field, model_validator

from supercluster.specs.base import Spec
from supercluster.specs.facility import FacilityAssumptions
from supercluster.specs.plan import PlanSpec
from supercluster.specs.reliability import ReliabilitySpec
from supercluster.specs.system import SoftwareProfile, SystemSpec
from supercluster.specs.workload import WorkloadSpec


class Assumption(Spec):
    """A value the scenario rests on that no source states, with its rationale."""

    what: str
    value: str
    why: str


class Scenario(Spec):
    name: str
    description: str = ""
    workload: WorkloadSpec
    system: SystemSpec
    software: SoftwareProfile
    plan: PlanSpec = PlanSpec()
    gpus: int = Field(ge=1, description="GPUs the job uses (at most the system's)")
    reliability: ReliabilitySpec
    facility: FacilityAssumptions
    assumptions: list[Assumption] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fits_system(self) -> "Scenario":
        if self.gpus > self.system.gpus:
            raise ValueError(f"the job's gpus({self.gpus}) exceed system {self.system.id}'s {self.system.gpus}")
        return self
