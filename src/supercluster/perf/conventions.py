"""FLOP-counting conventions of published runs, so predictions are compared in the source's terms."""

from __future__ import annotations

from typing import Literal

from supercluster.errors import SuperclusterError
from supercluster.specs import ModelSpec

Convention = Literal["megatron_recompute", "megatron", "palm", "model"]
CONVENTIONS: tuple[str, ...] = ("megatron_recompute", "megatron", "palm", "model")


def megatron_recompute_flops(model: ModelSpec, batch: int, seq: int) -> float:
    """Narayanan et al. 2021 (arXiv:2104.04473) eq. 3: 96 B s l h^2 (1 + s/(6h) + V/(16 l h)).

    Counts the extra forward pass of full recomputation.
    """
    b, s, ll, h, v = batch, seq, model.layers, model.hidden, model.vocab
    return 96.0 * b * s * ll * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * ll * h))


def megatron_flops(model: ModelSpec, batch: int, seq: int) -> float:
    """Megatron-LM num_floating_point_operations (training.py, mid-2024):

    12 B s l h^2 [ (1 + g/a + s/h) + (f/h) m + V/(2 l h) ], m = 1.5 for gated FFNs.
    """
    b, s, ll, h, v = batch, seq, model.layers, model.hidden, model.vocab
    g, a, f = model.kv, model.heads, model.ffn_hidden
    gate = 1.5 if model.gated else 1.0
    return 12.0 * b * s * ll * h * h * ((1.0 + g / a + s / h) + (f / h) * gate + v / (2.0 * ll * h))


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
    if convention == "palm":
        return palm_flops(model, batch, seq)
    if convention in ("model", ""):
        return own_model_flops
    raise SuperclusterError(f"unknown flops_convention '{convention}'; valid: {', '.join(CONVENTIONS)}")
