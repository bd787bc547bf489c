"""Exposed communication of all-gather context parallelism (Llama 3's CP): K and V gathered before attention.

Mechanism. A stack whose ``SoftwareProfile.cp_comm_type`` is ``all_gather`` does not pass key/value chunks round a
ring behind the attention kernels. Each rank first all-gathers the key and value tensors of the whole sequence
over its context-parallel group and then attends its own (load-balanced) query chunks to them; the backward
returns each rank's share of the key and value gradients with the all-gather's adjoint, a reduce-scatter over the
same group. Neither collective has attention work beside it to hide behind. Source: Llama 3 Herd of Models
(arXiv:2407.21783), section 3.3.2: "our CP implementation adopts an all-gather based method where we first
all-gather the key (K) and value (V) tensors, and then compute attention output for the local query (Q) tensor
chunk. Although the all-gather communication latency is exposed in the critical path, we still adopt this
approach ..." (the paper calls it small because GQA keeps K and V small; the model prices it rather than drops it).

Price, per layer and micro-batch, with b the micro-batch, S the sequence, g the key/value heads, d the head
dimension, t the tensor-parallel degree (K and V are split over t like the heads) and 2 bytes per element (BF16):

    kv_bytes = 2 (K and V) x b x S x (g / t) x d x 2
    fwd_s = all_gather(kv_bytes over the cp group)          (exposed)
    bwd_s = reduce_scatter(kv_bytes over the cp group)      (exposed)

``kv_bytes`` is the gathered (full-sequence) size, the convention of fabric.collectives.CollectiveModel.all_gather.
The cp group's ranks sit ``t`` GPUs apart (tensor parallelism innermost, Megatron-Core's rank order tp-cp-dp-pp),
so a cp group inside one scale-up domain runs over NVLink and one that leaves it over the NICs.

The attention kernels that follow the gather (each rank's two load-balanced chunks against the whole K and V) are
priced by perf.cp_allgather_span.

Assumptions (Meta's stack is not public): the gathered K and V are kept for the backward (no second all-gather
there; under full recompute the re-run forward gathers them again, :func:`supercluster.perf.layer.finish`), and the
key/value gradients are reduce-scattered in BF16 (an FP32 reduction would double the backward's bytes).
Uncertainty: the backward's bytes 1x-2x; the forward's as written.
"""

from __future__ import annotations

from supercluster.perf.comm import CollectiveModel, span_of

# bytes per element of the gathered K and V and of their gradients (BF16; the module docstring's assumption)
KV_BYTES_PER_ELEMENT = 2.0
# tensors gathered per layer: K and V
KV_TENSORS = 2.0


def kv_bytes(micro_batch: float, tokens: float, kv_heads: float, head_dim: float, tp: int) -> float:
    """Bytes of the K and V of ``tokens`` tokens on one tensor-parallel rank: 2 (K, V) x b x tokens x (g / t) x d x
    2 bytes (BF16; module docstring). The all-gather's gathered size at ``tokens`` = S (:func:`gathered_kv_bytes`);
    the ring's one chunk per step at ``tokens`` = S / cp (perf.layer)."""
    return KV_TENSORS * micro_batch * tokens * (kv_heads / tp) * head_dim * KV_BYTES_PER_ELEMENT


def gathered_kv_bytes(micro_batch: float, seq: float, kv_heads: float, head_dim: float, tp: int) -> float:
    """Bytes of the whole sequence's K and V that one rank holds after the all-gather: 2 (K, V) x b x S x (g / t) x
    d x 2 bytes (module docstring)."""
    return kv_bytes(micro_batch, seq, kv_heads, head_dim, tp)


def allgather_cp_s(comm: CollectiveModel, kv_bytes: float, cp: int, tp: int) -> tuple[float, float]:
    """(forward, backward) exposed seconds of one layer's all-gather CP: the all-gather of ``kv_bytes`` (the gathered
    size) over the ``cp`` ranks ``tp`` GPUs apart, and the reduce-scatter of their gradients (module docstring)."""
    if cp <= 1:
        return 0.0, 0.0
    group = span_of(cp, tp, comm.domain)
    return float(comm.all_gather(kv_bytes, group)), float(comm.reduce_scatter(kv_bytes, group))
