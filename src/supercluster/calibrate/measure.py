"""Microbenchmarks on the local device with PyTorch (the `calibrate` extra).

GEMMs over the shapes transformer layers produce (QKV, attention output, FFN up and down, with tensor
parallel shards, and their backward transposes), causal scaled-dot-product attention forward and
backward, memory-bound kernels (copy, GeLU, LayerNorm), and NCCL collectives when more than one GPU is
visible. Every measurement is the median of repeated runs after warm-up; the whole run stops when its
time budget is spent and keeps what it measured.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from supercluster import catalog
from supercluster.calibrate.profile import (
    AttentionPoint,
    BandwidthPoint,
    CalibrationProfile,
    ExpertGemmPoint,
    GemmPoint,
    fit_efficiency,
)
from supercluster.errors import SuperclusterError

DEVICE_NAMES = (  # substring of torch.cuda.get_device_name -> catalog id (first match wins)
    ("GB300", "gb300"),
    ("B300", "b300"),
    ("GB200", "gb200"),
    ("B200", "b200"),
    ("H200", "h200-sxm-141gb"),
    ("H800", "h800-sxm-80gb"),
    ("H100 PCIe", "h100-pcie-80gb"),
    ("H100", "h100-sxm-80gb"),
    ("A100-SXM4-80GB", "a100-sxm-80gb"),
    ("A100 80GB", "a100-sxm-80gb"),
    ("A100", "a100-sxm-40gb"),
    ("MI300X", "mi300x"),
    ("MI250X", "mi250x"),
)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise SuperclusterError("calibrate needs PyTorch: pip install 'supercluster[calibrate]'") from None
    return torch


def catalog_id(device_name: str) -> str | None:
    for needle, acc in DEVICE_NAMES:
        if needle in device_name:
            return acc
    return None


class Timer:
    def __init__(
        self,
        torch: Any,
        device: str,
        deadline: float,
        min_s: float | None = None,
        min_samples: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``clock`` times the samples (the deadline is always wall time): time.process_time on one CPU thread
        counts the CPU time this process used, not the time other processes held the core."""
        self.torch, self.device, self.deadline, self.clock = torch, device, deadline, clock
        # A CPU shares its cores with the host's other work: time each point for longer and over more samples
        # so that two runs of `calibrate` fit the same efficiency table (short runs once gave +690% then -78% on CPU).
        self.min_s = min_s if min_s is not None else (0.02 if device == "cuda" else 0.25)
        self.min_samples = min_samples if min_samples is not None else (5 if device == "cuda" else 9)

    def _sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def median_s(self, fn: Callable[[], Any]) -> float:
        fn()
        self._sync()
        samples: list[float] = []
        start = time.perf_counter()
        while len(samples) < self.min_samples or (time.perf_counter() - start < self.min_s and len(samples) < 50):
            t0 = self.clock()
            fn()
            self._sync()
            samples.append(self.clock() - t0)
            if self.left() < 0:
                break
        return statistics.median(samples)


def gemm_shapes(hiddens: list[int], tokens: list[int], tps: list[int]) -> list[tuple[int, int, int]]:
    shapes: set[tuple[int, int, int]] = set()
    for h in hiddens:
        for tok in tokens:
            for t in tps:
                for m, n, k in ((tok, 3 * h // t, h), (tok, h, h // t), (tok, 4 * h // t, h), (tok, h, 4 * h // t)):
                    if min(m, n, k) >= 1:
                        shapes.add((m, n, k))
                        shapes.add((k, n, m))  # weight-gradient transpose
    return sorted(shapes)


# Expert shapes (hidden, expert ffn) of published MoE models: Qwen3-30B-A3B (2048, 768), DeepSeek-V3
# (7168, 2048), gpt-oss (2880, 2880), Mixtral 8x7B (4096, 14336). Tokens per expert sweep from a few dozen
# (fine-grained experts at small micro-batches) to the dense regime.
EXPERT_SHAPES = ((2048, 768), (7168, 2048), (2880, 2880), (4096, 14336))
EXPERT_TOKENS = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
LOCAL_EXPERTS = 8


def _fp8_gemms(torch: Any, timer: Timer, shapes: list[tuple[int, int, int]], notes: list[str]) -> list[GemmPoint]:
    """FP8 e4m3 GEMMs with per-tensor scales (torch._scaled_mm, the kernel Transformer Engine's delayed scaling
    reaches), BF16 output; skipped where the device or PyTorch has no FP8 matrix path."""
    if not hasattr(torch, "_scaled_mm") or not hasattr(torch, "float8_e4m3fn"):
        notes.append("no torch._scaled_mm: FP8 GEMMs not measured")
        return []
    points: list[GemmPoint] = []
    one = torch.ones((), device="cuda", dtype=torch.float32)
    for m, n, k in shapes:
        if timer.left() < 0 or m % 16 or n % 16 or k % 16:
            continue
        a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16).to(torch.float8_e4m3fn)
        b = torch.randn(n, k, device="cuda", dtype=torch.bfloat16).to(torch.float8_e4m3fn).t()  # column-major

        def mm(a: Any = a, b: Any = b) -> Any:
            return torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

        try:
            seconds = timer.median_s(mm)
        except RuntimeError as err:  # e.g. a card without FP8 tensor cores
            notes.append(f"FP8 GEMM not measured: {str(err).splitlines()[0][:120]}")
            return points
        points.append(GemmPoint(m=m, n=n, k=k, dtype="float8_e4m3fn", seconds=seconds))
    return points


def _expert_gemms(torch: Any, timer: Timer, device: str, dtype: Any, notes: list[str]) -> list[ExpertGemmPoint]:
    """The MoE up-projection at each tokens-per-expert count, run as a loop of per-expert GEMMs and, where
    PyTorch has it, as one grouped GEMM (torch._grouped_mm)."""
    grouped = getattr(torch, "_grouped_mm", None) if device == "cuda" else None
    if grouped is None:
        notes.append("no torch._grouped_mm on this device: expert GEMMs measured as a per-expert loop only")
    points: list[ExpertGemmPoint] = []
    for hidden, ffn in EXPERT_SHAPES:
        w = torch.randn(LOCAL_EXPERTS, hidden, ffn, device=device, dtype=dtype)
        w_t = w.transpose(-2, -1).contiguous().transpose(-2, -1)  # grouped GEMMs take column-major weights
        for tokens in EXPERT_TOKENS:
            if timer.left() < 0:
                notes.append("budget spent before every expert GEMM shape")
                return points
            x = torch.randn(LOCAL_EXPERTS * tokens, hidden, device=device, dtype=dtype)
            chunks = x.split(tokens)

            def loop(chunks: Any = chunks, w: Any = w) -> None:
                for e, c in enumerate(chunks):
                    c @ w[e]

            shape = dict(
                experts=LOCAL_EXPERTS,
                tokens_per_expert=tokens,
                hidden=hidden,
                ffn=ffn,
                dtype=str(dtype).removeprefix("torch."),
            )
            points.append(ExpertGemmPoint(impl="loop", seconds=timer.median_s(loop), **shape))
            if grouped is None:
                continue
            offs = torch.arange(1, LOCAL_EXPERTS + 1, device=device, dtype=torch.int32) * tokens
            try:
                seconds = timer.median_s(lambda x=x, w_t=w_t, offs=offs, g=grouped: g(x, w_t, offs=offs))
            except (RuntimeError, TypeError) as err:
                notes.append(f"grouped GEMM not measured: {str(err).splitlines()[0][:120]}")
                grouped = None
                continue
            points.append(ExpertGemmPoint(impl="grouped", seconds=seconds, **shape))
    return points


Progress = Callable[[str, float], None]


def _dense_gemms(
    torch: Any,
    timer: Timer,
    device: str,
    dtype: Any,
    shapes: list[tuple[int, int, int]],
    notes: list[str],
    progress: Progress,
) -> list[GemmPoint]:
    gemm: list[GemmPoint] = []
    for i, (m, n, k) in enumerate(shapes):
        if timer.left() < 0:
            notes.append(f"budget spent after {i} of {len(shapes)} GEMM shapes")
            break
        progress(f"GEMM {m}x{n}x{k}", 0.6 * i / len(shapes))
        a = torch.randn(m, k, device=device, dtype=dtype)
        b = torch.randn(k, n, device=device, dtype=dtype)
        seconds = timer.median_s(lambda a=a, b=b: a @ b)  # type: ignore[misc]
        gemm.append(GemmPoint(m=m, n=n, k=k, dtype=str(dtype).removeprefix("torch."), seconds=seconds))
    return gemm


def _attention(
    torch: Any,
    timer: Timer,
    device: str,
    dtype: Any,
    cfgs: list[tuple[int, int, int, int]],
    notes: list[str],
    progress: Progress,
) -> list[AttentionPoint]:
    """Causal SDPA forward, and forward + backward, at each (batch, heads, seq, head_dim)."""
    attention: list[AttentionPoint] = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    for batch, heads, seq, hd in cfgs:
        if timer.left() < 0:
            notes.append("budget spent before every attention shape")
            break
        progress(f"attention s={seq}", 0.7)
        q, k_, v = (
            torch.randn(batch, heads, seq, hd, device=device, dtype=dtype, requires_grad=True) for _ in range(3)
        )

        def fwd(q: Any = q, k_: Any = k_, v: Any = v) -> Any:
            with torch.no_grad():
                return sdpa(q, k_, v, is_causal=True)

        def fwd_bwd(q: Any = q, k_: Any = k_, v: Any = v) -> None:
            sdpa(q, k_, v, is_causal=True).sum().backward()

        f = timer.median_s(fwd)
        fb = timer.median_s(fwd_bwd)
        attention.append(
            AttentionPoint(batch=batch, heads=heads, seq=seq, head_dim=hd, fwd_seconds=f, bwd_seconds=max(fb - f, 1e-9))
        )
    return attention


def _bandwidth(
    torch: Any, timer: Timer, device: str, dtype: Any, elems: int, notes: list[str], progress: Progress
) -> list[BandwidthPoint]:
    """Copy, GeLU and LayerNorm over ``elems`` elements (each reads and writes them once)."""
    bandwidth: list[BandwidthPoint] = []
    x = torch.randn(elems, device=device, dtype=dtype)
    y = torch.empty_like(x)
    per = x.element_size()
    for kernel, fn, moved in (
        ("copy", lambda: y.copy_(x), 2 * elems * per),
        ("gelu", lambda: torch.nn.functional.gelu(x), 2 * elems * per),
        ("layernorm", lambda: torch.nn.functional.layer_norm(x.view(-1, 1024), (1024,)), 2 * elems * per),
    ):
        if timer.left() < 0:
            notes.append("budget spent before every memory-bound kernel")
            break
        progress(f"{kernel} bandwidth", 0.85)
        bandwidth.append(BandwidthPoint(kernel=kernel, bytes=moved, seconds=timer.median_s(fn)))
    return bandwidth


def _references(
    acc_id: str | None, gemm: list[GemmPoint], bandwidth: list[BandwidthPoint]
) -> tuple[float, str, float, float, Any, float]:
    """What the fitted fractions refer to: (peak TFLOP/s, its source, memory GiB, memory TB/s, the base
    efficiency table, FP8 peak): the catalog's datasheet values for a known accelerator, else the fastest
    GEMM and copy measured here."""
    if acc_id:
        acc = catalog.accelerator(acc_id)
        return (
            acc.peak_tflops["bf16"],
            f"catalog {acc_id} dense BF16 peak",
            acc.hbm_gib,
            acc.hbm_tb_per_s,
            acc.efficiency,
            acc.peak_tflops.get("fp8", 0.0),
        )
    return (
        max((g.tflops for g in gemm), default=1e-3),
        "fastest GEMM measured on this device (no datasheet peak)",
        (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 2**30,
        max((b.gb_per_s for b in bandwidth if b.kernel == "copy"), default=1.0) / 1e3,
        catalog.accelerator("h100-sxm-80gb").efficiency,
        0.0,
    )


def _fitted(
    acc_id: str | None,
    gemm: list[GemmPoint],
    attention: list[AttentionPoint],
    bandwidth: list[BandwidthPoint],
    gemm_fp8: list[Any],
    source: str,
) -> dict[str, Any]:
    """The profile fields fitted from a sweep: its references (`_references`) and the efficiency table."""
    peak, peak_src, mem_gib, mem_tb, base, peak_fp8 = _references(acc_id, gemm, bandwidth)
    eff = fit_efficiency(
        gemm, attention, bandwidth, peak, mem_tb, base, source, gemm_fp8=gemm_fp8, peak_fp8_tflops=peak_fp8
    )
    return {
        "efficiency": eff,
        "peak_tflops": peak,
        "peak_source": peak_src,
        "memory_gib": mem_gib,
        "memory_tb_per_s": mem_tb,
    }


def sweep_points(profile: CalibrationProfile) -> int:
    """How many points `remeasure` times (and calls its ``progress`` for)."""
    return len(profile.gemm) + len(profile.attention) + len(profile.bandwidth)


def remeasure(profile: CalibrationProfile, timer: Timer, progress: Progress | None = None) -> CalibrationProfile:
    """The profile's dense GEMM shapes, attention shapes and memory-bound kernels timed again with ``timer`` and
    fitted exactly as `run` fits them (FP8 and expert GEMMs are kept as measured): the profile the machine would
    give now. ``progress`` is called once before each of the `sweep_points` points; the ground truth runs its
    training steps from it, so that the steps and the sweep share the machine's state."""
    torch = _torch()
    device, dtype = profile.backend, getattr(torch, profile.dtype)
    notes: list[str] = []
    quiet: Progress = progress or (lambda _msg, _frac: None)
    gemm = _dense_gemms(torch, timer, device, dtype, [(g.m, g.n, g.k) for g in profile.gemm], notes, quiet)
    cfgs = [(a.batch, a.heads, a.seq, a.head_dim) for a in profile.attention]
    attention = _attention(torch, timer, device, dtype, cfgs, notes, quiet)
    elems = {round(b.bytes / (2 * torch.tensor([], dtype=dtype).element_size())) for b in profile.bandwidth}
    bandwidth = [p for e in sorted(elems) for p in _bandwidth(torch, timer, device, dtype, e, notes, quiet)]
    return refit(profile.model_copy(update={"notes": [*profile.notes, *notes]}), gemm, attention, bandwidth)


def refit(
    profile: CalibrationProfile,
    gemm: list[GemmPoint],
    attention: list[AttentionPoint],
    bandwidth: list[BandwidthPoint],
) -> CalibrationProfile:
    """``profile`` with these dense GEMM, attention and memory points in place of its own, its references and
    efficiency table fitted from them as `run` fits a new profile (FP8 and expert points kept)."""
    fitted = _fitted(profile.accelerator, gemm, attention, bandwidth, profile.gemm_fp8, profile.efficiency.source)
    return profile.model_copy(update={"gemm": gemm, "attention": attention, "bandwidth": bandwidth, **fitted})


def run(
    device: str = "auto",
    budget_s: float = 600.0,
    quick: bool = False,
    progress: Callable[[str, float], None] | None = None,
) -> CalibrationProfile:
    """Measure the local device and return its profile (fitted efficiency table included)."""
    torch = _torch()
    if budget_s <= 0:
        raise SuperclusterError(f"--budget-s must be > 0, got {budget_s}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SuperclusterError("no CUDA/ROCm accelerator is visible to PyTorch; use --device cpu to test the pipeline")
    if device not in ("cuda", "cpu"):
        raise SuperclusterError(f"unknown device '{device}'; valid: auto, cuda, cpu")
    progress = progress or (lambda _msg, _frac: None)
    t_start = time.perf_counter()
    timer = Timer(torch, device, t_start + budget_s)
    notes: list[str] = []
    small = quick or device == "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        acc_id = catalog_id(name)
        driver = getattr(torch.version, "cuda", None) or getattr(torch.version, "hip", "") or ""
    else:
        name = f"{platform.processor() or platform.machine()} CPU ({os.cpu_count()} threads)"
        acc_id = None
        driver = ""
        notes.append(
            "no accelerator visible: the CPU was measured in float32; the profile tests the pipeline, "
            "it does not describe a GPU"
        )
    hiddens, tokens, tps = (
        ([128, 256, 512], [256, 1024], [1, 2]) if small else ([2048, 4096, 8192], [4096, 16384], [1, 8])
    )
    shapes = gemm_shapes(hiddens, tokens, tps)
    gemm = _dense_gemms(torch, timer, device, dtype, shapes, notes, progress)
    gemm_fp8 = _fp8_gemms(torch, timer, shapes, notes) if device == "cuda" and not small else []
    expert_gemm = _expert_gemms(torch, timer, device, dtype, notes) if not small else []
    att_cfgs = [(2, 4, 128, 32), (2, 4, 256, 32)] if small else [(2, 16, 2048, 128), (1, 16, 8192, 128)]
    attention = _attention(torch, timer, device, dtype, att_cfgs, notes, progress)
    bandwidth = _bandwidth(torch, timer, device, dtype, (16 << 20) if small else (512 << 20), notes, progress)
    collectives: list[dict[str, Any]] = []
    if device == "cuda" and torch.cuda.device_count() > 1:
        notes.append(
            f"{torch.cuda.device_count()} GPUs visible: run `torchrun --nproc-per-node N` with "
            "nccl-tests for collectives; single-process calibration measures one GPU"
        )
    elif device == "cuda":
        notes.append("one GPU visible: no NCCL collectives measured")
    fitted = _fitted(
        acc_id, gemm, attention, bandwidth, gemm_fp8, f"supercluster calibrate on {name}, {date.today().isoformat()}"
    )
    progress("done", 1.0)
    return CalibrationProfile(
        device=name,
        accelerator=acc_id,
        backend=device,
        date=date.today().isoformat(),
        driver=str(driver),
        libraries={"torch": torch.__version__, "python": platform.python_version()},
        dtype=str(dtype).removeprefix("torch."),
        gemm=gemm,
        gemm_fp8=gemm_fp8,
        expert_gemm=expert_gemm,
        attention=attention,
        bandwidth=bandwidth,
        collectives=collectives,
        budget_s=budget_s,
        notes=notes,
        **fitted,
    )
