"""Checkpoint storage of a system: the shared file or object store a training job writes its checkpoints to."""

from pydantic import Field

from supercluster.specs.base import Spec


class StorageSpec(Spec):
    """Sustained bandwidth and capacity of a system's checkpoint storage, and the storage path of each node.

    Either a fixed aggregate for the whole machine (``per_gpus`` blank: Meta's Tectonic, Frontier's Orion) or
    a rule per block of GPUs that grows with the system (``per_gpus`` set: NVIDIA's SuperPOD reference
    architecture sizes storage per scalable unit of 256 GPUs). ``assumed`` marks figures no source states
    for this system.
    """

    write_gb_per_s: float = Field(gt=0, le=1e6, description="sustained aggregate write bandwidth, GB/s")
    read_gb_per_s: float = Field(gt=0, le=1e6, description="sustained aggregate read bandwidth, GB/s")
    capacity_pb: float | None = Field(default=None, gt=0, le=1e5, description="usable capacity, PB (blank: unknown)")
    per_gpus: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="bandwidth and capacity are per this many GPUs and scale with the system; blank: fixed aggregate",
    )
    node_gb_per_s: float = Field(gt=0, le=10_000, description="storage network of one node (its host path), GB/s")
    assumed: bool = Field(default=False, description="no source states these figures for this system")
    source: str = ""
