"""Transformer architecture spec and its parameter counts."""

from typing import Literal

from pydantic import Field, model_validator

from supercluster.specs.base import Spec

Activation = Literal["gelu", "swiglu", "geglu", "squared_relu"]


class ModelSpec(Spec):
    """A decoder-only transformer. Dense when ``moe_experts`` is 0."""

    name: str
    layers: int = Field(ge=1)
    hidden: int = Field(ge=1)
    ffn_hidden: int = Field(ge=1)
    heads: int = Field(ge=1)
    kv_heads: int | None = Field(default=None, ge=1, description="blank = heads (multi-head)")
    head_dim: int | None = Field(default=None, ge=1, description="blank = hidden / heads")
    vocab: int = Field(ge=1)
    seq_len: int = Field(default=2048, ge=1, description="training context length")
    activation: Activation = "gelu"
    tied_embeddings: bool = False
    learned_positions: bool = False
    dropout: bool = False
    moe_experts: int = Field(default=0, ge=0)
    moe_topk: int = Field(default=0, ge=0)
    moe_ffn_hidden: int | None = Field(default=None, ge=1)
    moe_shared_experts: int = Field(default=0, ge=0)
    moe_dense_layers: int = Field(default=0, ge=0)
    published_params: float | None = Field(default=None, description="total parameters as published")
    published_active_params: float | None = None
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> "ModelSpec":
        kv = self.kv_heads or self.heads
        if self.heads % kv:
            raise ValueError(f"model {self.name}: heads({self.heads}) is not a multiple of kv_heads({kv})")
        if self.moe_experts and not (1 <= self.moe_topk <= self.moe_experts):
            raise ValueError(
                f"model {self.name}: moe_topk({self.moe_topk}) must be in 1..moe_experts({self.moe_experts})"
            )
        if self.moe_dense_layers > self.layers:
            raise ValueError(f"model {self.name}: moe_dense_layers > layers")
        return self

    # ---- shape helpers -------------------------------------------------
    @property
    def kv(self) -> int:
        return self.kv_heads or self.heads

    @property
    def dhead(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def gated(self) -> bool:
        return self.activation in ("swiglu", "geglu")

    @property
    def ffn_matrices(self) -> int:
        """Gated FFNs (SwiGLU, GeGLU) have three matrices (gate, up, down); GeLU and squared ReLU two."""
        return 3 if self.gated else 2

    @property
    def is_moe(self) -> bool:
        return self.moe_experts > 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.moe_dense_layers if self.is_moe else 0

    @property
    def expert_ffn(self) -> int:
        return self.moe_ffn_hidden or self.ffn_hidden

    # ---- parameter counts (weights of the matrices; norms and biases are < 0.1%) ----
    @property
    def attention_params(self) -> int:
        """Q, K, V and output projections: h*(a*d) + 2*h*(g*d) + (a*d)*h."""
        h, ad, gd = self.hidden, self.heads * self.dhead, self.kv * self.dhead
        return 2 * h * ad + 2 * h * gd

    @property
    def dense_ffn_params(self) -> int:
        return self.ffn_matrices * self.hidden * self.ffn_hidden

    @property
    def expert_params(self) -> int:
        """One routed expert's FFN."""
        return self.ffn_matrices * self.hidden * self.expert_ffn

    @property
    def moe_ffn_params(self) -> int:
        """All experts of one MoE layer (routed + shared) plus the router."""
        return (self.moe_experts + self.moe_shared_experts) * self.expert_params + self.hidden * self.moe_experts

    @property
    def embedding_params(self) -> int:
        pos = self.seq_len * self.hidden if self.learned_positions else 0
        return self.vocab * self.hidden + pos

    @property
    def head_params(self) -> int:
        """Output projection to the vocabulary (shared with the input embedding when tied)."""
        return 0 if self.tied_embeddings else self.vocab * self.hidden

    @property
    def layer_params_total(self) -> int:
        dense = self.layers - self.moe_layers
        return (
            self.layers * self.attention_params
            + dense * self.dense_ffn_params
            + (self.moe_layers * self.moe_ffn_params)
        )

    @property
    def total_params(self) -> int:
        return self.layer_params_total + self.embedding_params + self.head_params

    @property
    def active_layer_params(self) -> int:
        """Parameters a token multiplies in the layers: top-k + shared experts only."""
        dense = self.layers - self.moe_layers
        active_moe = (self.moe_topk + self.moe_shared_experts) * self.expert_params + self.hidden * self.moe_experts
        return self.layers * self.attention_params + dense * self.dense_ffn_params + self.moe_layers * active_moe

    @property
    def matmul_params_active(self) -> int:
        """N of PaLM's 6N: every multiplied weight (layers + output head), not the embedding lookup."""
        return self.active_layer_params + self.vocab * self.hidden

    @property
    def active_params(self) -> int:
        return self.active_layer_params + self.embedding_params + self.head_params
