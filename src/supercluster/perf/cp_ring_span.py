"""Fused-attention speed of the kernel calls of load-balanced ring attention (context parallelism, causal mask).

Mechanism. Transformer Engine's ring attention (``cp_comm_type`` p2p, the default of the Megatron-Core releases in
the NeMo 24.07-25.04 containers) splits a causal sequence into 2 cp chunks and gives rank r the chunks r and
2 cp - 1 - r, so that every rank does the same work. Each layer then runs cp kernel calls per rank, one per
key/value block that passes round the ring, each with 1/cp of the rank's work (c = seq / (2 cp) tokens a chunk):

- step 0, the rank's own two chunks against themselves: one **causal** call of 2c queries over 2c keys (mean span
  c keys per query, the masked diagonal tiles included);
- steps i = 1 .. cp - 1, another rank's chunks: if i <= r, all 2c queries against the first chunk's c keys; if
  i > r, the second chunk's c queries against all 2c keys; both calls run with **no mask** (every key block is
  visible, none is half-masked).

Source: NVIDIA/TransformerEngine transformer_engine/pytorch/attention.py (commit 6792eca, TE 1.x, the
class AttnFuncWithCPAndKVP2P that Megatron-Core's TEDotProductAttention calls with cp_comm_type "p2p"), forward:
step 0 calls the kernel with ``attn_mask_type=attn_mask_type`` (causal) on ``q.view(...)`` and both KV chunks;
``elif i <= rank:`` calls it on all queries with ``max_seqlen_k // 2`` and ``attn_mask_type="padding" if padding
else "no_mask"``; the ``else`` branch on ``q[:, 1, ...]`` (``max_seqlen_q // 2``) with the same unmasked type. The
backward (same class) mirrors the three cases. The same split is PyTorch's context-parallel round-robin load
balancing (torch.distributed.tensor.experimental context_parallel: "if i <= rank ... only the first local chunk of
k, v"; "i > rank ... only the second half of q").

Price. perf.attention_span prices a fused-attention call with mean span n keys and a fixed cost per query tile
worth n0 keys at the useful share s(n) = n / (n + n0) (FlashAttention-2, arXiv:2307.08691, Algorithm 1). The
off-diagonal calls have no masked diagonal tile, so they take the unmasked n0 of the FlashAttention-3 paper's
curves (Shah et al. 2024, arXiv:2407.08608; the fits of perf.attention_span: forward 141 keys without mask,
Fig. 5, against 232 causal; backward 360 keys, Fig. 6, against 592 causal). The layer's calls on the slowest rank
(rank cp - 1, whose off-diagonal calls all see c keys) take, per unit of work,

    T = (1 / cp) * [ 1 / s_causal(c) + (cp - 1) / s_full(c) ]

and the layer's speed over the efficiency table's reference span is s_causal(n_ref) / T (perf.attention_span's
s(n) / s(n_ref) with 1 / s(n) replaced by T). At cp = 1 there is only the causal call and the factor is
perf.attention_span's own. The earlier model priced every call as causal (the step-0 kind), so it charged the
off-diagonal calls the masked tile they do not have.

Scope: stacks whose profile runs the ring (``SoftwareProfile.cp_comm_type`` p2p, the default); a stack that
all-gathers K and V first (Llama 3's, arXiv:2407.21783 section 3.3.2: "our CP implementation adopts an all-gather
based method") is priced by perf.cp_allgather_span (its rank's two chunks against the gathered K and V).
Full-attention (causal) layers only; sliding-window layers keep perf.attention_span's pricing (an assumption: their
ring calls are not the split described here).
Whether the term is in the step time is :data:`ENABLED`.

Verdict at the time of landing (scripts/refit_protocol.py on the model without and with the term; benchmarks/results/
refit_protocol_cp_ring_span.json is the run with it): all rows in sample 9.15% -> 9.09% MAPE, leave-one-source-out 9.28%
-> 9.22%; the published set 3.64% -> 3.59% (leave-one-source-out 3.77%, unchanged); the whole-set H100 BF16 GEMM refit
0.6906 -> 0.6895 (the catalog's 0.690 stands); NeMo's FP8 one-source fit leave-one-out 5.49% -> 5.01%; every GPU-count
band's signed mean stays within +-4% (< 256: +1.4 -> +1.6). The DGX Cloud Llama 3.1 8B table (TP1 CP2) moves 19.0% ->
17.5% (signed -15.9 -> -14.8), the 405B and 70B tables by about half a point each; the long- context tables at cp 4-16
move the other way (Liu et al. 2025 Table 5: 4.9% -> 7.5%, already too fast), the Megatron-MoE Qwen3 long-context table
21.7% -> 21.0%. The term is a small part of the 8B table's gap: the rest is the attention core's shared fitted fraction
(module perf.attention_span's reference fractions), not this term.
"""

from __future__ import annotations

# The accuracy protocol's switch (module docstring): False prices every ring call as causal, as before.
ENABLED = True

# Fixed cost per query tile, in keys of span, of a call without a mask: perf.attention_span's fits of the
# FlashAttention-3 paper's non-causal head-dim-128 panels (arXiv:2407.08608, Fig. 5 forward: 141 keys; Fig. 6
# backward: 360 keys; H100 SXM5, BF16).
FWD_FULL_OVERHEAD_KEYS = 141.0
BWD_FULL_OVERHEAD_KEYS = 360.0


def ring_time_per_work(chunk_keys: float, cp: int, causal_overhead_keys: float, full_overhead_keys: float) -> float:
    """Time per unit of work, in units of the kernel's asymptotic rate, of the slowest rank's cp calls of one
    layer: (1/cp) [ (c + n0_causal) / c + (cp - 1) (c + n0_full) / c ] with c = ``chunk_keys`` (module
    docstring; at cp = 1 the causal call alone)."""
    causal = (chunk_keys + causal_overhead_keys) / chunk_keys
    full = (chunk_keys + full_overhead_keys) / chunk_keys
    return (causal + (cp - 1) * full) / cp
