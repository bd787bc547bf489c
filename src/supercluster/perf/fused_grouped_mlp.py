"""Transformer Engine's fused MXFP8 grouped MLP: the expert activation and two quantization passes folded into the
grouped GEMMs' epilogues.

Transformer Engine v2.14 release notes (github.com/NVIDIA/TransformerEngine/releases/tag/v2.14): "[PyTorch] Added a
fused GEMM + SwiGLU grouped MLP for MXFP8 to accelerate MoE forward/backward. (#2769)". The operation fuser replaces
the chain GroupedLinear (FC1), ScaledSwiGLU, GroupedLinear (FC2) of a routed expert MLP by

- forward, ``ForwardGroupedMLP_CuTeGEMMSwiGLU_MXFP8`` (transformer_engine/pytorch/ops/fused/forward_grouped_mlp.py):
  one cuDNN CuTe DSL kernel, ``grouped_gemm_swiglu_wrapper_sm100``, "Fused kernel for grouped GEMM, SwiGLU, and
  post-multiplication", that also writes FC2's input already quantized to MXFP8, row-wise and column-wise
  (its outputs ``d_tensor``, ``d_col_tensor`` and their scale factors become FC2's MXFP8Tensor); it still writes the
  BF16 FC1 output (``c_tensor``) that the backward needs. FC1's own input is quantized as before
  (``tex.split_quantize``).
- backward, ``BackwardGroupedMLP_CuTeGEMMDSwiGLU_MXFP8`` (backward_grouped_mlp.py): FC2's data-gradient GEMM fused
  with the SwiGLU backward and the gradient of the scales, ``grouped_gemm_dglu_wrapper_sm100``, "Fused kernel for
  grouped GEMM, GLU activation backward, and scale grad", whose output reaches FC1 quantized.

Both run only for MXFP8 on compute capability 10 (Blackwell: ``get_device_compute_capability()[0] != 10`` returns
unsupported), gated experts without bias whose widths are multiples of 256, and only when
``NVTE_CUTEDSL_FUSED_GROUPED_MLP`` is set. Megatron-Bridge's performance scripts set it where a recipe says
``cutedsl_fused_grouped_mlp=True`` (v0.5.0, the 26.06 container, scripts/performance/perf_plugins.py: "if
workload_base_config.cutedsl_fused_grouped_mlp: executor.env_vars["NVTE_CUTEDSL_FUSED_GROUPED_MLP"] = "1"", and
utils/overrides.py turns on ``use_transformer_engine_op_fuser`` and ``moe_mlp_glu_interleave_size = 32``).

Priced as the memory-bound passes that disappear, per GPU and micro-batch, at the rates the step model prices them
(perf.layer's elementwise rate for the activation, perf.moe_kernels' routing rate for the casts):

- forward: the SwiGLU pass over the routed copies' ``f`` outputs (perf.layer GATED_ACT_BYTES per element) and the
  cast of FC2's input, ``R x f`` elements at moe_kernels.QUANT_BYTES["mxfp8"] over the padded rows;
- backward: the SwiGLU backward (perf.layer's BWD_ELEMENTWISE_RATIO times the forward pass) and the cast of FC1's
  output gradient, ``R x u f`` elements.

The shared experts are a dense MLP outside the grouped op and keep their passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.perf import moe_kernels
from supercluster.perf.expert_gemm import padded_rows
from supercluster.perf.gemm import memory_bound_s
from supercluster.specs import Accelerator

# widths the fused kernel's tiles need (forward_grouped_mlp.py fuse_forward_ops: in/out features % 256 == 0)
WIDTH_MULTIPLE = 256


@dataclass(frozen=True, slots=True)
class FusedSaving:
    """Seconds the fused grouped MLP removes from one MoE layer's forward and backward on one GPU, one micro-batch."""

    fwd_s: float
    bwd_s: float


def applies(enabled: bool, precision: str, gated: bool, expert_bias: bool, hidden: float, width: float) -> bool:
    """Whether Transformer Engine's fuser takes the fused path: the stack asks for it, MXFP8, SwiGLU experts without
    bias, and both GEMM widths on the kernel's 256 tiles."""
    return (
        enabled
        and precision == "mxfp8"
        and gated
        and not expert_bias
        and hidden % WIDTH_MULTIPLE == 0
        and width % WIDTH_MULTIPLE == 0
    )


def saving(
    *,
    routed_act_elems: float,
    act_bytes: float,
    bwd_ratio: float,
    local_copies: float,
    local_experts: float,
    width: float,
    up: float,
    exact: bool,
    acc: Accelerator,
) -> FusedSaving:
    """The passes the fused op removes. ``routed_act_elems``: the routed experts' activation outputs perf.layer
    prices (tokens x top-k x f / TP), ``act_bytes`` its bytes per element; ``local_copies`` R and ``local_experts``
    the rows and groups of this GPU's grouped GEMMs, ``width`` f per expert-TP rank, ``up`` 2 for a gated FC1."""
    act_fwd = memory_bound_s(routed_act_elems * act_bytes, acc)
    per = moe_kernels.QUANT_BYTES["mxfp8"]
    rows = local_experts * padded_rows(local_copies / local_experts, moe_kernels.QUANT_ALIGN_ROWS["mxfp8"], exact)
    cast_fwd = moe_kernels.routing_s(per * rows * width, acc)
    cast_bwd = moe_kernels.routing_s(per * rows * up * width, acc)
    return FusedSaving(act_fwd + cast_fwd, bwd_ratio * act_fwd + cast_bwd)
