"""Transformer Engine's UnfusedDotProductAttention, counted byte by byte as it runs in TE 2.2-2.5.

When no fused backend takes a layer's shapes (perf.attention_backend: MLA on Blackwell before cuDNN 9.11), a
Transformer Engine stack runs ``UnfusedDotProductAttention`` (TE 2.2 ``transformer_engine/pytorch/attention.py``;
from 2.3 ``attention/dot_product_attention/backends.py``, the same code). Per call, for b sequences of sq
queries and sk keys over n local heads (N = b n sq sk scores), it runs:

1. ``dpa_utils.get_full_mask`` (``dot_product_attention/utils.py``) builds the causal mask as a dense
   [1, 1, sq, sk] boolean on every call, through int32 and int64 temporaries: the int32 difference of two
   aranges (write 4 B per element), ``swa_left`` and ``swa_right`` (read 4, write 4 each), the two comparisons
   (read 4, write 1 each), ``torch.where(..., 1, 0)`` twice, whose Python-integer branches make int64 tensors
   (read 1, write 8 each), their int64 difference (read 16, write 8) and ``logical_not`` (read 8, write 1):
   ``MASK_BUILD_BYTES`` = 81 B per (sq, sk) element, shared by the heads and sequences.
2. ``torch.baddbmm(empty, q, k^T, beta=0.0, alpha=scale)``: the [b n, sq, sk] bf16 score GEMM (K = d_qk; its
   output write is in the GEMM's own roofline, perf.gemm).
3. ``FusedScaleMaskSoftmax`` (TE ``softmax.py``). Its fused kernels run only when ``is_kernel_available``
   holds: bf16/fp16 input, ``16 < sk < 16384``, ``sk % 8 == 0``, ``sq > 1``, a causal mask only with
   ``sq == sk``, ``sq % 4 == 0``, ``b n % 4 == 0`` and ``sq % batch_per_block == 0``, where batch_per_block =
   (128 threads / warp size) x (2 rows per warp up to 128 keys, else 1) (``get_batch_per_block``). The aligned
   causal kernel is commented out ("Disable for now until unalignment bug is fixed."), so a causal layer runs
   ``ScaledMaskedSoftmax`` with the mask of step 1: read the bf16 score and the mask byte, write the bf16
   probability, ``FUSED_FWD_BYTES`` = 5 B per score; its backward (``scaled_masked_softmax_backward``, in place)
   reads the gradient and the saved probability and writes the input gradient, ``FUSED_BWD_BYTES`` = 6 B.
   Otherwise ``forward_torch_softmax`` runs in fp32, each op its own pass: ``inp.float()`` (read 2, write 4),
   ``torch.logical_or(mask, causal)`` on the (sq, sk) masks (3 B per element, shared), ``masked_fill_`` in place
   (read 4 + mask 1, write 4), ``Softmax`` (read 4, write 4) and ``.bfloat16()`` (read 4, write 2):
   ``TORCH_FWD_BYTES`` = 29 B per score; autograd runs back the cast (read 2, write 4), the softmax backward
   (read 4 + 4, write 4), the masked fill (read 4 + 1, write 4) and the upcast (read 4, write 2):
   ``TORCH_BWD_BYTES`` = 33 B.
4. ``torch.nn.Dropout(attention_dropout)``: nothing at p = 0 (ATen returns the input); otherwise PyTorch's fused
   dropout reads 2 B, writes 2 B and a 1 B mask, and its backward the same (``DROPOUT_BYTES`` = 5 each way).
5. ``torch.bmm(probs, v)``: the AV GEMM (K = sk; reading the probabilities is in its roofline).

The step model's generic ``materialized`` pricing (perf.layer.SOFTMAX_BYTES_PER_SCORE) charges 4 B per score
forward and twice that backward for the softmax; this module replaces that for TE's class only. The selective
recompute of the core (Megatron-Core's ``recompute_modules core_attn``) re-runs steps 1-5, which perf.layer already
adds.

Which stacks: a profile that records its cuDNN (``SoftwareProfile.cudnn_version``, set only on Transformer
Engine stacks, whose attention backend depends on it) and runs ``materialized`` attention, which for those
profiles happens only through perf.attention_backend's fallback to UnfusedDotProductAttention. The counts are
those of the TE 2.2-2.5 sources (the tags dated April to July 2025; 2.0-2.1 built the mask differently); the
fallback's only bundled rows ran nvcr.io/nvidia/nemo:25.04.01 (April 2025, TE 2.2 or 2.3: the same code).

What it does not price: the fused backward kernel holds two fp32 arrays of next_pow2(sk) / 32 values per thread
(``grad_reg`` and ``output_reg`` in ``scaled_masked_softmax.cu``), 256 registers at 4,096 keys, so it must spill;
its rate is taken as any memory-bound kernel's (``hbm_fraction``) for want of a measurement.

Verdict (validate all, 750 rows, nothing refitted): only the three DGX Cloud DeepSeek-V3 BF16 GB200 rows move,
from +71.7, +69.6 and +69.8% to +68.1, +66.0 and +66.3% (model too fast): per layer and micro-batch (64 heads,
4,096 x 4,096) the forward's mask and softmax traffic rises from 0.632 to 0.989 ms and the backward's falls from
1.263 to 0.947 ms, +0.40 ms with the recomputed forward against a 14 ms gap. The rest of those rows' gap is not
the unfused attention's byte count.
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.specs import SoftwareProfile

# TE softmax.py is_kernel_available / get_batch_per_block (2.2-2.5)
FUSED_MIN_KEYS_EXCLUSIVE = 16
FUSED_MAX_KEYS_EXCLUSIVE = 16384
FUSED_KEY_MULTIPLE = 8
FUSED_QUERY_MULTIPLE = 4
FUSED_BATCH_MULTIPLE = 4
THREADS_PER_BLOCK = 128
THREADS_PER_WARP = 32
TWO_ROWS_PER_WARP_MAX_KEYS = 128

# HBM bytes (see the module docstring for each term)
MASK_BUILD_BYTES = 4.0 + 2 * (4.0 + 4.0) + 2 * (4.0 + 1.0) + 2 * (1.0 + 8.0) + (16.0 + 8.0) + (8.0 + 1.0)
MASK_OR_BYTES = 3.0
FUSED_FWD_BYTES = 2.0 + 1.0 + 2.0
FUSED_BWD_BYTES = 2.0 + 2.0 + 2.0
TORCH_FWD_BYTES = (2.0 + 4.0) + (4.0 + 1.0 + 4.0) + (4.0 + 4.0) + (4.0 + 2.0)
TORCH_BWD_BYTES = (2.0 + 4.0) + (4.0 + 4.0 + 4.0) + (4.0 + 1.0 + 4.0) + (4.0 + 2.0)
DROPOUT_BYTES = 2.0 + 2.0 + 1.0


def applies(sw: SoftwareProfile) -> bool:
    """Whether ``sw``'s materialised attention is Transformer Engine's UnfusedDotProductAttention."""
    return sw.attention_kernel == "materialized" and sw.cudnn_version is not None


def batch_per_block(keys: int) -> int:
    """Rows one 128-thread block of TE's fused softmax handles (TE softmax.py ``get_batch_per_block``)."""
    pow2 = 1 << (keys - 1).bit_length()
    warp_size = min(pow2, THREADS_PER_WARP)
    rows_per_warp = 2 if pow2 <= TWO_ROWS_PER_WARP_MAX_KEYS else 1
    return (THREADS_PER_BLOCK // warp_size) * rows_per_warp


def fused_softmax(batches: int, queries: int, keys: int) -> bool:
    """TE's ``is_kernel_available`` for a causal bf16 layer of ``batches`` = b x local heads score matrices."""
    if not FUSED_MIN_KEYS_EXCLUSIVE < keys < FUSED_MAX_KEYS_EXCLUSIVE:
        return False
    if keys % FUSED_KEY_MULTIPLE or queries == 1 or queries != keys:
        return False
    if queries % FUSED_QUERY_MULTIPLE or batches % FUSED_BATCH_MULTIPLE:
        return False
    return queries % batch_per_block(keys) == 0


@dataclass(frozen=True)
class UnfusedBytes:
    """HBM bytes of the non-GEMM work of one call (forward) and its backward, and which softmax ran."""

    fwd_bytes: float
    bwd_bytes: float
    fused_softmax: bool


def elementwise_bytes(sequences: int, heads: int, queries: int, keys: int, dropout: bool) -> UnfusedBytes:
    """Mask, softmax and dropout bytes of one UnfusedDotProductAttention call over ``sequences`` x ``heads``
    score matrices of ``queries`` x ``keys`` (the GEMMs are priced apart)."""
    batches = sequences * heads
    scores = float(batches) * queries * keys
    fused = fused_softmax(batches, queries, keys)
    mask_bytes = MASK_BUILD_BYTES * queries * keys
    if fused:
        fwd, bwd = FUSED_FWD_BYTES * scores, FUSED_BWD_BYTES * scores
    else:
        fwd, bwd = TORCH_FWD_BYTES * scores, TORCH_BWD_BYTES * scores
        mask_bytes += MASK_OR_BYTES * queries * keys
    if dropout:
        fwd += DROPOUT_BYTES * scores
        bwd += DROPOUT_BYTES * scores
    return UnfusedBytes(fwd + mask_bytes, bwd, fused)
