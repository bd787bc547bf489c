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
busbw = min(busbw_scale_up, k * busbw_nic * 0.85 if k > 1) / taper, where taper is the
oversubscription above a pod when the group spans pods. alpha follows NCCL's
tuning model (src/graph/tuning.cc): base latency plus one hop latency per ring
step, NVLink hops and network hops counted separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from supercluster.specs import SystemSpec
from supercluster.units import GB, US

# NCCL src/graph/tuning.cc @b6475625: ring LL128 base latency 14 us, NVLink hop 1.9 us (LL128).
NCCL_BASE_LATENCY_S = 14.0 * US
NVLINK_HOP_LATENCY_S = 1.9 * US
# Point-to-point over NVLink reaches about 80% of the per-direction line rate (370 of 450 GB/s
# busbw on H100, sjeaugey in NVIDIA/nccl-tests #212); the same ratio is used for every scale-up link.
P2P_LINK_FRACTION = 370.0 / 450.0
# A ring that leaves the node through all 8 NICs reaches ~320 GB/s bus bandwidth on H100 + 8 x 400G
# beyond two nodes (NVIDIA/nccl #1221), not the 8 x 47 = 376 that the NICs sum to: 85% aggregate.
MULTI_NIC_FRACTION = 320.0 / (8 * 47.0)


@dataclass(frozen=True, slots=True)
class Span:
    """Where a group of ``n`` ranks sits: ``k`` per scale-up domain, ``extent`` consecutive GPUs.

    Fields may be numpy arrays (one entry per candidate layout) as well as numbers.
    """

    n: Any
    k: Any
    extent: Any


def span_of(size: Any, stride: Any, domain: int) -> Span:
    """Placement of a group whose ranks are ``stride`` GPUs apart (TP innermost = stride 1)."""
    if isinstance(size, int | float) and isinstance(stride, int | float):  # scalar fast path
        if size <= 1:
            return Span(1.0, 1.0, 1.0)
        k_one = max(1.0, min(float(size), float(domain // stride))) if stride < domain else 1.0
        return Span(float(size), k_one, float(size * stride))
    size = np.asarray(size, dtype=float)
    stride = np.asarray(stride, dtype=float)
    k = np.where(stride < domain, np.clip(np.floor(domain / stride), 1, size), 1.0)
    return Span(size, np.where(size <= 1, 1.0, k), np.where(size <= 1, 1.0, size * stride))


class CollectiveModel:
    """Collective times on one system. Narrow interface: the fabric model replaces it later.

    Every method takes numbers or numpy arrays (vectorised over candidate layouts).
    """

    def __init__(self, system: SystemSpec) -> None:
        acc = system.accelerator
        fab = system.fabric
        self.domain = system.domain_gpus
        # a single device has no scale-up link; a tiny floor keeps the (unused) branches finite
        self.bw_up = max(acc.scale_up_busbw_gb_per_s * GB, 1.0)
        self.bw_up_p2p = max(acc.scale_up_gb_per_s * GB * P2P_LINK_FRACTION, 1.0)
        self.bw_nic = fab.nic_busbw_gb_per_s * GB
        self.net_hop_s = fab.hop_latency_us * US
        self.pod = fab.pod_gpus
        self.taper = fab.oversubscription

    def _taper(self, s: Span) -> Any:
        if not self.pod:
            return 1.0
        return np.where(s.extent > self.pod, self.taper, 1.0)

    def _busbw(self, s: Span) -> Any:
        inside = s.k >= s.n
        nic = s.k * self.bw_nic * np.where(s.k > 1, MULTI_NIC_FRACTION, 1.0)
        across = np.minimum(self.bw_up, nic) / self._taper(s)
        return np.where(inside, self.bw_up, across)

    def _alpha(self, s: Span, steps_per_rank: int) -> Any:
        domains = np.maximum(1.0, np.floor(s.n / np.maximum(s.k, 1.0)))
        net_steps = np.where(domains > 1, steps_per_rank * (domains - 1), 0.0)
        nvl_steps = steps_per_rank * (s.n - 1) - net_steps
        return NCCL_BASE_LATENCY_S + nvl_steps * NVLINK_HOP_LATENCY_S + net_steps * self.net_hop_s

    def _active(self, nbytes: Any, s: Span) -> Any:
        return (s.n > 1) & (np.asarray(nbytes) > 0)

    def all_reduce(self, nbytes: Any, s: Span) -> Any:
        t = self._alpha(s, 2) + 2.0 * (s.n - 1) / s.n * nbytes / self._busbw(s)
        return np.where(self._active(nbytes, s), t, 0.0)

    def all_gather(self, nbytes: Any, s: Span) -> Any:
        """``nbytes`` is the gathered (full) size."""
        t = self._alpha(s, 1) + (s.n - 1) / s.n * nbytes / self._busbw(s)
        return np.where(self._active(nbytes, s), t, 0.0)

    reduce_scatter = all_gather

    def all_to_all(self, nbytes: Any, s: Span) -> Any:
        """Each rank sends ``nbytes`` in all; (k-1)/n stays in its domain, (n-k)/n crosses the network."""
        k = np.minimum(s.k, s.n)
        t = (k - 1) / s.n * nbytes / self.bw_up
        t = t + np.where(s.k < s.n, (s.n - s.k) / s.n * nbytes / (self.bw_nic / self._taper(s)), 0.0)
        return np.where(self._active(nbytes, s), self._alpha(s, 1) + t, 0.0)

    def p2p(self, nbytes: Any, crosses_domain: Any) -> Any:
        net = self.net_hop_s + NCCL_BASE_LATENCY_S + nbytes / self.bw_nic
        nvl = NVLINK_HOP_LATENCY_S + NCCL_BASE_LATENCY_S + nbytes / self.bw_up_p2p
        return np.where(np.asarray(nbytes) > 0, np.where(crosses_domain, net, nvl), 0.0)
