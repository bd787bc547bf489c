"""Fused-attention speed of one rank's attention under all-gather context parallelism (Llama 3's CP, causal mask).

Mechanism. A stack whose ``SoftwareProfile.cp_comm_type`` is ``all_gather`` gathers the whole sequence's K and V
before attention (perf.cp_allgather prices that exchange) and then attends its local queries to them; it does not
split its work by key/value chunk as the ring does (perf.cp_ring_span). Llama 3 Herd of Models (arXiv:2407.21783),
section 3.3.2: "we partition the input sequence into 2 x CP chunks so each CP rank receives two chunks for better
load balancing. The i-th CP rank received both the i-th and the (2 x CP - 1 - i)-th chunks", and "we first
all-gather the key (K) and value (V) tensors, and then compute attention output for the local query (Q) tensor
chunk". With c = S / (2 cp) tokens a chunk, chunk j holds queries j c .. (j + 1) c - 1 and query i sees keys
0 .. i; one kernel call per chunk runs c queries against the (j + 1) c keys up to the chunk's causal frontier
(bottom-right causal mask; a variable-length call over both chunks has the same tiles). Meta's stack is not
public: the call split is this reading of the paper's sentences, an assumption.

Kernel span. perf.attention_span prices a fused-attention kernel by its tiles: each tile pays a fixed cost worth
n0 keys and then its span, so a kernel's time is proportional to the sum over tiles of (span + n0) and its work
to the sum of spans (s(n) = n / (n + n0); FlashAttention-2, arXiv:2307.08691, Algorithm 1). The two directions
tile the score matrix differently (FlashAttention-2 section 3.2 and Fig. 2: "In the forward pass (left), we
parallelize the workers (thread blocks) where each worker takes care of a block of rows of the attention matrix.
In the backward pass (right), each worker takes care of a block of columns of the attention matrix"; the
backward's Algorithm 2 loops over the key/value blocks outside and the query blocks inside). On a causal call
over a whole sequence both give L / B tiles of mean span L / 2, each with one masked (diagonal) block: the causal
n0 of perf.attention_span (232 keys forward, 592 backward, Hopper). Here they differ. Per rank r, chunks r and
R = 2 cp - 1 - r, B the tile edge, every count below over B:

- forward, one tile per query block: chunk j has c query tiles, each walking its keys to the frontier, on average
  (j + 1/2) c keys, the last block masked (causal n0). Time c [(r + 1/2) c + (R + 1/2) c] + 2 c n0_causal =
  c S + 2 c n0_causal, since r + R + 1 = 2 cp and 2 cp c = S; work c S (the causal layer's S^2 / 2 over cp). Time
  per work 1 + n0_causal / (S / 2) = 1 / s(S / 2): the whole layer's causal span S / 2, the same as at cp 1, for
  every rank; not the ring's per-call span S / (2 cp) (65,536 keys against 4,096 at S = 131,072, cp 16).
- backward, one tile per key block: chunk j's call has j c key tiles before the chunk, each seen by all c queries
  with no mask (span c, unmasked n0), and c key tiles inside it, seen by c .. 0 queries (mean c / 2, one masked
  block each: causal n0). Work c^2 (j + 1/2) per chunk, c S per rank as forward; time c S + n0_full (r + R) c +
  2 c n0_causal. Time per work

      T_bwd = 1 + [ (2 cp - 1) n0_full + 2 n0_causal ] / S

  again the same for every rank. Every key tile sees at most c queries, so the backward runs near the ring's
  span: at S = 131,072, cp 16 (c = 4,096) and the Hopper pair (n0_full 360, n0_causal 592) T_bwd = 1 + (31 x
  360 + 2 x 592) / 131,072 = 1.0942, against 1 + 592 / 4,096 = 1.1446 for the causal call at c that the model
  charged before and 1 + 592 / 65,536 = 1.0090 at the forward's span.

The masked share of chunk j's visible query-key pairs is (c^2 / 2) / ((j + 1/2) c^2) = 1 / (2 j + 1): a whole
causal call for chunk 0, 1 / (4 cp - 1) for the last chunk; what the price needs is the tile count above (one
masked block per forward tile; c of the (j + 1) c backward key tiles).

n0_full is the unmasked kernel's fixed cost fitted on the FlashAttention-3 paper's non-causal panel (perf.
cp_ring_span: 360 keys backward, Hopper). A card with its own tile costs (EfficiencyTable.attention_*_
tile_overhead_keys) has no fitted unmasked curve, so its unmasked backward tiles take its causal n0 (the ring's
choice on those cards, perf.attention_span.ring_priced; it overstates those tiles' fixed cost by at most the
masked block). Full-attention layers only: a sliding-window layer's span is its window whatever the split, and its
tiles keep perf.attention_span's pricing at cp 1 (an assumption; no catalog model with windows runs all-gather CP).
The backward's structure is FlashAttention-2's; FlashAttention-3 and cuDNN's fused attention are assumed to tile
the backward the same way (by key/value block). Whether the term is in the step time is :data:`ENABLED`.

Verdict at the time of landing (main 837b78b; validate all and scripts/refit_protocol.py --catalog-attention,
benchmarks/results/refit_protocol_cp_allgather_span.json): one row moves, Llama 3 405B at 128K (TP 8, CP 16), +3.65%
-> +6.54% too fast (its attention core runs 1.053 times faster forward and 1.046 backward than at the ring's span);
all rows 7.440% -> 7.444% in sample, leave-one-source-out 7.54% -> 7.54% (the whole-set H100 BF16 GEMM refit stays
0.6941); the >= 16,384-GPU band 4.35% -> 5.80%, signed -0.70 -> +0.74; the published set 3.99% -> 4.05%; the Llama 3
Table 4 source 4.03% -> 5.00%. Correct physics that reads slightly worse on one row, with LOSO unchanged: it lands.
"""

from __future__ import annotations

from supercluster.errors import SuperclusterError
from supercluster.perf import cp_ring_span

# The accuracy protocol's switch (module docstring): False prices the rank's calls at the ring's span, as before.
ENABLED = True


def _check_rank(cp: int, rank: int) -> None:
    """One line naming the valid ranks when ``rank`` is outside the cp group."""
    if not 0 <= rank < cp:
        raise SuperclusterError(f"rank {rank} is outside the cp group of {cp}: valid ranks are 0 .. {cp - 1}")


def chunk_spans_keys(seq: float, cp: int, rank: int) -> tuple[float, float]:
    """Mean keys per query (forward tile span) of rank ``rank``'s two load-balanced chunks: chunks r and 2 cp - 1 - r
    of c = S / (2 cp) tokens, (j + 1/2) c keys for chunk j (module docstring; Llama 3, arXiv:2407.21783, 3.3.2)."""
    _check_rank(cp, rank)
    c = seq / (2.0 * cp)
    return (rank + 0.5) * c, (2.0 * cp - 1.0 - rank + 0.5) * c


def fwd_time_per_work(seq: float, cp: int, rank: int, causal_overhead_keys: float) -> float:
    """Forward time per unit of work, in units of the kernel's asymptotic rate, of rank ``rank``'s two chunk calls:
    [c (n_a + n0) + c (n_b + n0)] / [c (n_a + n_b)] with n_a, n_b the chunks' spans (:func:`chunk_spans_keys`), one
    masked block per query tile (causal n0). Equals 1 + n0 / (S / 2) for every rank (module docstring)."""
    first, second = chunk_spans_keys(seq, cp, rank)
    return (first + second + 2.0 * causal_overhead_keys) / (first + second)


def bwd_time_per_work(seq: float, cp: int, rank: int, causal_overhead_keys: float, full_overhead_keys: float) -> float:
    """Backward time per unit of work of rank ``rank``'s two chunk calls, one tile per key block (FlashAttention-2
    section 3.2): chunk j has j c unmasked key tiles of span c and c diagonal ones of mean span c / 2, so the rank's
    time is c S + (r + R) c n0_full + 2 c n0_causal over work c S, R = 2 cp - 1 - r (module docstring)."""
    _check_rank(cp, rank)
    c = seq / (2.0 * cp)
    chunks = (rank, 2 * cp - 1 - rank)
    work = sum(j * c * c + 0.5 * c * c for j in chunks)
    time = work + sum(j * c * full_overhead_keys + c * causal_overhead_keys for j in chunks)
    return time / work


def full_overheads_keys(
    fwd_keys: float | None, bwd_keys: float | None, causal_keys: tuple[float, float]
) -> tuple[float, float]:
    """The (forward, backward) fixed cost per unmasked tile for the gathered calls: the Hopper non-causal fits
    (perf.cp_ring_span, 141 and 360 keys) for a card that takes the Hopper pair (neither of its own ``attention_*_
    tile_overhead_keys``), else the card's causal pair ``causal_keys`` (module docstring)."""
    if fwd_keys is None and bwd_keys is None:
        return cp_ring_span.FWD_FULL_OVERHEAD_KEYS, cp_ring_span.BWD_FULL_OVERHEAD_KEYS
    return causal_keys
