"""Ground truth: train a small GPT for a few steps with PyTorch and compare with supercluster's prediction.

The model is nanoGPT's (Karpathy, github.com/karpathy/nanoGPT model.py: learned positions, pre-norm
blocks, GeLU MLP of 4h, tied embeddings), written here from its description; attention is PyTorch's
scaled_dot_product_attention (flash kernels on GPUs). The prediction uses the same shape, batch and
device with the calibration profile's efficiency table, on one device with no parallelism.

`run` times the steps after the profile was measured and predicts from that profile. `run_interleaved` (what
`calibrate --ground-truth` uses on a CPU, whose speed drifts with the host's other work) times the steps among
re-timings of the profile's own points, block by block, and reports the median of the blocks' errors.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from supercluster import catalog
from supercluster.calibrate import measure
from supercluster.calibrate.measure import _torch
from supercluster.calibrate.profile import CalibrationProfile, accelerator_for
from supercluster.errors import SuperclusterError
from supercluster.perf import estimate
from supercluster.specs import FabricSpec, ModelSpec, ResolvedPlan, SystemSpec, WorkloadSpec


@dataclass
class TimedBlock:
    """One interleaved block: the median of the training steps timed among a microbenchmark re-sweep, and the
    step predicted from that re-sweep."""

    measured_step_s: float
    predicted_step_s: float

    @property
    def ratio(self) -> float:
        return self.predicted_step_s / self.measured_step_s


@dataclass
class GroundTruth:
    device: str
    model: dict[str, int]
    batch: int
    steps: int
    measured_step_s: float
    predicted_step_s: float
    blocks: list[TimedBlock] = field(default_factory=list)
    threads: int = 0  # PyTorch intra-op threads during the measurement (0: not pinned)
    clock: str = "wall"  # "wall" (time.perf_counter) or "cpu" (time.process_time, this process's CPU time)

    @property
    def error_pct(self) -> float:
        """With blocks, the median over blocks of each block's predicted/measured (see `interleave`); without,
        the one prediction against the median step."""
        if self.blocks:
            return (median_ratio(self.blocks) - 1.0) * 100.0
        return (self.predicted_step_s / self.measured_step_s - 1.0) * 100.0

    def to_dict(self) -> dict[str, Any]:
        block_errors = [(b.ratio - 1.0) * 100.0 for b in self.blocks]
        return {**asdict(self), "error_pct": self.error_pct, "block_errors_pct": block_errors}


def median_ratio(blocks: list[TimedBlock]) -> float:
    """The median over blocks of predicted/measured: a block whose sweep or steps were hit by another process
    moves it less than it moves a mean (PyTorch's torch.utils.benchmark reports medians for this reason:
    "median computation, which is more robust than mean", docs.pytorch.org/docs/2.13/benchmark_utils.html)."""
    if not blocks:
        raise ValueError("median_ratio needs at least one block")
    return float(statistics.median(b.ratio for b in blocks))


def tick_positions(points: int, ticks: int) -> set[int]:
    """Where ``ticks`` steps go among ``points`` sweep points: before point floor((i + 1/2) points / ticks) for
    i < ticks, the middle of each of ``ticks`` equal segments (hand check: 10 points, 4 ticks -> 1, 3, 6, 8)."""
    if points < 1 or ticks < 1:
        raise ValueError(f"need points >= 1 and ticks >= 1, got {points} and {ticks}")
    return {min(points - 1, math.floor((i + 0.5) * points / ticks)) for i in range(ticks)}


def interleave(
    step: Callable[[], float],
    predict: Callable[[Callable[[], None], int], float],
    blocks: int,
    steps_per_block: int,
    deadline: float = math.inf,
    clock: Callable[[], float] = time.perf_counter,
    min_blocks: int = 1,
) -> list[TimedBlock]:
    """Interleave training steps with the microbenchmarks the prediction is made from, so that a drift of the
    host's speed (other processes on shared cores, clock changes; three ground truths in one process on a
    2-core VM drifted 0.294 -> 0.313 -> 0.329 s) hits the measurement and the prediction alike.

    ``predict(tick, n)`` re-sweeps the microbenchmarks, calls ``tick()`` n times spread through the sweep
    (each tick times one training step with ``step()``) and returns the step predicted from that sweep. A block
    is the median of its ``steps_per_block`` steps against that prediction: both were taken over the same
    seconds. The run is repeated in blocks, several measurements per block, as Georges, Buytaert and Eeckhout
    recommend (Statistically Rigorous Java Performance Evaluation, OOPSLA 2007: many measurements, not one), and
    `median_ratio` summarises the blocks. Once ``min_blocks`` have run, no new block starts after ``clock()``
    passes ``deadline``; a ``predict`` that ticks fewer times than asked has the missing steps timed after it."""
    if blocks < 1 or steps_per_block < 1:
        raise ValueError(f"need blocks >= 1 and steps_per_block >= 1, got {blocks} and {steps_per_block}")
    out: list[TimedBlock] = []
    for _ in range(blocks):
        times: list[float] = []
        predicted = predict(lambda times=times: times.append(step()), steps_per_block)
        times += [step() for _ in range(steps_per_block - len(times))]
        out.append(TimedBlock(float(statistics.median(times)), predicted))
        if len(out) >= min_blocks and clock() > deadline:
            break
    return out


def _gpt(torch: Any, layers: int, hidden: int, heads: int, vocab: int, seq: int) -> Any:
    nn = torch.nn
    F = torch.nn.functional

    class Block(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
            self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
            self.up, self.down = nn.Linear(hidden, 4 * hidden), nn.Linear(4 * hidden, hidden)

        def forward(self, x: Any) -> Any:
            b, s, h = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(h, dim=2)
            q, k, v = (t.view(b, s, heads, h // heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, s, h)
            x = x + self.proj(y)
            return x + self.down(F.gelu(self.up(self.ln2(x))))

    class GPT(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, hidden), nn.Embedding(seq, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln = nn.LayerNorm(hidden)
            self.head = nn.Linear(hidden, vocab, bias=False)
            self.head.weight = self.tok.weight  # tied, as in nanoGPT

        def forward(self, idx: Any) -> Any:
            x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln(x))

    return GPT()


def rope_table(torch: Any, head_dim: int, seq: int, theta: float = 10000.0) -> Any:
    """Rotary embedding as complex numbers e^(i m theta^(-2j/d)) for positions m < seq (RoFormer, Su et al. 2021,
    arXiv:2104.09864, section 3.2; Llama's base 10,000)."""
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = torch.outer(torch.arange(seq).float(), freqs)
    return torch.polar(torch.ones_like(angles), angles)


def apply_rotary(torch: Any, x: Any, freqs_cis: Any) -> Any:
    """x [b, s, heads, d] rotated pairwise by ``freqs_cis`` through complex multiplication, in fp32 and back."""
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * freqs_cis).flatten(3).type_as(x)


def rms_norm_class(torch: Any) -> Any:
    """RMSNorm (Zhang and Sennrich 2019, arXiv:1910.07467) as eager PyTorch writes it: upcast to fp32 in composite
    ops, then scaled by a learned weight."""
    nn = torch.nn

    class RMSNorm(nn.Module):  # type: ignore[name-defined]
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))

        def forward(self, x: Any) -> Any:
            xf = x.float()
            return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)).type_as(x) * self.weight

    return RMSNorm


def _llama(torch: Any, layers: int, hidden: int, heads: int, ffn: int, vocab: int, seq: int) -> Any:
    """A Llama-style decoder written as eager PyTorch writes it (torchtitan's 2024 model, from its description):
    RMSNorm upcast to fp32 in composite ops, SwiGLU as silu(w1 x) * w3 x, rotary embedding through complex
    multiplication, causal SDPA, untied output head. Compiled with torch.compile, the same module's elementwise
    ops fuse; eager, each runs as its own kernel: the pair measures what the step model's elementwise_fused knob
    prices."""
    nn = torch.nn
    F = torch.nn.functional
    hd = hidden // heads
    rope = rope_table(torch, hd, seq)
    RMSNorm = rms_norm_class(torch)

    def rotary(x: Any, freqs_cis: Any) -> Any:
        return apply_rotary(torch, x, freqs_cis)

    class Block(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.n1, self.n2 = RMSNorm(hidden), RMSNorm(hidden)
            self.wq, self.wk, self.wv, self.wo = (nn.Linear(hidden, hidden, bias=False) for _ in range(4))
            self.w1, self.w3 = nn.Linear(hidden, ffn, bias=False), nn.Linear(hidden, ffn, bias=False)
            self.w2 = nn.Linear(ffn, hidden, bias=False)

        def forward(self, x: Any, freqs_cis: Any) -> Any:
            b, s, _ = x.shape
            h = self.n1(x)
            q, k, v = (w(h).view(b, s, heads, hd) for w in (self.wq, self.wk, self.wv))
            q, k = rotary(q, freqs_cis), rotary(k, freqs_cis)
            y = F.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v)), is_causal=True)
            x = x + self.wo(y.transpose(1, 2).reshape(b, s, hidden))
            h = self.n2(x)
            return x + self.w2(F.silu(self.w1(h)) * self.w3(h))

    class Llama(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(vocab, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm = RMSNorm(hidden)
            self.head = nn.Linear(hidden, vocab, bias=False)
            self.register_buffer("freqs_cis", rope.view(1, seq, 1, hd // 2), persistent=False)

        def forward(self, idx: Any) -> Any:
            x = self.tok(idx)
            for blk in self.blocks:
                x = blk(x, self.freqs_cis)
            return self.head(self.norm(x))

    return Llama()


def _trainer(
    torch: Any,
    model: Any,
    device: str,
    vocab: int,
    batch: int,
    seq: int,
    clock: Callable[[], float] = time.perf_counter,
) -> Callable[[], float]:
    """One AdamW training step of ``model`` on a fixed random batch per call; returns its time on ``clock``."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    idx = torch.randint(0, vocab, (batch, seq), device=device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32

    def step() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = clock()
        with torch.autocast(device_type=device, dtype=dtype, enabled=device == "cuda"):
            logits = model(idx)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, vocab).float(), idx.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        return clock() - t0

    return step


def _median_step_s(
    torch: Any, model: Any, device: str, vocab: int, batch: int, seq: int, steps: int, warmup: int
) -> float:
    step = _trainer(torch, model, device, vocab, batch, seq)
    for _ in range(warmup):  # the first steps warm up allocators, kernels (and compilation) and the optimizer's state
        step()
    # the median of the timed steps: one step stalled by the host (another process, a page fault) moves a mean
    return float(statistics.median(step() for _ in range(steps)))


def _single_device(profile: CalibrationProfile, fused: bool = True) -> tuple[SystemSpec, Any]:
    acc = accelerator_for(profile)
    fabric = FabricSpec(
        nic_gbps_per_gpu=400, nic_busbw_gb_per_s=47, hop_latency_us=4.0, source="single device: the network is not used"
    )
    system = SystemSpec(
        id="single-device",
        name=profile.device,
        accelerator=acc,
        gpus=1,
        gpus_per_node=1,
        fabric=fabric,
        software="pytorch-eager-2024",
        generic=True,
    )
    return system, catalog.software("pytorch-eager-2024").model_copy(update={"elementwise_fused": fused})


def run_llama_pair(
    profile: CalibrationProfile,
    layers: int = 8,
    hidden: int = 2048,
    heads: int = 16,
    ffn: int = 5632,
    vocab: int = 32000,
    seq: int = 2048,
    batch: int = 4,
    steps: int = 9,
    warmup: int = 4,
) -> dict[str, Any]:
    """The Llama-style step eager and under torch.compile, measured and predicted (elementwise_fused false and
    true): the measured speedup of compiling against the predicted one."""
    torch = _torch()
    device = profile.backend
    eager_model = _llama(torch, layers, hidden, heads, ffn, vocab, seq).to(device)
    eager = _median_step_s(torch, eager_model, device, vocab, batch, seq, steps, warmup)
    compiled = _median_step_s(torch, torch.compile(eager_model), device, vocab, batch, seq, steps, warmup)
    spec = ModelSpec(
        name="llama-style",
        layers=layers,
        hidden=hidden,
        ffn_hidden=ffn,
        heads=heads,
        vocab=vocab,
        seq_len=seq,
        activation="swiglu",
        tied_embeddings=False,
        learned_positions=False,
        dropout=False,
    )
    wl = WorkloadSpec(model=spec, seq_len=seq, global_batch=batch)
    plan = ResolvedPlan.single(micro_batch=batch)
    pred = {}
    for fused in (False, True):
        pred[fused] = predict_step_s(profile, wl, plan, fused)
    return {
        "model": {"layers": layers, "hidden": hidden, "heads": heads, "ffn": ffn, "vocab": vocab, "seq": seq},
        "batch": batch,
        "measured_eager_s": eager,
        "measured_compiled_s": compiled,
        "predicted_eager_s": pred[False],
        "predicted_fused_s": pred[True],
        "measured_compile_speedup": eager / compiled,
        "predicted_compile_speedup": pred[False] / pred[True],
    }


def _nanogpt(layers: int, hidden: int, heads: int, vocab: int, seq: int, batch: int) -> tuple[WorkloadSpec, Any]:
    spec = ModelSpec(
        name="nanogpt",
        layers=layers,
        hidden=hidden,
        ffn_hidden=4 * hidden,
        heads=heads,
        vocab=vocab,
        seq_len=seq,
        activation="gelu",
        tied_embeddings=True,
        learned_positions=True,
        dropout=False,
    )
    return WorkloadSpec(model=spec, seq_len=seq, global_batch=batch), ResolvedPlan.single(micro_batch=batch)


def predict_step_s(
    profile: CalibrationProfile, wl: WorkloadSpec, plan: ResolvedPlan, fused: bool = True, **software: Any
) -> float:
    """The step time the step model predicts for ``wl`` on one device described by ``profile`` (``fused``: the eager
    profile's elementwise_fused; ``software``: further fields of that profile set for this prediction)."""
    system, sw = _single_device(profile, fused)
    if software:
        sw = sw.model_copy(update=software)
    return estimate(wl, system, sw, plan, 1).step_time_s


def run(
    profile: CalibrationProfile,
    layers: int = 12,
    hidden: int = 768,
    heads: int = 12,
    vocab: int = 50304,
    seq: int = 1024,
    batch: int = 8,
    steps: int = 9,
    warmup: int = 3,
) -> GroundTruth:
    """The nanoGPT step timed after the profile was measured, against the profile's prediction."""
    torch = _torch()
    device = profile.backend
    model = _gpt(torch, layers, hidden, heads, vocab, seq).to(device)
    measured = _median_step_s(torch, model, device, vocab, batch, seq, steps, warmup)
    wl, plan = _nanogpt(layers, hidden, heads, vocab, seq, batch)
    return GroundTruth(
        profile.device,
        {"layers": layers, "hidden": hidden, "heads": heads, "vocab": vocab, "seq": seq},
        batch,
        steps,
        measured,
        predict_step_s(profile, wl, plan),
    )


def run_interleaved(
    profile: CalibrationProfile,
    layers: int = 2,
    hidden: int = 256,
    heads: int = 4,
    vocab: int = 512,
    seq: int = 256,
    batch: int = 8,
    blocks: int = 6,
    steps_per_block: int = 4,
    warmup: int = 5,
    point_samples: int = 2,
    threads: int = 1,
    budget_s: float = 40.0,
) -> GroundTruth:
    """The nanoGPT step against the prediction, measured in `interleave`d blocks: each block re-times the
    profile's GEMM, attention and memory points (``point_samples`` each after one warm-up call, the median) with
    its training steps spread among them, and predicts from that re-sweep.

    PyTorch's intra-op thread pool is pinned to ``threads`` for the whole measurement, as
    torch.utils.benchmark.Timer pins it "so that comparisons are apples-to-apples"
    (docs.pytorch.org/docs/2.13/benchmark_utils.html). One thread by default: on a host whose cores other
    processes share, a multi-threaded kernel waits for its slowest thread, so small GEMMs and a whole step slow
    down by different factors; one thread slows down by its share of a core. Measured on a 2-core VM at load
    average 4-9: the step took 1.6 s on one thread and 4.4-5.6 s on two (0.3 s on two when quiet), and two
    blocks' ratios were 0.95 and 0.86 on one thread, 1.44 and 1.14 on two.

    On a CPU both the steps and the points are timed in this process's CPU time (time.process_time: "the sum
    of the system and user CPU time of the current process", docs.python.org/3/library/time.html), which on one
    thread is the wall time less the time other processes held the core: a 1 s step is always time-sliced
    with the host's other work while most samples of a 50 us GEMM are not, so wall time skews the two apart
    (blocks timed on wall time at load average 4-5 ranged -24% to +31%). Bounded: at most ``blocks``, and no
    new block starts after ``budget_s`` once three have run (a median of fewer says little)."""
    if min(blocks, steps_per_block, point_samples, threads, measure.sweep_points(profile)) < 1 or not (
        blocks <= 50 and steps_per_block <= 50 and point_samples <= 50 and 0 <= warmup <= 50
    ):
        raise SuperclusterError(
            "ground truth needs blocks, steps_per_block, point_samples 1-50, threads >= 1, warmup 0-50 and a profile "
            f"with measured points; got {blocks}, {steps_per_block}, {point_samples}, {threads}, {warmup} and "
            f"{measure.sweep_points(profile)} points"
        )
    if not (0 < budget_s <= 3600):
        raise SuperclusterError(f"ground truth budget_s must be in (0, 3600] s, got {budget_s}")
    torch = _torch()
    device = profile.backend
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        wl, plan = _nanogpt(layers, hidden, heads, vocab, seq, batch)
        model = _gpt(torch, layers, hidden, heads, vocab, seq).to(device)
        clock = time.process_time if device == "cpu" else time.perf_counter
        step = _trainer(torch, model, device, vocab, batch, seq, clock)
        for _ in range(warmup):
            step()

        def predict(tick: Callable[[], None], ticks: int) -> float:
            at = tick_positions(measure.sweep_points(profile), ticks)
            seen = itertools.count()

            def progress(_msg: str, _frac: float) -> None:
                if next(seen) in at:
                    tick()

            timer = measure.Timer(torch, device, math.inf, min_s=0.0, min_samples=point_samples, clock=clock)
            return predict_step_s(measure.remeasure(profile, timer, progress), wl, plan)

        done = interleave(step, predict, blocks, steps_per_block, start + budget_s, min_blocks=min(3, blocks))
    finally:
        torch.set_num_threads(before)
    return GroundTruth(
        profile.device,
        {"layers": layers, "hidden": hidden, "heads": heads, "vocab": vocab, "seq": seq},
        batch,
        steps_per_block * len(done),
        float(statistics.median(b.measured_step_s for b in done)),
        float(statistics.median(b.predicted_step_s for b in done)),
        blocks=done,
        threads=threads,
        clock="cpu" if device == "cpu" else "wall",
    )
