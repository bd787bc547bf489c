"""The calibration profile: what was measured, on what, and the efficiency table fitted from it."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from supercluster import catalog, inputs
from supercluster import io as inputs_io
from supercluster.catalog.loader import pydantic_message
from supercluster.errors import SuperclusterError
from supercluster.specs import Accelerator, EfficiencyTable
from supercluster.specs.base import Spec


class GemmPoint(Spec):
    m: int = Field(ge=1)
    n: int = Field(ge=1)
    k: int = Field(ge=1)
    dtype: str
    seconds: float = Field(gt=0, allow_inf_nan=False)

    @property
    def tflops(self) -> float:
        return 2.0 * self.m * self.n * self.k / self.seconds / 1e12


class AttentionPoint(Spec):
    batch: int = Field(ge=1)
    heads: int = Field(ge=1)
    seq: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    fwd_seconds: float = Field(gt=0, allow_inf_nan=False)
    bwd_seconds: float = Field(gt=0, allow_inf_nan=False)

    @property
    def fwd_flops(self) -> float:
        """Causal: half of 4 b h s^2 d."""
        return 2.0 * self.batch * self.heads * self.seq * self.seq * self.head_dim


class BandwidthPoint(Spec):
    kernel: str
    bytes: float = Field(gt=0)
    seconds: float = Field(gt=0, allow_inf_nan=False)

    @property
    def gb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e9


class ExpertGemmPoint(Spec):
    """One mixture-of-experts up-projection: ``experts`` GEMMs of [tokens_per_expert, hidden] x [hidden, ffn].

    ``impl`` is how they ran: ``loop`` (one GEMM per expert, as Megatron's SequentialMLP) or ``grouped``
    (one grouped-GEMM kernel, torch._grouped_mm, as Transformer Engine / CUTLASS grouped GEMMs)."""

    experts: int = Field(ge=1)
    tokens_per_expert: int = Field(ge=1)
    hidden: int = Field(ge=1)
    ffn: int = Field(ge=1)
    impl: str
    dtype: str
    seconds: float = Field(gt=0, allow_inf_nan=False)

    @property
    def tflops(self) -> float:
        return 2.0 * self.experts * self.tokens_per_expert * self.hidden * self.ffn / self.seconds / 1e12


class CalibrationProfile(Spec):
    device: str
    accelerator: str | None = Field(default=None, description="catalog id this device is, if it is one")
    backend: str
    date: str
    driver: str = ""
    libraries: dict[str, str] = Field(default_factory=dict)
    dtype: str
    peak_tflops: float = Field(gt=0, allow_inf_nan=False, description="dense peak the fractions refer to")
    peak_source: str
    memory_gib: float = Field(gt=0)
    memory_tb_per_s: float = Field(gt=0, description="datasheet bandwidth the hbm fraction refers to")
    gemm: list[GemmPoint] = Field(default_factory=list)
    gemm_fp8: list[GemmPoint] = Field(default_factory=list, description="FP8 (e4m3, per-tensor scaled) GEMMs")
    expert_gemm: list[ExpertGemmPoint] = Field(default_factory=list)
    attention: list[AttentionPoint] = Field(default_factory=list)
    bandwidth: list[BandwidthPoint] = Field(default_factory=list)
    collectives: list[dict[str, Any]] = Field(default_factory=list)
    efficiency: EfficiencyTable
    budget_s: float = 0.0
    notes: list[str] = Field(default_factory=list)

    def save(self, path: str | Path) -> Path:
        return inputs_io.write_text(path, yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False), "profile")


def load(path: str | Path) -> CalibrationProfile:
    p = Path(path)
    data = inputs.load_yaml(inputs.read_text(p, "calibration profile"), f"calibration profile {p}")
    if not isinstance(data, dict):
        raise SuperclusterError(f"calibration profile {p} must be a YAML mapping")
    try:
        return CalibrationProfile(**data)
    except ValidationError as err:
        raise SuperclusterError(pydantic_message(err, f"calibration profile {p}")) from None


def fit_efficiency(
    gemm: list[GemmPoint],
    attention: list[AttentionPoint],
    bandwidth: list[BandwidthPoint],
    peak_tflops: float,
    memory_tb_per_s: float,
    base: EfficiencyTable,
    source: str,
    gemm_fp8: list[GemmPoint] | None = None,
    peak_fp8_tflops: float = 0.0,
) -> EfficiencyTable:
    """Least-squares fit of the GEMM model t = 2mnk/(P e)(1 + d0/m + d0/n + d0/k) in log time, over d0 on a grid;
    attention and memory-bound fractions as measured means. FP8 GEMMs, when measured against a known FP8 peak,
    fit their own fraction e with the BF16 d0 (the same tiles, twice the rate per tile). Fields without
    measurements keep ``base``."""
    peak = peak_tflops * 1e12
    update: dict[str, Any] = {"source": source}
    if gemm:
        best: tuple[float, float, float] | None = None
        # a tile edge beyond the typical smallest dimension measured cannot be told from a lower peak fraction:
        # the grid stops at the median smallest dimension, so small-shape profiles (CPU, --quick) fit stably
        cap = statistics.median(min(g.m, g.n, g.k) for g in gemm)
        grid = [d for d in [2.0**x for x in range(2, 11)] + [96.0, 192.0, 384.0] if d <= cap] or [4.0]
        for d0 in grid:
            shape = [(1 + d0 / g.m + d0 / g.n + d0 / g.k) * 2 * g.m * g.n * g.k / peak for g in gemm]
            logs = [math.log(s / g.seconds) for s, g in zip(shape, gemm, strict=True)]
            e = math.exp(sum(logs) / len(logs))
            err = sum((math.log(s / e) - math.log(g.seconds)) ** 2 for s, g in zip(shape, gemm, strict=True))
            if best is None or err < best[0]:
                best = (err, d0, e)
        assert best is not None
        update["gemm_tile_dim"] = best[1]
        update["gemm_peak_fraction"] = {**base.gemm_peak_fraction, "bf16": min(1.0, best[2])}
        if gemm_fp8 and peak_fp8_tflops > 0:
            d0, p8 = best[1], peak_fp8_tflops * 1e12
            logs = [
                math.log((1 + d0 / g.m + d0 / g.n + d0 / g.k) * 2 * g.m * g.n * g.k / p8 / g.seconds) for g in gemm_fp8
            ]
            update["gemm_peak_fraction"]["fp8"] = min(1.0, math.exp(sum(logs) / len(logs)))
    if attention:
        fwd = sum(a.fwd_flops / a.fwd_seconds for a in attention) / len(attention) / peak
        bwd = sum(2.5 * a.fwd_flops / a.bwd_seconds for a in attention) / len(attention) / peak
        update["attention_fwd_fraction"] = min(1.0, max(fwd, 1e-4))
        update["attention_bwd_fraction"] = min(1.0, max(bwd, 1e-4))
    copies = [b for b in bandwidth if b.kernel == "copy"]
    if copies:
        update["hbm_fraction"] = min(1.0, max(b.gb_per_s for b in copies) / (memory_tb_per_s * 1e3))
    return base.model_copy(update=update)


def accelerator_for(profile: CalibrationProfile) -> Accelerator:
    """The catalog accelerator with the profile's efficiency table, or one built from the profile for other devices."""
    if profile.accelerator and profile.accelerator in catalog.names("accelerators"):
        return catalog.accelerator(profile.accelerator).model_copy(update={"efficiency": profile.efficiency})
    return Accelerator(
        id=f"measured-{profile.backend}",
        name=profile.device,
        vendor="measured",
        peak_tflops={"bf16": profile.peak_tflops},
        hbm_gib=profile.memory_gib,
        hbm_tb_per_s=profile.memory_tb_per_s,
        scale_up_gb_per_s=0.0,
        scale_up_busbw_gb_per_s=0.0,
        scale_up_domain=1,
        tdp_w=1.0,
        efficiency=profile.efficiency,
        sources={"peak_tflops": profile.peak_source, "profile": f"{profile.device}, {profile.date}"},
        assumed=["every value measured by supercluster calibrate on this device"],
    )
