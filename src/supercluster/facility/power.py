"""Cluster power: GPU nodes, network switches, storage, coolant pumps; IT load to facility load via PUE.

Node draw is the node's rated maximum times a measured fraction (training: 0.76, Newkirk et al.
arXiv:2506.14551; HPL and idle fractions are assumptions). Switches are counted with a first-order
folded-Clos sizing until the fabric model provides its bill of materials: a non-blocking tree of
radix-k switches serves k/2 ports per leaf; two tiers reach k^2/2 ports, three tiers k^3/4
(Al-Fares et al., "A Scalable, Commodity Data Center Network Architecture", SIGCOMM 2008, section 2.3).
Facility load = IT load x PUE (The Green Grid, "PUE: a comprehensive examination of the metric", 2012).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from supercluster import catalog
from supercluster.specs import SystemSpec
from supercluster.specs.facility import FacilityAssumptions

Mode = Literal["training", "idle", "hpl"]


def clos_switches(ports: int, radix: int) -> tuple[int, int]:
    """(switches, tiers) of a non-blocking folded Clos serving ``ports`` end-point ports."""
    half = radix // 2
    if ports <= radix:
        return 1, 1
    if ports <= radix * radix // 2:
        leaves = math.ceil(ports / half)
        return leaves + math.ceil(leaves / 2), 2
    leaves = math.ceil(ports / half)
    return leaves + leaves + math.ceil(ports / radix), 3


@dataclass(frozen=True)
class PowerBreakdown:
    mode: str
    gpus: int
    nodes: int
    racks: int
    switches: int
    switch_tiers: int
    node_w: float
    compute_w: float
    network_w: float
    storage_w: float
    cooling_pumps_w: float
    pue: float

    @property
    def it_w(self) -> float:
        return self.compute_w + self.network_w + self.storage_w + self.cooling_pumps_w

    @property
    def facility_w(self) -> float:
        return self.it_w * self.pue

    @property
    def per_gpu_w(self) -> float:
        return self.facility_w / self.gpus

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(it_mw=self.it_w / 1e6, facility_mw=self.facility_w / 1e6, per_gpu_w=self.per_gpu_w)
        return d


def node_max_w(system: SystemSpec) -> float:
    if system.node:
        return float(catalog.node(system.node)["max_power_w"])
    # no node preset: GPUs at TDP times the H100 chip-to-server ratio 1.82 (Epoch energy.py [S])
    return system.accelerator.tdp_w * system.gpus_per_node * 1.82


def nics_per_node(system: SystemSpec) -> int:
    if system.node:
        return int(catalog.node(system.node).get("nics", system.gpus_per_node))
    return system.gpus_per_node


def pue_of(system: SystemSpec, fa: FacilityAssumptions) -> float:
    if fa.pue is not None:
        return fa.pue
    return system.facility.pue


def cluster_power(system: SystemSpec, gpus: int, fa: FacilityAssumptions, mode: Mode = "training") -> PowerBreakdown:
    pa = fa.power
    fraction = {"training": pa.training_node_fraction, "idle": pa.idle_node_fraction, "hpl": pa.hpl_node_fraction}[mode]
    nodes = -(-gpus // system.gpus_per_node)
    node_w = node_max_w(system) * fraction
    compute = nodes * node_w
    switches, tiers = clos_switches(nodes * nics_per_node(system), pa.switch_radix)
    racks = -(-gpus // pa.gpus_per_rack)
    pumps = racks * pa.cdu_w_per_rack if system.facility.cooling == "liquid" else 0.0
    return PowerBreakdown(
        mode=mode,
        gpus=gpus,
        nodes=nodes,
        racks=racks,
        switches=switches,
        switch_tiers=tiers,
        node_w=node_w,
        compute_w=compute,
        network_w=switches * pa.switch_w,
        storage_w=compute * pa.storage_fraction,
        cooling_pumps_w=pumps,
        pue=pue_of(system, fa),
    )
