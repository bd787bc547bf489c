"""Accelerator spec: peak rates, memory, links, power, and its efficiency table."""

from typing import Literal

from pydantic import Field, model_validator

from supercluster.specs.base import Spec

Precision = Literal["fp64_vector", "fp64_matrix", "tf32", "bf16", "fp8", "fp4"]


class EfficiencyTable(Spec):
    """What fraction of the datasheet peak each kind of kernel reaches.

    Held as data so that a calibration profile measured on a real GPU can
    replace it (``supercluster calibrate``). The GEMM model is

        t = 2 m n k / (peak * gemm_peak_fraction) * (1 + d0/m + d0/n + d0/k)

    with d0 = ``gemm_tile_dim``: the fraction of peak reached by large GEMMs
    (the "maximum achievable matmul FLOPs", MAMF) degraded by the edge and
    prologue/epilogue cost of tiles of that size on small dimensions.
    """

    gemm_peak_fraction: dict[str, float] = Field(
        description="large-GEMM fraction of dense peak, by precision (bf16, fp8)"
    )
    gemm_tile_dim: float = Field(gt=0, description="d0 of the GEMM size penalty, elements")
    attention_fwd_fraction: float = Field(gt=0, le=1, description="flash-attention forward, of bf16 peak")
    attention_bwd_fraction: float = Field(gt=0, le=1, description="flash-attention backward, of bf16 peak")
    attention_fa2_fraction: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=(
            "FlashAttention-2's published forward+backward throughput on this card, of bf16 peak: the reference "
            "that stacks running an older kernel are scaled from (perf.attention_kernel); none: the attention "
            "fractions above are FlashAttention-2's own"
        ),
    )
    attention_reference_span: float | None = Field(
        default=None,
        ge=16,
        le=1.0e7,
        description=(
            "mean keys per query row of the attention kernel calls at which the two attention fractions hold "
            "(seq / 2 for a causal layer without context parallelism); other spans scale them "
            "(perf.attention_span); none: fractions fitted without that term, kept at every span"
        ),
    )
    attention_fwd_tile_overhead_keys: float | None = Field(
        default=None,
        gt=0,
        le=1.0e6,
        description=(
            "fixed cost per query tile of the fused-attention forward on this card, in keys of span (n0 of "
            "perf.attention_span, fitted on the card's published curves); none: the Hopper value"
        ),
    )
    attention_bwd_tile_overhead_keys: float | None = Field(
        default=None,
        gt=0,
        le=1.0e6,
        description="the same for the fused-attention backward; none: the Hopper value",
    )
    hbm_fraction: float = Field(gt=0, le=1, description="memory-bound kernels, of HBM bandwidth")
    fp8_overhead_fraction: float = Field(
        default=0.0, ge=0, description="casts/amax scaling per FP8 GEMM, as a fraction of its time"
    )
    mxfp8_overhead_fraction: float = Field(
        default=0.0,
        ge=0,
        description="quantizing both operand layouts with 32-element block scales per MXFP8 GEMM, fraction of its time",
    )
    nvfp4_overhead_fraction: float = Field(
        default=0.0,
        ge=0,
        description="16-element block scaling, Hadamard transforms and stochastic rounding per NVFP4 GEMM, fraction",
    )
    source: str = ""

    @model_validator(mode="after")
    def _fractions(self) -> "EfficiencyTable":
        for precision, value in self.gemm_peak_fraction.items():
            if not 0 < value <= 1:
                raise ValueError(f"gemm_peak_fraction.{precision} = {value:g}: a fraction of peak must be in (0, 1]")
        for name in ("fp8_overhead_fraction", "mxfp8_overhead_fraction", "nvfp4_overhead_fraction"):
            if getattr(self, name) > 10:
                raise ValueError(f"{name} = {getattr(self, name):g}: at most 10 (ten times the GEMM's own time)")
        if self.gemm_tile_dim > 65536:
            raise ValueError(f"gemm_tile_dim = {self.gemm_tile_dim:g}: at most 65536 elements")
        return self


class Accelerator(Spec):
    id: str
    name: str
    vendor: str
    peak_tflops: dict[Precision, float] = Field(description="dense peak per precision, TFLOP/s")
    hbm_gib: float = Field(gt=0, description="HBM capacity, GiB")
    hbm_tb_per_s: float = Field(gt=0, description="HBM bandwidth, TB/s")
    scale_up_gb_per_s: float = Field(ge=0, description="scale-up link bandwidth per direction, GB/s")
    scale_up_busbw_gb_per_s: float = Field(
        ge=0, description="measured large-message all-reduce bus bandwidth in the scale-up domain, GB/s"
    )
    nvls_busbw_gb_per_s: float = Field(
        default=0.0, ge=0, description="all-reduce bus bandwidth with NVLink SHARP in the domain (0: none), GB/s"
    )
    scale_up_domain: int = Field(ge=1, description="GPUs in one scale-up (NVLink/xGMI) domain")
    tdp_w: float = Field(gt=0)
    flash_attention: bool = True
    sm_arch: int | None = Field(
        default=None,
        ge=10,
        le=200,
        description=(
            "CUDA compute capability x 10 (80 A100, 90 Hopper, 100 B200/GB200, 103 B300/GB300) where a kernel's "
            "availability or rate depends on it (perf.attention_backend, perf.wide_heads, perf.gemm_align, "
            "perf.attention_class); None: not needed by any rule"
        ),
    )
    microscaling: bool = Field(
        default=False,
        description="tensor cores take block-scaled MXFP8 / NVFP4 operands natively (Blackwell)",
    )
    efficiency: EfficiencyTable
    sources: dict[str, str] = Field(default_factory=dict)
    assumed: list[str] = Field(default_factory=list, description="fields that are assumptions")

    @model_validator(mode="after")
    def _needs_bf16(self) -> "Accelerator":
        if "bf16" not in self.peak_tflops:
            raise ValueError(f"accelerator {self.id}: peak_tflops needs a bf16 entry")
        return self

    def peak_flops(self, precision: str) -> float:
        """Dense peak in FLOP/s; MXFP8 runs at the FP8 rate, NVFP4 at the FP4 rate; a precision the card
        lacks falls back to BF16."""
        key = TENSOR_RATE.get(precision, precision)
        key = key if key in self.peak_tflops else "bf16"
        return self.peak_tflops[key] * 1e12  # type: ignore[index]

    def supports(self, precision: str) -> bool:
        """Whether the card multiplies in ``precision`` natively (block-scaled formats need microscaling)."""
        if precision in TENSOR_RATE:
            return self.microscaling and TENSOR_RATE[precision] in self.peak_tflops
        return precision in self.peak_tflops


# Block-scaled training formats and the tensor-core rate they run at. MXFP8: FP8 E4M3 elements sharing one
# power-of-two (E8M0) scale per 32 (OCP Microscaling Formats MX v1.0); NVFP4: FP4 E2M1 elements with one
# FP8 E4M3 scale per 16 and an FP32 scale per tensor (NVIDIA, "Pretraining Large Language Models with NVFP4",
# arXiv:2509.25149, section 2).
TENSOR_RATE = {"mxfp8": "fp8", "nvfp4": "fp4"}
