"""Ground truth for a fine-grained mixture of experts on one device: a Qwen3-MoE-style decoder trained for a few
steps with PyTorch, timed, profiled and compared with the step model.

Why: the Megatron-MoE-ModelZoo's Qwen3-30B-A3B rows at micro-batch 1 read 2-2.6x too fast, and the question is
whether such a step is host-bound (many small kernels per layer: router, top-k, permutation, 128-expert grouped
GEMMs, combine) or slow on the device. One device answers both: the step's wall time, the time its kernels keep
the GPU busy (profiler), how many kernels it launches, and the step model's prediction of the same shape.

The model is written here from Qwen3's published description (Qwen3 Technical Report, arXiv:2505.09388, section
2 and Table 2: GQA attention with QK-norm, 128 experts, 8 routed per token, no shared expert, top-k probabilities
renormalised, SwiGLU experts): RMSNorm, rotary, causal SDPA, a linear router with a float32 softmax and top-k,
tokens sorted by expert, and the experts' SwiGLU as two torch._grouped_mm calls (the grouped kernel, as
torchtitan's MoE runs them). Each expert's rows are padded to a multiple of 16 so that the grouped GEMM's weight
gradient (a grouped product over the token dimension) meets the kernel's 16-byte alignment, as torchtitan pads
them; the padding rows are zero and at most 15 per expert. No host synchronisation in the layer: counts, offsets
and the permutation stay on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supercluster.calibrate import groundtruth, overheads
from supercluster.calibrate.measure import _torch
from supercluster.calibrate.profile import CalibrationProfile
from supercluster.specs import ModelSpec, ResolvedPlan, WorkloadSpec

ALIGN_ROWS = 16


@dataclass(frozen=True)
class MoeShape:
    """Qwen3-30B-A3B's layer (Qwen3 Technical Report Table 2 and its config.json: hidden 2048, 32 query heads and
    4 KV heads of 128, 128 experts of 768, top-8, vocabulary 151,936) at a reduced depth."""

    layers: int = 4
    hidden: int = 2048
    heads: int = 32
    kv_heads: int = 4
    head_dim: int = 128
    experts: int = 128
    topk: int = 8
    expert_ffn: int = 768
    vocab: int = 151936
    seq: int = 4096
    # copy the per-expert token counts to the host in every MoE layer's forward, as Megatron-Core's all-to-all
    # dispatcher does to size its all-to-all (a device-to-host synchronisation that drains the launch queue)
    host_sync: bool = False

    def spec(self) -> ModelSpec:
        return ModelSpec(
            name="qwen3-moe-style",
            layers=self.layers,
            hidden=self.hidden,
            ffn_hidden=self.expert_ffn,
            heads=self.heads,
            kv_heads=self.kv_heads,
            head_dim=self.head_dim,
            vocab=self.vocab,
            seq_len=self.seq,
            activation="swiglu",
            tied_embeddings=False,
            learned_positions=False,
            dropout=False,
            moe_experts=self.experts,
            moe_topk=self.topk,
            moe_ffn_hidden=self.expert_ffn,
        )


def padded_layout(torch: Any, expert_ids: Any, experts: int) -> tuple[Any, Any, int]:
    """For routed token copies sorted by expert: each copy's row in an expert-major buffer whose groups are padded
    to ALIGN_ROWS rows, and the groups' cumulative ends (int32, the grouped GEMM's ``offs``).

    The buffer has a fixed size, copies + experts x ALIGN_ROWS rounded up to ALIGN_ROWS, so no count leaves the
    device; the last group absorbs the unused tail, and every end stays a multiple of ALIGN_ROWS."""
    copies = expert_ids.numel()
    rows = -(-(copies + experts * ALIGN_ROWS) // ALIGN_ROWS) * ALIGN_ROWS
    counts = torch.bincount(expert_ids, minlength=experts)
    padded = (counts + ALIGN_ROWS - 1) // ALIGN_ROWS * ALIGN_ROWS
    padded[-1] += rows - padded.sum()
    ends = torch.cumsum(padded, 0)
    starts = ends - padded
    first_copy = torch.cumsum(counts, 0) - counts  # where each expert's copies begin in the sorted order
    sorted_ids = expert_ids.sort(stable=True).values
    rank = torch.arange(copies, device=expert_ids.device) - first_copy[sorted_ids]
    return starts[sorted_ids] + rank, ends.to(torch.int32), rows


def _decoder(torch: Any, shape: MoeShape) -> Any:
    nn = torch.nn
    F = torch.nn.functional
    s = shape
    hd = s.head_dim
    rope = groundtruth.rope_table(torch, hd, s.seq, theta=1000000.0)  # Qwen3 rope_theta 1e6
    RMSNorm = groundtruth.rms_norm_class(torch)

    def rotary(x: Any, freqs_cis: Any) -> Any:
        return groundtruth.apply_rotary(torch, x, freqs_cis)

    class Experts(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.router = nn.Linear(s.hidden, s.experts, bias=False)
            # weights stored (experts, out, in) like nn.Linear's: transposed, they are the column-major operands
            # the grouped GEMM takes
            self.w13 = nn.Parameter(torch.randn(s.experts, 2 * s.expert_ffn, s.hidden) * s.hidden**-0.5)
            self.w2 = nn.Parameter(torch.randn(s.experts, s.hidden, s.expert_ffn) * s.expert_ffn**-0.5)

        def forward(self, x: Any) -> Any:
            # the grouped kernel takes BF16 on a GPU (autocast does not reach torch._grouped_mm)
            tokens = x.reshape(-1, s.hidden).to(torch.bfloat16 if x.is_cuda else x.dtype)
            probs = F.softmax(self.router(tokens).float(), dim=-1)
            weight, ids = probs.topk(s.topk, dim=-1)
            weight = weight / weight.sum(-1, keepdim=True)  # Qwen3-30B-A3B: norm_topk_prob
            flat_ids = ids.reshape(-1)
            if s.host_sync:
                torch.bincount(flat_ids, minlength=s.experts).tolist()
            order = flat_ids.argsort(stable=True)
            rows, offs, buffer_rows = padded_layout(torch, flat_ids, s.experts)
            token_of_copy = order // s.topk
            buf = tokens.new_zeros(buffer_rows, s.hidden)
            buf = buf.index_copy(0, rows, tokens[token_of_copy])
            gate_up = torch._grouped_mm(buf, self.w13.transpose(-2, -1).to(buf.dtype), offs=offs)
            g, u = gate_up.chunk(2, dim=-1)
            down = torch._grouped_mm(F.silu(g) * u, self.w2.transpose(-2, -1).to(buf.dtype), offs=offs)
            scaled = down[rows] * weight.reshape(-1)[order].unsqueeze(-1).to(down.dtype)
            out = torch.zeros_like(tokens).index_add(0, token_of_copy, scaled)
            return out.view_as(x).to(x.dtype)

    class Block(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.n1, self.n2 = RMSNorm(s.hidden), RMSNorm(s.hidden)
            self.qn, self.kn = RMSNorm(hd), RMSNorm(hd)
            self.wq = nn.Linear(s.hidden, s.heads * hd, bias=False)
            self.wkv = nn.Linear(s.hidden, 2 * s.kv_heads * hd, bias=False)
            self.wo = nn.Linear(s.heads * hd, s.hidden, bias=False)
            self.moe = Experts()

        def forward(self, x: Any, freqs_cis: Any) -> Any:
            b, t, _ = x.shape
            h = self.n1(x)
            q = self.qn(self.wq(h).view(b, t, s.heads, hd))
            k, v = self.wkv(h).view(b, t, 2, s.kv_heads, hd).unbind(2)
            q, k = rotary(q, freqs_cis), rotary(self.kn(k), freqs_cis)
            rep = s.heads // s.kv_heads  # KV heads repeated to the query heads (torchtitan's repeat_kv)
            k, v = (z.repeat_interleave(rep, dim=2) for z in (k, v))
            y = F.scaled_dot_product_attention(*(z.transpose(1, 2) for z in (q, k, v)), is_causal=True)
            x = x + self.wo(y.transpose(1, 2).reshape(b, t, s.heads * hd))
            return x + self.moe(self.n2(x))

    class Decoder(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(s.vocab, s.hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(s.layers))
            self.norm = RMSNorm(s.hidden)
            self.head = nn.Linear(s.hidden, s.vocab, bias=False)
            self.register_buffer("freqs_cis", rope.view(1, s.seq, 1, hd // 2), persistent=False)

        def forward(self, idx: Any) -> Any:
            x = self.tok(idx)
            for blk in self.blocks:
                x = blk(x, self.freqs_cis)
            return self.head(self.norm(x))

    return Decoder()


def predict_step_s(profile: CalibrationProfile, shape: MoeShape, batch: int, **software: Any) -> float:
    """The step model's step for this shape on one device: eager PyTorch, unfused, grouped expert GEMMs
    (``software``: further fields of the eager profile set for this prediction)."""
    wl = WorkloadSpec(model=shape.spec(), seq_len=shape.seq, global_batch=batch)
    plan = ResolvedPlan.single(micro_batch=batch)
    return groundtruth.predict_step_s(profile, wl, plan, False, **{"expert_gemm": "grouped", **software})


def run(
    profile: CalibrationProfile,
    shape: MoeShape | None = None,
    batches: tuple[int, ...] = (1, 2, 4),
    steps: int = 7,
    warmup: int = 3,
    kernels: int = 0,
) -> dict[str, Any]:
    """Per micro-batch: the median measured step, the step model's prediction, and (on a GPU) the kernels one
    step launches, the share of the step they keep the device busy and, with ``kernels``, that many kernel names
    with the most device time."""
    torch = _torch()
    shape = shape or MoeShape()
    device = profile.backend
    model = _decoder(torch, shape).to(device)
    rows = []
    for batch in batches:
        measured = groundtruth._median_step_s(torch, model, device, shape.vocab, batch, shape.seq, steps, warmup)
        row: dict[str, Any] = {
            "batch": batch,
            "tokens": batch * shape.seq,
            "measured_step_s": measured,
            "predicted_step_s": predict_step_s(profile, shape, batch),
        }
        row["error_pct"] = (row["predicted_step_s"] / measured - 1.0) * 100.0
        if device == "cuda":
            step = groundtruth._trainer(torch, model, device, shape.vocab, batch, shape.seq)
            events = overheads.profiled_events(torch, step)
            spans = [(a, b) for a, b, _ in events]
            row["kernels_per_step"] = len(spans)
            if kernels:
                row["top_kernels"] = overheads.top_kernels(events, kernels)
            row["gpu_busy_s"] = overheads.busy_s(spans)
            row["gpu_busy_fraction"] = row["gpu_busy_s"] / measured
        rows.append(row)
    return {"device": profile.device, "shape": shape.__dict__, "steps": steps, "rows": rows}
