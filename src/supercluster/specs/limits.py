"""Inputs of `supercluster limits`: the cited scaling rules, the paper's figures, and the user's question."""

import math

from pydantic import Field, model_validator

from supercluster.specs.base import Spec


class ScalingRules(Spec):
    """How a training compute becomes a model, a token count and a batch (catalog limits.yaml, `rules`)."""

    tokens_per_param: float = Field(gt=1, le=1000, description="compute-optimal tokens per parameter (Chinchilla)")
    tokens_per_param_source: str
    batch_coefficient_tokens: float = Field(gt=0, le=1e6, description="B_opt = coefficient * C^exponent tokens")
    batch_exponent: float = Field(ge=0, le=1)
    batch_source: str
    aspect_ratio: float = Field(ge=8, le=4096, description="d_model / n_layers")
    aspect_ratio_source: str
    head_dim: int = Field(ge=16, le=1024)
    ffn_multiple: int = Field(ge=1, le=16, description="d_ff / d_model")
    shape_source: str
    template_model: str = Field(description="catalog model whose vocabulary and context the synthetic models take")
    template_source: str
    software: str = Field(description="training-stack profile the planner uses unless the user names one")
    software_source: str
    months_day_count: int = Field(ge=28, le=31, description="days counted per month of the duration limit")
    months_source: str


class PaperFigures(Spec):
    """Erdil and Schneider-Joseph 2024 (arXiv:2411.01137) as the catalog records them, each with its quote."""

    title: str
    authors: str
    url: str
    duration_months: float = Field(gt=0, le=24)
    duration_quote: str
    utilisation_knee_flop: float = Field(gt=1e20, lt=1e40)
    utilisation_knee_quote: str
    latency_wall_flop: float = Field(gt=1e20, lt=1e40)
    latency_wall_quote: str
    summary_knee_flop: float = Field(gt=1e20, lt=1e40)
    summary_wall_flop: float = Field(gt=1e20, lt=1e40)
    summary_url: str
    summary_quote: str
    levers_quote: str
    hardware: str


# Work bounds of one `limits` run: the grid is at most this many points, each searched over a bounded GPU ladder.
MAX_POINTS = 64
MIN_FLOP, MAX_FLOP = 1e20, 1e36


class LimitsQuestion(Spec):
    """What the user asks: a compute range on one accelerator generation under a duration limit."""

    accelerator: str = "h100-sxm-80gb"
    system: str | None = Field(default=None, description="generic system preset; blank = the accelerator's largest")
    software: str | None = Field(default=None, description="training-stack profile; blank = the catalog rule's")
    months: float = Field(default=3.0, gt=0, le=24, description="duration limit in months (30 days each)")
    min_flop: float = Field(default=1e24, ge=MIN_FLOP, le=MAX_FLOP)
    max_flop: float = Field(default=1e32, ge=MIN_FLOP, le=MAX_FLOP)
    points_per_decade: int = Field(default=4, ge=1, le=8)
    aspect_ratio: float | None = Field(default=None, ge=8, le=4096, description="blank = the catalog rule's")
    seq_len: int | None = Field(default=None, ge=1024, le=1_048_576, description="blank = the template model's")
    allow_fp8: bool = Field(default=False, description="let the planner choose FP8 GEMMs (MFU stays vs BF16 peak)")

    @model_validator(mode="after")
    def _grid(self) -> "LimitsQuestion":
        if self.max_flop <= self.min_flop:
            raise ValueError(f"max_flop({self.max_flop:.3g}) must exceed min_flop({self.min_flop:.3g})")
        points = self.points()
        if points > MAX_POINTS:
            raise ValueError(
                f"{points} compute points ({self.points_per_decade} per decade from {self.min_flop:.3g} to "
                f"{self.max_flop:.3g}) exceed {MAX_POINTS}; narrow the range or use fewer points per decade"
            )
        return self

    def points(self) -> int:
        """Grid points, both ends included: ``points_per_decade`` per factor of ten."""
        return math.floor(self.points_per_decade * math.log10(self.max_flop / self.min_flop) + 1e-9) + 1
