"""Autocast's weight casts: what eager mixed precision with fp32 parameters pays in every micro-batch.

Mechanism. Under ``torch.autocast`` (CUDA automatic mixed precision) the parameters stay in fp32 and each matmul
casts its fp32 weight to bf16 on the way in. The cast is cached for the autocast region ("cache_enabled: Whether
the weight cache inside autocast should be enabled", torch.autocast, docs.pytorch.org/docs/stable/amp.html; the
cache holds the casts of leaf tensors that require gradients and is cleared when the outermost region exits), so
each weight is cast once per forward, that is once per micro-batch: read 4 B, write 2 B. In the backward the bf16
weight gradient goes back through the cast's backward (a copy to fp32: read 2 B, write 4 B) before it accumulates
into the parameter's fp32 ``.grad``. Twelve bytes of HBM traffic per matmul parameter and micro-batch::

    autocast_s = bytes_per_param x matmul_params x micro_batches / (HBM bandwidth x hbm_fraction)

The input embedding is a lookup, run in fp32 (autocast casts only the ops on its lower-precision list), so its
table is not cast unless the output head shares it (tied embeddings). Stacks that hold bf16 working weights pay no
such cast: Megatron-Core and Transformer Engine keep bf16 parameters beside fp32 main parameters (their conversion
is in the optimizer's traffic, perf.batch.ADAM_BYTES_PER_PARAM), and FSDP with ``param_dtype=bf16`` casts the
shard once, before its all-gather. The software profile says which (``autocast_cast_bytes_per_param``: 12 for a
plain eager loop, 0 otherwise).

Evidence: the H200 ground truth of 2026-11-30 (calibration/h200-sxm-141gb-2026-11-30.moe-check.json; eager PyTorch
2.11, a Qwen3-MoE-style and a Mixtral-style decoder of about 3.1 billion parameters each at 4,096-16,384 tokens
per step): fp32-to-bf16 and bf16-to-fp32 copy kernels took 16.5 ms of a 98 ms step at micro-batch 1 (76 + 88
launches), and without this term the step model read those steps 13-19% too fast while reading the dense Llama
pairs of the same profile 4-5% too fast (calibration/h200-sxm-141gb-2026-11-30.compile-pair.json). The cast is
proportional to parameters, not FLOPs, which is why the parameter-heavy MoE steps miss by more.
"""

from __future__ import annotations

from typing import Any

from supercluster.specs import ModelSpec

# fp32 -> bf16 in the forward (read 4, write 2) and the gradient's bf16 -> fp32 in the backward (read 2, write 4)
FP32_PARAMS_UNDER_AUTOCAST_BYTES = 6.0 + 6.0


def cast_params(params: Any, model: ModelSpec, tp: Any) -> Any:
    """Parameters of one GPU that autocast casts: all it holds but the input embedding's table (a fp32 lookup),
    which the head casts when it is tied to it. ``params`` counts the stage's parameters with the embedding."""
    untied_table = 0.0 if model.tied_embeddings else model.embedding_params
    return params - untied_table / tp


def autocast_s(bytes_per_param: float, params: Any, micro_batches: Any, hbm_bytes_per_s: float) -> Any:
    """Seconds per step of autocast's weight casts (module docstring)."""
    return bytes_per_param * params * micro_batches / hbm_bytes_per_s
