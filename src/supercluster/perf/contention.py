"""Fabric contention in the step model, as its own number.

Where it enters. The collective model (:mod:`supercluster.fabric.collectives`) prices every group that spans more
GPUs than the non-blocking pod (``FabricSpec.pod_gpus``) on links thinned by the fabric's oversubscription
(``FabricSpec.oversubscription``, the taper of the tiers above the pod, as NVIDIA's SuperPOD and HPE's dragonfly
groups are built): the scale-out bandwidth of rings, trees, SHARP, the hierarchical all-reduce's inter-domain leg,
the all-to-all and the MoE dispatch is divided by it (``CollectiveModel._taper``). Inside the pod, or on a
non-blocking fabric with adaptive routing, flows get their full share (the report's flow-level check compares this
with ECMP hashing). So on a fabric with a 1:1 taper the analytic contention term is zero by construction, not by
omission: what ECMP collisions would add is shown by the flow-level check (:mod:`supercluster.fabric.flows`).

The number. :func:`contention_s` prices the same layout twice, on the system as built and on the same system with a
non-blocking fabric (:func:`non_blocking`), and returns the difference of their exposed communication per step
(tensor/context-parallel, expert all-to-all, pipeline send/receive, data-parallel synchronisation and WAN). The
pipeline bubble that slower per-layer communication lengthens is left in the bubble, not counted here.
"""

from __future__ import annotations

from supercluster.perf.step import StepEstimate, estimate
from supercluster.specs import ResolvedPlan, SoftwareProfile, SystemSpec, WorkloadSpec

COMM_TERMS = ("tp_comm_s", "ep_comm_s", "pp_comm_s", "dp_comm_s", "wan_s")


def non_blocking(system: SystemSpec) -> SystemSpec:
    """The same system with no taper above the pod: every group sees its full scale-out bandwidth."""
    return system.model_copy(update={"fabric": system.fabric.model_copy(update={"oversubscription": 1.0})})


def exposed_comm_s(step: StepEstimate) -> float:
    """Exposed communication of one step: the sum of the step model's communication terms."""
    return sum(float(getattr(step, f)) for f in COMM_TERMS)


def contention_s(
    workload: WorkloadSpec, system: SystemSpec, sw: SoftwareProfile, plan: ResolvedPlan, gpus: int
) -> float:
    """Seconds per step of exposed communication that the fabric's taper adds to this layout (0 when no group of
    it spans more than a pod, or when the fabric is non-blocking)."""
    if system.fabric.oversubscription == 1.0:
        return 0.0
    tapered = estimate(workload, system, sw, plan, gpus)
    free = estimate(workload, non_blocking(system), sw, plan, gpus)
    return exposed_comm_s(tapered) - exposed_comm_s(free)
