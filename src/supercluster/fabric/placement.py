"""Where each parallel group of a layout sits on the hierarchy, and what it crosses.

Ranks are ordered tp innermost, then cp, ep (inside dp), dp, pp outermost (Megatron-Core's default
"tp-cp-ep-dp-pp"); a stack that folds expert parallelism over cp and dp (MoE Parallel Folding) places an
EP group right after the expert TP ranks instead (``ep_stride``). A group of ranks ``stride``
apart spans ``size * stride`` consecutive GPUs; it stays in the scale-up domain when that span fits one
domain, under one leaf when it fits the nodes a leaf serves (radix/2 nodes per rail), under one spine when
it fits a two-tier pod, else it crosses the core. All groups of one axis run at once; on a rail-optimised
fabric their rings use different rails and share nothing below the spine, and above an oversubscribed tier
they share its uplinks (the taper).
"""

from __future__ import annotations

from typing import Any

from supercluster.fabric.topology import build
from supercluster.specs import ResolvedPlan, SoftwareProfile, SystemSpec


def ep_stride(plan: ResolvedPlan, sw: SoftwareProfile | None) -> int:
    """Rank distance between the members of an expert-parallel group: after TP and CP when EP sits inside the
    data-parallel ranks (order tp-cp-ep-dp-pp; also when no stack is given); after the expert TP (etp, by default
    TP) alone when the stack folds EP over CP and DP (Megatron-Core's MoE Parallel Folding: Liu et al. 2025,
    arXiv:2504.14960, section 3)."""
    return plan.expert_tp if sw is not None and sw.ep_folded else plan.tp * plan.cp


def placement(system: SystemSpec, plan: ResolvedPlan, sw: SoftwareProfile | None = None) -> list[dict[str, Any]]:
    topo = build(system, plan.gpus)
    domain = system.domain_gpus
    gpn = system.gpus_per_node
    leaf_gpus = (topo.radix // 2) * gpn
    pod_gpus = (
        (topo.radix // 2) * leaf_gpus // max(topo.rails, 1) * topo.rails
        if topo.kind == "fat-tree"
        else (system.fabric.pod_gpus or plan.gpus)
    )
    axes = [
        ("tp", plan.tp, 1),
        ("cp", plan.cp, plan.tp),
        ("ep", plan.ep, ep_stride(plan, sw)),
        ("dp", plan.dp, plan.tp * plan.cp),
        ("pp", plan.pp, plan.tp * plan.cp * plan.dp),
    ]
    out = []
    for name, size, stride in axes:
        if size <= 1:
            continue
        extent = size * stride
        if extent <= domain:
            tier = "scale-up (NVLink)"
        elif topo.kind == "dragonfly":
            tier = "group" if extent <= (system.fabric.pod_gpus or extent) else "global (between groups)"
        elif extent <= leaf_gpus:
            tier = "leaf"
        elif extent <= pod_gpus:
            tier = "spine"
        else:
            tier = "core"
        per_domain = max(1, min(size, domain // stride)) if stride < domain else 1
        taper = system.fabric.oversubscription if system.fabric.pod_gpus and extent > system.fabric.pod_gpus else 1.0
        out.append(
            {
                "axis": name,
                "size": size,
                "stride": stride,
                "gpus_spanned": extent,
                "tier": tier,
                "gpus_per_domain": per_domain,
                "oversubscription_crossed": taper,
                "concurrent_groups": plan.gpus // size,
            }
        )
    return out
