"""Sites and the wide-area network that joins them (a system spread over several buildings or campuses).

A system without sites is one site, as before. A system with sites says how many of its GPUs stand in each,
and a :class:`WanSpec` says how the sites are linked: capacity between each pair of sites, fibre distance (the
one-way latency follows from it unless given) and, optionally, what a unit of that capacity costs a year.
"""

from pydantic import Field

from supercluster.specs.base import Spec

# One-way propagation delay in single-mode fibre: group index 1.4719 (Fluke Networks, "Index of Refraction -
# DSP FTA Series": "9/125 m Singlemode 1.4719 @ 1300 nm"), light at 299,792,458 m/s in vacuum, so
# 1.4719 / 299,792,458 m/s = 4.910 us per km (the "~5 us/km" rule of thumb).
FIBRE_GROUP_INDEX = 1.4719
LIGHT_M_PER_S = 299_792_458.0
FIBRE_S_PER_KM = FIBRE_GROUP_INDEX / LIGHT_M_PER_S * 1e3


class SiteSpec(Spec):
    """One building or campus of a multi-site system."""

    name: str = Field(min_length=1, max_length=64, description="site name, unique within the system")
    gpus: int = Field(ge=1, le=100_000_000, description="accelerators at this site")
    location: str = Field(default="", max_length=200, description="where it stands (for the reader)")
    source: str = ""


class WanSpec(Spec):
    """The wide-area network between the sites, as the step model needs it."""

    gbps_per_site_pair: float = Field(
        gt=0, le=1e9, description="capacity between each pair of sites, each way, Gb/s (at most 1 Eb/s)"
    )
    distance_km: float = Field(ge=0, le=40_075, description="fibre route length between sites, km (<= Earth's girth)")
    latency_ms: float | None = Field(
        default=None, ge=0, le=1000, description="one-way latency, ms; blank = distance x 4.91 us/km in fibre"
    )
    usd_per_gbps_year: float | None = Field(
        default=None, ge=0, le=1e7, description="yearly cost of 1 Gb/s of capacity between two sites, USD (optional)"
    )
    source: str = ""

    @property
    def latency_s(self) -> float:
        """One-way latency: the given one, else the fibre distance at FIBRE_S_PER_KM (group index 1.4719)."""
        if self.latency_ms is not None:
            return self.latency_ms * 1e-3
        return self.distance_km * FIBRE_S_PER_KM
