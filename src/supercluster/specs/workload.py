"""Workload spec: what is trained, on how much data, in what batches."""

from pydantic import Field

from supercluster.specs.base import Spec
from supercluster.specs.model import ModelSpec


class WorkloadSpec(Spec):
    model: ModelSpec
    seq_len: int | None = Field(default=None, ge=1, description="blank = the model's training context")
    global_batch: int = Field(ge=1, description="sequences per optimizer step")
    train_tokens: float | None = Field(default=None, gt=0, description="tokens of the whole run")

    @property
    def seq(self) -> int:
        return self.seq_len or self.model.seq_len

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq
