"""Collectives on the fabric: NCCL's algorithms and protocols, chosen the way NCCL's tuner chooses.

For each operation the model prices every algorithm NCCL has for it (ring, double binary tree, NVLS,
NVLS-tree, CollNet/SHARP, and a hierarchical reduce-scatter/all-reduce/all-gather) with each protocol
(LL, LL128, Simple), and takes the fastest, as NCCL's tuner does with its own cost model
(NVIDIA/nccl src/graph/tuning.cc: time = latency + bytes / bandwidth, latency = base + hops x per-hop
latency, per algorithm and protocol). Latencies are NCCL's table (µs): base {Tree: LL 6.8, LL128 14,
Simple 0; Ring: 6.6, 14, 8.4}, per NVLink hop {Ring 0.6, 1.9, 3.4; Tree 0.6, 1.25, 28}, NVLS 23,
per network hop {Ring 2.7, 4.0, 14; Tree 5.0, 8.5, 28}, NVLS-tree 14, CollNet 31.
Protocol efficiency: LL carries 4 data bytes per 8-byte store (50%), LL128 120 of 128 bytes (93.75%).
NVLS (NVLink SHARP) serves all-gather and reduce-scatter only inside one NVLink domain: NCCL 2.18 prices these two
operations with the ring alone (src/graph/tuning.cc v2.18.3-1: "if (coll == ncclFuncAllGather && a !=
NCCL_ALGO_RING) continue;"), and from 2.19 on NVLS across nodes is switched off unless CollNet is enabled
(v2.19.3-1: "if (comm->nNodes > 1) algoEnable[NCCL_ALGO_NVLS] = 0;" in the branch "Disable CollNet if it is not
supported"; v2.27.3-1: NVLS is disabled when "comm->config.collnetEnable == 0 && ... (a == NCCL_ALGO_NVLS &&
comm->nNodes > 1)"), and NCCL_COLLNET_ENABLE is off by default. So an all-gather or reduce-scatter that leaves its
domain runs as a ring and pays the ring's (n - 1) hops of latency (:data:`NVLS_ACROSS_DOMAINS`).
Bandwidths are measured ones: NVLink ring ~370 GB/s and NVLS ~480 GB/s bus bandwidth on 8 H100
(nccl-tests #212), 46-49 GB/s per 400G NIC (nccl-tests #267/#290), ~320 GB/s for rings leaving 8-GPU
nodes through 8 NICs (nccl #1221). Ring traffic factors follow Thakur et al. 2005 (all-reduce
2(n-1)/n, all-gather and reduce-scatter (n-1)/n of the data per rank).
Where a fabric declares the bus bandwidth its owners measured for one collective across nodes
(FabricSpec.measured_busbw_gb_per_s, e.g. BigScience's all-reduce benchmark on Jean Zay's Omni-Path, 40.5 Gbps),
no all-reduce, all-gather or reduce-scatter that leaves a scale-up domain beats it: its time is at least
factor x bytes / busbw (the nccl-tests definition, busbw = algbw x factor, NVIDIA/nccl-tests doc/PERFORMANCE.md).
Point-to-point and all-to-all traffic, which that benchmark did not measure, keep the line-rate model.

Every method takes numbers or numpy arrays (one entry per candidate layout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from supercluster.fabric import p2p_batch
from supercluster.specs import SystemSpec
from supercluster.units import GB, US

PROTOCOLS = ("LL", "LL128", "Simple")
PROTO_EFF = {"LL": 0.5, "LL128": 120 / 128, "Simple": 1.0}
BASE_US = {"tree": {"LL": 6.8, "LL128": 14.0, "Simple": 0.0}, "ring": {"LL": 6.6, "LL128": 14.0, "Simple": 8.4}}
NVL_HOP_US = {"ring": {"LL": 0.6, "LL128": 1.9, "Simple": 3.4}, "tree": {"LL": 0.6, "LL128": 1.25, "Simple": 28.0}}
NET_HOP_US = {"ring": {"LL": 2.7, "LL128": 4.0, "Simple": 14.0}, "tree": {"LL": 5.0, "LL128": 8.5, "Simple": 28.0}}
NVLS_US, NVLS_TREE_US, COLLNET_US = 23.0, 14.0, 31.0
# The operations NCCL may run with NVLS across NVLink domains (nodes) in its default configuration: all-reduce
# (NVLS-tree) only; all-gather and reduce-scatter use NVLS inside one domain and the ring across (see the module).
NVLS_ACROSS_DOMAINS = frozenset({"all_reduce"})
# LL protocols only pay off for small messages: NCCL caps their use (tuning.cc thresholds); above this
# size the model does not consider them.
LL_MAX_BYTES = 1 << 20
# Point-to-point over NVLink reaches the same ~82% of the per-direction line rate as the ring (370/450).
P2P_LINK_FRACTION = 370.0 / 450.0
# A ring leaving 8-GPU nodes through all 8 NICs: ~320 GB/s bus bandwidth (NVIDIA/nccl #1221), not 8 x 47.
MULTI_NIC_FRACTION = 320.0 / (8 * 47.0)
# A point-to-point send/receive pays the ring LL128 entries of NCCL's latency table above.
NCCL_BASE_LATENCY_S = BASE_US["ring"]["LL128"] * US
NVLINK_HOP_LATENCY_S = NVL_HOP_US["ring"]["LL128"] * US


@dataclass(frozen=True, slots=True)
class Span:
    """Where a group of ``n`` ranks sits: ``k`` per scale-up domain, ``extent`` consecutive GPUs."""

    n: Any
    k: Any
    extent: Any


def _one(x: Any) -> float | None:
    """``x`` as a float when it holds a single value (Python or NumPy scalar, one-element array), else None."""
    kind = type(x)
    if kind is float:
        return x  # type: ignore[no-any-return]
    if kind is np.ndarray:
        return float(x.item()) if x.size == 1 else None  # item(): the one element as a Python number
    if kind is int or isinstance(x, np.generic):
        return float(x)
    return None


def _floats(*values: Any) -> bool:
    """Whether every value is one Python (or NumPy scalar) float: a call the scalar twins of the array formulas
    price (the same IEEE double operations in the same order, so the same numbers)."""
    return all(isinstance(v, float) for v in values)


def span_of(size: Any, stride: Any, domain: int) -> Span:
    """Placement of a group whose ranks are ``stride`` GPUs apart (TP innermost = stride 1)."""
    if isinstance(size, int | float) and isinstance(stride, int | float):  # scalar fast path
        if size <= 1:
            return Span(1.0, 1.0, 1.0)
        k_one = max(1.0, min(float(size), float(domain // stride))) if stride < domain else 1.0
        return Span(float(size), k_one, float(size * stride))
    one_stride = type(stride) is int or (type(stride) is np.ndarray and stride.shape == (1,))
    if type(size) is np.ndarray and size.shape == (1,) and one_stride and stride > 0:
        # one candidate (an estimate): the same arithmetic on its one pair of floats, as one-element arrays
        n_one, s_one = float(size[0]), float(stride if type(stride) is int else stride[0])
        if n_one <= 1:
            return Span(np.array([n_one]), np.array([1.0]), np.array([1.0]))
        k_one = min(max(math.floor(domain / s_one), 1.0), n_one) if s_one < domain else 1.0
        return Span(np.array([n_one]), np.array([float(k_one)]), np.array([n_one * s_one]))
    size = np.asarray(size, dtype=float)
    stride = np.asarray(stride, dtype=float)
    # np.clip(x, 1, size) as min(max(x, 1), size): the same values, without clip's overhead on small arrays
    k = np.where(stride < domain, np.minimum(np.maximum(np.floor(domain / stride), 1), size), 1.0)
    alone = size <= 1
    return Span(size, np.where(alone, 1.0, k), np.where(alone, 1.0, size * stride))


class CollectiveModel:
    """Collective times on one system, the fastest of NCCL's algorithms and protocols."""

    def __init__(self, system: SystemSpec) -> None:
        acc = system.accelerator
        fab = system.fabric
        self.domain = system.domain_gpus
        # a single device has no scale-up link; a floor keeps the (unused) branches finite. A node that wires only
        # some of the card's links between its GPUs (SystemSpec.scale_up_link_fraction) has that share of the
        # bandwidth: NCCL's rings and trees stripe over the links there are, so busbw scales with their count
        links = system.scale_up_link_fraction
        self.bw_up = max(acc.scale_up_busbw_gb_per_s * GB * links, 1.0)
        self.bw_nvls = acc.nvls_busbw_gb_per_s * GB * links
        self.bw_up_p2p = max(acc.scale_up_gb_per_s * GB * P2P_LINK_FRACTION * links, 1.0)
        self.bw_nic = fab.nic_busbw_gb_per_s * GB
        self.net_hop_s = fab.hop_latency_us * US
        self.pod = fab.pod_gpus
        self.taper = fab.oversubscription
        self.sharp = fab.in_network_reduction
        # a multi-node collective never beats the bus bandwidth measured across nodes on this fabric (FabricSpec)
        cap = fab.measured_busbw_gb_per_s
        self.cap_bytes_per_s = cap * GB if cap else 0.0
        self._memo: dict[tuple[str, float, float, float, float], float] = {}  # _scalar's answers (at most 4096)
        # NCCL's latency table and protocol efficiency by protocol, as _scalar reads them (ring, then tree)
        tables = (PROTO_EFF, BASE_US["ring"], NVL_HOP_US["ring"], NET_HOP_US["ring"])
        tables += (BASE_US["tree"], NVL_HOP_US["tree"], NET_HOP_US["tree"])
        self._protocol_rows = [(p, *(table[p] for table in tables)) for p in PROTOCOLS]

    # ---- building blocks ----
    def _taper(self, s: Span) -> Any:
        if not self.pod:
            return 1.0
        return np.where(s.extent > self.pod, self.taper, 1.0)

    def _taper_one(self, s: Span) -> float:
        """:meth:`_taper` of a group whose extent is one Python float."""
        return self.taper if self.pod and s.extent > self.pod else 1.0

    def _ring_latency_one(self, s: Span, steps_per_rank: int, proto: str) -> float:
        """:meth:`_ring_latency` of one group (Python floats): the same operations in the same order."""
        domains = max(1.0, float(math.floor(s.n / max(s.k, 1.0))))
        net_steps = steps_per_rank * (domains - 1) if domains > 1 else 0.0
        nvl_steps = steps_per_rank * (s.n - 1) - net_steps
        net_hop = NET_HOP_US["ring"][proto] * US * (self.net_hop_s / (4.0 * US))  # scaled to this fabric
        return BASE_US["ring"][proto] * US + nvl_steps * NVL_HOP_US["ring"][proto] * US + net_steps * net_hop

    def _a2a_batched(self, s: Span) -> Any:
        """fabric.p2p_batch's latency of an all-to-all that spans domains, with the ring tables' Simple-protocol
        base and hops (the network hop scaled to this fabric)."""
        net_hop = NET_HOP_US["ring"]["Simple"] * US * (self.net_hop_s / (4.0 * US))
        return p2p_batch.a2a_latency_s(
            s.n, s.k, BASE_US["ring"]["Simple"] * US, NVL_HOP_US["ring"]["Simple"] * US, net_hop
        )

    def _a2a_latency_one(self, s: Span) -> float:
        """An all-to-all's latency: NCCL's peer rounds in batches of eight when the group spans domains
        (fabric.p2p_batch), the ring-step latency inside one domain; Simple protocol."""
        if not s.k < s.n:
            return self._ring_latency_one(s, 1, "Simple")
        return float(self._a2a_batched(s))

    def _a2a_latency(self, s: Span) -> Any:
        """:meth:`_a2a_latency_one` over broadcast groups."""
        return np.where(s.k < s.n, self._a2a_batched(s), self._ring_latency(s, 1, "Simple"))

    def _inside(self, s: Span) -> Any:
        return s.k >= s.n

    def _ring_busbw(self, s: Span) -> Any:
        nic = s.k * self.bw_nic * np.where(s.k > 1, MULTI_NIC_FRACTION, 1.0)
        return np.where(self._inside(s), self.bw_up, np.minimum(self.bw_up, nic) / self._taper(s))

    def _domains(self, s: Span) -> Any:
        return np.maximum(1.0, np.floor(s.n / np.maximum(s.k, 1.0)))

    def _ring_latency(self, s: Span, steps_per_rank: int, proto: str) -> Any:
        domains = self._domains(s)
        net_steps = np.where(domains > 1, steps_per_rank * (domains - 1), 0.0)
        nvl_steps = steps_per_rank * (s.n - 1) - net_steps
        net_hop = NET_HOP_US["ring"][proto] * US * (self.net_hop_s / (4.0 * US))  # scaled to this fabric
        return BASE_US["ring"][proto] * US + nvl_steps * NVL_HOP_US["ring"][proto] * US + net_steps * net_hop

    def _tree_latency(self, s: Span, proto: str) -> Any:
        domains = self._domains(s)
        net_hop = NET_HOP_US["tree"][proto] * US * (self.net_hop_s / (4.0 * US))
        return BASE_US["tree"][proto] * US + 2.0 * (
            (np.minimum(s.k, s.n) - 1) * NVL_HOP_US["tree"][proto] * US + np.log2(domains) * net_hop
        )

    def _active(self, nbytes: Any, s: Span) -> Any:
        return (s.n > 1) & (np.asarray(nbytes) > 0)

    def _protocols(self, nbytes: Any) -> list[tuple[str, Any]]:
        """(protocol, allowed mask) pairs: LL only for small messages."""
        small = np.asarray(nbytes) <= LL_MAX_BYTES
        return [("LL", small), ("LL128", True), ("Simple", True)]

    # ---- per-algorithm times (all arrays broadcast together) ----
    def algorithms(self, op: str, nbytes: Any, s: Span) -> dict[str, Any]:
        """Time of every applicable (algorithm, protocol) for ``op``; inapplicable ones are +inf."""
        out: dict[str, Any] = {}
        nbytes = np.asarray(nbytes, dtype=float)
        inside = self._inside(s)
        multi = ~inside
        ring_bw = self._ring_busbw(s)
        factor = 2.0 * (s.n - 1) / s.n if op == "all_reduce" else (s.n - 1) / s.n
        steps = 2 if op == "all_reduce" else 1
        for proto, allowed in self._protocols(nbytes):
            eff = PROTO_EFF[proto]
            ring = self._ring_latency(s, steps, proto) + factor * nbytes / (ring_bw * eff)
            out[f"ring/{proto}"] = np.where(allowed, ring, np.inf)
            if op == "all_reduce":
                # double binary tree: log-depth latency, bandwidth close to the ring's across nodes
                tree = self._tree_latency(s, proto) + factor * nbytes / (ring_bw * eff * 0.9)
                out[f"tree/{proto}"] = np.where(allowed & multi, tree, np.inf)
        if self.bw_nvls > 0:
            nvls_bw = np.where(inside, self.bw_nvls, np.minimum(self.bw_nvls, ring_bw))
            base = np.where(inside, NVLS_US, NVLS_US + NVLS_TREE_US) * US
            extra_hops = np.where(inside, 0.0, np.log2(self._domains(s)) * 2 * self.net_hop_s)
            nvls = base + extra_hops + factor * nbytes / nvls_bw
            out["nvls/Simple"] = nvls if op in NVLS_ACROSS_DOMAINS else np.where(inside, nvls, np.inf)
        if op == "all_reduce" and self.sharp:
            # SHARP reduces in the switches: each node sends its data up once and receives the result
            # (n+1 transfers instead of 2n), so the network carries half of a ring's bytes.
            sharp_bw = np.minimum(self.bw_up, 2.0 * s.k * self.bw_nic) / self._taper(s)
            collnet = COLLNET_US * US + np.log2(self._domains(s)) * 2 * self.net_hop_s + factor * nbytes / sharp_bw
            out["collnet/Simple"] = np.where(multi, collnet, np.inf)
        if op == "all_reduce":
            # hierarchical: reduce-scatter in the domain, all-reduce of 1/k across domains, all-gather back
            k = np.minimum(s.k, s.n)
            d = self._domains(s)
            intra = 2 * (k - 1) / np.maximum(k, 1) * nbytes / self.bw_up
            inter = 2 * (d - 1) / d * (nbytes / k) / (self.bw_nic / self._taper(s))
            lat = self._ring_latency(s, 2, "Simple")
            out["hierarchical/Simple"] = np.where(multi & (k > 1), lat + intra + inter, np.inf)
        if self.cap_bytes_per_s:  # no algorithm moves the data across nodes faster than the measured bus bandwidth
            floor = np.where(multi, factor * nbytes / self.cap_bytes_per_s, 0.0)
            out = {name: np.maximum(t, floor) for name, t in out.items()}
        active = self._active(nbytes, s)
        return {name: np.where(active, t, 0.0) for name, t in out.items()}

    def _scalar(self, op: str, nbytes: float, n: float, k: float, extent: float) -> float:
        """Pure-Python twin of :meth:`algorithms` + min for one message (the estimate's hot path). The terms that do
        not depend on the protocol are worked out once, each the very sub-expression the per-protocol formulas
        evaluate first (``factor * nbytes / bw`` is ``(factor * nbytes) / bw``), so the times are the same floats."""
        if n <= 1 or nbytes <= 0:
            return 0.0
        inside = k >= n
        taper = self.taper if (self.pod and extent > self.pod) else 1.0
        nic = k * self.bw_nic * (MULTI_NIC_FRACTION if k > 1 else 1.0)
        ring_bw = self.bw_up if inside else min(self.bw_up, nic) / taper
        domains = max(1.0, math.floor(n / max(k, 1.0)))
        all_reduce = op == "all_reduce"
        factor = 2.0 * (n - 1) / n if all_reduce else (n - 1) / n
        steps = 2 if all_reduce else 1
        scale = self.net_hop_s / (4.0 * US)
        moved = factor * nbytes
        net_steps = steps * (domains - 1) if domains > 1 else 0.0
        nvl_steps = steps * (n - 1) - net_steps
        tree = all_reduce and not inside
        if tree:
            k_in, log_domains = min(k, n) - 1, math.log2(domains)
        best = math.inf
        for proto, eff, base, nvl_hop, net_hop, t_base, t_nvl_hop, t_net_hop in self._protocol_rows:
            if proto == "LL" and nbytes > LL_MAX_BYTES:
                continue
            t = (base + nvl_steps * nvl_hop + net_steps * net_hop * scale) * US + moved / (ring_bw * eff)
            if t < best:
                best = t
            if tree:
                t = (t_base + 2.0 * (k_in * t_nvl_hop + log_domains * t_net_hop * scale)) * US + moved / (
                    ring_bw * eff * 0.9
                )
                if t < best:
                    best = t
        if self.bw_nvls > 0 and (inside or op in NVLS_ACROSS_DOMAINS):
            nvls_bw = self.bw_nvls if inside else min(self.bw_nvls, ring_bw)
            base = (NVLS_US if inside else NVLS_US + NVLS_TREE_US) * US
            hops = 0.0 if inside else math.log2(domains) * 2 * self.net_hop_s
            best = min(best, base + hops + moved / nvls_bw)
        if all_reduce and self.sharp and not inside:
            sharp_bw = min(self.bw_up, 2.0 * k * self.bw_nic) / taper
            best = min(best, COLLNET_US * US + math.log2(domains) * 2 * self.net_hop_s + moved / sharp_bw)
        if all_reduce and not inside and min(k, n) > 1:
            kk = min(k, n)
            lat = (
                BASE_US["ring"]["Simple"]
                + (2 * (n - 1) - 2 * (domains - 1)) * NVL_HOP_US["ring"]["Simple"]
                + 2 * (domains - 1) * NET_HOP_US["ring"]["Simple"] * scale
            ) * US
            intra = 2 * (kk - 1) / kk * nbytes / self.bw_up
            inter = 2 * (domains - 1) / domains * (nbytes / kk) / (self.bw_nic / taper)
            best = min(best, lat + intra + inter)
        if self.cap_bytes_per_s and not inside:
            best = max(best, moved / self.cap_bytes_per_s)
        return best

    def _best(self, op: str, nbytes: Any, s: Span) -> Any:
        one = _one(nbytes)
        if one is not None:
            n, k, extent = _one(s.n), _one(s.k), _one(s.extent)
            if n is not None and k is not None and extent is not None:
                key = (op, one, n, k, extent)
                t = self._memo.get(key)  # one message, one group: NCCL's choice, memoised
                if t is None:
                    if len(self._memo) >= 4096:
                        self._memo.clear()
                    t = self._memo[key] = self._scalar(op, one, n, k, extent)
                if type(nbytes) is float:
                    return t
                shape = nbytes.shape if type(nbytes) is np.ndarray else np.shape(nbytes)
                if shape == ():
                    return t
                # one candidate (the estimate's case): a one-element array, as np.full would make it, but cheaper
                return np.array([t]) if shape == (1,) else np.full(shape, t)
        times = list(self.algorithms(op, nbytes, s).values())
        best = times[0]
        for t in times[1:]:
            best = np.minimum(best, t)
        return best

    def choose(self, op: str, nbytes: float, s: Span) -> tuple[str, float]:
        """(algorithm/protocol, seconds) NCCL's tuner would pick for one message."""
        times = {k: float(np.asarray(v)) for k, v in self.algorithms(op, nbytes, s).items()}
        name = min(times, key=lambda k: times[k])
        return name, times[name]

    # ---- the interface the step model uses ----
    def all_reduce(self, nbytes: Any, s: Span) -> Any:
        return self._best("all_reduce", nbytes, s)

    def all_gather(self, nbytes: Any, s: Span) -> Any:
        """``nbytes`` is the gathered (full) size."""
        return self._best("all_gather", nbytes, s)

    def reduce_scatter(self, nbytes: Any, s: Span) -> Any:
        return self._best("reduce_scatter", nbytes, s)

    def broadcast(self, nbytes: Any, s: Span) -> Any:
        """Pipelined ring broadcast: each byte crosses each link once (bus bandwidth = algorithm bandwidth)."""
        t = self._ring_latency(s, 1, "Simple") + np.asarray(nbytes) / self._ring_busbw(s)
        return np.where(self._active(nbytes, s), t, 0.0)

    def all_to_all(self, nbytes: Any, s: Span) -> Any:
        """Each rank sends ``nbytes`` in all; (k-1)/n stays in its domain, (n-k)/n crosses the network."""
        if _floats(nbytes, s.n, s.k, s.extent):  # one message of one group: the same arithmetic on Python floats
            if not (s.n > 1 and nbytes > 0):
                return 0.0
            k1 = min(s.k, s.n)
            t1 = (k1 - 1) / s.n * nbytes / self.bw_up
            t1 = t1 + ((s.n - s.k) / s.n * nbytes / (self.bw_nic / self._taper_one(s)) if s.k < s.n else 0.0)
            return self._a2a_latency_one(s) + t1
        k = np.minimum(s.k, s.n)
        t = (k - 1) / s.n * nbytes / self.bw_up
        t = t + np.where(s.k < s.n, (s.n - s.k) / s.n * nbytes / (self.bw_nic / self._taper(s)), 0.0)
        lat = self._a2a_latency(s)
        return np.where(self._active(nbytes, s), lat + t, 0.0)

    def dispatch(self, token_bytes: Any, ranks: Any, domains: Any, s: Span) -> Any:
        """One MoE dispatch (or combine) that sends each token once per destination, DeepEP-style.

        A token crosses the network once for each other scale-up domain its experts sit on, lands on the
        same-index GPU there and is forwarded over NVLink to each destination rank; DeepEP pipelines the
        RDMA and NVLink legs, so the slower one paces the call (DeepSeek-V3, arXiv:2412.19437, 3.2.2;
        deepseek-ai/DeepEP README). ``ranks`` and ``domains`` are the expected destinations per token
        (perf.routing); copies that stay on the sending GPU move nothing.
        """
        if _floats(token_bytes, ranks, domains, s.n, s.k, s.extent):  # one call: the same arithmetic on floats
            if not (s.n > 1 and token_bytes > 0):
                return 0.0
            k1 = min(s.k, s.n)
            groups1 = max(1.0, s.n / k1)
            nvl1 = token_bytes * ranks * (k1 - 1) / k1 / self.bw_up
            net1 = (token_bytes * domains * (groups1 - 1) / groups1 if groups1 > 1 else 0.0) / (
                self.bw_nic / self._taper_one(s)
            )
            return self._ring_latency_one(s, 1, "Simple") + max(nvl1, net1)
        k = np.minimum(s.k, s.n)
        groups = np.maximum(1.0, s.n / k)
        nvl = token_bytes * ranks * (k - 1) / k / self.bw_up
        net = np.where(groups > 1, token_bytes * domains * (groups - 1) / groups, 0.0) / (self.bw_nic / self._taper(s))
        lat = self._ring_latency(s, 1, "Simple")
        return np.where(self._active(token_bytes, s), lat + np.maximum(nvl, net), 0.0)

    def p2p(self, nbytes: Any, crosses_domain: Any) -> Any:
        if isinstance(nbytes, float) and isinstance(crosses_domain, bool | np.bool_):  # one message: the same floats
            if not nbytes > 0:
                return 0.0
            if crosses_domain:
                return self.net_hop_s + NCCL_BASE_LATENCY_S + nbytes / self.bw_nic
            return NVLINK_HOP_LATENCY_S + NCCL_BASE_LATENCY_S + nbytes / self.bw_up_p2p
        net = self.net_hop_s + NCCL_BASE_LATENCY_S + nbytes / self.bw_nic
        nvl = NVLINK_HOP_LATENCY_S + NCCL_BASE_LATENCY_S + nbytes / self.bw_up_p2p
        return np.where(np.asarray(nbytes) > 0, np.where(crosses_domain, net, nvl), 0.0)
