"""Tensor-parallel communication hidden by Transformer Engine's userbuffers overlap.

Mechanism. With sequence parallelism each transformer block all-gathers its input before the column-parallel
GEMM (QKV, FC1) and reduce-scatters the output of the row-parallel GEMM (attention projection, FC2); the
backward moves the same traffic (Korthikanti et al. 2022, arXiv:2205.05198, section 4.2.2). Transformer Engine's
userbuffers overlap (NeMo ``ub_tp_comm_overlap``, Megatron ``--tp-comm-overlap``) decomposes each collective and
its GEMM into chunks so that the transfer of one chunk runs while the GEMM of another computes (Wang et al. 2023,
"Overlap Communication with Dependent Computation via Decomposition in Large Deep Learning Models", ASPLOS 2023,
pp. 93-106, doi:10.1145/3567955.3567959: the collective is split along a dimension the GEMM does not reduce, and
chunk i's compute overlaps chunk i+1's transfer). Three methods, each priced with its own residual:

- ring exchange (all-gather into a GEMM, ``tp`` chunks): the local chunk needs no transfer, so the ``tp - 1``
  remote chunks' transfers run behind the first ``tp - 1`` chunks of GEMM::

      exposed = max(0, c - g (tp - 1) / tp)

- pipeline (GEMM, then reduce-scatter of its output, ``s`` splits): chunk i's reduce-scatter runs behind chunk
  i+1's GEMM; the last chunk's reduce-scatter has nothing to hide behind::

      exposed = c / s + (s - 1) max(0, c / s - g / s)

- bulk (a collective beside an independent GEMM of the backward: the input's re-gather beside the data-gradient
  GEMM, the input gradient's reduce-scatter beside the weight-gradient GEMM)::

      exposed = max(0, c - g)

with c the collective's time alone and g the paired GEMM's time alone. The overlap is not free: the
communication kernels occupy SMs (perf.sm_share, the rule every overlapped collective shares). A pipelined GEMM
launched with an SM margin (``set_sm_margin: 1``) runs on ``n - k`` of the card's ``n`` SMs for its whole length,
``g k / (n - k)`` longer; a bulk or ring-exchange collective takes its ``k`` SMs from the GEMM for as long as both
run, ``min(c, g) k / n``.

Per layer (NeMo's userbuffers configuration, NVIDIA/dgxc-benchmarking llama3.1/llama3.1_70b.yaml at v24.11.1,
``ub_tp_comm_overlap_cfg``; the same as NeMo 2.0's userbuffers_bf16_h100_h8192_tp4_mbs1_seqlen8192 in
nemo/collections/llm/recipes/tp_overlap_configs/userbuffers.py; its other configurations differ in SM counts, e.g.
the 405B's fc2_fprop on 8 SMs, and on B200 in ring exchange for the forward reduce-scatters; Megatron-Bridge's
performance recipes select from the same set). Forward qkv_fprop and fc1_fprop ring exchange (1 SM), proj_fprop
pipeline (4 splits, 24 SMs, margin), fc2_fprop pipeline (4 splits, 16 SMs, margin); backward proj_dgrad and
fc2_dgrad ring exchange (1 SM), qkv_dgrad bulk (4 SMs), qkv_wgrad bulk (24 SMs), fc1_dgrad bulk (2 SMs), fc1_wgrad
bulk (4 SMs). SM count: 132 on H100 SXM5 (glennklockwood.com/garden/processors/h100, from NVIDIA's Hopper
whitepaper: "Each H100 SXM5 GPU has: 8 GPCs, 66 TPCs, 132 SMs (2 per TPC)"); the recipes were written for it, and
the fraction k / n is kept on other cards (an assumption: Blackwell's 148 SMs would make the margin about 11%
smaller, a second-order change).
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.perf import sm_share

# The accuracy protocol's switch (scripts/tp_overlap_protocol.py, benchmarks/results/tp_overlap_protocol.json): False
# prices every stack's TP traffic with its flat tp_overlap_fraction. The protocol kept it on: all-rows
# leave-one-source-out MAPE 15.42% -> 15.21%, the published set's 7.92% unchanged (in sample 3.06% -> 3.08%).
ENABLED = True


@dataclass(frozen=True, slots=True)
class UbOp:
    """One overlapped collective of Transformer Engine's userbuffers configuration."""

    method: str  # "ring_exchange", "pipeline" or "bulk"
    sms: float  # SMs the communication kernel occupies (num_sm)
    splits: int = 1  # pipeline chunks (num_splits)
    margin: bool = False  # the GEMM launched on the remaining SMs for its whole length (set_sm_margin)


# NeMo's configuration (module docstring), by the GEMM each collective overlaps
NEMO_UB = {
    "qkv_fprop": UbOp("ring_exchange", 1),
    "proj_fprop": UbOp("pipeline", 24, 4, True),
    "fc1_fprop": UbOp("ring_exchange", 1),
    "fc2_fprop": UbOp("pipeline", 16, 4, True),
    "proj_dgrad": UbOp("ring_exchange", 1),
    "fc2_dgrad": UbOp("ring_exchange", 1),
    "qkv_dgrad": UbOp("bulk", 4),
    "qkv_wgrad": UbOp("bulk", 24),
    "fc1_dgrad": UbOp("bulk", 2),
    "fc1_wgrad": UbOp("bulk", 4),
}


def exposed_s(op: UbOp, comm_s: float, gemm_s: float, tp: int) -> float:
    """Seconds a collective of ``comm_s`` (alone) adds beside its paired GEMM of ``gemm_s`` (alone) under ``op``,
    the SMs it takes from the GEMM included (module docstring: Wang et al. 2023; TE userbuffers)."""
    if comm_s <= 0.0:
        return 0.0
    if op.method == "ring_exchange":
        residual = max(0.0, comm_s - gemm_s * (tp - 1) / tp)
    elif op.method == "pipeline":
        s = op.splits
        residual = comm_s / s + (s - 1) * max(0.0, (comm_s - gemm_s) / s)
    elif op.method == "bulk":
        residual = max(0.0, comm_s - gemm_s)
    else:
        raise ValueError(f"unknown userbuffers method '{op.method}'")
    # the SMs the communication kernel holds (perf.sm_share: the one rule for every overlapped collective)
    sm_cost = sm_share.margin_cost_s(gemm_s, op.sms) if op.margin else sm_share.beside_cost_s(comm_s, gemm_s, op.sms)
    return residual + float(sm_cost)


def userbuffers_tp_s(ag_s: float, rs_s: float, gemms: dict[str, float], tp: int) -> tuple[float, float]:
    """Exposed (forward, backward) TP seconds of one dense layer with sequence parallelism under NeMo's
    userbuffers overlap. ``ag_s`` and ``rs_s`` are one h-wide all-gather and reduce-scatter alone; ``gemms``
    holds the seconds of each paired GEMM by the keys of :data:`NEMO_UB` (qkv/proj/fc1/fc2 x fprop/dgrad/wgrad).

    Forward: all-gather into QKV and FC1, reduce-scatter out of proj and FC2. Backward: the output gradient's
    all-gather into the proj and FC2 data-gradient GEMMs; the input's re-gather beside the QKV and FC1 data
    gradients and the input gradient's reduce-scatter beside their weight gradients (Korthikanti et al. 2022,
    section 4.2.2: g and g-bar conjugates).
    """
    ub = NEMO_UB
    fwd = (
        exposed_s(ub["qkv_fprop"], ag_s, gemms["qkv_fprop"], tp)
        + exposed_s(ub["proj_fprop"], rs_s, gemms["proj_fprop"], tp)
        + exposed_s(ub["fc1_fprop"], ag_s, gemms["fc1_fprop"], tp)
        + exposed_s(ub["fc2_fprop"], rs_s, gemms["fc2_fprop"], tp)
    )
    bwd = (
        exposed_s(ub["proj_dgrad"], ag_s, gemms["proj_dgrad"], tp)
        + exposed_s(ub["fc2_dgrad"], ag_s, gemms["fc2_dgrad"], tp)
        + exposed_s(ub["qkv_dgrad"], ag_s, gemms["qkv_dgrad"], tp)
        + exposed_s(ub["qkv_wgrad"], rs_s, gemms["qkv_wgrad"], tp)
        + exposed_s(ub["fc1_dgrad"], ag_s, gemms["fc1_dgrad"], tp)
        + exposed_s(ub["fc1_wgrad"], rs_s, gemms["fc1_wgrad"], tp)
    )
    return fwd, bwd
