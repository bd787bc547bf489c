"""Workload spec: what is trained, on how much data, in what batches."""

from pydantic import Field

from supercluster.specs.base import Spec
from supercluster.specs.model import ModelSpec

MAX_TRAIN_TOKENS = 1e20


class WorkloadSpec(Spec):
    model: ModelSpec
    seq_len: int | None = Field(default=None, ge=1, description="blank = the model's training context")
    global_batch: int = Field(ge=1, description="sequences per optimizer step")
    # at most 1e20: `limits` spends up to specs.limits.MAX_FLOP (1e36) FLOP, whose compute-optimal run (D = 20 N,
    # C = 6 N D) trains about 1.8e18 tokens; 1e20 leaves fifty times that, and refuses typos such as 1e40
    train_tokens: float | None = Field(default=None, gt=0, le=MAX_TRAIN_TOKENS, description="tokens of the whole run")

    @property
    def seq(self) -> int:
        return self.seq_len or self.model.seq_len

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq
