"""Failure, recovery and checkpoint parameters. Every number finite and non-negative, or refused."""

from typing import Literal

from pydantic import Field, model_validator

from supercluster.specs.base import Spec

Finite = Field(ge=0, allow_inf_nan=False)


class ComponentFailure(Spec):
    category: str
    per: Literal["gpu", "node", "nic"]
    rate_per_hour: float = Field(ge=0, le=1.0, allow_inf_nan=False, description="failures per component-hour")
    detect_s: float = Field(ge=0, le=7 * 86400, allow_inf_nan=False)
    swap: bool = Field(description="recovery needs a node swapped in from the spare pool")


class Recovery(Spec):
    scheduler_s: float = Field(ge=0, le=86400, allow_inf_nan=False)
    process_start_s: float = Field(ge=0, le=86400, allow_inf_nan=False)
    init_s_per_10k_gpus: float = Field(ge=0, le=86400, allow_inf_nan=False)
    swap_s: float = Field(ge=0, le=86400, allow_inf_nan=False)
    repair_hours: float = Field(ge=0, le=24 * 365, allow_inf_nan=False)
    planned_per_day: float = Field(ge=0, le=100, allow_inf_nan=False)
    planned_downtime_s: float = Field(ge=0, le=86400, allow_inf_nan=False)
    straggler_slowdown: float = Field(ge=0, le=1.0, allow_inf_nan=False)
    straggler_sigma: float = Field(ge=0, le=1.0, allow_inf_nan=False)


class CheckpointSpec(Spec):
    """How the job checkpoints. Storage bandwidth is not here: it is a property of the system (SystemSpec.storage).

    ``tier`` storage: every checkpoint goes to the system's checkpoint storage. ``tier`` memory: checkpoints go
    to the host memory of ``memory_replicas`` nodes (the node's own and its peers', as Gemini, SOSP'23, and
    ByteRobust do) and to storage every ``persist_interval_s``; a failure recovers from a peer unless a whole
    replica group is lost.
    """

    bytes_per_param: float = Field(gt=0, le=64, allow_inf_nan=False)
    snapshot_gb_per_s_per_gpu: float = Field(
        gt=0, le=10000, allow_inf_nan=False, description="copy of a GPU's state to host memory, GB/s"
    )
    coordination_s: float = Field(
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="blocking cost of each persistent checkpoint beyond the snapshot: planning, metadata, barriers",
    )
    asynchronous: bool = True
    interval_s: float | None = Field(
        default=None, gt=0, le=30 * 86400, allow_inf_nan=False, description="blank = Daly's optimum"
    )
    tier: Literal["storage", "memory"] = "storage"
    memory_replicas: int = Field(ge=2, le=8, description="copies of each node's state in host memory (memory tier)")
    persist_interval_s: float = Field(
        gt=0,
        le=30 * 86400,
        allow_inf_nan=False,
        description="compute s between persistent checkpoints (memory tier)",
    )
    host_memory_budget_gb_per_node: float = Field(
        gt=0, le=100_000, allow_inf_nan=False, description="host memory a node can give to in-memory checkpoints, GB"
    )


class InfantMortality(Spec):
    """Early-life failures: rates multiplied by 1 + (factor - 1) exp(-t / tau) (a decaying bathtub wall)."""

    factor: float = Field(default=1.0, ge=1.0, le=100, allow_inf_nan=False)
    tau_days: float = Field(default=7.0, gt=0, le=365, allow_inf_nan=False)


class FaultTolerance(Spec):
    """How the job survives a failure, and how its collectives start (reliability.yaml ``fault_tolerance``).

    ``mode`` global-restart: every failure stops the whole job, which restarts from its last checkpoint.
    ``mode`` replica: a failure of a component in ``contained`` drops only its data-parallel replica, which rejoins
    from a healthy peer while the others keep training (TorchFT's fault-tolerant HSDP); the other failures still
    restart the job. ``init`` linear: collective initialisation ``recovery.init_s_per_10k_gpus`` per 10,000 GPUs;
    scalable: ``scalable_init_s_per_10k_gpus`` (NCCLX-class initialisation).
    """

    mode: Literal["global-restart", "replica"] = "global-restart"
    init: Literal["linear", "scalable"] = "linear"
    contained: tuple[str, ...] = Field(default=(), description="components whose failure stays inside one replica")
    hangs: tuple[str, ...] = Field(
        default=(), description="contained components that hang rather than crash: the others wait for a timeout"
    )
    heartbeat_timeout_s: float = Field(
        default=5.0, gt=0, le=3600, allow_inf_nan=False, description="a crashed replica is dropped after this, s"
    )
    collective_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, allow_inf_nan=False, description="a hung replica is dropped after this, s"
    )
    scalable_init_s_per_10k_gpus: float = Field(
        default=30.0, ge=0, le=86400, allow_inf_nan=False, description="collective init with init: scalable"
    )

    @model_validator(mode="after")
    def _hangs_are_contained(self) -> "FaultTolerance":
        extra = sorted(set(self.hangs) - set(self.contained))
        if extra:
            raise ValueError(f"fault_tolerance.hangs {extra} must also be in fault_tolerance.contained")
        return self


class ReliabilitySpec(Spec):
    components: dict[str, ComponentFailure]
    recovery: Recovery
    checkpoint: CheckpointSpec
    fault_tolerance: FaultTolerance = FaultTolerance()
    infant_mortality: InfantMortality = InfantMortality()
    rate_scale: float = Field(default=1.0, ge=0, le=1000, allow_inf_nan=False, description="multiplies every rate")
    spare_nodes: int | None = Field(default=None, ge=0, le=100000, description="blank = 1% of the job's nodes")
    source: str = ""
    sources: dict[str, str] = Field(
        default_factory=dict, description="where each recovery and checkpoint figure comes from"
    )

    @model_validator(mode="after")
    def _some_component(self) -> "ReliabilitySpec":
        if not self.components:
            raise ValueError("reliability needs at least one component")
        unknown = sorted(set(self.fault_tolerance.contained) - set(self.components))
        if unknown:
            raise ValueError(
                f"fault_tolerance.contained names unknown component(s) {unknown}; valid: {sorted(self.components)}"
            )
        return self
