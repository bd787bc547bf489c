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
``Float8CurrentScalingQuantizer::quantize_impl`` (transformer_engine/pytorch/csrc/quantizer.cpp) runs
``nvte_compute_amax_with_config`` (a reduction that reads the expert's BF16 rows), then
``nvte_compute_scale_from_amax`` (one scalar), then ``nvte_quantize_v2`` (the cast the delayed path fuses). The
amax call is two launches: ``launch_amax_kernel`` first zeroes the amax, ``zero_amax_kernel<<<1, 1, 0,
stream>>>(amax, noop_ptr)``, then runs the reduction, and the scale is ``compute_scale_from_amax_kernel<<<1, 1, 0,
stream>>>`` (transformer_engine/common/recipe/current_scaling.cu, the same lines in TE v2.8, v2.9 and v2.14, the
Transformer Engine of the 25.11 and 26.04 containers). TE v2.6 and v2.7, the range the 25.09 container's
Megatron-Bridge pins (">=2.6.0a0,<2.8.0"), zero the amax with ``cudaMemsetAsync(amax, 0, sizeof(float), stream)``
in ``launch_amax_kernel`` instead, a 4-byte memset the stream runs as a device operation between the same kernels:
priced as the one-thread kernel it became in v2.8 (an assumption; its run time is of the same sub-microsecond
order). So four kernels per expert and operand
(:data:`KERNELS_PER_EXPERT`), two of them one-thread kernels. TE v2.14 still quantizes current-scaling experts one by
one: its ``split_quantize`` knows bulk allocation only for ``BULK_FP8_BLOCKWISE``, ``BULK_MXFP8`` and
``BULK_NVFP4`` and fused grouped quantization only for NVFP4 (``QuantizationMethod { UNFUSED, FUSED_NVFP4 }``),
and ``multi_tensor_quantize_impl`` keeps "Note: Currently only have fused kernel for FP8 delayed scaling".
Per local expert and quantized operand this adds, against the fused delayed-scaling cast:

- the amax pass: 2 B read per element (:data:`AMAX_READ_BYTES`), streamed at perf.moe_kernels' routing rate;
- the kernels: 4 per expert instead of 1 for all experts, 4 G - 1 more per operand, each paying the device-side
  gap of a back-to-back launch (perf.fixed_cost.KERNEL_GAP_S, 0.9 us);
- the run time of the two one-thread kernels (zero the amax, scale from amax), whose work no byte count sees:
  :data:`TINY_KERNEL_S` each, 2 G per operand. Measured on an H200 (calibration/h200-sxm-141gb-2026-11-30.
  moe-check.json, calibrate.overheads.device_gaps): 200 kernels on a 16-element tensor replayed from a CUDA
  graph take 1.309 us each (``tiny_graph_kernel_s``), of which 0.385 us is the graph's launch gap
  (``graph_gap_s_median``): 0.92 us of run time for a kernel that does no work. Uncertainty: one card and host;
  0.5-1.5 us. The amax reduction and the cast are streaming kernels whose time is their bytes.

Per expert and operand that is 4 x 0.9 + 2 x 0.92 = 5.45 us of device time besides the bytes (2.7 us before the
zeroing kernel and the run times were counted). Check on the bundled set (validate all, main 64b18c6 -> this term;
scripts/fp8_recipe_table.py tabulates the rows by recipe, card, container and local experts): only the eleven
Megatron-Bridge FP8-CS MoE rows move; all rows 7.455% -> 7.436% (leave-one-source-out column 7.605% -> 7.598%), FP8
MoE 10.64% -> 10.21% (signed +8.6 -> +8.1); 25.09 Qwen3-30B-A3B B200 +24.8 -> +19.3, GB200 +15.6 -> +14.0, H100
+7.1 -> +5.8; Qwen3-235B-A22B B200 +24.2 -> +22.0; 26.04.01 Qwen3-30B-A3B H100 +15.2 -> +14.0; the two
Qwen3-235B-A22B H100 rows of 25.11 and 26.04.01 (4 local experts) read 0.15 points slower (-1.4 -> -1.6, -8.3 ->
-8.4). What is left of the 25.09 Blackwell rows' optimism (60-130 us per local expert, layer and micro-batch) is not
these kernels' device time.

Operands per MoE layer and micro-batch (as perf.moe_kernels.quant_bytes): forward the FC1 input (rows x h) and
the FC2 input (rows x f); backward the output gradients of FC2 (rows x h) and of FC1 (rows x u f), with rows the
expert's rows padded to the quantized GEMM's alignment. Dense layers are not touched: their one tensor per GEMM
is quantized once under either recipe and what current scaling costs there is inside the fitted FP8 overhead.
MXFP8 and block scaling allocate the experts' outputs in bulk (``BULK_MXFP8``, ``BULK_FP8_BLOCKWISE``) and take no
amax pass; they are left to perf.moe_kernels. (Their quantization still runs one kernel per expert, row- and
column-wise together, ``QuantizationMethod::UNFUSED`` in TE v2.14: G - 1 launch gaps per operand more than one fused
cast, about 60 us per layer and micro-batch for 16 local experts, 0.5% of a Qwen3-30B-A3B layer on a B200 at
micro-batch 4; not priced.)

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
# kernels per expert and operand under current scaling: zero the amax, amax, scale from amax, cast (quantizer.cpp
# quantize_impl; current_scaling.cu launch_amax_kernel's zero_amax_kernel, TE v2.8-v2.14)
KERNELS_PER_EXPERT = 4
# of them one-thread kernels whose run time no byte count prices: zero_amax_kernel and compute_scale_from_amax_kernel
TINY_KERNELS_PER_EXPERT = 2
# run time of a kernel that does no work: H200, calibration/h200-sxm-141gb-2026-11-30.moe-check.json
# (calibrate.overheads): tiny_graph_kernel_s 1.309 us per kernel replayed from a CUDA graph less the graph's launch
# gap graph_gap_s_median 0.385 us
TINY_KERNEL_S = (1.309 - 0.385) * 1e-6
# quantized operands per direction: FC1 and FC2 inputs forward, FC2 and FC1 output gradients backward
OPERANDS_PER_DIRECTION = 2


@dataclass(frozen=True, slots=True)
class CurrentScalingCost:
    """What per-expert current scaling adds to one MoE layer on one GPU and micro-batch, each direction."""

    amax_fwd_bytes: float
    amax_bwd_bytes: float
    extra_kernels_fwd: float
    extra_kernels_bwd: float
    tiny_kernels_fwd: float = 0.0  # one-thread kernels among them, each paying TINY_KERNEL_S of run time
    tiny_kernels_bwd: float = 0.0


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
    extra kernels 2 (4 G - 1) each way, 2 x 2 G of them one-thread kernels."""
    if scaling not in SCALINGS:
        raise SuperclusterError(f"unknown fp8_scaling '{scaling}'; valid: {', '.join(SCALINGS)}")
    if scaling != "current" or precision != "fp8" or local_copies <= 0 or local_experts <= 0:
        return CurrentScalingCost(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    rows = local_experts * padded_rows(local_copies / local_experts, QUANT_ALIGN_ROWS[precision], exact)
    kernels = OPERANDS_PER_DIRECTION * (KERNELS_PER_EXPERT * local_experts - 1.0)
    tiny = OPERANDS_PER_DIRECTION * TINY_KERNELS_PER_EXPERT * local_experts
    return CurrentScalingCost(
        amax_fwd_bytes=AMAX_READ_BYTES * rows * (hidden + width),
        amax_bwd_bytes=AMAX_READ_BYTES * rows * (hidden + up * width),
        extra_kernels_fwd=kernels,
        extra_kernels_bwd=kernels,
        tiny_kernels_fwd=tiny,
        tiny_kernels_bwd=tiny,
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
    rate plus KERNEL_GAP_S per extra kernel and TINY_KERNEL_S per one-thread kernel."""
    c = current_scaling_cost(scaling, precision, local_copies, local_experts, hidden, width, up, exact)
    fwd = routing_s(c.amax_fwd_bytes, acc) + c.extra_kernels_fwd * KERNEL_GAP_S + c.tiny_kernels_fwd * TINY_KERNEL_S
    bwd = routing_s(c.amax_bwd_bytes, acc) + c.extra_kernels_bwd * KERNEL_GAP_S + c.tiny_kernels_bwd * TINY_KERNEL_S
    return fwd, bwd
