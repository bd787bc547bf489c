"""In-memory (peer) checkpoints: what they cost in host memory and network time, and when they are lost.

Gemini (Wang et al., SOSP'23) keeps checkpoints in the CPU memory of the local and of remote machines, with
persistent storage as the last resort; ByteRobust (arXiv:2509.16293) checkpoints every step the same way. Each
node holds its own state and sends ``replicas - 1`` copies to peers over the compute fabric in the background; a
failed node's state is read back from a peer. Only when every node of a replica group is lost within one recovery
window does the job fall back to the last persistent checkpoint on storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import exp

from supercluster.errors import SuperclusterError
from supercluster.specs import CheckpointSpec, SystemSpec
from supercluster.units import GB


@dataclass(frozen=True)
class MemoryTier:
    node_state_bytes: float  # one node's share of the training state (its GPUs' weights and optimizer)
    host_memory_bytes: float  # what each node holds: its own copy and replicas - 1 copies of peers'
    fabric_bytes_per_s: float  # one node's compute-fabric bandwidth, the path to its peers
    copy_s: float  # background drain: replicas - 1 copies out of the node
    load_s: float  # recovery: one node's state read back from a peer
    group_loss_p: float  # probability that a failure finds every copy of its group lost


def node_fabric_bytes_per_s(system: SystemSpec) -> float:
    """A node's compute-fabric bandwidth: measured NCCL bandwidth per NIC times the node's NICs (rails)."""
    nics = system.fabric.rails or system.gpus_per_node
    return system.fabric.nic_busbw_gb_per_s * GB * nics * system.fabric.planes


def group_loss_probability(replicas: int, node_loss_per_s: float, window_s: float, node_loss_share: float) -> float:
    """Chance that a failure leaves no surviving copy of the failed node's state.

    A failure that loses its node (a hardware fault that needs a swap, share ``node_loss_share`` of failures)
    loses the node's copy; the state survives unless each of the other ``replicas - 1`` nodes of its group is
    also lost within the recovery window. With independent Poisson node losses at rate lambda per node:
    P = share x (1 - exp(-lambda W))^(replicas - 1). Failures that leave the node up (software, hangs) keep the
    host-memory copies (Gemini keeps them outside the training process).
    """
    p_peer = 1.0 - exp(-node_loss_per_s * window_s)
    return node_loss_share * p_peer ** (replicas - 1)


def memory_tier(
    system: SystemSpec,
    per_gpu_state_bytes: float,
    spec: CheckpointSpec,
    node_loss_per_s: float,
    window_s: float,
    node_loss_share: float,
) -> MemoryTier:
    """Costs of the memory tier for this system; refuses a tier whose copies do not fit the host-memory budget."""
    node_state = per_gpu_state_bytes * system.gpus_per_node
    held = node_state * spec.memory_replicas
    budget = spec.host_memory_budget_gb_per_node * GB
    if held > budget:
        raise SuperclusterError(
            f"in-memory checkpoints need {held / GB:,.0f} GB of host memory per node ({spec.memory_replicas} copies of "
            f"{node_state / GB:,.0f} GB), over the {budget / GB:,.0f} GB budget "
            "(reliability.checkpoint.host_memory_budget_gb_per_node); use tier: storage or fewer memory_replicas"
        )
    bw = node_fabric_bytes_per_s(system)
    return MemoryTier(
        node_state_bytes=node_state,
        host_memory_bytes=held,
        fabric_bytes_per_s=bw,
        copy_s=node_state * (spec.memory_replicas - 1) / bw,
        load_s=node_state / bw,
        group_loss_p=group_loss_probability(spec.memory_replicas, node_loss_per_s, window_s, node_loss_share),
    )
