"""The catalog: every preset loads, carries sources, and matches published totals."""

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError, UnknownPresetError

REQUIRED_ACCELERATORS = [
    "a100-sxm-40gb",
    "a100-sxm-80gb",
    "h100-sxm-80gb",
    "h100-pcie-80gb",
    "h800-sxm-80gb",
    "h200-sxm-141gb",
    "b200",
    "gb200",
    "mi250x",
    "mi300x",
    "max-1550",
]
REQUIRED_SYSTEMS = [
    "colossus-100k",
    "colossus-200k",
    "colossus-first-racks",
    "eagle",
    "frontier",
    "aurora",
    "el-capitan",
    "dgx-h100-superpod",
    "dgx-a100-superpod",
    "dgx-b200-superpod",
    "gb200-nvl72-cluster",
]


def test_required_presets_exist():
    assert set(REQUIRED_ACCELERATORS) <= set(catalog.names("accelerators"))
    assert set(REQUIRED_SYSTEMS) <= set(catalog.names("systems"))
    assert {"colossus-grok", "llama3-405b-16k"} <= set(catalog.scenario_names())


@pytest.mark.parametrize("name", REQUIRED_ACCELERATORS)
def test_accelerators_cite_sources(name):
    acc = catalog.accelerator(name)
    assert acc.sources.get("peak_tflops"), name
    assert acc.efficiency.source
    assert acc.peak_tflops["bf16"] > 0 and acc.hbm_gib > 0 and acc.tdp_w > 0


def test_h100_datasheet_numbers():
    acc = catalog.accelerator("h100-sxm-80gb")
    assert acc.peak_tflops["bf16"] == pytest.approx(989.4)
    assert acc.peak_tflops["fp8"] == pytest.approx(1978.9)
    assert acc.scale_up_gb_per_s == 450 and acc.tdp_w == 700


def test_every_validation_model_has_a_preset():
    import csv

    from supercluster.validate.harness import bundled_csv

    with bundled_csv().open() as fh:
        names = {row["model"] for row in csv.DictReader(fh)}
    assert names <= set(catalog.names("models"))


@pytest.mark.parametrize("name", catalog.names("models"))
def test_parameter_counts_match_published_totals(name):
    m = catalog.model(name)
    assert m.source
    if m.published_params:
        # headline totals are rounded ("1T" for 1.008T); 3% covers the rounding
        assert m.total_params == pytest.approx(m.published_params, rel=0.03)


def test_gpt3_and_llama3_405b_exact():
    assert catalog.model("gpt3-175b").total_params / 1e9 == pytest.approx(174.6, abs=0.2)
    assert catalog.model("llama3-405b").total_params / 1e9 == pytest.approx(405.8, abs=0.2)


def test_grok1_is_a_moe_with_a_quarter_active():
    g = catalog.model("grok-1")
    assert g.moe_experts == 8 and g.moe_topk == 2
    assert g.total_params == pytest.approx(314e9, rel=0.01)
    assert 0.2 < g.active_params / g.total_params < 0.3


def test_unknown_preset_lists_valid_names():
    with pytest.raises(UnknownPresetError, match=r"valid: .*h100-sxm-80gb"):
        catalog.accelerator("h1000")


def test_named_machine_cannot_grow():
    with pytest.raises(SuperclusterError, match="has 14400 GPUs"):
        catalog.system("eagle", gpus=20000)
    assert catalog.system("dgx-h100-superpod", gpus=200000).gpus == 200000


def test_colossus_facts():
    c = catalog.system("colossus-100k")
    assert c.gpus == 100_000 and c.accelerator.id == "h100-sxm-80gb"
    assert c.fabric.nic_gbps_per_gpu == 400
    big = catalog.system("colossus-200k")
    assert big.gpus == 200_000 and big.other_partitions[0].gpus == 50_000  # of which H200
