"""Attention-score GEMMs whose head dimension breaks the tensor cores' 16-byte operand alignment.

Mechanism. A stack that materialises the attention scores (Megatron-LM / Megatron-DeepSpeed before
FlashAttention: ``torch.baddbmm`` for Q K^T, ``torch.bmm`` for the probabilities times V) runs them as cuBLAS
strided-batched GEMMs in which the head dimension d is one of the three GEMM dimensions (K of Q K^T, N of P V,
and one dimension of each of their four backward GEMMs), and the per-head operands start d elements apart. Tensor
core kernels load operands with 16-byte vector loads; NVIDIA's Matrix Multiplication Background User's Guide
(section 2.2, "Tensor Core Requirements",
https://docs.nvidia.com/deeplearning/performance/dl-performance-matrix-multiplication/index.html) states:
"Performance is better when equivalent matrix dimensions M, N, and K are aligned to multiples of 16 bytes (or 128
bytes on A100). With NVIDIA cuBLAS versions before 11.0 or NVIDIA cuDNN versions before 7.6.3, this is a
requirement to use Tensor Cores". A 2-byte head dimension that is not a multiple of 8 (16 bytes) therefore gets
no 16-byte-aligned tensor-core kernel: cuBLAS falls back to a kernel that loads its operands in 2-, 4- or 8-byte
pieces or to the CUDA-core (non-tensor) path.

How fast that runs is bracketed by the card's CUDA-core rates, NVIDIA A100 Tensor Core GPU Architecture
whitepaper (2020), Table 1, against "Peak FP16 Tensor TFLOPS with FP32 Accumulate 312": from below by "Peak FP32
TFLOPS (non-Tensor) 19.5" (a SIMT kernel accumulating in fp32, as mixed-precision training's GEMMs do:
Micikevicius et al. 2018, arXiv:1710.03740, section 3.2), from above by "Peak FP16 TFLOPS (non-Tensor) 78" (packed
half FMAs). (Where these three figures were read: FP32 19.5 and FP16/BF16 tensor 312 in ../shared/reference/
hardware_facts.md's A100 SXM 80GB row, which cites Klockwood's A100 page and the NVIDIA A100 datasheet; the FP16
non-tensor rate as four times FP32, NVIDIA developer forum thread 218102, an NVIDIA moderator: "In those cases, the
FP16 (non-tensor) throughput can be 4x the FP32 throughput ... It's documented (mentioned) in the A100 whitepaper
(e.g. table 1)", 4 x 19.5 = 78.) A narrow-load tensor-core kernel sits somewhere between. The fallback is
priced at the geometric middle of that bracket, sqrt(19.5 x 78) / 312 = 39 / 312 = 1/8 of the tensor rate, an
assumption with an uncertainty of a factor of 2 either way (the bracket's ends); ``Accelerator.peak_tflops`` has no
CUDA-core half rates, so the bracket is this module's A100 fact, keyed by compute capability 8.0. Sensitivity at the
time of landing (validate all, the 10 rows it moved): at the bracket's ends the BigScience odd-head rows read
-7..-16% (1/16) and +9..+20% (1/4); at 1/8, +2..+8%.

Evidence the mechanism is real (the measured runs, not fitted): BigScience tr11 chronicles-prequel.md, "NHEADs
comparison" (https://github.com/bigscience-workshop/bigscience/blob/master/train/tr11-176B-ml/
chronicles-prequel.md), 48 nodes, DP8 TP8 PP6 MBS4, NHIDDEN=13824 / NLAYERS=78: 64 heads (d = 216) 121.28
s/it, 96 heads (d = 144) 124.75 s/it, 128 heads (d = 108, not a multiple of 8) 162.72 s/it; at NHIDDEN=13312
(128 heads: d = 104, a multiple of 8) 129.17 s/it, no such jump. The chronicle blames the fused softmax ("NHEADS=108
breaks constraints for invoking optimized fused softmax kernel"), but Megatron-DeepSpeed's
``FusedScaleMaskSoftmax.is_kernel_available`` (megatron/model/fused_softmax.py) tests only ``16 < sk <= 4096``,
``sq % 4 == 0`` and ``b * np % 4 == 0`` (and the kernel's batch-per-block): 4 x 16 heads per TP rank passes, so
the softmax stays fused and the head dimension is what changed.

The factor multiplies each score GEMM's priced time (perf.gemm's max of compute and memory): at these shapes
(sequence 2,048 by head dim >= 64) the GEMMs are compute-bound, so it lands on the compute term.

Scope: only the materialised-attention path and only half-precision operands (the fused kernels pad heads to
their tile internally). Accelerators other than Ampere carry no non-tensor rate here, so the rule is limited to
sm_80 cards, the only ones the stacks that materialise attention ran on in the bundled runs.
"""

from __future__ import annotations

import math

from supercluster.specs import Accelerator

# NVIDIA guide section 2.2: tensor-core operands aligned to multiples of 16 bytes
ALIGN_BYTES = 16
# half-precision (fp16 / bf16) operand bytes: the attention-score GEMMs run in the training precision's 16 bits
HALF_BYTES = 2
# the A100's compute capability 8.0 (catalog accelerators.yaml sm_arch, NVIDIA's CUDA GPU table)
A100_SM_ARCH = 80
# A100 TFLOPS (sources in the docstring): FP32 non-Tensor, FP16 non-Tensor (4 x FP32), FP16 Tensor with FP32 acc.
CUDA_CORE_BRACKET_TFLOPS = {A100_SM_ARCH: (19.5, 78.0, 312.0)}


def fallback_fraction(sm_arch: int | None) -> float | None:
    """Unaligned-GEMM rate over the tensor rate: geometric middle of the CUDA-core bracket (module docstring)."""
    bracket = CUDA_CORE_BRACKET_TFLOPS.get(sm_arch or 0)
    if bracket is None:
        return None
    fp32, fp16, tensor = bracket
    return math.sqrt(fp32 * fp16) / tensor


def aligned(dim: int, elem_bytes: int = HALF_BYTES) -> bool:
    """True when a GEMM dimension of ``dim`` elements of ``elem_bytes`` bytes is a multiple of 16 bytes."""
    return (dim * elem_bytes) % ALIGN_BYTES == 0


def head_gemm_slowdown(head_dims: tuple[int, ...], acc: Accelerator) -> float:
    """Factor (>= 1) on the compute time of the attention-score batched GEMMs whose head dimensions are
    ``head_dims`` (query/key and value) on ``acc``: 1 / fallback_fraction when any of them is not
    16-byte aligned on a card with a recorded non-tensor rate, else 1 (module docstring)."""
    if all(aligned(d) for d in head_dims):
        return 1.0
    fraction = fallback_fraction(acc.sm_arch)
    return 1.0 / fraction if fraction else 1.0
