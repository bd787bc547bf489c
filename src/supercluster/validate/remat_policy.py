"""Share of a full recompute that a JAX name-based rematerialization policy re-runs (MaxText's remat policies).

MaxText wraps each decoder layer in ``jax.checkpoint`` with a policy built by ``save_only_these_names`` (MaxText
``decoders.py`` ``get_remat_policy``; ``remat_policy=custom`` saves the tensors set to ``device``): only the named
tensors listed are kept for the backward, everything else the backward needs is recomputed from the layer input.
The names a Llama-style layer carries are ``query_proj``, ``key_proj``, ``value_proj`` (or ``qkv_proj``),
``out_proj``, ``mlpwi`` (the gate and up projections, ``mlpwi_0``/``mlpwi_1``), ``mlpwo`` and ``context``, the
attention output, which Transformer Engine's fused attention also gives its residuals (TransformerEngine
``transformer_engine/jax/attention.py`` ``_fused_attn_fwd_rule``: ``output = checkpoint_name(output, "context")``,
the same for ``softmax_aux`` and ``rng_state``). A policy that does not list ``context`` therefore re-runs the
flash-attention forward as well (MaxText keeps a separate policy, ``save_dot_with_context_except_mlp``, that saves it).

What the backward must rebuild is decided by JAX, not by the names alone: ``jax.checkpoint``'s partial evaluation
(``jax/_src/ad_checkpoint.py`` ``remat_partial_eval``) splits the layer into the forward that runs now and the
staged part that runs in the backward, then dead-code-eliminates the staged part ("DCE jaxpr_staged, keeping only
instantiated outputs which are unknown": ``pe.dce_jaxpr``), so a forward operation is re-run only if some
gradient computation needs its output and the policy did not save it. Counted as forward FLOPs per token of one
layer (causal attention, as the step model counts it, :mod:`supercluster.perf.layer`)::

    qkv      = 2 h (a + 2 g) d          query, key and value projections
    out      = 2 h a d                  attention output projection
    context  = 2 s a d                  QK^T and AV, causal half of 4 s a d
    mlpwi    = 2 h u f                  gate and up projections (u = 2 when gated)
    mlpwo    = 2 h f                    down projection

- Q, K and V feed the attention backward: re-run unless saved;
- the attention output (and TE's softmax statistics) feeds the attention backward and ``out_proj``'s weight
  gradient: the flash-attention forward is re-run unless ``context`` is saved;
- ``out_proj``'s output is part of the residual stream that the second norm and the MLP's weight gradients read:
  re-run unless saved;
- the gate and up projections' outputs feed the activation's derivative and, through it, the down projection's
  weight gradient: re-run unless saved;
- the down projection's output feeds only the layer output, which no gradient reads (the next layer's input is
  the scan's saved carry): never re-run, whatever the policy says about ``mlpwo``.

The share is the re-run FLOPs over the layer's forward FLOPs; the step model prices ``recompute="full"`` with
``recompute_fraction`` equal to it (:func:`supercluster.perf.batch._blend_partial_recompute`).
"""

from __future__ import annotations

from supercluster.errors import SuperclusterError
from supercluster.specs import ModelSpec

# MaxText's named policies (decoders.py get_remat_policy, 2024-25): the names each saves
POLICIES: dict[str, frozenset[str]] = {
    "full": frozenset(),
    "save_qkv_proj": frozenset({"qkv_proj"}),
    "save_dot_except_mlp": frozenset({"qkv_proj", "out_proj"}),
    "save_dot_except_mlpwi": frozenset({"qkv_proj", "out_proj", "mlpwo"}),
    "save_dot_with_context_except_mlp": frozenset({"qkv_proj", "out_proj", "context"}),
}


def layer_forward_flops(model: ModelSpec, seq: int) -> dict[str, float]:
    """Forward FLOPs per token of one dense layer, by the named tensor that produces them (see module docstring)."""
    if model.is_moe or model.is_mla:
        raise SuperclusterError(f"named-remat shares are defined for dense MHA/GQA layers; '{model.name}' is not one")
    h, a, g, d, f = model.hidden, model.heads, model.kv, model.dhead, model.ffn_hidden
    up = 2 if model.gated else 1
    return {
        "qkv_proj": 2.0 * h * (a + 2 * g) * d,
        "out_proj": 2.0 * h * a * d,
        "context": 2.0 * seq * a * d,
        "mlpwi": 2.0 * h * up * f,
        "mlpwo": 2.0 * h * f,
    }


def recompute_fraction(model: ModelSpec, seq: int, policy: str) -> float:
    """Share of a full recompute the backward re-runs under MaxText's ``policy`` (FLOP-weighted, one layer)."""
    if policy not in POLICIES:
        raise SuperclusterError(f"unknown remat policy '{policy}'; valid: {', '.join(POLICIES)}")
    saved = POLICIES[policy] | {"mlpwo"}  # the down projection's output is never a residual (module docstring)
    parts = layer_forward_flops(model, seq)
    rerun = sum(v for name, v in parts.items() if name not in saved)
    return rerun / sum(parts.values())
