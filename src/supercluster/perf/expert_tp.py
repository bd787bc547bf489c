"""Expert tensor parallelism: the collectives a token dispatcher adds when each expert is split over ranks.

Mechanism. With expert tensor parallelism (etp > 1) every expert's weights are split over ``etp`` ranks (fc1
column-wise, fc2 row-wise, as a dense MLP under Megatron tensor parallelism), so every one of those ranks needs every
routed copy of a token bound for its local experts, and their partial fc2 outputs must be summed before the combine.
Megatron-Core does this in the token dispatcher, not in the expert linears (those are built without tensor-parallel
communication of their own):

- MoEAlltoAllTokenDispatcher (megatron/core/transformer/moe/token_dispatcher.py, ``--moe-token-dispatcher-type
  alltoall``): after the expert-parallel all-to-all, ``gather_from_sequence_parallel_region(global_input_tokens,
  group=tp_group, output_split_sizes=...)`` all-gathers the routed copies that arrived at each rank of the expert-TP
  group; on the way back ``reduce_scatter_to_sequence_parallel_region`` sums the partial expert outputs and returns
  each rank its own copies, before the combine all-to-all. Megatron-Core 0.7-0.8 moved the same bytes as an
  all-to-all over TP (``all_to_all_sp2hp``), the EP all-to-all of h / tp wide slices and an all-gather of the last
  dimension (``all_gather_last_dim_from_tensor_parallel_region``).
- The all-gather and reduce-scatter carry the routed copies, not the tokens: ``topk`` copies per token (times the
  busiest rank's load), each ``hidden`` wide in BF16. Gathered over the expert-TP group, a rank ends up holding
  ``tokens * etp / tp * topk * load`` copies (the rows its local expert GEMMs multiply; perf.layer), so the
  all-gather's output is that many rows of ``2 * hidden`` bytes, topk times the dense MLP's sequence-parallel gather.
- They are issued by the dispatcher on the compute stream between the permutation and the expert GEMMs, so neither
  Transformer Engine's userbuffers overlap nor Megatron's asynchronous data-gradient all-reduce (both live inside the
  TE/Megatron parallel linears) hides them; the backward runs the mirror (the all-gather's backward is a
  reduce-scatter and vice versa), the same bytes again. Only a schedule that overlaps the whole dispatch with another
  micro-batch (Megatron-Core's combined 1F1B, perf.ep_overlap) can hide them, so they are priced with the
  expert-parallel traffic.

Ring costs of all-gather and reduce-scatter ((n - 1) / n of the gathered bytes per rank; Thakur et al. 2005) come
from the fabric model (fabric.collectives), over ``etp`` consecutive ranks (expert TP is the innermost expert
dimension, MoE Parallel Folding, Liu et al. 2025, arXiv:2504.14960, section 3.1).

The all-gather dispatcher (MoEAllGatherTokenDispatcher, ``--moe-token-dispatcher-type allgather``, Megatron-LM's
default through 2024: arguments.py at commit f1f03922, October 2024, ``default='allgather'``) has no all-to-all at
all: ``gather_from_sequence_parallel_region_to_moe(hidden_states, use_global_buffer=True)`` all-gathers every rank's
sequence-parallel shard of the tokens over the whole TP x EP group ("this allgather spans the communication domain
of TP*EP": [(S/TP)*B, H] -> [S*B*EP, H]), with the routing indices (int64) and probabilities (fp32) of their top-k
choices; each rank then picks the copies routed to its local experts (``moe_gather``), and on the way back scatters
its partial outputs into a zeroed buffer of all the group's tokens and reduce-scatters it over TP x EP
(``reduce_scatter_to_sequence_parallel_region_from_moe``), which both sums the expert-TP partial sums and returns
each rank its shard. It moves tokens, not routed copies (1 row per token against top-k), but over tp * ep ranks.

Which stacks use which dispatcher is a fact of the stack (``SoftwareProfile.ep_dispatch``): this module prices the
all-to-all (``per-expert``) and all-gather (``all-gather``) dispatchers; the flex dispatcher over DeepEP
(``per-destination``) runs its experts at etp = 1 in every bundled run and is left to perf.layer.expert_dispatch.
"""

from __future__ import annotations

from supercluster.perf.comm import CollectiveModel, span_of

BF16_BYTES = 2.0
# Routing metadata the all-gather dispatcher gathers with each token, per top-k choice: the expert index (int64,
# max_ind) and its probability (fp32, max_prob).
INDEX_BYTES, PROB_BYTES = 8.0, 4.0


def routed_copy_rows(tokens: float, tp: int, etp: int, topk: int, load: float) -> float:
    """Routed copies a rank of the expert-TP group holds after the dispatcher's all-gather.

    ``tokens`` is the micro-batch's tokens on this rank's context shard (before sequence-parallel splitting);
    the ``etp / tp`` of them that the expert-TP group shares, ``topk`` copies each, times the busiest rank's load.
    Example (MegaScale-MoE's Megatron-LM baseline, arXiv:2505.11432 Table 2-3: top-3, tp = etp = 8, micro-batch 2
    of 8,192 tokens): 16,384 * 8 / 8 * 3 * 1.0 = 49,152 rows.
    """
    return tokens * (etp / tp) * topk * load


def expert_tp_fwd_s(
    comm: CollectiveModel,
    tokens: float,
    hidden: int,
    tp: int,
    etp: int,
    topk: int,
    load: float,
) -> float:
    """Forward seconds of the expert-TP all-gather (dispatch) and reduce-scatter (combine) of one MoE layer.

    The all-gather's output, and the reduce-scatter's input, is :func:`routed_copy_rows` rows of ``2 * hidden``
    bytes, over ``etp`` consecutive ranks. Zero when the experts are not split (etp = 1). The backward moves the
    same bytes (reduce-scatter of the gathered copies' gradient, all-gather of the output gradient), so the layer's
    forward-plus-backward cost is twice this.
    """
    if etp <= 1:
        return 0.0
    nbytes = routed_copy_rows(tokens, tp, etp, topk, load) * hidden * BF16_BYTES
    span = span_of(etp, 1, comm.domain)
    return float(comm.all_gather(nbytes, span)) + float(comm.reduce_scatter(nbytes, span))


def allgather_dispatch_fwd_s(
    comm: CollectiveModel,
    shard_tokens: float,
    hidden: int,
    tp: int,
    ep: int,
    topk: int,
) -> float:
    """Forward seconds of the all-gather dispatcher's gather (tokens, indices, probabilities) and reduce-scatter.

    ``shard_tokens`` is one rank's sequence-parallel shard of the micro-batch (tokens / tp with sequence
    parallelism). Gathered over the tp * ep consecutive ranks of Megatron's tensor-and-expert group: hidden states
    ``shard_tokens * tp * ep`` rows of ``2 * hidden`` bytes, plus ``topk`` indices and probabilities per token
    (12 B each); the reduce-scatter returns the hidden states only. Example (tp 8, ep 1, 2,048-token shard, h 4096,
    top-3): 16,384 * 8,192 B = 134.2 MB of hidden states and 16,384 * 36 B = 0.59 MB of routing metadata gathered,
    134.2 MB reduce-scattered. The backward moves the same hidden-state bytes (the metadata carries no gradient).
    """
    ranks = tp * ep
    if ranks <= 1:
        return 0.0
    rows = shard_tokens * ranks
    span = span_of(ranks, 1, comm.domain)
    hidden_bytes = rows * hidden * BF16_BYTES
    meta_bytes = rows * topk * (INDEX_BYTES + PROB_BYTES)
    gather = float(comm.all_gather(hidden_bytes, span)) + float(comm.all_gather(meta_bytes, span))
    return gather + float(comm.reduce_scatter(hidden_bytes, span))


# Whether the step model prices the dispatcher's expert-TP collectives this way (perf.layer); False restores the
# former pricing (the expert block's TP traffic as a dense MLP's, on the tokens, with the stack's TP overlap).
ENABLED = True
