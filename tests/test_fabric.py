"""The fabric: topologies, bill of materials, placement and NCCL-style collectives against measured figures."""

import json
import subprocess
import sys

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.fabric.placement import placement
from supercluster.fabric.topology import bill_of_materials
from supercluster.plan import resolve
from supercluster.units import GB

# NVIDIA DGX SuperPOD reference architecture, 32-node scalable units (hardware_facts.md 2a)
SUPERPOD = {
    2: (16, 8, 0, 512, 512, 0),
    4: (32, 16, 0, 1024, 1024, 0),
    8: (64, 32, 0, 2048, 2048, 0),
    16: (128, 128, 64, 4096, 4096, 4096),
    32: (256, 256, 128, 8192, 8192, 8192),
    64: (512, 512, 256, 16384, 16384, 16384),
}


@pytest.mark.parametrize("sus", sorted(SUPERPOD))
def test_superpod_sizing_is_reproduced_exactly(sus):
    bom = bill_of_materials(catalog.system("dgx-h100-superpod", gpus=sus * 256)).to_dict()
    leaf, spine, core, node_leaf, leaf_spine, spine_core = SUPERPOD[sus]
    assert bom["switches"].get("leaf") == leaf
    assert bom["switches"].get("spine") == spine
    assert bom["switches"].get("core", 0) == core
    assert bom["links"]["node-leaf"] == node_leaf
    assert bom["links"]["leaf-spine"] == leaf_spine
    assert bom["links"].get("spine-core", 0) == spine_core


def test_colossus_bill_of_materials_has_three_tiers_and_sources():
    bom = bill_of_materials(catalog.system("colossus-100k")).to_dict()
    assert bom["tiers"] == 3  # NVIDIA: "across all three tiers of the network fabric"
    assert bom["nics"] == 12_500 * 9  # one 400GbE per GPU plus one per server
    assert bom["switch_source"] and bom["transceivers"] > bom["nics"]
    assert bom["bisection_tb_per_s"] == pytest.approx(bom["nics"] / 2 * 400 / 8 / 1000)


def test_frontier_dragonfly_groups():
    bom = bill_of_materials(catalog.system("frontier")).to_dict()
    assert bom["groups"] == 74 and bom["switches_total"] == 74 * 32  # 74 cabinets of 32 Rosetta switches


def _busbw(t, nbytes, n):
    return 2 * (n - 1) / n * nbytes / t / GB


def test_eight_h100_all_reduce_ring_and_nvls():
    c = CollectiveModel(catalog.system("dgx-h100-superpod", gpus=8))
    s, size = span_of(8, 1, 8), 8 * GB
    algos = c.algorithms("all_reduce", size, s)
    assert _busbw(float(algos["ring/Simple"]), size, 8) == pytest.approx(370, rel=0.10)
    assert _busbw(float(algos["nvls/Simple"]), size, 8) == pytest.approx(480, rel=0.10)
    assert c.choose("all_reduce", size, s)[0] == "nvls/Simple"  # the tuner prefers NVLS, as NCCL does


def test_one_400g_nic_delivers_46_to_49_gb_per_s():
    c = CollectiveModel(catalog.system("dgx-h100-superpod", gpus=16))
    size = 4 * GB
    ring = float(c.algorithms("all_reduce", size, span_of(2, 8, 8))["ring/Simple"])  # NCCL_ALGO=RING on the NICs
    assert 46 <= _busbw(ring, size, 2) <= 49


def test_small_message_latency_floor_is_nccls_order():
    # ~46-47 us for 4 B-1 KB all-reduce on 2 nodes x 8 GPUs (NVIDIA/nccl #1244)
    c = CollectiveModel(catalog.system("dgx-h100-superpod", gpus=16))
    _, t = c.choose("all_reduce", 8, span_of(16, 1, 8))
    assert 10e-6 < t < 100e-6


def test_oversubscription_slows_groups_that_leave_the_pod():
    fast = CollectiveModel(catalog.system("frontier"))
    s_in, s_out = span_of(64, 4, 4), span_of(256, 4, 4)  # 256 and 1,024 GPUs; Slingshot group = 512
    size = 1 * GB
    per_byte_in = float(fast.algorithms("all_gather", size, s_in)["ring/Simple"]) / size
    per_byte_out = float(fast.algorithms("all_gather", size, s_out)["ring/Simple"]) / size
    assert per_byte_out > 1.5 * per_byte_in


def test_placement_of_the_llama3_layout():
    scn = catalog.load("llama3-405b-16k")
    est = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus)
    groups = {g["axis"]: g for g in placement(scn.system, est.plan)}
    assert groups["tp"]["tier"] == "scale-up (NVLink)"
    assert groups["dp"]["size"] == 128 and groups["dp"]["gpus_per_domain"] == 1
    assert groups["pp"]["tier"] in ("spine", "core")


def test_fabric_and_collective_cli():
    cli = [sys.executable, "-m", "supercluster.cli"]
    f = json.loads(
        subprocess.run(
            [*cli, "fabric", "--system", "colossus-100k", "--json"], capture_output=True, text=True, timeout=60
        ).stdout
    )
    assert f["bom"]["switches_total"] > 1000
    c = json.loads(
        subprocess.run(
            [
                *cli,
                "collective",
                "--system",
                "dgx-h100-superpod",
                "--op",
                "all_reduce",
                "--bytes",
                "1e9",
                "--gpus",
                "8",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    assert c["algorithm"].startswith("nvls") and 400 < c["busbw_gb_per_s"] < 500
    bad = subprocess.run([*cli, "collective", "--op", "gossip"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "valid:" in bad.stderr


def test_past_one_trees_reach_the_rails_split_into_groups():
    # radix-64 Quantum-2: one 3-tier tree reaches 64^3/4 = 65,536 ports; 98,304 GPUs need two rail groups,
    # each a tree of 49,152 ports (1,536 leaves + 1,536 spines + 768 cores), so the total doubles that
    system = catalog.system("dgx-b200-superpod")
    one_group = bill_of_materials(system, 49_152)
    two_groups = bill_of_materials(system, 98_304)
    assert one_group.switches == {"leaf": 1536, "spine": 1536, "core": 768}
    assert two_groups.switches == {k: 2 * v for k, v in one_group.switches.items()}
    assert any("2 rail groups" in n for n in two_groups.topology.notes)
    with pytest.raises(SuperclusterError, match="rail groups"):
        bill_of_materials(system, 8 * 65_536 + 8)
