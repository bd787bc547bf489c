"""A data-center site as an external tracker records it: power, compute and dated milestones.

Held apart from :class:`SystemSpec`: a site is what a campus is (megawatts, H100 equivalents, buildings, when),
a system is how its accelerators and fabric are wired for a job. ``system`` links the two where the catalog has
a system preset for the site.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, model_validator

from supercluster.specs.base import Spec


class SiteMilestone(Spec):
    date: dt.date
    power_mw: float = Field(ge=0, le=100_000, description="total facility power at this date, MW")
    h100e: float = Field(ge=0, le=1e9, description="computing capacity in H100 equivalents (peak 8-bit OP/s)")
    buildings: int = Field(default=0, ge=0, le=1000, description="buildings operational")
    gpus: int | None = Field(default=None, ge=1, le=100_000_000, description="accelerators, where stated")
    gpu_type: str = ""
    event: str = ""


class SiteDataset(Spec):
    """Where the site figures come from and when they were taken and read."""

    title: str
    url: str
    license: str
    snapshot_date: dt.date
    read_date: dt.date
    read_from: str
    uncertainty: str


class Site(Spec):
    id: str
    name: str
    epoch_handle: str = Field(description="the tracker's own name of the site")
    location: str
    owner: str
    users: str
    system: str | None = Field(default=None, description="catalog system preset that models this site")
    power_mw: float = Field(ge=0, le=100_000, description="total facility power at the snapshot date, MW")
    h100e: float = Field(ge=0, le=1e9, description="H100 equivalents at the snapshot date")
    capital_cost_usd_billion: float = Field(ge=0, le=10_000, description="total capital cost, 2025 USD billions")
    milestones: list[SiteMilestone] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _in_order(self) -> Site:
        dates = [m.date for m in self.milestones]
        if dates != sorted(dates):
            raise ValueError(f"site {self.id}: milestones must be in date order")
        return self

    @property
    def peak(self) -> SiteMilestone:
        """The milestone with the most power the tracker records or projects (the latest of equals)."""
        return max(reversed(self.milestones), key=lambda m: m.power_mw)

    def at(self, date: dt.date) -> SiteMilestone | None:
        """The last milestone on or before ``date`` (None before the first)."""
        past = [m for m in self.milestones if m.date <= date]
        return past[-1] if past else None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
