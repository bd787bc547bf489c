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
    moe_imbalance: float | None = Field(
        default=None,
        ge=1.0,
        le=4.0,
        description=(
            "tokens on the busiest expert rank over the mean, when a run states it; blank = from the router "
            "(perf.imbalance: the router's persistent skew and the micro-batch's sampling noise, the expected "
            "maximum over the EP ranks)"
        ),
    )
    moe_balancing: Literal["aux-loss", "aux-free"] = Field(
        default="aux-loss",
        description=(
            "how a learned router is balanced: aux-loss (Switch/GShard auxiliary loss) or aux-free (DeepSeek-V3's "
            "per-expert bias, arXiv:2412.19437 section 2.1.2); sets the skew of the expert loads (perf.imbalance)"
        ),
    )
    moe_router: Literal["learned", "fake-balanced", "force-balanced"] = Field(
        default="learned",
        description=(
            "learned: top-k experts spread over all experts; fake-balanced: the benchmark gate of NeMo AutoModel "
            "(token t takes experts t*k..t*k+k-1 mod E: no imbalance, each token's experts contiguous); "
            "force-balanced: Megatron-Core's --moe-router-force-load-balancing (random router scores: experts "
            "spread as learned, load balanced in expectation)"
        ),
    )
    q_lora_rank: int | None = Field(default=None, ge=1, description="MLA: query compression rank")
    kv_lora_rank: int | None = Field(default=None, ge=1, description="MLA: key/value compression rank")
    qk_rope_head_dim: int | None = Field(default=None, ge=1, description="MLA: decoupled rotary key dim")
    v_head_dim: int | None = Field(default=None, ge=1, description="value head dim when it differs")
    sliding_window: int | None = Field(default=None, ge=1, description="attention window of the windowed layers")
    sliding_window_fraction: float = Field(default=0.0, ge=0.0, le=1.0, description="share of windowed layers")
    expert_bias: bool = Field(
        default=False, description="routed experts carry bias vectors on their up and down projections (GPT-OSS)"
    )
    rope_yarn_factor: float | None = Field(
        default=None,
        gt=0,
        le=1024,
        description="YaRN context-extension factor of the rotary embedding (GPT-OSS: 32); blank = plain RoPE",
    )
    glu_clamp_limit: float | None = Field(
        default=None,
        gt=0,
        description=(
            "the gated activation clamps its gate half at +limit and its linear half to [-limit, +limit] "
            "(GPT-OSS: 7.0); blank = unclamped"
        ),
    )
    mtp_depth: int = Field(default=0, ge=0, description="multi-token-prediction modules (DeepSeek-V3: 1)")
    moe_node_limit: int | None = Field(
        default=None, ge=1, description="nodes a token's experts may span (DeepSeek-V3: 4); blank = no limit"
    )
    moe_capacity_factor: float | None = Field(
        default=None, gt=0, le=16, description="token-dropping capacity (experts padded to it); blank = dropless"
    )
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
        """Query/key head dim (MLA: the no-rope part plus the rope part)."""
        return self.head_dim or self.hidden // self.heads

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def qk_dim(self) -> int:
        return self.dhead + (self.qk_rope_head_dim or 0) if self.is_mla else self.dhead

    @property
    def vdim(self) -> int:
        return self.v_head_dim or self.dhead

    def attention_span(self, seq: int) -> float:
        """Mean keys per query over the layers, stated as the span of an unmasked layer with the same work: the
        caller halves it for the causal mask. A full causal layer: ``seq``. A causal window of ``w`` keys: query
        i sees min(i + 1, w) keys, w (1 - (w - 1) / (2 seq)) on average for w <= seq, i.e. twice that before
        the halving (Mistral 7B, arXiv:2310.06825, section 2: each token attends to at most W previous ones).
        """
        if not self.sliding_window:
            return float(seq)
        f = self.sliding_window_fraction
        w = min(seq, self.sliding_window)
        windowed = 2.0 * w * (1.0 - (w - 1.0) / (2.0 * seq))
        return (1 - f) * seq + f * windowed

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
        """Q, K, V and output projections: h*(a*d) + 2*h*(g*d) + (a*d)*h.

        Multi-head latent attention (DeepSeek-V2, arXiv:2405.04434, section 2.1): queries through a rank
        q_lora down/up projection, keys and values through a shared rank kv_lora latent plus a decoupled
        rotary key, then per-head up-projections, and the output projection from a*v_head.
        """
        h, a = self.hidden, self.heads
        if self.is_mla:
            kvr, rope = self.kv_lora_rank or 0, self.qk_rope_head_dim or 0
            q = (h * self.q_lora_rank + self.q_lora_rank * a * self.qk_dim) if self.q_lora_rank else h * a * self.qk_dim
            kv = h * (kvr + rope) + kvr * a * (self.dhead + self.vdim)
            return q + kv + a * self.vdim * h
        ad, gd = a * self.dhead, self.kv * self.dhead
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

    @property
    def mtp_params(self) -> int:
        """One multi-token-prediction module per depth: a transformer block plus the 2h x h projection that
        merges the previous depth's state with the next token's embedding (DeepSeek-V3, arXiv:2412.19437,
        section 2.2); embedding and output head are shared with the main model."""
        block = self.attention_params + (self.moe_ffn_params if self.is_moe else self.dense_ffn_params)
        return self.mtp_depth * (block + 2 * self.hidden * self.hidden)
