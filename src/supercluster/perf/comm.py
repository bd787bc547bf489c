"""Hierarchical alpha-beta model of NCCL collectives.

A group of n ranks with k of them in each scale-up domain (NVLink) and n/k
domains joined by the scale-out network. For bandwidth-bound messages NCCL's
ring moves (n-1)/n of the data per rank for all-gather and reduce-scatter and
2(n-1)/n for all-reduce (Thakur, Rabenseifner and Gropp, "Optimization of
Collective Communication Operations in MPICH", IJHPCA 19(1), 2005, section 4;
NCCL's PERFORMANCE.md defines bus bandwidth with the same factors).

    t = alpha + factor(op, n) * bytes / busbw

busbw is the measured bus bandwidth of the slowest tier the ring crosses: the
scale-up busbw inside a domain; across domains a ring leaves each domain once
per channel, so the k NICs of a domain carry it in parallel:
busbw = min(busbw_scale_up, k * busbw_nic) / taper, where taper is the
oversubscription above a pod when the group spans pods. alpha follows NCCL's
tuning model (src/graph/tuning.cc): base latency plus one hop latency per ring
step, NVLink hops and network hops counted separately.
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.specs import SystemSpec
from supercluster.units import GB, US

# NCCL src/graph/tuning.cc @b6475625: ring LL128 base latency 14 us, NVLink hop 1.9 us (LL128).
NCCL_BASE_LATENCY_S = 14.0 * US
NVLINK_HOP_LATENCY_S = 1.9 * US
# Point-to-point over NVLink reaches about 80% of the per-direction line rate (370 of 450 GB/s
# busbw on H100, sjeaugey in NVIDIA/nccl-tests #212); the same ratio is used for every scale-up link.
P2P_LINK_FRACTION = 370.0 / 450.0


@dataclass(frozen=True, slots=True)
class Span:
    """Where a group of ``n`` ranks sits: ``k`` per scale-up domain, ``extent`` consecutive GPUs."""

    n: int
    k: int
    extent: int


def span_of(size: int, stride: int, domain: int) -> Span:
    """Placement of a group whose ranks are ``stride`` GPUs apart (TP innermost = stride 1)."""
    if size <= 1:
        return Span(1, 1, 1)
    k = max(1, min(size, domain // stride)) if stride < domain else 1
    return Span(size, k, size * stride)


class CollectiveModel:
    """Collective times on one system. Narrow interface: the fabric model replaces it later."""

    def __init__(self, system: SystemSpec) -> None:
        acc = system.accelerator
        fab = system.fabric
        self.domain = system.domain_gpus
        self.bw_up = acc.scale_up_busbw_gb_per_s * GB
        self.bw_up_p2p = acc.scale_up_gb_per_s * GB * P2P_LINK_FRACTION
        self.bw_nic = fab.nic_busbw_gb_per_s * GB
        self.net_hop_s = fab.hop_latency_us * US
        self.pod = fab.pod_gpus
        self.taper = fab.oversubscription

    def _busbw(self, s: Span) -> float:
        if s.k >= s.n:
            return self.bw_up
        bw = min(self.bw_up, s.k * self.bw_nic)
        if self.pod and s.extent > self.pod:
            bw /= self.taper
        return bw

    def _alpha(self, s: Span, steps_per_rank: int) -> float:
        domains = max(1, s.n // max(s.k, 1))
        net_steps = steps_per_rank * (domains - 1) if domains > 1 else 0
        nvl_steps = steps_per_rank * (s.n - 1) - net_steps
        return NCCL_BASE_LATENCY_S + nvl_steps * NVLINK_HOP_LATENCY_S + net_steps * self.net_hop_s

    def all_reduce(self, nbytes: float, s: Span) -> float:
        if s.n <= 1 or nbytes <= 0:
            return 0.0
        return self._alpha(s, 2) + 2.0 * (s.n - 1) / s.n * nbytes / self._busbw(s)

    def all_gather(self, nbytes: float, s: Span) -> float:
        """``nbytes`` is the gathered (full) size."""
        if s.n <= 1 or nbytes <= 0:
            return 0.0
        return self._alpha(s, 1) + (s.n - 1) / s.n * nbytes / self._busbw(s)

    reduce_scatter = all_gather

    def all_to_all(self, nbytes: float, s: Span) -> float:
        """Each rank sends ``nbytes`` in all; (k-1)/n stays in its domain, (n-k)/n crosses the network."""
        if s.n <= 1 or nbytes <= 0:
            return 0.0
        t = (min(s.k, s.n) - 1) / s.n * nbytes / self.bw_up
        if s.k < s.n:
            bw = self.bw_nic / (self.taper if self.pod and s.extent > self.pod else 1.0)
            t += (s.n - s.k) / s.n * nbytes / bw
        return self._alpha(s, 1) + t

    def p2p(self, nbytes: float, crosses_domain: bool) -> float:
        if nbytes <= 0:
            return 0.0
        if crosses_domain:
            return self.net_hop_s + NCCL_BASE_LATENCY_S + nbytes / self.bw_nic
        return NVLINK_HOP_LATENCY_S + NCCL_BASE_LATENCY_S + nbytes / self.bw_up_p2p
