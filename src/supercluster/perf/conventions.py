"""FLOP-counting conventions of published runs, so predictions are compared in the source's terms."""

from __future__ import annotations

from typing import Literal

from supercluster.errors import SuperclusterError
from supercluster.specs import ModelSpec

Convention = Literal["megatron_recompute", "megatron", "megatron_causal", "palm", "model"]
CONVENTIONS: tuple[str, ...] = ("megatron_recompute", "megatron", "megatron_causal", "palm", "model")


def megatron_recompute_flops(model: ModelSpec, batch: int, seq: int) -> float:
    """Narayanan et al. 2021 (arXiv:2104.04473) eq. 3: 96 B s l h^2 (1 + s/(6h) + V/(16 l h)).

    Counts the extra forward pass of full recomputation.
    """
    b, s, ll, h, v = batch, seq, model.layers, model.hidden, model.vocab
    return 96.0 * b * s * ll * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * ll * h))


def megatron_flops(model: ModelSpec, batch: int, seq: int, causal: bool = False) -> float:
    """Megatron-LM num_floating_point_operations (megatron/training/training.py, mid-2024 onwards):

    12 B s l h^2 [ (1 + g/a + s/h) r + F m / (l h) + V/(2 l h) ], m = 1.5 for gated FFNs,

    r = a d / h the query projection over the hidden size (1 unless head_dim differs from h/a), and F the FFN
    width summed over layers: f for each dense layer, (f_moe k + f_shared) for each MoE layer (routed experts
    counted once per expert a token is sent to, shared experts once). For a dense model F m / (l h) is f m / h.

    ``causal``: the counter of 2025 onwards halves the score and value products for the causal mask, s/h ->
    s/(2h) (convention ``megatron_causal``). Checked on Megatron-Bridge's performance summary (25.11), which
    prints tokens/s/GPU and TFLOP/s/GPU side by side: Llama 3 8B on 8 H100, 744e12 / 14,451 = 51.48 GFLOP per
    token against 51.47 from this formula; Qwen3-30B-A3B 22.94 against 22.99.

    Which one a log used goes by its Megatron-LM version: the halving entered megatron/training/training.py in
    commit 8873b55d6a (2025-03-06, "ADLR/megatron-lm!2789 - Fixes in number of floating-point operation estimates
    for MoE and attention layer", ``+ (args.seq_length / args.hidden_size / 2)`` replacing ``/ args.hidden_size``);
    release branches core_r0.11.0 and older count s/h (``megatron``), core_r0.12.0 onwards s/(2h). The dev branch's
    rewrite of the GQA term (e.g. bbc762d5, 2025-10-15: 6 [h (q + k + v) + q s / 2 x 2 + q h] per token and layer,
    q = a d, k = v = g d) is the same number. Megatron-MoE-ModelZoo's Qwen3-235B H100 table prints step time and
    TFLOP/s/GPU together (moe_dev f3e6c5 and main 1e057005 code): 147-148 GFLOP per token at 4,096 tokens, this
    formula's 148.0 with the halving and 167.0 without (tests/test_zoo_flops.py).
    """
    b, s, ll, h, v = batch, seq, model.layers, model.hidden, model.vocab
    g, a = model.kv, model.heads
    gate = 1.5 if model.gated else 1.0
    q_ratio = a * model.dhead / h
    if model.is_moe:
        moe_width = model.expert_ffn * (model.moe_topk + model.moe_shared_experts)
        ffn_sum = model.ffn_hidden * model.moe_dense_layers + moe_width * model.moe_layers
    else:
        ffn_sum = model.ffn_hidden * ll
    scores = s / (2.0 * h) if causal else s / h
    return (
        12.0 * b * s * ll * h * h * ((1.0 + g / a + scores) * q_ratio + ffn_sum * gate / (ll * h) + v / (2.0 * ll * h))
    )


def palm_flops(model: ModelSpec, batch: int, seq: int) -> float:
    """PaLM (Chowdhery et al. 2022, arXiv:2204.02311) appendix B: per token 6N + 12 l h s.

    N counts every multiplied weight (layers and output head, not the embedding lookup);
    attention is counted without the causal mask.
    """
    n = model.matmul_params_active
    return batch * seq * (6.0 * n + 12.0 * model.layers * model.hidden * seq)


def flops_per_step(convention: str, model: ModelSpec, batch: int, seq: int, own_model_flops: float) -> float:
    if convention == "megatron_recompute":
        return megatron_recompute_flops(model, batch, seq)
    if convention == "megatron":
        return megatron_flops(model, batch, seq)
    if convention == "megatron_causal":
        return megatron_flops(model, batch, seq, causal=True)
    if convention == "palm":
        return palm_flops(model, batch, seq)
    if convention in ("model", ""):
        return own_model_flops
    raise SuperclusterError(f"unknown flops_convention '{convention}'; valid: {', '.join(CONVENTIONS)}")
