"""Time of one MoE layer's expert GEMMs on one GPU, as the stack's implementation runs them.

A GPU holding G local experts multiplies G small matrices per linear layer, m tokens each (tokens per expert
per micro-batch: the micro-batch's routed copies, top-k of them per token, spread over the experts; see
perf.layer). How much of the dense rate that keeps depends on the kernel the stack uses
(``SoftwareProfile.expert_gemm``):

- ``loop``: one GEMM per expert issued from Python, as DeepSpeed-MoE's ``Experts.forward`` (deepspeed/moe/
  experts.py: ``for chunk, expert in zip(chunks, self.deepspeed_experts)``) and Megatron-Core's SequentialMLP.
  Each GEMM runs at the dense model's rate for its own shape (perf.gemm: its partial-tile term d0/m grows as m
  shrinks), and never faster than the host issues it: LOOP_LAUNCH_S per GEMM.
- ``multistream``: Transformer Engine's GroupedLinear, what Megatron-Core runs with ``--moe-grouped-gemm`` ("launch
  multiple local GEMM kernels in multiple streams to improve the utilization and performance with GroupedLinear in
  TransformerEngine", Megatron-LM megatron/core/transformer/moe/README.md): one cuBLAS GEMM per expert, issued from
  C++ over up to 4 streams (transformer_engine/common/include/transformer_engine/gemm.h, num_streams = 4). Each is
  priced at the dense model's rate for its own shape, as the loop without the host floor; the overlap of the
  streams is not credited (no published curve of it was found).
- ``grouped``: one grouped-GEMM kernel over all experts (CUTLASS through torch._grouped_mm, as torchtitan's and NeMo
  AutoModel's GroupedExperts run it). Every expert's rows are padded to the kernel's M tile (PyTorch
  aten/src/ATen/native/cuda/GroupMM.cu, SM90: 128 x 256 x 64 tiles, 64 x 128 x 128 when the mean group has at most
  128 rows), the tiles of all experts share one persistent schedule (the dense model's terms on the stacked, padded
  rows), and every expert's weights stream from HBM once per GEMM.
- ``deepgemm``: DeepSeek's DeepGEMM m-grouped contiguous layout (github.com/deepseek-ai/DeepGEMM, README "Grouped
  GEMMs (contiguous layout)": "each expert segment must be aligned to the GEMM M block size"; deep_gemm/jit_kernels/
  utils.py: "Group-level alignment requirement for grouped contiguous layout, which is always 128"): as ``grouped``
  with every segment padded to 128 rows.

Blackwell ceiling of ``grouped`` (torch._grouped_mm) in BF16. PyTorch's SM100 grouped GEMM reuses its SM90 CUTLASS
code with the Blackwell kernel schedule swapped in (pytorch/pytorch PR #156203, "[CUTLASS] [CUDA] SM100 GroupMM",
2025-06: "Most of the code that is used for SM90 can be reused, kernel schedule has to be changed"), and it does not
reach the dense rate the card's tables give: torchao's B200 table of one expert linear layer forward and backward
(pytorch/ao torchao/prototype/moe_training/README.md, "Autograd function", bf16_fwd_bwd_us at total M 128,000, G 1-8,
Llama 4 Scout and DeepSeek-V3 expert shapes) reads 712-863 TFLOP/s, 0.32-0.38 of the B200's 2,250 TFLOP/s BF16 peak,
where the card's fraction prices ~1,060-1,130. On compute capability 10.x a BF16 grouped GEMM therefore runs no
faster than GROUPED_SM100_BF16_PEAK_FRACTION of the BF16 peak. MXFP8 is left as priced: torchao's MXFP8 times
include its quantization kernels, which the model prices apart, so the table does not isolate the GEMM.

Compute and weight streaming overlap imperfectly when each expert's weights serve few rows: the two times combine
as t = (t_compute^p + t_memory^p)^(1/p), a soft roofline (p -> infinity is the hard roofline of perf.gemm;
Williams, Waterman and Patterson, CACM 52(4), 2009). OVERLAP_P = 2.3 is fitted (least squares in log rate) on
DeepGEMM's masked-layout table (README @55ab91f, H800, FP8: 1, 2 and 4 groups sharing 1,024 rows at two expert
shapes): the rate falls 1233 -> 1040 -> 932 and 925 -> 916 -> 815 TFLOP/s as the rows per expert halve, which
the hard roofline cannot follow (it predicts no fall: the weights' time stays below the math's).
"""

from __future__ import annotations

import math
from typing import Literal

from supercluster.errors import SuperclusterError
from supercluster.perf.gemm import OPERAND_BYTES, _constants, gemm_time_s, linear_gemms_s
from supercluster.specs import Accelerator

ExpertGemm = Literal["loop", "multistream", "grouped", "deepgemm"]
EXPERT_GEMMS: tuple[str, ...] = ("loop", "multistream", "grouped", "deepgemm")

# Overlap exponent of compute and weight streaming in a grouped GEMM: fitted on DeepGEMM's masked-layout table
# (4 rows, two shapes; ratio MAPE 5.6%); leave-one-shape-out p = 1.8 and 3.2 (held-out ratio errors 6-15%);
# checked on the H200 torch._grouped_mm points (tests/test_grouped_gemm.py).
OVERLAP_P = 2.3
# M tile rows: torch._grouped_mm (GroupMM.cu dispatch_bf16_grouped_kernel_on_tile_size: cute::_128 tiles, or
# cute::_64 when M = total rows / groups <= 128) and DeepGEMM's contiguous-layout alignment (128).
GROUPED_TILE_ROWS = 128
GROUPED_SMALL_TILE_ROWS = 64
GROUPED_SMALL_ROWS = 128
DEEPGEMM_ALIGN_ROWS = 128
# Ceiling of torch._grouped_mm's BF16 rate on compute capability 10.x, as a fraction of the card's BF16 peak: the mean
# of torchao's eight B200 points (pytorch/ao moe_training README, "Autograd function" tables: 746.7, 815.8, 822.0,
# 854.4 TFLOP/s at the Llama 4 Scout shape, 863.0, 756.7, 712.5, 753.3 at DeepSeek-V3's; 790.6 / 2,250 = 0.351);
# leaving either shape out gives 0.343 or 0.360 (held-out rate errors within 13%, tests/test_grouped_gemm.py).
GROUPED_SM100_BF16_PEAK_FRACTION = 0.351
# Host time per expert GEMM of a Python loop (slice, matmul dispatch, launch): fitted on the H200 calibration's
# loop points of the (2048, 768) expert (calibration/h200-sxm-141gb-2026-11-30.yaml: 8 GEMMs in 115-124 us at 32
# to 2,048 tokens, flat, so the host paces them; 118 us / 8), checked on the (2880, 2880) expert at 64-256 tokens
# (128-132 us measured, 118 predicted). A lower bound for a training loop, whose experts are whole modules.
LOOP_LAUNCH_S = 14.8e-6


def padded_rows(rows: float, tile: float, exact: bool) -> float:
    """Rows a kernel computes for a group of ``rows`` when it pads each group to whole ``tile``-row tiles.

    ``exact``: every expert holds exactly ``rows`` (a balanced benchmark gate, or experts padded to a capacity
    factor): ceil(rows / tile) tiles. Otherwise the counts scatter around the mean ``rows`` (dropless routing), the
    last tile of a group is on average half full, and a group is at least one tile: tile * max(1, rows / tile + 1/2).
    """
    if rows <= 0:
        return 0.0
    if exact:
        return math.ceil(rows / tile - 1e-9) * tile
    return tile * max(1.0, rows / tile + 0.5)


def _tile_rows(impl: str, rows: float) -> float:
    if impl == "deepgemm":
        return DEEPGEMM_ALIGN_ROWS
    return GROUPED_SMALL_TILE_ROWS if rows <= GROUPED_SMALL_ROWS else GROUPED_TILE_ROWS


def _soft_roofline(t_compute: float, t_memory: float) -> float:
    """(t_c^p + t_m^p)^(1/p) with p = OVERLAP_P, scaled so that large ratios do not overflow."""
    big = max(t_compute, t_memory)
    if big <= 0.0:
        return 0.0
    a, b = t_compute / big, t_memory / big
    return float(big * (a**OVERLAP_P + b**OVERLAP_P) ** (1.0 / OVERLAP_P))


def grouped_gemm_s(
    groups: float,
    rows: float,
    n: float,
    k: float,
    acc: Accelerator,
    precision: str,
    tile: float,
    exact: bool = True,
    grouped_k: bool = False,
) -> float:
    """Seconds of one grouped GEMM: ``groups`` problems C[rows, n] = A[rows, k] @ B_g[k, n], one B per group.

    Compute: the dense model of perf.gemm, 2 M n k / (peak e) (1 + d0/M + d0/n + d0/k) times the format's
    quantization overhead, on the stacked rows M = groups x padded_rows(rows). Memory: every group's weights once
    (groups x k x n operands), the rows' inputs, the BF16 output. ``grouped_k``: the weight-gradient form, groups x
    C[k, n] = A_g[k, rows] @ B_g[rows, n], the groups' output tiles stacked (M = groups x k) and each K loop
    ``rows`` long, padded to the tile (DeepGEMM's k-grouped contiguous layout). Combined by the soft roofline."""
    if groups <= 0 or rows <= 0 or n <= 0 or k <= 0:
        return 0.0
    prec, peak, d0, overhead, hbm = _constants(acc, precision)
    b = OPERAND_BYTES[prec]
    pad = padded_rows(rows, tile, exact)
    if grouped_k:
        m_stack, inner = groups * k, pad
        t_memory = (b * groups * rows * (k + n) + 2.0 * groups * k * n) / hbm
    else:
        m_stack, inner = groups * pad, k
        t_memory = (b * groups * (rows * k + k * n) + 2.0 * groups * rows * n) / hbm
    flops = 2.0 * m_stack * n * inner
    t_compute = flops / peak * (1.0 + d0 / m_stack + d0 / n + d0 / inner) * overhead
    return _soft_roofline(t_compute, t_memory)


def expert_linear_gemms_s(
    impl: str,
    groups: float,
    rows: float,
    n: float,
    k: float,
    acc: Accelerator,
    precision: str,
    exact: bool,
) -> tuple[float, float, float]:
    """(forward, data gradient, weight gradient) seconds of one expert linear layer over all ``groups`` local
    experts, ``rows`` tokens each, weights k x n: y = x W (rows x k @ k x n), dx = dy W^T, dW = x^T dy."""
    if groups <= 0 or rows <= 0:
        return 0.0, 0.0, 0.0
    if impl in ("loop", "multistream"):
        fwd, dgrad, wgrad = linear_gemms_s(rows, n, k, acc, precision)
        if impl == "loop":
            fwd, dgrad, wgrad = (max(t, LOOP_LAUNCH_S) for t in (fwd, dgrad, wgrad))
        return groups * fwd, groups * dgrad, groups * wgrad
    if impl not in ("grouped", "deepgemm"):
        raise SuperclusterError(f"unknown expert GEMM implementation '{impl}'; valid: {', '.join(EXPERT_GEMMS)}")
    tile = _tile_rows(impl, rows)
    times = (
        grouped_gemm_s(groups, rows, n, k, acc, precision, tile, exact),
        grouped_gemm_s(groups, rows, k, n, acc, precision, tile, exact),
        grouped_gemm_s(groups, rows, n, k, acc, precision, tile, exact, grouped_k=True),
    )
    floor = sm100_grouped_floor_s(impl, groups, rows, n, k, acc, precision)
    return (max(times[0], floor), max(times[1], floor), max(times[2], floor))


def sm100_grouped_floor_s(impl: str, groups: float, rows: float, n: float, k: float, acc: Accelerator, precision: str):
    """Least seconds of one BF16 torch._grouped_mm of ``groups`` x (rows x k @ k x n) on compute capability 10.x: its
    FLOPs at GROUPED_SM100_BF16_PEAK_FRACTION of the BF16 peak (PyTorch PR #156203's SM100 GroupMM, torchao's B200
    table); 0 for other implementations, cards and precisions."""
    if impl != "grouped" or (acc.sm_arch or 0) < 100 or _constants(acc, precision)[0] != "bf16":
        return 0.0
    return 2.0 * groups * rows * n * k / (GROUPED_SM100_BF16_PEAK_FRACTION * acc.peak_flops("bf16"))


def dense_rate_fraction(
    impl: str, groups: float, rows: float, n: float, k: float, acc: Accelerator, precision: str, exact: bool = True
) -> float:
    """Forward FLOP rate of the expert GEMM over that of one dense GEMM of all the rows (groups x rows, n, k) on the
    same card: 1 when grouping costs nothing, below 1 as the rows per expert shrink."""
    grouped = expert_linear_gemms_s(impl, groups, rows, n, k, acc, precision, exact)[0]
    dense = gemm_time_s(groups * rows, n, k, acc, precision)
    return dense / grouped if grouped > 0 else 0.0
