"""Flow-level check of the fabric's contention term: collectives as flows on the rail-optimised fat tree.

The analytic collective model (``collectives.py``) prices scale-out traffic at the measured per-NIC bus
bandwidth and divides it by the oversubscription (``taper``) once a group spans more than the non-blocking pod;
it has no term for how the flows of a collective are spread over the equal-cost paths of the tree, i.e. it
assumes the load is balanced. This module tests that assumption by simulating one phase of a collective as
fluid flows on a link-level model of the same tree (``topology.build``: leaf, spine and core counts,
radix, rails, taper):

- routing by ECMP: each flow is pinned to one path by a hash of its identifier (source and destination port,
  queue pair, seed), one hash per hop. Few, long-lived, line-rate flows per NIC (low entropy) collide on the
  same uplink; a link carrying n flows gives each 1/n of its rate while its neighbours sit idle (Al-Fares et
  al., "Hedera: Dynamic Flow Scheduling for Data Center Networks", NSDI 2010; Gangidi et al., "RDMA over
  Ethernet for Distributed AI Training at Meta Scale", SIGCOMM 2024, and Meta's engineering blog of
  2024-08-05: "ECMP rendered poor performance for the training workload due to the low flow entropy"; their
  fix spreads each connection over several queue pairs, ``qps`` here);
- adaptive routing: traffic spread evenly over the equal-cost paths (per-packet spraying with reordering at
  the NIC, as Spectrum-X does with BlueField-3 SuperNICs). On a symmetric tree an even split puts the same
  share of every flow on every link of a tier's bundle, so each bundle (a leaf's uplinks, a leaf's downlinks,
  a pod's uplinks to the core, its downlinks) acts as one pooled link of the summed capacity.

Rates are max-min fair, computed by progressive filling (Bertsekas & Gallager, "Data Networks", 2nd ed.,
section 6.5.2): all unfrozen flows grow at the same rate until a link saturates; the flows crossing it are
frozen; repeat. Vectorised over flows (NumPy ``bincount`` per level, frozen flows dropped as they go), so
16,384 GPUs take well under a second and 98,304 a few seconds (benchmarks/bench_flows.py).

All flows of one phase carry the same bytes, so the phase ends with its slowest flow: every flow on that
flow's bottleneck link has the same (minimum) rate and the link is full, so bytes / min rate is also the
fluid completion time after faster flows leave. The bus-bandwidth fraction is the phase time the busiest NIC
alone would need at line rate divided by the simulated one (1.0 = the fabric costs nothing beyond the NIC).

NVIDIA's statement on Colossus: "95% data throughput enabled by Spectrum-X congestion control" where
"standard Ethernet ... creates thousands of flow collisions while delivering just 60% data throughput"
(NVIDIA press release, 2024-10-28, "NVIDIA Ethernet Networking Accelerates World's Largest AI Supercomputer,
Built by xAI"; quoted by StorageReview and Fierce Electronics; ../shared/reference/hardware_facts.md). The
catalogue already prices the 95% into the per-NIC bus bandwidth (47.5 of 50 GB/s); the 60% is what ECMP's
collisions cost, which this simulation reproduces from the mechanism (``compare``).

Network flows are rail-aligned: NCCL's PXN and DeepEP first move data over NVLink to the GPU on the
destination's rail, so GPU ``l`` of a node talks only to GPU ``l`` of other nodes, and each rail is its own
tree below the core (leaves and pods are rail-major). Fat trees only; a dragonfly is refused.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.fabric.topology import build
from supercluster.specs import SystemSpec

Routing = Literal["ecmp", "adaptive"]
Collective = Literal["dp_ring", "ep_all_to_all"]
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele et al., OOPSLA 2014): a fast, well-mixed 64-bit hash, vectorised."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK


def _hash(key: np.ndarray, salt: int, n: np.ndarray | int) -> np.ndarray:
    """ECMP choice in ``[0, n)``: the hash of a flow's key salted by the hop (each switch hashes on its own)."""
    with np.errstate(over="ignore"):
        h = _mix(key ^ _mix(np.full(1, salt, dtype=np.uint64)))
    return (h % np.asarray(n, dtype=np.uint64)).astype(np.int64)


@dataclass(frozen=True)
class Tree:
    """Link-level fat tree with the tier counts of ``topology.build``; leaves and pods are rail-major."""

    nodes: int
    rails: int
    half: int  # NIC ports per leaf (radix / 2)
    lpr: int  # leaves per rail
    u1: int  # uplinks per leaf
    pod_leaves: int  # leaves per pod (3 tiers) or all leaves (2 tiers)
    u2: int  # uplinks per spine (0 with two tiers)
    cores_per_group: int
    link_bytes_per_s: float
    tiers: int
    taper: float = 1.0

    @property
    def leaves(self) -> int:
        return self.rails * self.lpr

    @property
    def pods_per_rail(self) -> int:
        return -(-self.lpr // self.pod_leaves) if self.tiers == 3 else 1

    @property
    def pods(self) -> int:
        return self.rails * self.pods_per_rail if self.tiers == 3 else 1

    @property
    def spines(self) -> int:
        if self.tiers == 3:
            return self.leaves
        return math.ceil(self.leaves * self.u1 / (2 * self.half)) if self.u1 else 0

    @property
    def cores(self) -> int:
        return self.cores_per_group * self.pod_leaves if self.tiers == 3 else 0  # one core group per spine index

    @property
    def physical_links(self) -> int:
        """Directed links: NIC-leaf, leaf-spine and spine-core, both ways."""
        ports = self.nodes * self.rails
        return 2 * (ports + self.leaves * self.u1 + (self.leaves * self.u2 if self.tiers == 3 else 0))


def tree(system: SystemSpec, gpus: int) -> Tree:
    """The link-level tree for ``gpus`` GPUs of ``system``, sized from the fabric module's topology."""
    topo = build(system, gpus)
    if topo.kind != "fat-tree":
        raise SuperclusterError(f"flow simulation covers fat trees; {system.id} is a {topo.kind}")
    half = topo.radix // 2
    taper = topo.tiers[-1].oversubscription
    lpr = -(-topo.nodes // half)
    tiers = len(topo.tiers)
    c = topo.link_gbps * 1e9 / 8
    if tiers == 1:
        return Tree(topo.nodes, topo.rails, half, lpr, 0, lpr, 0, 0, c, 1, taper)
    if tiers == 2:
        return Tree(topo.nodes, topo.rails, half, lpr, max(1, round(half / taper)), topo.rails * lpr, 0, 0, c, 2, taper)
    pod = min(half, lpr)
    u2 = max(1, round(half / taper))
    pods = topo.rails * -(-lpr // pod)
    cores = max(1, math.ceil(pods * u2 / topo.radix))
    return Tree(topo.nodes, topo.rails, half, lpr, half, pod, u2, cores, c, 3, taper)


# ---- traffic ----
def node_pairs(collective: Collective, nodes: int, size: int, node_stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(source, destination) job-node indices of one phase of a collective among groups of ``size`` nodes.

    Groups are laid out as placement.py does: ``size`` members ``node_stride`` nodes apart, groups tiling the
    job. ``dp_ring``: one step of the inter-node ring of a hierarchical all-reduce (member i sends its chunk to
    member i + 1; every step of the ring has the same pattern). ``ep_all_to_all``: DeepEP-style dispatch, each
    member sends an equal share to every other member (DeepSeek-V3, arXiv:2412.19437, section 3.2.2).
    """
    if size < 2 or size * node_stride > nodes:
        raise SuperclusterError(f"group of {size} nodes at stride {node_stride} does not fit {nodes} nodes")
    block = size * node_stride
    n = np.arange(nodes // block * block, dtype=np.int64)
    base = n - n % block + n % node_stride
    member = (n % block) // node_stride
    if collective == "dp_ring":
        return n, base + ((member + 1) % size) * node_stride
    if collective == "ep_all_to_all":
        shift = np.arange(1, size, dtype=np.int64)
        dst = base[:, None] + ((member[:, None] + shift[None, :]) % size) * node_stride
        return np.repeat(n, size - 1), dst.ravel()
    raise SuperclusterError(f"unknown collective '{collective}'; valid: dp_ring, ep_all_to_all")


# ---- routing: each flow -> the links it crosses (padded with a dummy link of infinite capacity) ----
def _route(t: Tree, rail: np.ndarray, src: np.ndarray, dst: np.ndarray, key: np.ndarray, routing: Routing, seed: int):
    ports = t.nodes * t.rails
    ps, pd = rail * t.nodes + src, rail * t.nodes + dst
    ls, ld = rail * t.lpr + src // t.half, rail * t.lpr + dst // t.half
    f = len(src)
    path = np.full((f, 6), -1, dtype=np.int64)
    path[:, 0], path[:, 1] = ps, ports + pd
    up = ls != ld
    if t.tiers == 1:
        up[:] = False
    if t.tiers == 3:
        pod_s, pod_d = (
            ls // t.lpr * t.pods_per_rail + ls % t.lpr // t.pod_leaves,
            ld // t.lpr * t.pods_per_rail + (ld % t.lpr // t.pod_leaves),
        )
        m_s = np.minimum(t.pod_leaves, t.lpr - ls % t.lpr // t.pod_leaves * t.pod_leaves)
        m_d = np.minimum(t.pod_leaves, t.lpr - ld % t.lpr // t.pod_leaves * t.pod_leaves)
    else:
        pod_s = pod_d = np.zeros(f, dtype=np.int64)
        m_s = m_d = np.full(f, max(t.spines, 1), dtype=np.int64)
    cross = up & (pod_s != pod_d)
    if routing == "adaptive":
        base = 2 * ports
        path[up, 2] = base + ls[up]
        path[up, 3] = base + t.leaves + ld[up]
        base += 2 * t.leaves
        path[cross, 4] = base + pod_s[cross]
        path[cross, 5] = base + t.pods + pod_d[cross]
        caps = np.concatenate(
            [
                np.full(2 * ports, t.link_bytes_per_s),
                np.full(2 * t.leaves, t.u1 * t.link_bytes_per_s),
                np.full(2 * t.pods, t.pod_leaves * t.u2 * t.link_bytes_per_s),
            ]
        )
        return path, caps
    # ECMP: the leaf hashes onto spine j (its uplinks to j are parallel links: a second hash picks one)
    j = _hash(key, seed * 8 + 1, np.minimum(m_s, m_d))
    cnt_s = (t.u1 - j + m_s - 1) // m_s
    t_up = j + m_s * _hash(key, seed * 8 + 2, np.maximum(cnt_s, 1))
    cnt_d = (t.u1 - j + m_d - 1) // m_d
    t_dn = j + m_d * _hash(key, seed * 8 + 3, np.maximum(cnt_d, 1))
    base = 2 * ports
    path[up, 2] = base + ls[up] * t.u1 + t_up[up]
    path[up, 3] = base + t.leaves * t.u1 + ld[up] * t.u1 + t_dn[up]
    base += 2 * t.leaves * t.u1
    if t.tiers == 3:
        # spine (pod, j) hashes onto one of its u2 uplinks, reaching core (j, g); the core hashes onto one of
        # its parallel links down to spine (dst pod, j). Spine uplink s of pod p goes to core (p*u2 + s) % Cg.
        cg = t.cores_per_group
        slots = t.pods * t.pod_leaves  # spine ids: pod * pod_leaves + j (a partial pod leaves some unused)
        s_up = _hash(key, seed * 8 + 4, t.u2)
        g = (pod_s * t.u2 + s_up) % cg
        t0 = (g - pod_d * t.u2) % cg
        cnt = (t.u2 - t0 + cg - 1) // cg
        s_dn = t0 + cg * _hash(key, seed * 8 + 5, np.maximum(cnt, 1))
        spine_s, spine_d = pod_s * t.pod_leaves + j, pod_d * t.pod_leaves + j
        path[cross, 4] = base + spine_s[cross] * t.u2 + s_up[cross]
        path[cross, 5] = base + slots * t.u2 + spine_d[cross] * t.u2 + s_dn[cross]
    n_links = base + (2 * slots * t.u2 if t.tiers == 3 else 0)
    return path, np.full(n_links, t.link_bytes_per_s)


def max_min_rates(path: np.ndarray, caps: np.ndarray) -> tuple[np.ndarray, int]:
    """Max-min fair rates by progressive filling (Bertsekas & Gallager, Data Networks, 2nd ed., 6.5.2).

    ``path[f]`` lists the links of flow ``f`` (``-1`` pads); ``caps`` the link capacities. Progressive filling
    raises all unfrozen flows together until a link saturates and freezes the flows crossing it; equivalently
    (B&G's bottleneck argument) the link with the smallest fair share (spare capacity over unfrozen flows) is a
    bottleneck, its flows get that share, they leave with their rate subtracted, and the rest is solved again.
    Any link whose share is the smallest on every path that crosses it is a bottleneck of the same kind (shares
    never fall as flows leave), so all such links are settled at once: one round per set of independent
    bottlenecks instead of one per distinct rate. Returns the rates and the number of rounds.
    """
    n_links = len(caps)
    p = np.where(path < 0, n_links, path)  # the dummy link n_links never saturates
    width = p.shape[1]
    spare = np.append(caps.astype(float), np.inf)
    rate = np.zeros(len(p))
    idx = np.arange(len(p))
    rounds = 0
    while len(idx):
        flat = p.ravel()
        count = np.bincount(flat, minlength=n_links + 1)
        count[n_links] = 0
        share = np.full(n_links + 1, np.inf)
        used = count > 0
        share[used] = np.maximum(spare[used], 0.0) / count[used]
        on_path = share[p]
        fmin = on_path.min(axis=1)
        lowest = np.full(n_links + 1, np.inf)
        np.minimum.at(lowest, flat, np.repeat(fmin, width))
        bottleneck = used & (lowest >= share * (1 - 1e-12))
        done = (bottleneck[p] & (on_path <= fmin[:, None] * (1 + 1e-12))).any(axis=1)
        rate[idx[done]] = fmin[done]
        spare -= np.bincount(p[done].ravel(), weights=np.repeat(fmin[done], width), minlength=n_links + 1)
        idx, p = idx[~done], p[~done]
        rounds += 1
    return rate, rounds


@dataclass
class FlowResult:
    system: str
    gpus: int
    collective: str
    routing: str
    order: str
    group_nodes: int
    node_stride: int
    flows: int
    links: int
    levels: int
    phase_s: float
    ideal_s: float
    busbw_fraction: float  # ideal / simulated phase time: 1.0 when the fabric adds nothing to the NIC limit
    mean_rate_fraction: float  # mean flow rate over the busiest NIC's fair share (aggregate throughput)
    max_flows_per_link: int
    top_tier_share: float  # share of flows crossing the top (possibly tapered) tier
    taper: float
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def simulate(
    system: SystemSpec,
    gpus: int,
    collective: Collective,
    group_nodes: int,
    node_stride: int = 1,
    routing: Routing = "adaptive",
    order: Literal["packed", "scattered"] = "packed",
    bytes_per_flow: float = 64e6,
    qps: int = 1,
    seed: int = 0,
) -> FlowResult:
    """One phase of ``collective`` on ``gpus`` GPUs of ``system`` as max-min fair flows.

    ``order``: job nodes on consecutive fabric nodes (``packed``) or on a seeded random permutation
    (``scattered``, as a scheduler leaves a long-running cluster). ``qps``: queue pairs per connection, each
    its own ECMP flow carrying 1/qps of the bytes (NCCL_IB_QPS_PER_CONNECTION, Gangidi et al. 2024).
    """
    t0 = time.perf_counter()
    t = tree(system, gpus)
    src, dst = node_pairs(collective, t.nodes, group_nodes, node_stride)
    if order == "scattered":
        perm = np.random.default_rng(seed).permutation(t.nodes)
        src, dst = perm[src], perm[dst]
    gpu_rails = np.arange(system.gpus_per_node, dtype=np.int64) % t.rails
    k = len(src)
    rail = np.repeat(gpu_rails, k * qps)
    src = np.tile(np.repeat(src, qps), len(gpu_rails))
    dst = np.tile(np.repeat(dst, qps), len(gpu_rails))
    qp = np.tile(np.arange(qps, dtype=np.int64), k * len(gpu_rails))
    ports = t.nodes * t.rails
    key = ((rail * t.nodes + src) * ports + rail * t.nodes + dst) * qps + qp
    path, caps = _route(t, rail, src, dst, key.astype(np.uint64), routing, seed)
    rate, levels = max_min_rates(path, caps)
    flow_bytes = bytes_per_flow / qps
    phase_s = float(flow_bytes / rate.min())
    nic_flows = int(max(np.bincount(path[:, 0]).max(), np.bincount(path[:, 1]).max()))
    ideal_s = flow_bytes * nic_flows / t.link_bytes_per_s
    valid = path[path >= 0]
    return FlowResult(
        system.id,
        gpus,
        collective,
        routing,
        order,
        group_nodes,
        node_stride,
        len(rate),
        t.physical_links,
        levels,
        phase_s,
        float(ideal_s),
        float(ideal_s / phase_s),
        float(rate.mean() * nic_flows / t.link_bytes_per_s),
        int(np.bincount(valid).max()) if routing == "ecmp" else 0,
        float((path[:, 4 if t.tiers == 3 else 2] >= 0).mean()),
        t.taper,
        time.perf_counter() - t0,
    )


def analytic_fraction(system: SystemSpec, group_nodes: int, node_stride: int = 1) -> float:
    """The analytic model's contention factor for a group of ``group_nodes`` nodes ``node_stride`` apart: the
    scale-out bandwidth it uses is the NIC's divided by ``CollectiveModel._taper`` (1 on a non-blocking tree,
    the oversubscription once the group spans more than ``pod_gpus``). No ECMP or collision term."""
    gpn = system.gpus_per_node
    span = span_of(group_nodes, node_stride * gpn, system.domain_gpus)
    return float(1.0 / np.asarray(CollectiveModel(system)._taper(span)))


def layout_cases(
    gpus: int, gpus_per_node: int = 8, pp: int = 8, cp: int = 2, ep: int = 8
) -> list[tuple[Collective, int, int]]:
    """The two collectives of the colossus-grok layout (tp 8 per node, cp 2, pp 8, ep 8) on ``gpus`` GPUs:
    the data-parallel ring over one pipeline stage's nodes, ``cp`` nodes apart, and the EP all-to-all among
    ``ep`` nodes ``cp`` apart (EP after TP and CP, placement.ep_stride)."""
    nodes = gpus // gpus_per_node
    return [("dp_ring", max(2, nodes // (pp * cp)), cp), ("ep_all_to_all", ep, cp)]


def crossing_estimate(taper: float, share: float) -> float:
    """Bus-bandwidth fraction when a ``share`` of evenly spread flows crosses a tier thinned by ``taper``:
    the crossing flows get 1/(taper x share) of line rate when that is below 1 (adaptive routing)."""
    return min(1.0, 1.0 / (taper * share)) if share > 0 else 1.0


def compare(
    system: SystemSpec,
    gpus: int,
    cases: list[tuple[Collective, int, int]],
    routings: tuple[Routing, ...] = ("ecmp", "adaptive"),
    orders: tuple[str, ...] = ("packed", "scattered"),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Analytic contention factor and flow-level bus-bandwidth fraction side by side, with their ratio."""
    rows = []
    for collective, size, stride in cases:
        analytic = analytic_fraction(system, size, stride)
        for order in orders:
            for routing in routings:
                r = simulate(system, gpus, collective, size, stride, routing, order, seed=seed)  # type: ignore[arg-type]
                rows.append(
                    {
                        **r.to_dict(),
                        "analytic_fraction": analytic,
                        "flow_fraction": r.busbw_fraction,
                        "ratio": r.busbw_fraction / analytic,
                        "crossing_estimate": crossing_estimate(r.taper, r.top_tier_share),
                    }
                )
    return rows
