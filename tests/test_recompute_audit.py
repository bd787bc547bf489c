"""The recipe audit of the Megatron-Bridge MoE rows' recompute (validate/data/moe_runs.csv notes, recompute cells and
validate/data/recompute_modules.csv): what each recipe states is what the row runs."""

from __future__ import annotations

import csv
import io
from importlib import resources

from supercluster.validate.rows import row_plan


def _rows() -> dict[str, dict[str, str]]:
    raw = resources.files("supercluster.validate.data").joinpath("moe_runs.csv").read_text()
    return {r["id"]: r for r in csv.DictReader(io.StringIO(raw))}


def test_stated_module_lists_run_selective_with_their_modules():
    # DeepSeek-V3 25.11 (v0.2.0 workload_base_configs.py): GB300 ["moe_act"], GB200 and B200 ["mla_up_proj"];
    # 26.04.01 (406d3be): GB200 MXFP8 = GB200_V1 ["mlp"] (only the BF16 variant lists mla_up_proj), B300 MXFP8 =
    # B300_V1 ["mla_up_proj"]; Kimi-K2 GB300 ["mla_up_proj"]
    rows = _rows()
    want = {
        "mb2511-gb300-deepseek-v3-256-bf16": ("moe_act",),
        "mb2511-gb300-deepseek-v3-256-mxfp8": ("moe_act",),
        "mb2511-gb200-deepseek-v3-256-mxfp8": ("mla_up_proj",),
        "mb2511-b200-deepseek-v3-256-mxfp8": ("mla_up_proj",),
        "mb260401-gb200-deepseek-v3-256-mxfp8": ("mlp",),
        "mb260401-b300-deepseek-v3-256-mxfp8": ("mla_up_proj",),
        "mb260401-gb300-kimi-k2-256-mxfp8": ("mla_up_proj",),
    }
    for rid, mods in want.items():
        plan = row_plan(rows[rid])
        assert (plan.recompute, plan.recompute_modules) == ("selective", mods), rid
        assert "recipe audit" in rows[rid]["notes"], rid


def test_recipes_that_recompute_nothing_run_none():
    rows = _rows()
    # every Qwen3 perf script of 25.09, 25.11 and 26.04.01 sets recompute_granularity None and no config adds any
    qwen = [r for r in rows if r.startswith(("mb2509-", "mb2511-", "mb260401-")) and "qwen3" in r]
    assert len(qwen) == 24
    # 25.11 GPT-OSS: recompute_modules listed but no granularity set, so Megatron-Core's None leaves them inert;
    # 26.06 GB300 MXFP8: recompute_modules=[]
    others = [f"mb2511-{g}-gpt-oss-120b-64-bf16" for g in ("gb300", "gb200", "b200", "h100")]
    others += ["mb2606-gb300-deepseek-v3-256-mxfp8-gbs4096", "mb2606-gb300-deepseek-v3-256-mxfp8-gbs15360"]
    for rid in qwen + others:
        plan = row_plan(rows[rid])
        assert plan.recompute == "none" and not plan.recompute_modules, rid
        assert "recompute none (recipe audit)" in rows[rid]["notes"], rid


def test_nemo_dgx_cloud_and_modelzoo_rows_that_set_no_recompute_run_none():
    # NeMo DGX Cloud recipes at their setup scripts' NEMO_COMMIT and two ModelZoo commands set no recompute
    raw = resources.files("supercluster.validate.data").joinpath("vendor_runs.csv").read_text()
    rows = {**_rows(), **{r["id"]: r for r in csv.DictReader(io.StringIO(raw))}}
    audited = [rid for rid, r in rows.items() if "recompute none (recipe audit)" in r["notes"]]
    assert len([a for a in audited if a.startswith("dgxc")]) == 42
    assert {"zoo-qwen3-235b-gb200-256-bf16-4k", "zoo-qwen3-235b-gb300-64-mxfp8-4k"} <= set(audited)
    for rid in audited:
        assert row_plan(rows[rid]).recompute == "none", rid
