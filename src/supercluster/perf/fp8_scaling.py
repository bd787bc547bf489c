"""Per-tensor FP8 current scaling of the expert GEMMs' operands: each local expert quantized on its own.

perf.moe_kernels prices the cast of every expert GEMM input and output gradient to FP8 as Transformer Engine's
delayed-scaling path runs it: one fused cast-transpose over all local experts (TE
transformer_engine/pytorch/csrc/extensions/cast.cpp, ``multi_tensor_quantize_impl``: "Note: Currently only have
fused kernel for FP8 delayed scaling" -> ``nvte_multi_cast_transpose`` over the list of expert tensors), reading
BF16 (2 B) and writing the row-wise and column-wise 8-bit copies, the scale known from the amax history.

Under per-tensor current scaling (TE's ``Float8CurrentScaling`` recipe, the "FP8-CS" of the Megatron-Bridge
performance tables) there is no history: the scale of each tensor comes from the tensor itself. The same
``multi_tensor_quantize_impl`` then falls back to "Quantize kernels individually: for i ...
quantizer_cpp_list[i]->quantize(input_list[i], output_list[i])" (the grouped linear's ``split_quantize`` hands
it one quantizer per expert, ``AllocationMethod::UNFUSED`` for these quantizers), and each
``Float8CurrentScalingQuantizer::quantize_impl`` (transformer_engine/pytorch/csrc/quantizer.cpp) runs three
kernels in turn: ``nvte_compute_amax_with_config`` (a reduction that reads the expert's BF16 rows), then
``nvte_compute_scale_from_amax`` (one scalar), then ``nvte_quantize_v2`` (the cast the delayed path fuses).
Per local expert and quantized operand this adds, against the fused delayed-scaling cast:

- the amax pass: 2 B read per element (:data:`AMAX_READ_BYTES`), streamed at perf.moe_kernels' routing rate;
- the kernels: 3 per expert instead of 1 for all experts, 3 G - 1 more per operand, each paying the device-side
  cost of a back-to-back launch (perf.fixed_cost.KERNEL_GAP_S, 0.9 us; the scale kernel's own work, one scalar,
  is left out, so this is a floor).

Operands per MoE layer and micro-batch (as perf.moe_kernels.quant_bytes): forward the FC1 input (rows x h) and
the FC2 input (rows x f); backward the output gradients of FC2 (rows x h) and of FC1 (rows x u f), with rows the
expert's rows padded to the quantized GEMM's alignment. Dense layers are not touched: their one tensor per GEMM
is quantized once under either recipe and what current scaling costs there is inside the fitted FP8 overhead.
MXFP8 and block scaling allocate and quantize the experts in bulk (``BULK_MXFP8``, ``BULK_FP8_BLOCKWISE``) and
take no amax pass; they are left to perf.moe_kernels.

A stack's recipe is ``SoftwareProfile.fp8_scaling`` (``delayed`` or ``current``). Transformer Engine's
GroupedLinear before current-scaling support refused it ("GroupedLinear does not yet support Float8 Current
Scaling", transformer_engine/pytorch/module/grouped_linear.py, TE 2.0-2.2), so the 2024-25 NeMo and
Megatron-Core MoE runs in FP8 are delayed scaling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from supercluster.errors import SuperclusterError
from supercluster.perf.expert_gemm import padded_rows
from supercluster.perf.fixed_cost import KERNEL_GAP_S
from supercluster.perf.moe_kernels import ACT_BYTES, QUANT_ALIGN_ROWS, routing_s
from supercluster.specs import Accelerator, SoftwareProfile

# the choices of SoftwareProfile.fp8_scaling (one list: the profile's Literal)
SCALINGS: tuple[str, ...] = get_args(SoftwareProfile.model_fields["fp8_scaling"].annotation)
# the amax reduction reads each BF16 element once (nvte_compute_amax_with_config)
AMAX_READ_BYTES = ACT_BYTES
# kernels per expert and operand under current scaling: amax, scale from amax, cast (quantizer.cpp quantize_impl)
KERNELS_PER_EXPERT = 3
# quantized operands per direction: FC1 and FC2 inputs forward, FC2 and FC1 output gradients backward
OPERANDS_PER_DIRECTION = 2


@dataclass(frozen=True, slots=True)
class CurrentScalingCost:
    """What per-expert current scaling adds to one MoE layer on one GPU and micro-batch, each direction."""

    amax_fwd_bytes: float
    amax_bwd_bytes: float
    extra_kernels_fwd: float
    extra_kernels_bwd: float


def current_scaling_cost(
    scaling: str,
    precision: str,
    local_copies: float,
    local_experts: float,
    hidden: float,
    width: float,
    up: float,
    exact: bool,
) -> CurrentScalingCost:
    """Bytes and extra kernels of quantizing the experts one by one (module docstring); zeros unless the recipe is
    ``current`` and the experts run in FP8.

    ``local_copies`` R routed rows over ``local_experts`` G experts, padded per expert to the FP8 alignment
    (perf.expert_gemm.padded_rows, as perf.moe_kernels.quant_bytes); ``width`` the expert width on this GPU,
    ``up`` 2 for a gated expert. Forward amax bytes 2 P (h + f), backward 2 P (h + u f) with P the padded rows;
    extra kernels 2 (3 G - 1) each way."""
    if scaling not in SCALINGS:
        raise SuperclusterError(f"unknown fp8_scaling '{scaling}'; valid: {', '.join(SCALINGS)}")
    if scaling != "current" or precision != "fp8" or local_copies <= 0 or local_experts <= 0:
        return CurrentScalingCost(0.0, 0.0, 0.0, 0.0)
    rows = local_experts * padded_rows(local_copies / local_experts, QUANT_ALIGN_ROWS[precision], exact)
    kernels = OPERANDS_PER_DIRECTION * (KERNELS_PER_EXPERT * local_experts - 1.0)
    return CurrentScalingCost(
        amax_fwd_bytes=AMAX_READ_BYTES * rows * (hidden + width),
        amax_bwd_bytes=AMAX_READ_BYTES * rows * (hidden + up * width),
        extra_kernels_fwd=kernels,
        extra_kernels_bwd=kernels,
    )


def current_scaling_s(
    scaling: str,
    precision: str,
    local_copies: float,
    local_experts: float,
    hidden: float,
    width: float,
    up: float,
    exact: bool,
    acc: Accelerator,
) -> tuple[float, float]:
    """(forward, backward) seconds of :func:`current_scaling_cost`: the amax bytes at perf.moe_kernels' routing
    rate plus KERNEL_GAP_S per extra kernel."""
    c = current_scaling_cost(scaling, precision, local_copies, local_experts, hidden, width, up, exact)
    fwd = routing_s(c.amax_fwd_bytes, acc) + c.extra_kernels_fwd * KERNEL_GAP_S
    bwd = routing_s(c.amax_bwd_bytes, acc) + c.extra_kernels_bwd * KERNEL_GAP_S
    return fwd, bwd
