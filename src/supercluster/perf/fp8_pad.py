"""Row padding of the quantized grouped expert GEMMs as the copies Transformer Engine makes for it.

Megatron-Core's TEGroupedMLP, run with FP8 (``config.fp8``), pads every local expert's rows to the quantized GEMM's
alignment before its first GroupedLinear and strips the padding after its second (Megatron-LM
megatron/core/transformer/moe/experts.py, core_r0.10.0 and later: ``self.fp8_padding = Fp8Padding(
self.num_local_experts)``, ``self.fp8_unpadding = Fp8Unpadding(...)``, called in ``forward`` whenever
``self.config.fp8``). Transformer Engine's Fp8Padding (transformer_engine/pytorch/module/fp8_padding.py, added in
TE 1.11, PR #1129) allocates a new tensor of the padded rows and copies the input into it
(``tex.fused_multi_row_padding``); its backward copies the gradient back out (``torch.split`` and ``torch.cat``);
Fp8Unpadding (fp8_unpadding.py) does the reverse on the second GEMM's output. Through TE 2.2 the copies run even
when every expert's rows are already aligned; TE 2.3 (PR #1525, 2025-04) returns the input untouched then ("# no
padding needed: if m_splits == padded_m_splits: return inp, m_splits"), so the copies remain only where some
expert's count is not a multiple of the alignment (dropless routing, unless the router pads the counts itself,
Megatron-Core ``--moe-router-padding-for-fp8``).

Bytes, for ``R`` routed rows on this GPU over ``G`` local experts, ``P`` of them after padding
(``G x padded_rows(R / G, align)``, perf.expert_gemm) and hidden ``h``, activations in BF16 (2 B): the forward pads
the first GEMM's input (read ``R h``, write ``P h``) and unpads the second GEMM's output (read ``P h``, write
``R h``): 2 x 2 (R + P) h bytes; the backward does the same to the gradients (the unpadding's backward pads the
output gradient, the padding's backward strips the input gradient): another 2 x 2 (R + P) h. The per-row routing
probabilities padded alongside them (Megatron-Core 0.12 and later) are 1/h of this and left out.

A stack's behaviour is ``SoftwareProfile.fp8_pad_copies``: ``always`` (TE 1.11-2.2), ``unaligned`` (TE 2.3 and
later without router padding), ``none`` (no padding copies: BF16 experts, the router pads, or an expert kernel
that takes unaligned groups). In BF16 nothing is padded (TEGroupedMLP pads only under FP8).
"""

from __future__ import annotations

from typing import get_args

from supercluster.errors import SuperclusterError
from supercluster.perf.expert_gemm import padded_rows
from supercluster.perf.moe_kernels import ACT_BYTES, QUANT_ALIGN_ROWS
from supercluster.specs import SoftwareProfile

# the choices of SoftwareProfile.fp8_pad_copies (one list: the profile's Literal)
PAD_MODES: tuple[str, ...] = get_args(SoftwareProfile.model_fields["fp8_pad_copies"].annotation)
# rows per expert the quantized grouped GEMM needs: perf.moe_kernels.QUANT_ALIGN_ROWS, 16 for FP8 and 32 for MXFP8
# (TE Fp8Padding: "(m + 15) // 16 * 16" in TE 1.11-2.2; get_align_size_for_quantization: 32 for MXFP8/NVFP4 and 16
# for the other recipes, TE 2.3 and later)
PAD_ALIGN_ROWS = QUANT_ALIGN_ROWS
# rows within which an exact per-expert count counts as a multiple of the alignment (float rounding of R / G)
ALIGNED_TOL_ROWS = 1e-6


def pads(mode: str, precision: str, rows_per_expert: float, exact: bool) -> bool:
    """Whether the padding copies run for this micro-batch's expert GEMMs.

    ``always``: whenever the experts run quantized; ``unaligned``: only when some expert's count is not a multiple
    of the alignment (every count under dropless routing, ``exact`` False; a balanced or capacity-padded count
    that does not divide); ``none``: never."""
    if mode not in PAD_MODES:
        raise SuperclusterError(f"unknown fp8_pad_copies '{mode}'; valid: {', '.join(PAD_MODES)}")
    align = PAD_ALIGN_ROWS.get(precision)
    if mode == "none" or align is None or rows_per_expert <= 0:
        return False
    if mode == "always":
        return True
    if not exact:
        return True
    # aligned when whole tiles hold the rows exactly, with perf.expert_gemm.padded_rows's own rounding tolerance
    return padded_rows(rows_per_expert, align, exact=True) > rows_per_expert + ALIGNED_TOL_ROWS


def pad_copy_bytes(
    mode: str, precision: str, local_copies: float, local_experts: float, hidden: float, exact: bool
) -> tuple[float, float]:
    """(forward, backward) HBM bytes of the padding and unpadding copies around one MoE layer's expert GEMMs on
    one GPU and micro-batch: 4 (R + P) h each way (see the module docstring), 0 when :func:`pads` says no."""
    if local_copies <= 0 or local_experts <= 0:
        return 0.0, 0.0
    per_expert = local_copies / local_experts
    if not pads(mode, precision, per_expert, exact):
        return 0.0, 0.0
    padded = local_experts * padded_rows(per_expert, PAD_ALIGN_ROWS[precision], exact)
    one_way = 2.0 * ACT_BYTES * (local_copies + padded) * hidden
    return one_way, one_way
