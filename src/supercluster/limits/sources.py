"""The catalog's limits entries as typed specs: the scaling rules and the paper's figures."""

from __future__ import annotations

from functools import cache

from supercluster.catalog import loader
from supercluster.specs.limits import PaperFigures, ScalingRules

PAPER_ID = "erdil-2024"


@cache
def rules() -> ScalingRules:
    """The cited rules that turn a compute into a model, tokens and a batch (limits.yaml, `rules`)."""
    return loader.build(ScalingRules, loader.raw("limits", "rules"), "limits rules")  # type: ignore[no-any-return]


@cache
def paper() -> PaperFigures:
    """Erdil and Schneider-Joseph 2024 as recorded in limits.yaml."""
    return loader.build(PaperFigures, loader.raw("limits", PAPER_ID), "limits paper")  # type: ignore[no-any-return]
