"""scripts/mnnvl_a2a_check.py (issue 15): the model's price for the EP exchange inside one GB200 NVL72 domain."""

import pytest

DSV3_EP32 = "dgxcv2505-gb200-dsv3-bf16-128"
LLAMA4_BF16 = "dgxc250504-gb200-llama4-maverick-bf16-128"
HYBRIDEP_EP32 = "mcore-dsv3-gb200-256-mxfp8-hybridep"


@pytest.fixture(scope="module")
def chk(load_script):
    return load_script("mnnvl_a2a_check")


@pytest.fixture(scope="module")
def rows(chk):
    return {r["id"]: r for r in chk.rows_to_check()}


def test_dsv3_dispatch_by_hand(chk, rows):
    """tp2 + SP, micro-batch 1, 4,096 tokens: 2,048 tokens per rank x 7,168 x 2 bytes x top-8 = 234,881,024 bytes.
    EP 32 inside one NVL72 domain: NCCL ring latency (Simple) 8.4 + 31 x 3.4 = 113.8 us, plus 31/32 x 234.88 MB /
    740 GB/s = 307.5 us: 421.3 us, 557.5 GB/s algorithm bandwidth."""
    d = chk.check(rows[DSV3_EP32])
    assert d["ep_dispatch"] == "per-expert" and d["ep"] == 32 and d["trays"] == 8
    assert d["dispatch_mb_per_rank"] == pytest.approx(234.881024)
    assert d["dispatch_time_ms"] == pytest.approx(0.1138 + 31 / 32 * 234.881024e6 / 740e9 * 1e3, rel=1e-4)
    assert d["algbw_gb_s"] == pytest.approx(557.5, abs=0.5)


def test_break_even_is_a_nic_not_mnnvl(chk, rows):
    """The DeepSeek-V3 row's EP term would have to run at ~48 GB/s (one 400G NIC: "CX-7 NICs at NDR rate (400Gbps)
    should achieve up to 48-49GB/s per NIC", nccl-tests #267), below every published MNNVL rate (lowest: DeepEP's
    combine, ~190 GB/s); the Llama 4 row of the same stack needs more than that lowest rate. The formula by hand:
    algbw x ep_comm_s / (ep_comm_s + step x error / 100)."""
    d = chk.check(rows[DSV3_EP32])
    gap = d["predicted_step_s"] * d["speed_error_pct"] / 100.0
    assert d["break_even_algbw_gb_s"] == pytest.approx(d["algbw_gb_s"] * d["ep_comm_s"] / (d["ep_comm_s"] + gap))
    assert 40.0 < d["break_even_algbw_gb_s"] < 60.0
    assert d["break_even_algbw_gb_s"] < min(chk.PUBLISHED_ALGBW_GB_S.values()) / 3
    # the Llama 4 row needs more than that lowest rate, or reads too slow already (None: no gap a slower
    # all-to-all could close; so since perf.te_permute prices TE 2.1-2.5's permute on this stack)
    llama4 = chk.check(rows[LLAMA4_BF16])["break_even_algbw_gb_s"]
    assert llama4 is None or llama4 > min(chk.PUBLISHED_ALGBW_GB_S.values())


def test_per_destination_price_matches_hybridep_kernel_rate(chk, rows):
    """HybridEP on GB200, 32 ranks, 32 SMs, kernel only (DeepEP hybrid-ep branch, Hybrid-EP_Implementation.md):
    dispatch BF16 642.23, combine 605.15 GB/s; the model's per-destination exchange of the 970 TFLOPS HybridEP row
    (EP 32, one copy per destination rank) runs within 5% of their mean, 623.7."""
    d = chk.check(rows[HYBRIDEP_EP32])
    assert d["ep_dispatch"] == "per-destination" and d["ep"] == 32
    kernel = (
        chk.PUBLISHED_ALGBW_GB_S["hybridep_kernel_dispatch_bf16_32"]
        + chk.PUBLISHED_ALGBW_GB_S["hybridep_kernel_combine_32"]
    ) / 2
    assert d["algbw_gb_s"] == pytest.approx(kernel, rel=0.05)


def test_priced_at_reprices_inside_nvl72_only_and_restores(chk, rows):
    """Inside the block an in-domain all-to-all costs max(latency, bytes / rate): 234.88 MB at 48 GB/s = 4.893 ms; a
    4-GPU group (one tray) keeps the model's price; after the block the model's price is back."""
    from supercluster.fabric.collectives import CollectiveModel, span_of
    from supercluster.validate.harness import measured_estimate

    specs, _ = measured_estimate(rows[DSV3_EP32])
    comm = CollectiveModel(specs.system)
    nbytes = 234.881024e6
    before32 = float(comm.all_to_all(nbytes, span_of(32, 1, comm.domain)))
    before4 = float(comm.all_to_all(nbytes, span_of(4, 1, comm.domain)))
    with chk.priced_at("per-expert", 48.0):
        assert float(comm.all_to_all(nbytes, span_of(32, 1, comm.domain))) == pytest.approx(nbytes / 48e9)
        assert float(comm.all_to_all(nbytes, span_of(4, 1, comm.domain))) == pytest.approx(before4)
    assert float(comm.all_to_all(nbytes, span_of(32, 1, comm.domain))) == pytest.approx(before32)
    assert before32 < nbytes / 48e9 / 10  # the model's own price: 0.421 ms, not 4.9


def test_bad_command_line_is_refused_before_any_work(chk):
    from supercluster.errors import SuperclusterError

    with pytest.raises(SuperclusterError, match=r"unknown option '--bogus'; valid: --whatif and one OUT\.json path"):
        chk.main(["--bogus"])
    with pytest.raises(SuperclusterError, match=r"more than one output path \(a\.json, b\.json\)"):
        chk.main(["a.json", "b.json"])
