"""Training across sites: what the wide-area network adds to a step.

Placement. A job spread over ``s`` sites puts dp / s whole model replicas in each site, with all their tensor-,
context-, expert- and pipeline-parallel groups inside it, so only data-parallel traffic crosses the WAN (the
rules in :mod:`supercluster.rules` and the search keep EP groups inside a site too).

Hierarchical gradient reduction (``allreduce``): reduce-scatter inside each site, all-reduce of each rank's shard
across the sites, all-gather inside the site again -- PyTorch FSDP's HYBRID_SHARD ("Apply FULL_SHARD within a node,
and replicate parameters across nodes", torch.distributed.fsdp.ShardingStrategy) and the hierarchical all-reduce
of Jia et al. 2018 (arXiv:1807.11205). The in-site part is the data-parallel reduction the step model already
prices (:mod:`supercluster.perf.batch`), over the dp * cp / s ranks of one site. After it a site holds one whole
model's gradients, V = parameters x bytes per element, spread over its GPUs, and the shards cross the WAN in a
ring over the s sites, the bandwidth-optimal all-reduce (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce
algorithms for clusters of workstations", JPDC 69(2), section 3: 2 (p - 1) steps, each node sending
2 (p - 1) / p of the data):

    T_ring = 2 (s - 1) * latency + 2 (s - 1) / s * V / min(B_pair, site GPUs x NIC bandwidth)

B_pair is the WAN capacity between two sites (each site sends on one pair link of the ring); the site's NICs
carry the same bytes spread over its GPUs, so the slower of the two paces the transfer. With the stack's
gradient-reduction overlap (``dp_overlap``) the WAN all-reduce runs behind the backward of the step's last
micro-batch through all layers; the last bucket's share crosses after the backward ends.

DiLoCo (Douillard et al. 2023, arXiv:2311.08105, Algorithm 1): each site trains on its own for H inner steps
(ordinary synchronous training inside the site), then the sites average their outer gradients (the parameter
change over those H steps) in one blocking all-reduce and apply the outer Nesterov step. Per step that is
T_ring(V_outer) / H, with the outer gradients in FP32 (4 B), the uncompressed baseline of Streaming DiLoCo's
compression ablation (arXiv:2501.18512, Figure 11).

Streaming DiLoCo (Douillard et al. 2025, arXiv:2501.18512): the model is split into F fragments of 3 layers
("We choose in practice 3 layers per fragment across all model scales", Figure 6), each synchronised once every
H steps at staggered offsets, in FP4 (Table 1: "with overlapped FP4 communication", 0.5 B per parameter), and a
fragment's all-reduce overlaps tau = 1 inner step (Table 1: "allow communication to be as long as a full compute
step"). Per step: F / H fragment syncs, each exposing what it takes beyond tau inner steps, and no less than the
WAN's own busy time beyond the compute:

    exposed = max(F / H * max(0, T_ring(V / F) - tau * t_step), F * T_ring(V / F) / H - t_step, 0)

Left out: the outer Nesterov update itself (one HBM pass over the parameters every H steps) and DiLoCo's copy of
the global parameters and outer momentum, which torchft's DiLoCo keeps in host memory ("By default these are
stored in CPU memory", pytorch/torchft local_sgd.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from supercluster.specs.plan import Sync

SYNC_NAMES: tuple[Sync, ...] = ("allreduce", "diloco", "streaming-diloco")
# H of the papers' headline runs: DiLoCo synchronises every 500 inner steps ("communicating 500 times less",
# arXiv:2311.08105 abstract); Streaming DiLoCo's scaling runs use H = 100 (arXiv:2501.18512, Figure 5).
DEFAULT_INNER_STEPS: dict[str, int] = {"diloco": 500, "streaming-diloco": 100}
OUTER_BYTES_PER_PARAM: dict[str, float] = {"diloco": 4.0, "streaming-diloco": 0.5}
LAYERS_PER_FRAGMENT = 3
OVERLAP_INNER_STEPS = 1

# The published effect on quality, stated with every estimate that uses the scheme (not priced: the step model
# assumes the same loss per token as synchronous training, which is what these results support at their scale).
QUALITY: dict[str, str] = {
    "diloco": (
        "DiLoCo (arXiv:2311.08105): 'DiLoCo on 8 workers performs as well as fully synchronous optimization while "
        "communicating 500 times less' (C4, H = 500); the estimate assumes the same loss per "
        "token as synchronous training, untested at this model size and replica count"
    ),
    "streaming-diloco": (
        "Streaming DiLoCo (arXiv:2501.18512, Table 1, 1B model on Dolma): eval loss 2.66 / 2.51 / "
        "2.45 against data-parallel's 2.67 / 2.52 / 2.45 at 25B / 100B / 250B tokens while exchanging 400x fewer "
        "bits; the estimate assumes the same loss per token as synchronous training, untested at this model size"
    ),
}


def sync_code(sync: str) -> int:
    return SYNC_NAMES.index(sync)  # type: ignore[arg-type]


def fragments(layers: int) -> int:
    """Streaming DiLoCo's fragments: LAYERS_PER_FRAGMENT transformer layers each (arXiv:2501.18512, Figure 6)."""
    return max(1, math.ceil(layers / LAYERS_PER_FRAGMENT))


def ring_s(volume_bytes: Any, sites: Any, link_bytes_per_s: float, latency_s: float, site_nic_bytes_per_s: Any) -> Any:
    """All-reduce of ``volume_bytes`` (per site) over a ring of ``sites`` sites (Patarasuk & Yuan 2009, section 3):
    2 (s - 1) latencies plus 2 (s - 1) / s of the volume over the slower of the pair link and the site's NICs."""
    s = np.asarray(sites, dtype=float)
    rate = np.minimum(link_bytes_per_s, site_nic_bytes_per_s)
    t = 2.0 * (s - 1.0) * latency_s + 2.0 * (s - 1.0) / s * np.asarray(volume_bytes, dtype=float) / rate
    return np.where(s > 1, t, 0.0)


def exposed_s(
    sync: np.ndarray,
    sites: np.ndarray,
    inner_steps: np.ndarray,
    *,
    params: float,
    layers: int,
    grad_bytes: float,
    step_s: np.ndarray,
    window_s: Any,
    bucket_share: float,
    link_bytes_per_s: float,
    latency_s: float,
    site_nic_bytes_per_s: np.ndarray,
) -> np.ndarray:
    """WAN time per step each candidate cannot hide (module docstring): the hierarchical all-reduce's cross-site
    ring beyond the overlap window, DiLoCo's blocking outer all-reduce amortised over H inner steps, or Streaming
    DiLoCo's fragment syncs beyond tau inner steps. ``step_s`` is the step without the WAN (the inner step)."""
    s = sites.astype(float)
    h = np.maximum(inner_steps, 1).astype(float)
    lat = 2.0 * (s - 1.0) * latency_s
    t_ar = ring_s(params * grad_bytes, s, link_bytes_per_s, latency_s, site_nic_bytes_per_s)
    last_bucket = lat + bucket_share * (t_ar - lat)
    allreduce = np.maximum(t_ar - window_s, last_bucket)
    diloco = ring_s(params * OUTER_BYTES_PER_PARAM["diloco"], s, link_bytes_per_s, latency_s, site_nic_bytes_per_s) / h
    f = float(fragments(layers))
    volume = params * OUTER_BYTES_PER_PARAM["streaming-diloco"] / f
    t_frag = ring_s(volume, s, link_bytes_per_s, latency_s, site_nic_bytes_per_s)
    stalls = f / h * np.maximum(0.0, t_frag - OVERLAP_INNER_STEPS * step_s)
    streaming = np.maximum(np.maximum(stalls, f * t_frag / h - step_s), 0.0)
    out = np.select([sync == 0, sync == 1, sync == 2], [allreduce, diloco, streaming], 0.0)
    return np.where(s > 1, out, 0.0)


def wan_bytes_per_step(sync: str, sites: int, inner_steps: int | None, params: float, grad_bytes: float) -> float:
    """Bytes one site sends over the WAN per (inner) step, amortised: 2 (s - 1) / s of the volume per sync."""
    if sites <= 1:
        return 0.0
    ring = 2.0 * (sites - 1) / sites
    if sync == "allreduce":
        return ring * params * grad_bytes
    h = inner_steps or DEFAULT_INNER_STEPS[sync]
    return ring * params * OUTER_BYTES_PER_PARAM[sync] / h
