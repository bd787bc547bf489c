"""Ground truth: train a small GPT for a few steps with PyTorch and compare with supercluster's prediction.

The model is nanoGPT's (Karpathy, github.com/karpathy/nanoGPT model.py: learned positions, pre-norm
blocks, GeLU MLP of 4h, tied embeddings), written here from its description; attention is PyTorch's
scaled_dot_product_attention (flash kernels on GPUs). The prediction uses the same shape, batch and
device with the calibration profile's efficiency table, on one device with no parallelism.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from supercluster import catalog
from supercluster.calibrate.measure import _torch
from supercluster.calibrate.profile import CalibrationProfile, accelerator_for
from supercluster.perf import estimate
from supercluster.specs import FabricSpec, ModelSpec, ResolvedPlan, SystemSpec, WorkloadSpec


@dataclass
class GroundTruth:
    device: str
    model: dict[str, int]
    batch: int
    steps: int
    measured_step_s: float
    predicted_step_s: float

    @property
    def error_pct(self) -> float:
        return (self.predicted_step_s / self.measured_step_s - 1.0) * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_pct": self.error_pct}


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


def _llama(torch: Any, layers: int, hidden: int, heads: int, ffn: int, vocab: int, seq: int) -> Any:
    """A Llama-style decoder written as eager PyTorch writes it (torchtitan's 2024 model, from its description):
    RMSNorm upcast to fp32 in composite ops, SwiGLU as silu(w1 x) * w3 x, rotary embedding through complex
    multiplication, causal SDPA, untied output head. Compiled with torch.compile, the same module's elementwise
    ops fuse; eager, each runs as its own kernel: the pair measures what the step model's elementwise_fused knob
    prices."""
    nn = torch.nn
    F = torch.nn.functional
    hd = hidden // heads
    freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
    angles = torch.outer(torch.arange(seq).float(), freqs)
    rope = torch.polar(torch.ones_like(angles), angles)

    class RMSNorm(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(hidden))

        def forward(self, x: Any) -> Any:
            xf = x.float()
            return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)).type_as(x) * self.weight

    def rotary(x: Any, freqs_cis: Any) -> Any:
        xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        return torch.view_as_real(xc * freqs_cis).flatten(3).type_as(x)

    class Block(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.n1, self.n2 = RMSNorm(), RMSNorm()
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
            self.norm = RMSNorm()
            self.head = nn.Linear(hidden, vocab, bias=False)
            self.register_buffer("freqs_cis", rope.view(1, seq, 1, hd // 2), persistent=False)

        def forward(self, idx: Any) -> Any:
            x = self.tok(idx)
            for blk in self.blocks:
                x = blk(x, self.freqs_cis)
            return self.head(self.norm(x))

    return Llama()


def _median_step_s(
    torch: Any, model: Any, device: str, vocab: int, batch: int, seq: int, steps: int, warmup: int
) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    idx = torch.randint(0, vocab, (batch, seq), device=device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    times = []
    for i in range(steps + warmup):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(device_type=device, dtype=dtype, enabled=device == "cuda"):
            logits = model(idx)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, vocab).float(), idx.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:  # the first steps warm up allocators, kernels (and compilation) and the optimizer's state
            times.append(time.perf_counter() - t0)
    # the median of the timed steps: one step stalled by the host (another process, a page fault) moves a mean
    return float(statistics.median(times))


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
        system, sw = _single_device(profile, fused)
        pred[fused] = estimate(wl, system, sw, plan, 1).step_time_s
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
    torch = _torch()
    device = profile.backend
    model = _gpt(torch, layers, hidden, heads, vocab, seq).to(device)
    measured = _median_step_s(torch, model, device, vocab, batch, seq, steps, warmup)
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
    system, sw = _single_device(profile)
    plan = ResolvedPlan.single(micro_batch=batch)
    wl = WorkloadSpec(model=spec, seq_len=seq, global_batch=batch)
    pred = estimate(wl, system, sw, plan, 1)
    return GroundTruth(
        profile.device,
        {"layers": layers, "hidden": hidden, "heads": heads, "vocab": vocab, "seq": seq},
        batch,
        steps,
        measured,
        pred.step_time_s,
    )
