"""Routing and token movement of one MoE layer as memory-bound kernels, each priced by the bytes it moves.

Everything here is elementwise or a gather/scatter: a handful of bytes per element, no reuse, so each kernel runs at
a streaming rate (:func:`routing_s`: the card's HBM bandwidth times an achieved fraction measured on an MXFP8
quantizer, ROUTING_HBM_FRACTION). The
router's GEMM (tokens x hidden @ hidden x experts) is priced as a GEMM by perf.layer; the rest is counted below for
one GPU and one micro-batch, with

- ``T``: tokens this GPU routes (its sequence shard, or the expert-TP group's gathered tokens), ``h`` hidden,
  ``E`` experts, ``k`` top-k, ``f`` expert width (per expert-TP rank), ``u`` = 2 for a gated expert (SwiGLU), else 1;
- ``R``: routed copies this GPU's experts compute (T k, times the busiest rank's load under dropless routing);
- activations in BF16 (2 B), router scores in FP32 (4 B; Megatron-Core computes the router in FP32,
  ``--moe-router-dtype fp32``, and NeMo AutoModel's gate casts its logits to float), indices in int64 (8 B).

Forward kernels (bytes read + written):

- score function (softmax or sigmoid) over the logits: 4 T E + 4 T E;
- top-k: reads the scores 4 T E, writes k values and indices T k (4 + 8), the dense probabilities and the boolean
  routing map Megatron-Core's topk_softmax_with_capacity returns (4 + 1) T E;
- load-balancing statistics (learned routers): the auxiliary loss (Switch Transformers, Fedus et al. 2021,
  arXiv:2101.03961, eq. 4: f_i P_i, each a sum over the tokens) reads the probabilities and the routing map, (4 + 1)
  T E; the auxiliary-loss-free bias update (DeepSeek-V3, arXiv:2412.19437, section 2.1.2) reads only the per-expert
  counts, negligible. Its backward writes the gradient of the probabilities, 4 T E.
- permute (gather of the k copies of every token into expert-major order): each copy reads its source row and
  writes it, 2 x 2 k T h, plus the row index (8 B per copy) and the copy's probability (4 + 4 B);
- a second permutation after Megatron-Core's all-to-all when a rank holds several experts (sort_chunks_by_idxs,
  token_dispatcher.py MoEAlltoAllTokenDispatcher, "permutation_2"): 2 x 2 R h, and its inverse before the combine;
- unpermute and combine (the probability-weighted sum of a token's k copies): reads the k copies and their weights,
  2 k T h + 4 k T + 8 k T, writes the token, 2 T h.

Backward: the permute's gradient is an unpermute (the copies' gradients summed back into the token) and the
unpermute's gradient a permute of the output gradient, so the same bytes; the gradient of the routing weights
adds one more read of the k copies and of the output gradient for their dot products, 2 k T h + 2 T h.

Where the permutation happens depends on the dispatcher (``SoftwareProfile.ep_dispatch``, Megatron-LM
megatron/core/transformer/moe/token_dispatcher.py):

- ``per-expert`` (MoEAlltoAllTokenDispatcher): permute on the sender before the all-to-all (k copies of each
  token), the second permutation after it, their inverses around the combine;
- ``per-destination`` (the flex dispatcher over DeepEP, _DeepepManager): DeepEP's dispatch sends a token once per
  destination rank, and get_permuted_hidden_states_by_experts then permutes the received tokens into the local
  experts' order on the receiver: one gather of the R local copies, its unpermute on the way back. (HybridEP fuses
  that permutation into its dispatch kernel; the same bytes are then written by the dispatch, counted here alike.)
- ``all-gather`` (MoEAllGatherTokenDispatcher, Megatron-LM's default through 2024; the code at commit f1f03922,
  megatron/core/transformer/moe/token_dispatcher.py and moe_utils.py): no all-to-all; each rank gathers the
  ``G`` tokens of its TP x EP group (perf.expert_tp) and moves its ``R`` local copies with unfused PyTorch
  operators, each a full pass over its rows (:func:`allgather_permute_bytes`): ``moe_gather`` (torch.gather) of
  the local copies out of the gathered tokens, the permutation into expert order (a second moe_gather), on the way
  back ``moe_scatter`` (torch.zeros, then scatter_add_) into expert-independent order and the ``sum(dim=1)`` of
  its [R, 1, h] view (a copy), the multiplication by the routing probabilities, and a second moe_scatter into a
  zeroed buffer of all G tokens for the reduce-scatter. The backward runs each operator's gradient: a gather for
  each moe_scatter, a zeroed scatter_add_ for each moe_gather, and the probability product's two gradients (the
  copies' gradient, and the probabilities' as a product of the output gradient with the saved copies, then a
  sum over h). Priced at the same streaming rate: a published chain of the same unfused operators (TileOPs PR #608,
  H200, the "PyTorch-vec" baseline: gather, fp32 cast and product, zeroed scatter_add_, cast back) moves its bytes
  at 3.0-3.1 TB/s, 63-64% of HBM, so the atomics cost no more than their bytes; ROUTING_HBM_FRACTION reads it
  14-18% fast (tests/test_allgather_dispatcher.py).

Quantized expert GEMMs (``fp8``, ``mxfp8``): every expert GEMM input is cast to 8 bits first, row-wise for the
forward and column-wise (the transposed copy) for the weight gradient: Transformer Engine's fused cast-transpose
reads BF16 (2 B) and writes two 8-bit copies (FP8: 1 + 1 B; MXFP8: one E8M0 scale byte per 32 elements on each
copy, OCP Microscaling Formats v1.0 section 5, so 2 (1 + 1/32) B). Forward inputs: the FC1 input (R x h) and the FC2
input (R x f); backward: the output gradients of FC2 (R x h) and FC1 (R x u f). The groups' rows are padded to the
quantized GEMM's alignment (Megatron-Core --moe-router-padding-for-quantization / Transformer Engine's Fp8Padding:
16 rows per expert for FP8, 32 for MXFP8), which only costs where an expert's token count is not already aligned:
under dropless routing an expert's last block is half empty on average.
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.perf.expert_gemm import padded_rows
from supercluster.specs import Accelerator

# The accuracy protocol's switch: perf.layer prices the routing kernels from this module while True (and its
# older per-expert permute term otherwise)
ENABLED = True
# Streaming rate of these kernels as a share of the card's HBM bandwidth: fal.ai, "Chasing 6+ TB/s: an MXFP8
# quantizer on Blackwell" (blog.fal.ai, 2025): "We built an MXFP8 quantizer in CuTeDSL that hits 6+ TB/s on B200",
# counting "Bw_eff = (2*M*K + 1*M*K + 1*M*(K/32)) / t" (the bytes QUANT_BYTES counts per copy), of the B200's
# 8 TB/s: 0.75 for a hand-tuned kernel (its first versions reached 1.3 and 3.3 TB/s). Gathers and scatters of
# whole rows and the framework's quantizers do no better, so the routing kernels stream at most this share
# (a card whose own memory-bound fraction is lower keeps it).
ROUTING_HBM_FRACTION = 6.0 / 8.0
ACT_BYTES = 2.0  # bf16 activations
SCORE_BYTES = 4.0  # fp32 router scores
INDEX_BYTES = 8.0  # int64 indices
MAP_BYTES = 1.0  # boolean routing map
# bytes per element of a fused cast-transpose: read bf16, write the row-wise and the column-wise 8-bit copies
QUANT_BYTES = {"fp8": 2.0 + 2.0 * 1.0, "mxfp8": 2.0 + 2.0 * (1.0 + 1.0 / 32.0)}
# rows per expert a quantized grouped GEMM needs (Megatron-Core fp8_utils.get_fp8_align_size: 16 for FP8, 32 MXFP8)
QUANT_ALIGN_ROWS = {"fp8": 16.0, "mxfp8": 32.0}


@dataclass(frozen=True, slots=True)
class RoutingBytes:
    """HBM bytes of one MoE layer's routing kernels on one GPU for one micro-batch, by kernel (forward, backward)."""

    router_fwd: float
    router_bwd: float
    permute_fwd: float
    permute_bwd: float
    quant_fwd: float
    quant_bwd: float

    @property
    def fwd(self) -> float:
        return self.router_fwd + self.permute_fwd + self.quant_fwd

    @property
    def bwd(self) -> float:
        return self.router_bwd + self.permute_bwd + self.quant_bwd


def routing_s(nbytes: float, acc: Accelerator) -> float:
    """Seconds to stream ``nbytes`` of routing kernels: HBM bandwidth x min(card's fraction, ROUTING_HBM_FRACTION)."""
    fraction = min(acc.efficiency.hbm_fraction, ROUTING_HBM_FRACTION)
    return nbytes / (acc.hbm_tb_per_s * 1e12 * fraction)


def router_bytes(tokens: float, experts: float, topk: float, learned: bool) -> tuple[float, float]:
    """(forward, backward) bytes of the score function, top-k and load-balancing statistics over ``tokens``.

    Forward: 8 T E (score function) + 4 T E + 12 T k + 5 T E (top-k, dense probabilities, routing map) + 5 T E
    (auxiliary-loss statistics, learned routers only). Backward: the score function's and top-k's gradients
    (read the saved scores and the incoming gradient, write the logits' gradient: 12 T E) plus the auxiliary loss's
    gradient into the probabilities (4 T E, learned routers)."""
    te = tokens * experts
    fwd = 2.0 * SCORE_BYTES * te + SCORE_BYTES * te + tokens * topk * (SCORE_BYTES + INDEX_BYTES)
    fwd += (SCORE_BYTES + MAP_BYTES) * te
    bwd = 3.0 * SCORE_BYTES * te
    if learned:
        fwd += (SCORE_BYTES + MAP_BYTES) * te
        bwd += SCORE_BYTES * te
    return fwd, bwd


def allgather_permute_bytes(gathered_tokens: float, local_copies: float, hidden: float) -> tuple[float, float]:
    """(forward, backward) bytes of the all-gather dispatcher's token movement on one rank (Megatron-LM at f1f03922).

    ``gathered_tokens`` G, the TP x EP group's tokens every rank gathers; ``local_copies`` R, the copies of them
    routed to this rank's experts; each row ``hidden`` wide in BF16 (2 B; index and probability reads are a few
    bytes a row and left out). Forward, bytes per row element read + written: moe_gather 2 + 2, permute 2 + 2,
    moe_scatter of the copies 2 (zeros) + 2 (read) + 2 + 2 (scatter_add_ reads and writes its target), the sum's
    copy 2 + 2, the probability product 2 + 2 (R rows each), the scatter into the group's buffer 2 G (zeros) +
    2 R (read) + 2 + 2 R (add): 30 R h + 2 G h. Backward: gather for the group scatter 4 R h, the product's
    gradients 4 R h (copies) + 8 R h (read the output gradient and the saved copies, write their product, read it
    for the sum), gather for the copies' moe_scatter 4 R h, zeroed scatter_add_ for the permute 8 R h and for the
    first moe_gather 6 R h + 2 G h: 34 R h + 2 G h."""
    rh, gh = local_copies * hidden, gathered_tokens * hidden
    fwd = ACT_BYTES * (15.0 * rh + gh)
    bwd = ACT_BYTES * (17.0 * rh + gh)
    return fwd, bwd


def permute_bytes(
    tokens: float,
    copies: float,
    local_copies: float,
    hidden: float,
    dispatch: str,
    local_experts: float,
    gathered_tokens: float = 0.0,
) -> tuple[float, float]:
    """(forward, backward) bytes of the permutations around one MoE layer's dispatch and combine.

    ``tokens`` routed by this GPU, ``copies`` = their routed copies (k T), ``local_copies`` the copies its experts
    compute (R). Per-expert (all-to-all): permute 4 k T h + 16 k T, the second permutation 4 R h when the rank
    holds more than one expert and its inverse 4 R h, unpermute + combine 2 k T h + 12 k T + 2 T h. Per-destination
    (DeepEP): the receiver's permute 4 R h + 16 R and unpermute + sum 4 R h + 12 R (a received token's local
    copies summed: at most one output row per copy). Backward: the same, plus the routing weights' gradient (one
    more read of the copies and the output gradient: 2 k T h + 2 T h; 4 R h on the receiver). All-gather: the
    unfused operators of :func:`allgather_permute_bytes` over the ``gathered_tokens`` of the TP x EP group."""
    if dispatch == "all-gather":
        return allgather_permute_bytes(gathered_tokens, local_copies, hidden)
    meta = INDEX_BYTES + 2.0 * SCORE_BYTES  # index read, probability read and write per copy
    if dispatch == "per-expert":
        permute = 2.0 * ACT_BYTES * copies * hidden + meta * copies
        second = 2.0 * 2.0 * ACT_BYTES * local_copies * hidden if local_experts > 1 else 0.0
        combine = ACT_BYTES * copies * hidden + (INDEX_BYTES + SCORE_BYTES) * copies + ACT_BYTES * tokens * hidden
        weights_grad = ACT_BYTES * copies * hidden + ACT_BYTES * tokens * hidden
    else:
        permute = 2.0 * ACT_BYTES * local_copies * hidden + meta * local_copies
        second = 0.0
        # the received tokens summed from their local copies: at most one output row per copy
        combine = 2.0 * ACT_BYTES * local_copies * hidden + (INDEX_BYTES + SCORE_BYTES) * local_copies
        weights_grad = 2.0 * ACT_BYTES * local_copies * hidden
    fwd = permute + second + combine
    return fwd, fwd + weights_grad


def quant_bytes(
    precision: str, local_copies: float, local_experts: float, hidden: float, width: float, up: float, exact: bool
) -> tuple[float, float]:
    """(forward, backward) bytes of casting the expert GEMMs' inputs to ``precision`` (none in BF16).

    Rows per expert are padded to the quantized GEMM's alignment (QUANT_ALIGN_ROWS; padded_rows of perf.expert_gemm:
    exact counts round up, scattered ones add half a block). Forward: (h + f) inputs per padded row; backward:
    (h + u f) output gradients per padded row; QUANT_BYTES each."""
    per = QUANT_BYTES.get(precision)
    if per is None or local_copies <= 0 or local_experts <= 0:
        return 0.0, 0.0
    rows = local_experts * padded_rows(local_copies / local_experts, QUANT_ALIGN_ROWS[precision], exact)
    return per * rows * (hidden + width), per * rows * (hidden + up * width)


def routing_bytes(
    *,
    tokens: float,
    local_copies: float,
    experts: float,
    topk: float,
    hidden: float,
    width: float,
    up: float,
    local_experts: float,
    dispatch: str,
    precision: str,
    learned: bool,
    exact: bool,
    gathered_tokens: float = 0.0,
) -> RoutingBytes:
    """All routing-kernel bytes of one MoE layer on one GPU and micro-batch (see the module docstring).

    ``tokens`` routed here, ``local_copies`` the routed copies this GPU's experts compute (the busiest rank's, under
    dropless routing), ``width`` the expert width on this GPU (f / expert TP), ``local_experts`` the experts it
    holds; ``gathered_tokens`` the TP x EP group's tokens the all-gather dispatcher gathers (unused by the others)."""
    copies = tokens * topk
    local = local_copies
    rf, rb = router_bytes(tokens, experts, topk, learned)
    pf, pb = permute_bytes(tokens, copies, local, hidden, dispatch, local_experts, gathered_tokens)
    qf, qb = quant_bytes(precision, local, local_experts, hidden, width, up, exact)
    return RoutingBytes(rf, rb, pf, pb, qf, qb)
