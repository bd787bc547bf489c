"""Fused-attention throughput by the key span each kernel call sees (sequence length, windows, context parallelism).

A FlashAttention-style kernel gives each thread block one tile of queries and walks the key/value blocks of its
span: every tile pays a fixed cost (loading Q, the online-softmax epilogue, writing O and its statistics, the masked
diagonal block under a causal mask) and then a cost per key block at the kernel's asymptotic rate (Dao 2023,
FlashAttention-2, arXiv:2307.08691, Algorithm 1 and section 3.2; Shah et al. 2024, FlashAttention-3,
arXiv:2407.08608, section 3). With a mean span of ``n`` keys per query row and a fixed cost worth ``n0`` keys, the
useful share of a tile's time is

    s(n) = n / (n + n0)

so short spans run well below the asymptote and long ones approach it. ``n0`` is fitted once per direction on the
published curves (FlashAttention-3 paper, Fig. 5 and 6: H100 SXM5, BF16, head dim 128, batch x sequence = 16K
tokens, so the tile count is the same at every length) and checked on a second source, the lent H200's causal curve
from 2K to 128K tokens (calibration/h200-sxm-141gb-2026-11-30.attention-curve.json); tests/test_attention_span.py.

An efficiency table that declares ``EfficiencyTable.attention_reference_span`` holds its attention fractions at that
span (the span the fraction was fitted for); the step model scales them by s(n) / s(n_ref). A table without one was
fitted without this term and keeps its fractions at every span.

Spans: a causal layer over ``seq`` tokens gives query i a span of i keys, seq / 2 on average (the work the causal
kernels do, FlashAttention-2 section 3.1); sliding windows shorten it (``ModelSpec.attention_span``). Context
parallelism by ring attention (Liu et al. 2023, arXiv:2310.01889, section 3; Transformer Engine's load-balanced
variant gives rank r the chunks r and 2 cp - 1 - r) runs each rank's attention as cp kernel calls, one per
key/value chunk passing round the ring, each with 1/cp of the rank's work: the mean span of a call is the layer's
divided by cp (the keys a query sees in one call on one rank), and each ring step waits for the slowest rank, whose
calls all have that span. All-gather context parallelism (Llama 3's) does not split a rank's work by key/value chunk:
its forward walks the gathered keys to each query's frontier and its backward tiles by key block, both priced by
perf.cp_allgather_span.

The fixed cost ``n0`` is the kernel's, on its card: an efficiency table may declare its own pair
(``EfficiencyTable.attention_fwd_tile_overhead_keys`` / ``attention_bwd_tile_overhead_keys``, fitted on that card's
published curves); a table without them takes the Hopper pair below. Blackwell needs its own: from the H100 to the
B200 the tensor cores' BF16 rate grows from 1 to 2.25 PFLOP/s "while both the SFU count and shared memory bandwidth
remains unchanged" (Zadouri, Dao et al. 2026, FlashAttention-4, Together AI blog and arXiv preprint), so the
per-tile softmax and shared-memory work costs more keys' worth of tensor-core time (:func:`tile_overheads`).
NVIDIA's published Blackwell curves (cudnn-frontend sdpa_benchmark_training: GB200 cuDNN 9.18, GB300 cuDNN 9.26 and
FlashAttention-4, causal, head dim 128, 2K-32K tokens) give 629 keys forward and 795 backward (Hopper: 232, 592);
tests/test_attention_span_blackwell.py. With that pair and reference span 2048 on the four Blackwell tables the bundled
set's error fell, at the time of landing, 9.15% -> 9.02% in sample and 9.33% -> 9.25% leave-one-source-out, the
published set's is unchanged (3.64% / 3.77%) and every band's signed mean moves by under 0.3 points; the B200/GB200 BF16
GEMM fraction is then refitted by the whole-set protocol (benchmarks/results/refit_protocol_blackwell.json).

Whether the term is in the step time is :data:`IN_STEP_TIME`, the accuracy protocol's decision. Judged with the H100
SXM's BF16 GEMM fraction refitted with it by the whole-set protocol (scripts/refit_protocol.py:
benchmarks/results/refit_protocol_attention_span.json, 0.690 against 0.674 without the term), and with stacks whose
kernel predates FlashAttention-2 priced against that kernel's best figure brought to the reference span
(:func:`reference_share`, perf.attention_kernel), the bundled set's leave-one-source-out MAPE falls 10.46% -> 9.49%
(in sample 9.80% -> 9.42%) and the published set's 3.80% -> 3.77% (in sample 3.45% -> 3.64%), and every GPU-count
band's signed mean stays within +-4%, so the term lands. Refitting the attention fraction too (a joint fit, branches
refit2 and attnspan) lowers the all-rows figure further but pushes three bands past +4% and worsens the published
set: not taken. Long-context sources still disagree at one attention level (the Megatron-MoE Qwen3 long-context
table reads too slow while Liu et al. 2025 Table 5 and Llama 3 at 128K fit).

Re-judged on 2026-12-01 (main 2855e5a, issue 14/15; benchmarks/results/attn_rejudge_2026-12-01.json, made by
scripts/refit_protocol.py --hopper-attention and scripts/attn_rejudge.py): every Hopper card's pair held at the lent
H200's measured 0.4385/0.298, at the FlashAttention-3 paper's cuDNN rates at the reference span (Fig. 5 causal
forward 518 TFLOP/s at 4K tokens, Fig. 6 backward 465 at 2K without mask: 0.52/0.47), at the protocol's own
one-source fit (0.32) and at 0.30/0.34/0.38, each with the GEMM fractions refitted. None lands: every level above
0.28 raises the published set's leave-one-source-out MAPE (4.09% -> 4.12% at 0.30, 4.45% at 0.4385, 5.15% at 0.52)
and from 0.32 up takes the >= 16,384 band's signed mean past +4% (+4.7 to +22%); the all-rows figure falls at most
7.44% -> 7.21%. The Megatron-MoE Qwen3 long-context, DGX Cloud Llama 3.1 8B and MaxText Llama 3 70B tables improve
while torchtitan's context-parallel tables, Liu et al. Table 5 and Llama 3 Table 4 worsen by as much: the remaining
long-context error is per stack, not the Hopper attention level, so the catalog's 0.28/0.21 stays. Rechecked
on d466ec1 (817 rows): 0.30 lowers the all-rows figure 7.95% -> 7.83% but the published set's rises 4.09% -> 4.12%.
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.perf import cp_allgather_span, cp_ring_span
from supercluster.specs import ModelSpec

# The accuracy protocol's verdict (module docstring): in the step time, with the H100 SXM's GEMM fraction refitted.
IN_STEP_TIME = True

# Fixed cost per query tile, in keys of span, of the forward: one n0 shared by the three kernels of the
# FlashAttention-3 paper's Fig. 5 causal head-dim-128 panel (H100 SXM5, BF16; TFLOP/s at 512 .. 16K tokens: cuDNN
# 315 410 484 518 529 539, FlashAttention-3 292 423 521 579 602 616, FlashAttention-2 191 260 298 319 333 335), each
# kernel with its own asymptote, least squares in relative error: n0 = 232 keys (rms residual under 4%).
FWD_TILE_OVERHEAD_KEYS = 232.0
# The backward's fixed cost per tile is larger (it also writes dK and dV and accumulates dQ): the paper's backward
# panel (Fig. 6, head dim 128, no causal mask; cuDNN 305 408 465 499 518 516, FlashAttention-3 316 424 501 542 559
# 561, FlashAttention-2 214 260 291 310 318 322) gives n0 = 360 keys against 141 for the forward without mask (Fig.
# 5, same fit), a ratio of 2.55. No causal backward curve is published, so the causal backward takes the causal
# forward's n0 times that ratio: 232 x 360 / 141 = 592 keys.
BWD_TILE_OVERHEAD_KEYS = FWD_TILE_OVERHEAD_KEYS * 360.0 / 141.0


def span_efficiency(span_keys, overhead_keys: float):
    """Useful share s(n) = n / (n + n0) of a fused-attention kernel whose query tiles walk ``span_keys`` keys on
    average and pay a fixed cost worth ``overhead_keys`` keys each (module docstring; FlashAttention-2,
    arXiv:2307.08691, Algorithm 1: one pass over the key blocks per query tile)."""
    return span_keys / (span_keys + overhead_keys)


def kernel_span_keys(layer_span: float, cp: int) -> float:
    """Mean keys per query row in one kernel call: half the layer's unmasked-equivalent span (the causal mask,
    ``ModelSpec.attention_span``), split over the ``cp`` calls of ring attention (Liu et al. 2023,
    arXiv:2310.01889, section 3: one call per key/value chunk, each with 1/cp of the rank's work)."""
    return 0.5 * layer_span / cp


@dataclass(frozen=True, slots=True)
class SpanSpeed:
    """Attention throughput at the run's spans over the throughput at the efficiency table's reference span."""

    fwd: float
    bwd: float
    span_keys: float  # mean keys per query row per (forward) kernel call (full-attention layers)


def tile_overheads(fwd_keys: float | None = None, bwd_keys: float | None = None) -> tuple[float, float]:
    """The (forward, backward) fixed cost per query tile in keys of span: a table's own pair where it declares one
    (each direction separately), else the Hopper pair fitted on the FlashAttention-3 paper's curves (module
    constants)."""
    return (
        FWD_TILE_OVERHEAD_KEYS if fwd_keys is None else float(fwd_keys),
        BWD_TILE_OVERHEAD_KEYS if bwd_keys is None else float(bwd_keys),
    )


def ring_priced(cp_comm_type: str, fwd_keys: float | None, bwd_keys: float | None) -> bool:
    """Whether a layer's ring calls are priced one by one (perf.cp_ring_span): the stack runs the load-balanced ring
    (``cp_comm_type`` p2p, not Meta's all-gather) and the card takes the Hopper tile costs (neither of its own
    ``attention_*_tile_overhead_keys``), whose unmasked curve is fitted."""
    return cp_comm_type == "p2p" and fwd_keys is None and bwd_keys is None


def span_speed(
    model: ModelSpec,
    seq: int,
    cp: int,
    reference_span_keys: float | None,
    overheads_keys: tuple[float, float] | None = None,
    ring: bool = True,
    gathered: tuple[float, float] | None = None,
) -> SpanSpeed:
    """Forward and backward speed factors s(n) / s(n_ref) of one layer's attention, n the kernel span of each kind
    of layer (full, and sliding-window where the model has it), averaged by work: the layers' attention time is the
    sum of work / speed over the kinds, so the factor is the work-weighted harmonic mean. ``overheads_keys`` the
    card's (forward, backward) n0 (:func:`tile_overheads`; the Hopper pair when none). Under context parallelism
    the full layers' ring calls are priced one by one where the stack runs the load-balanced ring (``ring``;
    perf.cp_ring_span: the off-diagonal calls run unmasked, with the unmasked kernel's smaller fixed cost per tile),
    which needs the Hopper pair: its unmasked curve is the one fitted, so the caller passes ``ring`` False for a card
    with its own n0 (:func:`ring_priced`) and its ring calls keep the causal pricing. Factors 1 when the table
    declares no reference span or the term is off (:data:`IN_STEP_TIME`). ``gathered``: the stack runs all-gather
    CP (perf.cp_allgather_span), given as the card's (forward, backward) n0 of an unmasked tile
    (cp_allgather_span.full_overheads_keys; only the backward's is read, every forward query tile ending on its
    masked diagonal block); its full layers' calls are then priced by that module (the rank's two
    chunks against the gathered K and V), not by the ring's span."""
    # the forward's mean keys per query row of one call: the all-gather CP rank's queries walk the gathered keys to
    # their causal frontier (perf.cp_allgather_span), the layer's span as at cp 1
    gather = gathered is not None and cp > 1 and cp_allgather_span.ENABLED
    span = kernel_span_keys(float(seq), 1 if gather else cp)
    if reference_span_keys is None or not IN_STEP_TIME:
        return SpanSpeed(fwd=1.0, bwd=1.0, span_keys=span)
    kinds = [(1.0, float(seq))]  # (share of layers, unmasked-equivalent span)
    if model.sliding_window:
        f = model.sliding_window_fraction
        # the windowed layers' own span, from the layer average (1 - f) seq + f windowed (ModelSpec.attention_span)
        windowed = (model.attention_span(seq) - (1.0 - f) * seq) / f if f > 0 else float(seq)
        kinds = [(1.0 - f, float(seq)), (f, windowed)]
    out = []
    # load-balanced ring calls of the full layers (perf.cp_ring_span); the caller passes ``ring`` False for a card
    # with its own tile costs, which has no fitted unmasked curve
    ring = ring and cp > 1 and cp_ring_span.ENABLED
    # the all-gather CP's windowed layers see their window whatever the split: priced as at cp 1
    call_cp = 1 if gather else cp
    fwd_n0, bwd_n0 = overheads_keys or tile_overheads()
    overheads = (
        (fwd_n0, cp_ring_span.FWD_FULL_OVERHEAD_KEYS),
        (bwd_n0, cp_ring_span.BWD_FULL_OVERHEAD_KEYS),
    )
    for direction, (n0, n0_full) in enumerate(overheads):
        ref = span_efficiency(reference_span_keys, n0)
        work = time = 0.0
        for kind, (share, layer_span) in enumerate(kinds):
            if share <= 0:
                continue
            w = share * layer_span
            work += w
            if gather and kind == 0:
                # every rank takes the same time (perf.cp_allgather_span): rank 0's; only the backward has
                # unmasked tiles (every forward query tile ends on its masked diagonal block)
                if direction == 0:
                    per_work = cp_allgather_span.fwd_time_per_work(layer_span, cp, 0, n0)
                else:
                    per_work = cp_allgather_span.bwd_time_per_work(layer_span, cp, 0, n0, gathered[1])
                time += w * ref * per_work
            elif ring and kind == 0:
                time += w * ref * cp_ring_span.ring_time_per_work(kernel_span_keys(layer_span, cp), cp, n0, n0_full)
            else:
                time += w / (span_efficiency(kernel_span_keys(layer_span, call_cp), n0) / ref)
        out.append(work / time)
    return SpanSpeed(fwd=out[0], bwd=out[1], span_keys=span)


def reference_share(
    reference_span_keys: float | None,
    bwd_flops_ratio: float = 2.5,
    overheads_keys: tuple[float, float] | None = None,
) -> float:
    """s(n_ref) of the table's reference span, forward and backward combined by FLOPs (the backward does 2.5 times
    the forward's): the share of a kernel's best throughput it reaches there, with the card's (forward, backward)
    n0 (:func:`tile_overheads`). 1 when the table declares no reference span or the term is off."""
    if reference_span_keys is None or not IN_STEP_TIME:
        return 1.0
    n0_f, n0_b = overheads_keys or tile_overheads()
    s_f = span_efficiency(reference_span_keys, n0_f)
    s_b = span_efficiency(reference_span_keys, n0_b)
    return (1.0 + bwd_flops_ratio) / (1.0 / s_f + bwd_flops_ratio / s_b)
