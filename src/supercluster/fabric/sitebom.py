"""The network of a system made of sites: each site's own fabric, joined by the wide-area network.

A fat tree is a building's network; a job spread over two campuses a thousand kilometres apart does not run
one tree across them. Each site gets the tree its own GPUs need (``topology.bill_of_materials`` on the site
alone, multi-plane or rail groups as the site's size demands), and the sites are joined pairwise by the WAN
(``SystemSpec.wan``: capacity per pair, fibre distance). The bill of materials is the sum over the sites plus
the WAN links; the bisection is the worse of the sites' own (summed) and the WAN's cut between halves of the
sites (floor(k/2) x ceil(k/2) site pairs cross it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supercluster.specs import SystemSpec

if TYPE_CHECKING:
    from supercluster.fabric.topology import BillOfMaterials


def site_gpus(system: SystemSpec, gpus: int) -> list[tuple[str, int]]:
    """The sites a job of ``gpus`` GPUs uses and its GPUs in each: the largest sites first, each filled."""
    left = gpus
    out = []
    for site in sorted(system.sites, key=lambda s: -s.gpus):
        if left <= 0:
            break
        take = min(site.gpus, left)
        out.append((site.name, take))
        left -= take
    return out


def wan_bill(system: SystemSpec, sites: int) -> dict[str, Any]:
    """The WAN between ``sites`` sites: one link of the system's capacity per pair (a full mesh), its latency from
    the fibre distance (``WanSpec.latency_s``), its yearly cost where the system gives a price."""
    wan = system.wan
    if wan is None or sites < 2:
        return {}
    pairs = sites * (sites - 1) // 2
    cut_pairs = (sites // 2) * (sites - sites // 2)
    total = pairs * wan.gbps_per_site_pair
    return {
        "sites": sites,
        "pairs": pairs,
        "gbps_per_site_pair": wan.gbps_per_site_pair,
        "total_gbps": total,
        "cut_tb_per_s": cut_pairs * wan.gbps_per_site_pair / 8 / 1000,
        "distance_km": wan.distance_km,
        "latency_ms": wan.latency_s * 1e3,
        "usd_per_year": None if wan.usd_per_gbps_year is None else total * wan.usd_per_gbps_year,
        "source": wan.source,
    }


def bill_of_materials(system: SystemSpec, gpus: int) -> BillOfMaterials:
    """Each site's fabric for its share of the job, summed, and the WAN joining the sites used (module docstring)."""
    from supercluster.fabric.topology import BillOfMaterials, Tier, Topology
    from supercluster.fabric.topology import bill_of_materials as one_site

    shares = site_gpus(system, gpus)
    bills = [one_site(system.model_copy(update={"gpus": g, "sites": [], "wan": None}), g) for _name, g in shares]
    first = bills[0].topology
    tiers: dict[str, Tier] = {}
    for b in bills:
        for t in b.topology.tiers:
            acc = tiers.setdefault(t.name, Tier(t.name, 0, 0, t.oversubscription))
            acc.switches += t.switches
            acc.links_down += t.links_down
            acc.oversubscription = max(acc.oversubscription, t.oversubscription)
    wan = wan_bill(system, len(shares))
    notes = [
        f"site {name}: {g:,} GPUs, {b.topology.switch_count:,} switches in {len(b.switches)} tiers"
        + (f" ({'; '.join(b.topology.notes)})" if b.topology.notes else "")
        for (name, g), b in zip(shares, bills, strict=True)
    ]
    if wan:
        notes.append(
            f"WAN: {wan['pairs']} site pair(s) x {wan['gbps_per_site_pair']:,.0f} Gb/s, {wan['distance_km']:,.0f} km, "
            f"{wan['latency_ms']:.2f} ms one way"
        )
    topo = Topology(
        first.kind,
        system.id,
        gpus,
        sum(b.topology.nodes for b in bills),
        first.rails,
        sum(b.topology.endpoints for b in bills),
        first.switch,
        first.radix,
        first.link_gbps,
        list(tiers.values()),
        first.pod_gpus,
        notes=notes,
    )
    switches: dict[str, int] = {}
    links: dict[str, int] = {}
    for b in bills:
        for k, v in b.switches.items():
            switches[k] = switches.get(k, 0) + v
        for k, v in b.links.items():
            links[k] = links.get(k, 0) + v
    bisection = sum(b.bisection_tb_per_s for b in bills)
    if wan:
        bisection = min(bisection, wan["cut_tb_per_s"])
    return BillOfMaterials(
        topo,
        switches,
        links,
        sum(b.transceivers for b in bills),
        sum(b.nics for b in bills),
        sum(b.switch_power_w for b in bills),
        bisection,
        sites=[{"site": name, "gpus": g, **b.to_dict()} for (name, g), b in zip(shares, bills, strict=True)],
        wan=wan,
    )
