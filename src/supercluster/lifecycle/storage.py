"""The path a checkpoint takes to storage: the system's aggregate storage bandwidth or the nodes' storage links."""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.errors import SuperclusterError
from supercluster.specs import SystemSpec
from supercluster.units import GB, TB


@dataclass(frozen=True)
class StoragePath:
    """Effective checkpoint bandwidth of a job: the narrower of the storage system and the job's node links."""

    storage_write_bytes_per_s: float
    storage_read_bytes_per_s: float
    host_path_bytes_per_s: float
    capacity_bytes: float | None
    assumed: bool
    source: str

    @property
    def write_bytes_per_s(self) -> float:
        return min(self.storage_write_bytes_per_s, self.host_path_bytes_per_s)

    @property
    def read_bytes_per_s(self) -> float:
        return min(self.storage_read_bytes_per_s, self.host_path_bytes_per_s)

    @property
    def write_limited_by(self) -> str:
        return "storage" if self.storage_write_bytes_per_s <= self.host_path_bytes_per_s else "node storage links"

    def describe(self) -> str:
        cap = f", {self.capacity_bytes / 1e15:,.0f} PB" if self.capacity_bytes else ""
        return (
            f"write {self.storage_write_bytes_per_s / TB:,.2f} TB/s, read {self.storage_read_bytes_per_s / TB:,.2f} "
            f"TB/s{cap}; node links {self.host_path_bytes_per_s / TB:,.1f} TB/s; a checkpoint drains at "
            f"{self.write_bytes_per_s / TB:,.2f} TB/s ({self.write_limited_by})"
        )


def storage_path(system: SystemSpec, gpus: int) -> StoragePath:
    """Checkpoint bandwidth of a job of ``gpus`` GPUs on ``system``.

    Storage given per block of GPUs (a reference architecture's scalable unit, NVIDIA DGX SuperPOD RA
    Table 6: the 4-SU row is four times the 1-SU row) scales with the machine, the larger of the system and
    the job; a fixed aggregate (Tectonic, Orion) stays what it is. The host path is the job's nodes times
    each node's storage link. Write time = bytes / min(aggregate, host path).
    """
    st = system.storage
    if st is None:
        raise SuperclusterError(
            f"system {system.id} gives no checkpoint storage; add it to the scenario: system: {{preset: {system.id}, "
            "storage: {write_gb_per_s: ..., read_gb_per_s: ..., node_gb_per_s: ...}}"
        )
    scale = max(system.gpus, gpus) / st.per_gpus if st.per_gpus else 1.0
    nodes = -(-gpus // system.gpus_per_node)
    return StoragePath(
        storage_write_bytes_per_s=st.write_gb_per_s * GB * scale,
        storage_read_bytes_per_s=st.read_gb_per_s * GB * scale,
        host_path_bytes_per_s=st.node_gb_per_s * GB * nodes,
        capacity_bytes=st.capacity_pb * 1e15 * scale if st.capacity_pb else None,
        assumed=st.assumed,
        source=st.source,
    )
