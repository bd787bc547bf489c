"""Whether a dense FP8 GEMM pays a separate quantization pass: Transformer Engine's kernels or XLA's fusion.

The card's ``fp8_overhead_fraction`` (catalog accelerators.yaml, Hopper table: "with the 10% cast/scale overhead
FP8 GEMMs run at 0.57 of FP8 peak") is the cost of quantizing each FP8 GEMM's operands in passes of their own:
Transformer Engine casts the BF16 input and writes its FP8 copy and transposed copy (cast-transpose), reduces the
amax for the next step's scale, and does the same for the output gradient in the backward, each a kernel that
streams the operand through HBM around the GEMM. Every stack it was fitted on (NeMo, Megatron) runs Transformer
Engine, and so do JAX stacks that swap their layers for Transformer Engine's (PaxML with ``ENABLE_TE=1``).

XLA's native FP8 does not run those passes. MaxText's ``quantization=fp8`` wraps every projection and MLP dot in
Flax's ``Fp8DotGeneralOp`` (AI-Hypercomputer/maxtext MaxText/layers/quantizations.py @d9a4b64, Jan 2025:
``Fp8Quantization.dot_general_cls`` "return nn.Fp8DotGeneralOp"; the logits dot is left out: "We do not quantize
the logits matmul", layers/models.py), which writes the quantization as plain JAX: scale, clip and
``astype(float8_e4m3fn)`` of both operands, ``lax.dot_general`` on the FP8 values, the output multiplied by the two
scales, and in the backward the output gradient quantized to ``float8_e5m2`` the same way (google/flax
flax/linen/fp8_ops.py @1961c12: ``in_q``, ``quantized_dot``, ``out_dq``, ``quantized_dot_bwd``). XLA compiles
those element-wise ops into the fusions that produce the operands and pattern-matches the dequantize-dot into one
cuBLASLt FP8 call that takes the scales as arguments: "XLA ... is capable of recognizing patterns like
FP8->DQ->Matmul and subsequently invokes the FP8 cublasLt API with scaling factors obtained from the DQ
operation", "XLA can recognize these patterns and optimize FP8-related operations, such as type casting and
scaling factor bookkeeping, to minimize overhead" (NVIDIA/JAX-Toolbox rosetta/docs/NATIVE_FP8.md, "User Guide on
Native XLA-FP8"; the same guide: "ENABLE_TE must be turned off for this functionality", i.e. PaxML with Transformer
Engine is the other path). So under ``fp8_casts: fused`` the FP8 GEMM is priced at the card's FP8 rate with no
overhead factor::

    t_fp8 = 2 m n k / (peak_fp8 x gemm_peak_fraction.fp8) x tile factor      (perf.gemm, overhead term dropped)

What the fused path still moves is left out: the FP8 copy the producing fusion writes (1 B per operand element)
and the transposes cuBLASLt's FP8 layout needs for the weight gradient. For a Llama 3 70B layer at 16,384 tokens
per GPU that is about 137 thousand operand elements per token and layer (forward inputs h, a d, h, f; backward
output gradients (a + 2 g) d, h, 2 f, h), 0.18 TB per step, 0.06 s at 85% of the H100's 3.35 TB/s against about
6.9 s of FP8 GEMMs: about 1% for the FP8 copies, a few % with the transposes (the uncertainty of this term).

Evidence (validate all, main c70b174 -> this term): NVIDIA/dgxc-benchmarking's MaxText Llama 3 70B FP8 table
(v25.02, 128-2,048 H100) 23.5% -> 16.1% MAPE (mean speed error -19.0% -> -13.9%), the Llama 2 70B FP8 table
(v24.11.1) 6.7% -> 5.6% (-5.9% -> +0.7%); no other row moves. The Llama 3 table stays optimistic for the step
model: its measured BF16/FP8 step ratio (1.62-1.71) needs more than the 2x FP8 peak on the GEMMs once the BF16
attention and element-wise terms are priced as for the BF16 rows, so the rest of the gap is not in the casts.

Only the dense linears are affected; the expert GEMMs keep their own pricing (perf.moe_kernels quantizes them
explicitly), and MXFP8 and NVFP4 keep their overheads (no XLA-native path for them in these stacks).
"""

from __future__ import annotations

from typing import get_args

from supercluster.errors import SuperclusterError
from supercluster.specs import SoftwareProfile

# the choices of SoftwareProfile.fp8_casts (one list: the profile's Literal)
CASTS: tuple[str, ...] = get_args(SoftwareProfile.model_fields["fp8_casts"].annotation)


def separate_casts(casts: str, precision: str) -> bool:
    """Whether a dense GEMM in ``precision`` pays the card's quantization overhead under the stack's ``casts``:
    always, except an FP8 GEMM of a stack whose compiler fuses its casts (module docstring)."""
    if casts not in CASTS:
        raise SuperclusterError(f"unknown fp8_casts '{casts}'; valid: {', '.join(CASTS)}")
    return not (casts == "fused" and precision == "fp8")
