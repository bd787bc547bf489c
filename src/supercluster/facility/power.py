"""Cluster power: GPU nodes, network switches, storage, coolant pumps; IT load to facility load via PUE.

Node draw is the node's rated maximum times a measured fraction (training: 0.76, Newkirk et al.
arXiv:2506.14551; HPL and idle fractions are assumptions). Switches and their power come from the
fabric's bill of materials (supercluster.fabric.topology).
Facility load = IT load x PUE (The Green Grid, "PUE: a comprehensive examination of the metric", 2012).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from supercluster import catalog
from supercluster.fabric.topology import bill_of_materials
from supercluster.specs import SystemSpec
from supercluster.specs.facility import FacilityAssumptions

Mode = Literal["training", "idle", "hpl"]


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
    bom = bill_of_materials(system, gpus)
    switches, tiers = bom.topology.switch_count, len([t for t in bom.topology.tiers if t.switches])
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
        network_w=bom.switch_power_w,
        storage_w=compute * pa.storage_fraction,
        cooling_pumps_w=pumps,
        pue=pue_of(system, fa),
    )
