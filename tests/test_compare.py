"""compare: plausible layouts, power per GPU against the spec sheets, and time to result with delivery dates."""

import json
from datetime import date

import pytest
from clirun import check_contract, invoke, ok

from supercluster import api, catalog
from supercluster.errors import SuperclusterError
from supercluster.facility import delivery
from supercluster.facility.compare import DEFAULT_SYSTEMS, compare
from supercluster.facility.power import cluster_power, node_max_w
from supercluster.plan.plausible import MAX_STAGE_IMBALANCE, plausible_gpu_counts, plausible_pp, stage_imbalance

# ---- time to result: hand arithmetic ------------------------------------------------------------------------------


def _entry(system, accelerator, available, train_days, bring_up_days=0.0):
    return delivery.Entry(system, accelerator, available, "given", bring_up_days, "given", train_days)


def test_time_to_result_by_hand():
    # H100 available 2024-07-01, 100 days of training: 2024-07-01 + 100 days = 2024-10-09
    # (July 30 remaining + Aug 31 + Sep 30 = 91 days to Sep 30, + 9 = Oct 9).
    # B200 available 2025-03-01, 40 days: 2025-03-01 + 40 days = 2025-04-10 (March 31 + 9).
    # Start = the earliest availability, 2024-07-01; B200 waits Jul 31 + Aug 31 + Sep 30 + Oct 31 + Nov 30 + Dec 31
    # + Jan 31 + Feb 28 = 243 days, so it finishes 243 + 40 = 283 days after the start against H100's 100:
    # H100 wins by 183 days. B200 would tie had it been available 100 - 40 = 60 days after the start, 2024-08-30;
    # H100 would still win if available as late as 283 - 100 = 183 days after the start, 2024-12-31.
    t = delivery.time_to_result(
        [
            _entry("dgx-h100-superpod", "h100-sxm-80gb", date(2024, 7, 1), 100.0),
            _entry("dgx-b200-superpod", "b200", date(2025, 3, 1), 40.0),
        ]
    )
    h100, b200 = t.rows
    assert t.start == date(2024, 7, 1) and t.start_from == "earliest availability"
    assert h100.finish == date(2024, 10, 9) and b200.finish == date(2025, 4, 10)
    assert b200.wait_days == 243 and b200.result_days == 283
    assert t.winner.system == "dgx-h100-superpod" and t.margin_days == pytest.approx(183)
    assert t.fastest.system == "dgx-b200-superpod"
    assert b200.win_if_available_by == date(2024, 8, 30)
    assert h100.win_if_available_by == date(2024, 12, 31)
    assert "2024-08-30" in t.verdict() and "183.0 days ahead" in t.verdict()
    d = t.to_dict()
    assert d["winner_finish"] == "2024-10-09" and d["fastest_break_even"] == "2024-08-30"


def test_bring_up_and_a_later_start_by_hand():
    # the same with 19 days of bring-up each: both finishes move 19 days (2024-10-28, 2025-04-29), the margin stays
    t = delivery.time_to_result(
        [
            _entry("h", "h100-sxm-80gb", date(2024, 7, 1), 100.0, 19.0),
            _entry("b", "b200", date(2025, 3, 1), 40.0, 19.0),
        ]
    )
    assert [r.finish for r in t.rows] == [date(2024, 10, 28), date(2025, 4, 29)]
    assert t.margin_days == pytest.approx(183)
    # from 2024-09-01 the H100 is already there (no wait): 2024-09-01 + 100 = 2024-12-10; B200 waits Sep 30 + Oct 31
    # + Nov 30 + Dec 31 + Jan 31 + Feb 28 = 181 days, 181 + 40 = 221 days: 2025-04-10 again; margin 121 days
    t = delivery.time_to_result(
        [_entry("h", "h100-sxm-80gb", date(2024, 7, 1), 100.0), _entry("b", "b200", date(2025, 3, 1), 40.0)],
        start=date(2024, 9, 1),
    )
    assert t.start_from == "given"
    assert [r.finish for r in t.rows] == [date(2024, 12, 10), date(2025, 4, 10)]
    assert t.margin_days == pytest.approx(121)
    # the B200 cannot have been there before the start: 100 - 40 = 60 days after 2024-09-01 is 2024-10-31
    assert t.rows[1].win_if_available_by == date(2024, 10, 31)


def test_a_system_that_cannot_win_from_the_start():
    # both there on 2024-01-01, 100 days against 50: the slower one would need to be available 50 - 100 < 0 days
    # after the start (it cannot win); the faster one wins while available by 100 - 50 = 50 days after the start,
    # 2024-01-01 + 50 days = 2024-02-20 (31 days of January, then 19)
    t = delivery.time_to_result(
        [_entry("slow", "h100-sxm-80gb", date(2024, 1, 1), 100.0), _entry("fast", "b200", date(2024, 1, 1), 50.0)]
    )
    assert t.rows[0].win_if_available_by is None
    assert t.winner.system == "fast" and t.rows[1].win_if_available_by == date(2024, 2, 20)
    assert "as late as 2024-02-20" in t.verdict()


# ---- parsing the dates and keys ----------------------------------------------------------------------------------


def test_dates_and_keys_parse_and_refuse():
    assert delivery.parse_available("h100=2024-07, b200=2025-03-15") == {
        "h100": date(2024, 7, 1),
        "b200": date(2025, 3, 15),
    }
    assert delivery.parse_available("catalog") == {}
    assert delivery.parse_bring_up("30") == {"*": 30.0}
    assert delivery.parse_bring_up("h100=19,gb200=60") == {"h100": 19.0, "gb200": 60.0}
    for bad, needle in [
        ("h100=2024-13", "not a calendar date"),
        ("h100=24-07", "YYYY-MM"),
        ("h100=1999-01", "outside 2000-2100"),
        ("h100", "key=value"),
        ("h100=2024-07,h100=2024-08", "given twice"),
        (",", "empty"),
    ]:
        with pytest.raises(SuperclusterError, match=needle):
            delivery.parse_available(bad)
    for bad in ("-1", "nan", "1e9", "x", "h100=-3"):
        with pytest.raises(SuperclusterError, match="--bring-up-days"):
            delivery.parse_bring_up(bad)


def test_keys_name_systems_or_accelerators():
    assert delivery.matches("h100", "dgx-h100-superpod", "h100-sxm-80gb")
    assert not delivery.matches("h100", "h200-cluster", "h200-sxm-141gb")
    # "b200" is a substring of "gb200" but names only the B200
    assert delivery.matches("b200", "dgx-b200-superpod", "b200")
    assert not delivery.matches("b200", "gb200-nvl72-cluster", "gb200")
    assert delivery.matches("gb200-nvl72-cluster", "gb200-nvl72-cluster", "gb200")
    rows = [("dgx-h100-superpod", "h100-sxm-80gb", 100.0), ("gb200-nvl72-cluster", "gb200", 30.0)]
    with pytest.raises(SuperclusterError, match=r"'mi300' names none of the compared systems; valid: .*h100"):
        delivery.entries_for(rows, {"mi300": date(2024, 1, 1)})
    entries, filled = delivery.entries_for(rows, {"h100": date(2024, 7, 1)}, {"gb200": 60.0})
    assert entries[0].available == date(2024, 7, 1) and entries[0].available_from == "given (h100)"
    assert entries[1].available_from == "catalog" and entries[1].bring_up_days == 60.0
    assert entries[0].bring_up_days == delivery.catalog_bring_up()["days"] == 19.0
    assert [f["what"] for f in filled] == ["gb200-nvl72-cluster available", "bring-up"]
    assert all(f["source"] for f in filled)


def test_catalog_dates_are_cited_and_in_release_order():
    dates = {}
    for name in DEFAULT_SYSTEMS:
        acc = catalog.system(name).accelerator.id
        entry = delivery.catalog_availability(acc)
        assert entry is not None and "http" in entry["source"], acc
        assert 0 < entry["uncertainty_months"] <= 6
        dates[acc] = entry["available"]
    assert dates["h100-sxm-80gb"] < dates["h200-sxm-141gb"] < dates["b200"] <= dates["gb200"]
    assert "19 days" in delivery.catalog_bring_up()["source"]


# ---- plausible layouts -------------------------------------------------------------------------------------------


def test_stage_imbalance_against_published_splits():
    # Llama 3 405B: 126 layers on 16 stages, 8 x 16 / 126 - 1 = 1.6%; DeepSeek-V3: 61 on 16, 4 x 16 / 61 - 1 = 4.9%
    assert stage_imbalance(126, 16) == pytest.approx(8 * 16 / 126 - 1)
    assert stage_imbalance(61, 16) == pytest.approx(4 * 16 / 61 - 1)
    assert plausible_pp(126, 16) and plausible_pp(61, 16) and plausible_pp(126, 8, vpp=8)
    # the issue's pp 91 for 126 layers: 2 x 91 / 126 - 1 = 44% of the slots idle; grok-1's 64 layers on 27: 27%
    assert stage_imbalance(126, 91) == pytest.approx(2 * 91 / 126 - 1)
    assert not plausible_pp(126, 91) and not plausible_pp(64, 27)
    assert not plausible_pp(32, 64) and stage_imbalance(64, 8) == 0.0
    assert MAX_STAGE_IMBALANCE == 0.10


def test_plausible_gpu_counts_by_hand():
    # llama3-8b: 32 layers, tp in {1, 2, 4, 8} (8 KV heads), cp in {1, 2, 4, 8} (8,192 tokens, >= 1,024 per rank),
    # dp a divisor of 64 (powers of two). Plausible pp for 32 layers (ceil(32/p) * p / 32 <= 1.1): 1, 2, 3 (33),
    # 4, 5 (35), 7 (35), 8, 11 (33), 16, 17 (34), 32; so a count is 2^a times 1, 3, 5, 7, 11 or 17.
    # Below 100: 96 = 3 x 32; 99 = 9 x 11, 98 = 2 x 49, 97, 100 = 4 x 25 are not; then 88 = 8 x 11, 80 = 16 x 5.
    scn = api.build_scenario(model="llama3-8b", system="dgx-h100-superpod", gpus=64, global_batch=64, seq_len=8192)
    assert plausible_gpu_counts(scn.workload, scn.system, 100, 3) == [96, 88, 80]


@pytest.fixture(scope="module")
def llama405_power():
    return api.compare("llama3-405b-16k", equal="power")


def test_equal_power_offers_only_plausible_layouts(llama405_power):
    d = llama405_power
    assert {v["system"] for v in d["variants"]} == set(DEFAULT_SYSTEMS)
    for v in d["variants"]:
        assert v["pp"] * v["vpp"] <= v["layers"] == 126
        assert v["stage_imbalance"] <= MAX_STAGE_IMBALANCE + 1e-9, v
        assert v["stage_layers_max"] - v["stage_layers_min"] <= 2, v
        # within the reference job's power at the meter (16,384 GPUs of a DGX H100 SuperPOD)
        assert v["facility_mw"] <= d["reference"]["facility_mw"] + 1e-9, v
    by = {v["accelerator"]: v for v in d["variants"]}
    # a 1,000 W B200 draws more per GPU than a 700 W H100, so fewer of them fit in the same power
    assert by["b200"]["gpus"] < by["h100-sxm-80gb"]["gpus"]
    assert by["b200"]["time_to_train_days"] < by["h100-sxm-80gb"]["time_to_train_days"]


# ---- power per GPU against the published node power ---------------------------------------------------------------

# Published maxima per GPU (hand arithmetic from the spec sheets cited in catalog/data/nodes.yaml):
# DGX H100 / H200 10.2 kW / 8 = 1,275 W; DGX B200 14.3 kW / 8 = 1,787.5 W; GB200 NVL72 120 kW / 72 = 1,666.7 W.
PUBLISHED_W_PER_GPU = {
    "dgx-h100-superpod": 10_200 / 8,
    "h200-cluster": 10_200 / 8,
    "dgx-b200-superpod": 14_300 / 8,
    "gb200-nvl72-cluster": 120_000 / 72,
}


@pytest.mark.parametrize("name", list(PUBLISHED_W_PER_GPU))
def test_power_per_gpu_matches_the_spec_sheet(name):
    """Tolerance: during training the cluster's IT load per GPU lies between the node's measured training draw (76%
    of its rating, Newkirk et al. arXiv:2506.14551) and the node's full rating (network, storage and pumps
    included): a node power that leaves out part of the rack (the GB200 tray without its switch trays) falls below."""
    system = catalog.system(name, gpus=8192)
    published = PUBLISHED_W_PER_GPU[name]
    assert node_max_w(system) / system.gpus_per_node == pytest.approx(published, rel=1e-3)
    fa = catalog.loader.facility()
    p = cluster_power(system, 8192, fa)
    it_per_gpu = p.it_w / 8192
    assert fa.power.training_node_fraction * published <= it_per_gpu <= published, (it_per_gpu, published)
    assert p.per_gpu_w == pytest.approx(it_per_gpu * p.pue)


def test_blackwell_draws_more_per_gpu_than_hopper_at_the_meter():
    fa = catalog.loader.facility()
    per_gpu = {n: cluster_power(catalog.system(n, gpus=8192), 8192, fa).per_gpu_w for n in PUBLISHED_W_PER_GPU}
    assert per_gpu["gb200-nvl72-cluster"] > per_gpu["dgx-h100-superpod"] == per_gpu["h200-cluster"]
    assert per_gpu["dgx-b200-superpod"] > per_gpu["dgx-h100-superpod"]


# ---- the command ------------------------------------------------------------------------------------------------

SMALL = [
    "--model",
    "llama3-8b",
    "--system",
    "dgx-h100-superpod",
    "--gpus",
    "64",
    "--global-batch",
    "64",
    "--seq-len",
    "8192",
    "--train-tokens",
    "1e11",
    "--systems",
    "dgx-h100-superpod,dgx-b200-superpod",
]


def test_compare_without_a_scenario_and_its_time_to_result():
    r = ok("compare", *SMALL, "--available", "h100=2024-07,b200=2025-03", "--bring-up-days", "0", "--json")
    d = json.loads(r.out)
    assert d["model"] == "llama3-8b" and d["reference"] == {
        "system": "dgx-h100-superpod",
        "gpus": 64,
        "facility_mw": pytest.approx(d["reference"]["facility_mw"]),
    }
    assert [v["gpus"] for v in d["variants"]] == [64, 64]
    t = d["time_to_result"]
    h100, b200 = t["rows"]
    assert t["start"] == "2024-07-01" and h100["available_from"] == "given (h100)"
    # finish = available + training days (no bring-up); B200 waits 243 days from the start
    assert h100["result_days"] == pytest.approx(h100["train_days"])
    assert b200["result_days"] == pytest.approx(243 + b200["train_days"])
    assert t["winner"] == "dgx-h100-superpod" and t["margin_days"] == pytest.approx(
        243 + b200["train_days"] - h100["train_days"]
    )
    assert t["assumptions"] == []  # every date and bring-up was given


def test_compare_table_fits_80_columns_and_no_color_is_plain(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = ok("compare", *SMALL, "--available", "h100=2024-07", "--no-color")
    assert max(len(line) for line in r.out.splitlines()) <= 80
    assert "\x1b" not in r.out
    assert "time to result" in r.out and "filled in or assumed" in r.out  # the B200's date came from the catalog
    assert "dgx-b200-superpod available" in r.out and "bring-up" in r.out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--available", "h100=2024-13"], "not a calendar date"),
        (["--available", "mi300=2024-01"], "names none of the compared systems"),
        (["--start", "2024-01"], "need --available"),
        (["--available", "catalog", "--bring-up-days", "-5"], "--bring-up-days"),
        (["--equal", "watts"], "--equal must be"),
    ],
)
def test_bad_compare_input_is_one_line(args, needle):
    r = invoke("compare", *SMALL, *args)
    check_contract(r)
    assert r.code == 2 and needle in r.err


def test_compare_needs_the_run_tokens():
    with pytest.raises(SuperclusterError, match="--train-tokens"):
        compare(api.build_scenario(model="llama3-8b", system="dgx-h100-superpod", gpus=64))


def test_readme_compare_example_matches_the_code(llama405_power):
    """The README's compare example (llama3-405b, 16,384 H100 as the power budget, H100 vs B200) is the
    llama3-405b-16k scenario's job: its printed figures must be what the code computes."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    by = {v["system"]: v for v in llama405_power["variants"]}
    rows = [(n, by[n]["accelerator"], by[n]["time_to_train_days"]) for n in ("dgx-h100-superpod", "dgx-b200-superpod")]
    entries, _ = delivery.entries_for(rows, delivery.parse_available("h100=2024-07,b200=2025-03"))
    t = delivery.time_to_result(entries)
    h100, b200 = t.rows
    for text in (
        f"{by['dgx-h100-superpod']['gpus']:,}",
        f"{by['dgx-b200-superpod']['gpus']:,}",
        f"2024-07-01 + 19 + {h100.train_days:.1f} days = {h100.finish.isoformat()}",
        f"2025-03-01 + 19 + {b200.train_days:.1f} days = {b200.finish.isoformat()}",
        f"{t.margin_days:.1f} days ahead",
        f"available by {b200.win_if_available_by.isoformat()}",
        f"{by['dgx-b200-superpod']['facility_w_per_gpu']:,.0f}",
    ):
        assert text in readme, text
