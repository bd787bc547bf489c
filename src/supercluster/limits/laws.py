"""Scaling rules: from a training compute to a compute-optimal model size, token count, batch and shape.

Each function is one published rule; the constants come from the catalog (limits.yaml, `rules`), where each
carries its quote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# FLOP per parameter per token of training: 2 forward + 4 backward (Kaplan et al. 2020, arXiv:2001.08361,
# section 2.1, C = 6 N D; Hoffmann et al. 2022, arXiv:2203.15556, section 2 uses the same).
TRAIN_FLOP_PER_PARAM_TOKEN = 6.0
# Matrix parameters of one layer per d_model^2 with d_ff = 4 d_model and multi-head attention: 4 (Q, K, V, O)
# + 2 * 4 (FFN up and down) = 12 (Kaplan et al. 2020, section 2.1, Table 1: N = 2 d_model n_layer (2 d_attn + d_ff)).
LAYER_PARAMS_PER_WIDTH_SQUARED = 12.0


def compute_optimal_params(compute_flop: float, tokens_per_param: float) -> float:
    """Parameters N of a compute-optimal dense model: C = 6 N D with D = r N gives N = sqrt(C / (6 r)).

    Hoffmann et al. 2022 (Chinchilla, arXiv:2203.15556), Table 3: parameters and tokens grow in equal proportion
    with about 20 tokens per parameter (r = 20: N = sqrt(C / 120)).
    """
    return math.sqrt(compute_flop / (TRAIN_FLOP_PER_PARAM_TOKEN * tokens_per_param))


def train_tokens(compute_flop: float, params: float) -> float:
    """Tokens D that spend ``compute_flop`` on a model of ``params`` matrix parameters: D = C / (6 N)
    (Kaplan et al. 2020, arXiv:2001.08361, section 2.1)."""
    return compute_flop / (TRAIN_FLOP_PER_PARAM_TOKEN * params)


def batch_tokens(compute_flop: float, coefficient: float, exponent: float) -> float:
    """Tokens per optimizer step of a compute-optimal run: B = a C^b.

    DeepSeek LLM (Bi et al. 2024, arXiv:2401.02954), section 3.1, Formula 1: B_opt = 0.2920 C^0.3271 tokens,
    fitted on 1e17-2e19 FLOP runs; beyond its fit it is an extrapolation (catalog limits.yaml, batch_source).
    """
    return coefficient * compute_flop**exponent


def nice_count(x: float) -> int:
    """The count of the form 2^k or 3 * 2^k nearest to ``x`` in ratio (at least 1): layouts of such counts
    split into powers of two and three, as real batches and GPU counts do."""
    if x <= 1.5:
        return 1
    k = math.floor(math.log2(x))
    options = [2**k, 3 * 2 ** (k - 1), 2 ** (k + 1)] if k >= 1 else [1, 2]
    return min(options, key=lambda c: abs(math.log(c / x)))


@dataclass(frozen=True)
class Shape:
    """Width, depth and heads of a dense transformer."""

    d_model: int
    n_layers: int
    heads: int


def head_multiple(heads: float) -> int:
    """Round heads to a multiple of the largest power of two up to 32 that is at most an eighth of them, so
    tensor parallelism up to 32 ranks can split them while the rounding moves the width by at most 1/16."""
    m = 1
    while m < 32 and 2 * m <= heads / 8:
        m *= 2
    return m


def dense_shape(params: float, aspect_ratio: float, head_dim: int) -> Shape:
    """A dense transformer of ``params`` layer parameters at d_model / n_layers = ``aspect_ratio``.

    N = 12 n_layers d_model^2 (Kaplan et al. 2020, arXiv:2001.08361, section 2.1) with n_layers = d_model / A
    gives d_model = (A N / 12)^(1/3); heads = d_model / head_dim (GPT-3, arXiv:2005.14165, Table 2.1: d_head
    128), rounded by :func:`head_multiple`; n_layers = N / (12 d_model^2), rounded, at least 1. The aspect
    ratio hardly moves the loss (Kaplan et al. 2020, Figure 5), so it is a free choice (catalog limits.yaml).
    """
    width = (aspect_ratio * params / LAYER_PARAMS_PER_WIDTH_SQUARED) ** (1.0 / 3.0)
    raw_heads = max(1.0, width / head_dim)
    step = head_multiple(raw_heads)
    heads = max(step, step * round(raw_heads / step))
    d_model = heads * head_dim
    layers = max(1, round(params / (LAYER_PARAMS_PER_WIDTH_SQUARED * d_model * d_model)))
    return Shape(d_model=d_model, n_layers=layers, heads=heads)
