"""scripts/fp8_recipe_table.py: the Megatron-Bridge 8-bit MoE rows by recipe, card, container and local experts, and
their same-card, same-layout pairs (issue 15)."""

import pytest

from supercluster.validate.harness import read_rows


@pytest.fixture(scope="module")
def ft(load_script):
    return load_script("fp8_recipe_table")


@pytest.fixture(scope="module")
def rows():
    return read_rows("all")[1]


def test_container_is_read_from_the_table_title(ft) -> None:
    src = "NVIDIA-NeMo/Megatron-Bridge docs/performance-summary , 26.04.01 NeMo container, DeepSeekV3 on DGX-B200"
    assert ft.container({"source": src}) == "26.04.01"
    assert ft.container({"source": "NVIDIA-NeMo/Megatron-Bridge docs/performance-summary , 25.11 NeMo container"}) == (
        "25.11"
    )
    assert ft.container({"source": "Narayanan et al. 2021 Table 1"}) == ""


def test_lines_name_recipe_dispatch_and_local_experts(ft, rows) -> None:
    lines = {m.id: m for m in ft.moe_lines(rows)}
    # Qwen3-30B-A3B on 8 B200s, ep 8: 128 / 8 = 16 local experts; the 25.09 table runs drop-and-pad, FP8-CS
    m = lines["mb2509-b200-qwen3-30b-a3b-8-fp8"]
    assert (m.recipe, m.dispatch, m.local_experts, m.container) == ("fp8-cs", "drop-pad", 16.0, "25.09")
    # DeepSeek-V3 on 256 GB200s, ep 64: 256 / 64 = 4 local experts, MXFP8 over the flex dispatcher
    m = lines["mb260401-gb200-deepseek-v3-256-mxfp8"]
    assert (m.recipe, m.dispatch, m.local_experts) == ("mxfp8", "per-destination", 4.0)
    # no BF16 row and no dense row among them
    assert all(m.recipe in ("fp8-cs", "mxfp8") for m in lines.values())
    assert not any("llama" in i for i in lines)


def test_gap_per_expert_is_the_step_gap_over_experts_layers_and_micro_batches(ft, rows) -> None:
    from supercluster.validate.harness import measured_estimate

    row = next(r for r in rows if r["id"] == "mb2509-b200-qwen3-30b-a3b-8-fp8")
    m = ft.moe_line(row)
    _, est = measured_estimate(row)
    # 48 MoE layers on one stage (pp 1), 512 / (1 x 8) = 64 micro-batches, 16 local experts
    assert est.microbatches == 64 and max(est.stage_layers) == 48
    gap_s = est.step_time_s * m.speed_error_pct / 100.0
    assert m.gap_per_expert_us == pytest.approx(gap_s / (64 * 48 * 16) * 1e6)


def test_pairs_hold_recipe_and_container_pairs_by_hand(ft, rows) -> None:
    got = {(p.first_id, p.second_id): p for p in (ft.pair_ratio(*t) for t in ft.pairs(rows)) if p is not None}
    # same 25.11 table, Llama 3 8B on 8 B200s: MXFP8 29,521 over FP8-CS 30,624 tokens/s/GPU
    p = got["mbridge2511-b200-llama3-8b-fp8cs", "mbridge2511-b200-llama3-8b-fp8mx"]
    assert p.kind == "recipe"
    assert p.measured_ratio == pytest.approx(29521 / 30624)
    # GB200 Qwen3-30B-A3B MXFP8, same layout and stack: 26.04.01's 26,112 over 25.11's 23,766
    p = got["mb2511-gb200-qwen3-30b-a3b-8-mxfp8", "mb260401-gb200-qwen3-30b-a3b-8-mxfp8"]
    assert p.kind == "container"
    assert p.measured_ratio == pytest.approx(26112 / 23766)
    assert p.ratio_error_pct == pytest.approx((p.model_ratio / p.measured_ratio - 1.0) * 100.0)
    # every pair shares card and layout, and a recipe pair shares its table
    for first, second, kind in ft.pairs(rows):
        assert ft._layout(first) == ft._layout(second)
        assert (kind == "recipe") == (first["source"] == second["source"])


def test_summary_groups_by_recipe(ft) -> None:
    line = ft.MoeLine("x", "25.09", "b200", "qwen3-30b-a3b", "fp8-cs", "drop-pad", 16.0, 1, 20.0, 50.0)
    other = ft.MoeLine("y", "25.11", "b200", "qwen3-30b-a3b", "mxfp8", "per-expert", 16.0, 1, -10.0, -40.0)
    s = ft.summary([line, other])
    assert s["fp8-cs b200"] == {"rows": 1, "mape_pct": 20.0, "signed_pct": 20.0}
    assert s["mxfp8 16 local experts"] == {"rows": 1, "mape_pct": 10.0, "signed_pct": -10.0}
    assert s["mxfp8 container 25.11"]["rows"] == 1
