"""The training job of one compute budget: a compute-optimal dense model, its tokens and its batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supercluster.limits.laws import batch_tokens, compute_optimal_params, dense_shape, nice_count, train_tokens
from supercluster.specs import ModelSpec, WorkloadSpec
from supercluster.specs.limits import ScalingRules


@dataclass(frozen=True)
class ComputeJob:
    """One compute budget made concrete. ``params`` counts the model's matrix parameters (PaLM's N of 6N)."""

    compute_flop: float
    target_params: float
    workload: WorkloadSpec
    batch_tokens_law: float

    @property
    def model(self) -> ModelSpec:
        return self.workload.model

    @property
    def params(self) -> float:
        return float(self.model.matmul_params_active)

    @property
    def tokens(self) -> float:
        return float(self.workload.train_tokens or 0.0)

    @property
    def steps(self) -> float:
        return self.tokens / self.workload.tokens_per_step

    def to_dict(self) -> dict[str, Any]:
        m = self.model
        return {
            "compute_flop": self.compute_flop,
            "params": self.params,
            "target_params": self.target_params,
            "d_model": m.hidden,
            "n_layers": m.layers,
            "heads": m.heads,
            "train_tokens": self.tokens,
            "batch_tokens_law": self.batch_tokens_law,
            "global_batch": self.workload.global_batch,
            "seq_len": self.workload.seq,
            "tokens_per_step": self.workload.tokens_per_step,
            "steps": self.steps,
        }


def compute_job(
    compute_flop: float, rules: ScalingRules, template: ModelSpec, seq_len: int, aspect_ratio: float
) -> ComputeJob:
    """The dense model, tokens and batch of a compute-optimal run of ``compute_flop`` FLOP.

    N from Chinchilla's tokens per parameter, the shape from the aspect ratio (laws.dense_shape), tokens
    D = C / (6 N) on the built model's own matrix parameters so that 6 N D = C exactly, and the batch from the
    batch law in sequences of ``seq_len`` tokens, rounded to 2^k or 3 * 2^k (laws.nice_count).
    """
    target = compute_optimal_params(compute_flop, rules.tokens_per_param)
    # the layers are sized to N; the output head (under 2% of N from 1e24 FLOP up) adds to the count that D uses
    shape = dense_shape(target, aspect_ratio, rules.head_dim)
    model = ModelSpec(
        name=f"dense-{compute_flop:.2g}-flop",
        layers=shape.n_layers,
        hidden=shape.d_model,
        ffn_hidden=rules.ffn_multiple * shape.d_model,
        heads=shape.heads,
        vocab=template.vocab,
        seq_len=seq_len,
        activation="gelu",
        source="supercluster limits: Chinchilla-optimal size, GPT-3 shape rules (catalog limits.yaml)",
    )
    law = batch_tokens(compute_flop, rules.batch_coefficient_tokens, rules.batch_exponent)
    batch = nice_count(law / seq_len)
    tokens = train_tokens(compute_flop, float(model.matmul_params_active))
    workload = WorkloadSpec(model=model, seq_len=seq_len, global_batch=batch, train_tokens=tokens)
    return ComputeJob(compute_flop=compute_flop, target_params=target, workload=workload, batch_tokens_law=law)
