"""Blackwell Ultra presets (B300, GB300 generic systems) and the bundled rows that needed them or a fix from their
source (issues 14 and 15): every new number is cited or listed as assumed, and the rows are now predicted."""

from __future__ import annotations

import pytest
from test_beyond_presets import unsourced

from supercluster import catalog
from supercluster.catalog import loader
from supercluster.fabric.topology import switch
from supercluster.validate.harness import predict_row, read_rows
from supercluster.validate.rows import GENERIC_SYSTEM


def test_b300_loads_and_every_number_has_a_source():
    acc = catalog.accelerator("b300")
    assert acc.microscaling and acc.scale_up_domain == 8 and acc.efficiency.source
    assert unsourced(loader.raw("accelerators", "b300"), skip=("efficiency",)) == []


def test_b300_rates_match_the_hgx_b300_figures():
    """Klockwood's HGX B300 table, dense: BF16 2,250, FP8 4,500, FP4 13,125 TFLOP/s. Hand check: 8 x 4.5 PF = 36 PF
    dense FP8 per 8-GPU node, half of DGX B300's "72 petaFLOPS of FP8 training" (a 2:4-sparse figure); the dense BF16
    and FP8 rates equal the B200's, the FP4 rate is 13,125 / 9,000 = 1.46x the B200's."""
    b300, b200 = catalog.accelerator("b300"), catalog.accelerator("b200")
    assert 8 * b300.peak_flops("fp8") * 2 == pytest.approx(72e15)
    assert b300.peak_flops("bf16") == b200.peak_flops("bf16") and b300.peak_flops("fp8") == b200.peak_flops("fp8")
    assert b300.peak_flops("nvfp4") / b200.peak_flops("nvfp4") == pytest.approx(13125 / 9000)
    # 288 GB nominal per GPU (8 x 288 GB = 2.30 TB per node, "Total GPU memory per node 2.30 TB"); 279 GB usable
    # entered, as for GB300
    assert "288 GB" in loader.raw("accelerators", "b300")["sources"]["hbm_gib"]
    assert b300.hbm_gib == catalog.accelerator("gb300").hbm_gib


def test_dgx_b300_node_is_cited():
    node = catalog.node("dgx-b300")
    assert node["gpus"] == 8 and node["nics"] == 8 and node["nic_gbps"] == 800
    assert "14.5 kW" in node["source"] and node["max_power_w"] == 14500


@pytest.mark.parametrize(("gpu", "system"), [("b300", "dgx-b300-superpod"), ("gb300", "gb300-nvl72-cluster")])
def test_blackwell_ultra_gpus_have_a_generic_system_on_an_800g_fabric(gpu, system):
    assert GENERIC_SYSTEM[gpu] == system
    spec = catalog.system(system, gpus=256)
    assert spec.accelerator.id == gpu and loader.raw("systems", system)["generic"]
    # one ConnectX-8 per GPU at 800 Gb/s = 100 GB/s; NCCL keeps 0.94 of the line rate on NDR (47 of 50 GB/s)
    assert spec.fabric.nic_gbps_per_gpu == 800
    assert spec.fabric.nic_busbw_gb_per_s == pytest.approx(0.94 * 800 / 8)
    assert switch(spec.fabric.switch)["port_gbps"] == 800
    assert unsourced(loader.raw("systems", system)) == []


def _rows(prefix: str) -> list[dict[str, str]]:
    return [r for r in read_rows("all")[1] if r["id"].startswith(prefix)]


@pytest.mark.parametrize("prefix", ["mb260401-b300-", "mb2511-gb300-", "mbridge2606-gb300-", "pf25-t4-llama3-8x70b-"])
def test_rows_that_failed_are_now_predicted(prefix):
    rows = _rows(prefix)
    assert rows
    for row in rows:
        res = predict_row(row)
        assert res.status == "ok" and res.predicted and res.predicted > 0, (row["id"], res.reason)


def test_dsazure_rows_take_the_recipes_global_batch():
    """The DeepSpeed Azure benchmark recipe runs one micro-batch per GPU per step (gradient_accumulation_steps 1):
    global batch = micro-batch x GPUs, e.g. 32 x 256 = 8,192 sequences for the 175B row."""
    rows = _rows("dsazure22-")
    assert len(rows) == 3
    for row in rows:
        assert int(row["global_batch"]) == int(row["micro_batch"]) * int(row["gpus"])
        assert predict_row(row).status == "ok"


def test_megascale_row_stays_unpredictable_with_its_reason():
    (row,) = _rows("megascale24-175b-12288")
    res = predict_row(row)
    assert res.status == "failed" and "flops_convention" in res.reason
    assert "kept unpredictable" in row["notes"]
