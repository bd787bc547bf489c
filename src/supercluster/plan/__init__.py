"""Layout search: the space, the vectorised search, filling blank knobs, explanations, sweeps."""

from supercluster.plan.fill import resolve
from supercluster.plan.search import SearchResult, search
from supercluster.plan.space import SpaceOptions

__all__ = ["SearchResult", "SpaceOptions", "resolve", "search"]
