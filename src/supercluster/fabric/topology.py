"""Topologies built from real switch models, and their bill of materials.

Fat trees: a rail-optimised folded Clos (each GPU's NIC on its rail's leaf; NVIDIA DGX SuperPOD
reference architecture). A leaf of radix k gives k/2 ports down and k/2 up; two tiers serve k^2/2 ports
with k/2 spines per k leaves, three tiers k^3/4 with as many spines as leaves and half as many cores
(Al-Fares et al., SIGCOMM 2008, section 2.3). With 64-port switches this reproduces the SuperPOD sizing
table (2 to 64 scalable units) exactly. An oversubscription above the pod divides the top tier.
Dragonfly (Kim et al., ISCA 2008): groups of switches, all-to-all inside a group, global links between
every pair of groups; Slingshot-11 groups of 32 Rosetta switches with 16 endpoint ports each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.specs import SystemSpec

# Slingshot dragonfly group: 32 Rosetta switches, each with 16 endpoint (L0), 31 in-group (L1) and 17
# global (L2) ports (ALCF Aurora interconnect page [P], via ../shared/reference/hardware_facts.md section 2)
DRAGONFLY_SWITCHES_PER_GROUP = 32
DRAGONFLY_ENDPOINT_PORTS = 16
DRAGONFLY_GLOBAL_PORTS = 17


@cache
def switches() -> dict[str, dict[str, Any]]:
    text = resources.files("supercluster.catalog.data").joinpath("switches.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def switch(name: str) -> dict[str, Any]:
    table = switches()
    if name not in table:
        raise SuperclusterError(f"unknown switch '{name}'; valid: {', '.join(sorted(table))}")
    return table[name]


@dataclass
class Tier:
    name: str
    switches: int
    links_down: int  # links from the tier below (or from NICs) into this tier
    oversubscription: float = 1.0


@dataclass
class Topology:
    kind: str
    system: str
    gpus: int
    nodes: int
    rails: int
    endpoints: int
    switch: str
    radix: int
    link_gbps: float
    tiers: list[Tier]
    pod_gpus: int | None
    groups: int = 0
    global_links: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def switch_count(self) -> int:
        return sum(t.switches for t in self.tiers)

    @property
    def links(self) -> int:
        return sum(t.links_down for t in self.tiers) + self.global_links

    @property
    def bisection_tb_per_s(self) -> float:
        """Bandwidth across the worst cut into halves, per direction."""
        bw = self.link_gbps / 8 / 1000  # TB/s per link
        if self.kind == "dragonfly":
            half = self.groups // 2
            pairs = half * (self.groups - half)
            per_pair = self.global_links / max(self.groups * (self.groups - 1) // 2, 1)
            return min(self.endpoints / 2 * bw, pairs * per_pair * bw)
        taper = max(t.oversubscription for t in self.tiers)
        return self.endpoints / 2 * bw / taper


def _fat_tree(system: SystemSpec, gpus: int) -> Topology:
    fab = system.fabric
    sw_id = fab.switch or "quantum-2-qm9700"
    sw = switch(sw_id)
    radix = (
        int(sw["ports"] * sw["port_gbps"] / fab.nic_gbps_per_gpu)
        if sw["port_gbps"] >= fab.nic_gbps_per_gpu
        else (int(sw["ports"]))
    )
    nodes = -(-gpus // system.gpus_per_node)
    rails = fab.rails or system.gpus_per_node
    ports = nodes * rails
    max_ports = radix**3 // 4  # a non-blocking 3-tier fat tree of radix k reaches k^3/4 hosts (Al-Fares 2008)
    # Past one tree's reach the rails are split into groups, each on its own tree (traffic between rail
    # groups crosses NVLink inside the node first, as NCCL's PXN does); at most one group per rail.
    split = 1 if fab.planes > 1 else math.ceil(ports / max_ports)
    if split > rails:
        raise SuperclusterError(
            f"{ports:,} NIC ports exceed {rails} rail groups of a 3-tier fat tree of radix {radix} "
            f"({rails} x {max_ports:,}); use a larger switch radix or more planes"
        )
    if fab.planes > 1 and ports > max_ports:
        raise SuperclusterError(
            f"{ports:,} NIC ports exceed a 3-tier fat tree of radix {radix} ({max_ports:,}) in each plane"
        )
    tiers = _fat_tree_tiers(
        math.ceil(ports / split), radix, fab.oversubscription if fab.pod_gpus and gpus > fab.pod_gpus else 1.0
    )
    if split > 1:
        tiers = [Tier(t.name, t.switches * split, t.links_down * split, t.oversubscription) for t in tiers]
    topo = Topology(
        "fat-tree", system.id, gpus, nodes, rails, ports, sw_id, radix, fab.nic_gbps_per_gpu, tiers, fab.pod_gpus
    )
    if fab.planes > 1:
        for t in topo.tiers:
            t.switches *= fab.planes
        topo.notes.append(f"{fab.planes} planes")
    if split > 1:
        topo.notes.append(
            f"{split} rail groups, each its own 3-tier tree: {ports:,} NIC ports exceed one tree of radix "
            f"{radix} ({max_ports:,})"
        )
    return topo


def _fat_tree_tiers(ports: int, radix: int, taper: float) -> list[Tier]:
    """Leaf, spine and core switches of a folded Clos for ``ports`` NIC ports: half of each leaf's ports face
    down; the top tier is thinned by the oversubscription ``taper`` (NVIDIA DGX SuperPOD reference sizing)."""
    half = radix // 2
    leaves = math.ceil(ports / half)
    tiers = [Tier("leaf", leaves, ports)]
    if ports > radix:
        if leaves <= radix:
            tiers.append(
                Tier("spine", math.ceil(leaves * half / radix / taper), math.ceil(leaves * half / taper), taper)
            )
        else:
            tiers.append(Tier("spine", leaves, leaves * half))
            tiers.append(
                Tier("core", math.ceil(leaves * half / radix / taper), math.ceil(leaves * half / taper), taper)
            )
    return tiers


def _dragonfly(system: SystemSpec, gpus: int) -> Topology:
    fab = system.fabric
    sw_id = fab.switch or "rosetta-slingshot-11"
    nodes = -(-gpus // system.gpus_per_node)
    nics = int(catalog.node(system.node)["nics"]) if system.node else system.gpus_per_node
    ports = nodes * nics
    per_group = DRAGONFLY_SWITCHES_PER_GROUP * DRAGONFLY_ENDPOINT_PORTS
    groups = math.ceil(ports / per_group)
    local = groups * DRAGONFLY_SWITCHES_PER_GROUP * (DRAGONFLY_SWITCHES_PER_GROUP - 1) // 2
    per_pair = max(1, (DRAGONFLY_SWITCHES_PER_GROUP * DRAGONFLY_GLOBAL_PORTS) // max(groups - 1, 1))
    global_links = groups * (groups - 1) // 2 * per_pair
    tiers = [
        Tier("group switches", groups * DRAGONFLY_SWITCHES_PER_GROUP, ports),
        Tier("intra-group (all-to-all)", 0, local, 1.0),
    ]
    topo = Topology(
        "dragonfly",
        system.id,
        gpus,
        nodes,
        nics,
        ports,
        sw_id,
        int(switch(sw_id)["ports"]),
        fab.nic_gbps_per_gpu,
        tiers,
        fab.pod_gpus,
        groups,
        global_links,
    )
    topo.notes.append(f"{per_pair} global links per pair of groups at most (Frontier uses 4, Klockwood [S])")
    return topo


def max_gpus(system: SystemSpec) -> tuple[int, str]:
    """The most GPUs this system's fabric can connect, and why: a 3-tier fat tree of its switch's radix per rail
    group (one group per rail, or one tree per plane), or a dragonfly whose groups each reach every other."""
    fab = system.fabric
    if fab.kind == "dragonfly":
        groups = DRAGONFLY_SWITCHES_PER_GROUP * DRAGONFLY_GLOBAL_PORTS + 1
        ports = groups * DRAGONFLY_SWITCHES_PER_GROUP * DRAGONFLY_ENDPOINT_PORTS
        nics = int(catalog.node(system.node)["nics"]) if system.node else system.gpus_per_node
        nodes = ports // nics
        per_group = DRAGONFLY_SWITCHES_PER_GROUP * DRAGONFLY_ENDPOINT_PORTS
        why = f"a dragonfly of at most {groups} groups x {per_group} ports"
        return nodes * system.gpus_per_node, why
    sw = switch(fab.switch or "quantum-2-qm9700")
    fast = sw["port_gbps"] >= fab.nic_gbps_per_gpu
    radix = int(sw["ports"] * sw["port_gbps"] / fab.nic_gbps_per_gpu) if fast else int(sw["ports"])
    reach = radix**3 // 4
    rails = fab.rails or system.gpus_per_node
    nodes = reach // rails if fab.planes > 1 else reach
    return nodes * system.gpus_per_node, f"a 3-tier fat tree of radix {radix} reaches {reach:,} ports per tree"


def build(system: SystemSpec, gpus: int | None = None) -> Topology:
    gpus = gpus or system.gpus
    if system.fabric.kind == "dragonfly":
        return _dragonfly(system, gpus)
    return _fat_tree(system, gpus)


@dataclass
class BillOfMaterials:
    topology: Topology
    switches: dict[str, int]
    links: dict[str, int]
    transceivers: int
    nics: int
    switch_power_w: float
    bisection_tb_per_s: float
    sites: list[dict[str, Any]] = field(default_factory=list)  # each site's own bill (systems made of sites)
    wan: dict[str, Any] = field(default_factory=dict)  # the WAN joining them (fabric.sitebom)

    def to_dict(self) -> dict[str, Any]:
        t = self.topology
        extra: dict[str, Any] = {"sites": self.sites, "wan": self.wan} if self.sites else {}
        return extra | {
            "system": t.system,
            "gpus": t.gpus,
            "nodes": t.nodes,
            "kind": t.kind,
            "switch": t.switch,
            "switch_name": switch(t.switch)["name"],
            "radix": t.radix,
            "link_gbps": t.link_gbps,
            "tiers": len([x for x in t.tiers if x.switches]),
            "switches": self.switches,
            "switches_total": sum(self.switches.values()),
            "links": self.links,
            "transceivers": self.transceivers,
            "nics": self.nics,
            "switch_power_kw": self.switch_power_w / 1e3,
            "bisection_tb_per_s": self.bisection_tb_per_s,
            "groups": t.groups,
            "notes": t.notes,
            "switch_source": switch(t.switch)["source"],
        }


def bill_of_materials(system: SystemSpec, gpus: int | None = None) -> BillOfMaterials:
    """Switches per tier, links and optics, NICs, switch power, bisection bandwidth. A system made of sites whose
    job needs more than one of them: each site's own fabric and the WAN (fabric.sitebom)."""
    if len(system.sites) > 1:
        from supercluster.fabric import sitebom

        if len(sitebom.site_gpus(system, gpus or system.gpus)) > 1:
            return sitebom.bill_of_materials(system, gpus or system.gpus)
    topo = build(system, gpus)
    sw = switch(topo.switch)
    switches_by_tier = {t.name: t.switches for t in topo.tiers if t.switches}
    names = ["node-" + topo.tiers[0].name] + [
        f"{a.name}-{b.name}" for a, b in zip(topo.tiers, topo.tiers[1:], strict=False)
    ]
    links = {n: t.links_down for n, t in zip(names, topo.tiers, strict=True)}
    if topo.global_links:
        links["global (between groups)"] = topo.global_links
    # Every switch-to-switch link and every NIC link is optical with a transceiver at each end; a 2x400G
    # twin-port module serves two links on an 800G switch port.
    per_module = max(1, int(sw["port_gbps"] // topo.link_gbps)) if sw["port_gbps"] > topo.link_gbps else 1
    total_links = sum(links.values())
    transceivers = total_links + math.ceil(total_links / per_module)
    return BillOfMaterials(
        topo,
        switches_by_tier,
        links,
        transceivers,
        topo.endpoints,
        topo.switch_count * float(sw["power_w"]),
        topo.bisection_tb_per_s,
    )
