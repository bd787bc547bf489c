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


def run(
    profile: CalibrationProfile,
    layers: int = 12,
    hidden: int = 768,
    heads: int = 12,
    vocab: int = 50304,
    seq: int = 1024,
    batch: int = 8,
    steps: int = 6,
) -> GroundTruth:
    torch = _torch()
    device = profile.backend
    model = _gpt(torch, layers, hidden, heads, vocab, seq).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    idx = torch.randint(0, vocab, (batch, seq), device=device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    times = []
    for i in range(steps + 2):
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
        if i >= 2:  # the first two steps warm up allocators and kernels
            times.append(time.perf_counter() - t0)
    measured = statistics.median(times)
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
    plan = ResolvedPlan.single(micro_batch=batch)
    wl = WorkloadSpec(model=spec, seq_len=seq, global_batch=batch)
    pred = estimate(wl, system, catalog.software("pytorch-eager-2024"), plan, 1)
    return GroundTruth(
        profile.device,
        {"layers": layers, "hidden": hidden, "heads": heads, "vocab": vocab, "seq": seq},
        batch,
        steps,
        measured,
        pred.step_time_s,
    )
