"""Megatron-Core's selective recompute modules: the plan field, its rules, the rows that state them, and the price
of each module's re-run by hand (perf.recompute_modules)."""

import csv
import io
import json
from importlib import resources

import pytest

from supercluster import catalog
from supercluster.catalog.loader import build
from supercluster.errors import SuperclusterError
from supercluster.perf import recompute_modules as rm
from supercluster.perf.batch import Candidates
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.layer import layer_cost, layer_parts
from supercluster.rules import check_plan
from supercluster.specs import PlanSpec, ResolvedPlan
from supercluster.specs.plan import RECOMPUTE_MODULES
from supercluster.validate.rows import row_plan


def hbm_s(nbytes: float, acc) -> float:
    """Seconds to stream nbytes at the card's memory-bound rate, written out (perf.gemm.memory_bound_s)."""
    return nbytes / (acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction)


def test_plan_field_takes_megatron_names_sorted_once():
    plan = PlanSpec(recompute="selective", recompute_modules=("moe", "layernorm", "moe"))
    assert plan.recompute_modules == ("layernorm", "moe")
    assert PlanSpec().recompute_modules is None
    assert ResolvedPlan.single().recompute_modules == ()
    assert (
        "rc-selective[layernorm+moe]"
        in ResolvedPlan.single(recompute="selective", recompute_modules=("moe", "layernorm")).label()
    )


def test_unknown_module_is_one_line_listing_the_valid_ones():
    with pytest.raises(SuperclusterError) as err:
        build(PlanSpec, {"recompute": "selective", "recompute_modules": ["moe", "attention"]}, "plan")
    msg = str(err.value)
    assert "\n" not in msg
    assert "unknown recompute module 'attention'" in msg
    assert "valid: core_attn, layernorm, mla_up_proj, mlp, moe, moe_act, shared_experts" in msg


def test_modules_need_a_selective_recompute():
    model = catalog.model("qwen3-30b-a3b")
    with pytest.raises(SuperclusterError, match="need recompute selective, got recompute full"):
        check_plan(model, PlanSpec(recompute="full", recompute_modules=("moe",)), 4096, 64)
    with pytest.raises(SuperclusterError, match=r"got recompute blank \(give --recompute selective\)"):
        check_plan(model, PlanSpec(recompute_modules=("moe",)), 4096, 64)
    check_plan(model, PlanSpec(recompute="selective", recompute_modules=("moe",)), 4096, 64)


def test_mask_round_trip_and_candidates_keep_the_modules():
    for mods in [(), ("moe",), ("layernorm", "moe_act"), RECOMPUTE_MODULES]:
        assert rm.modules_of(rm.mask_of(mods)) == tuple(sorted(mods))
    assert rm.mask_of(("core_attn",)) == 1 and rm.mask_of(("shared_experts",)) == 64
    plan = ResolvedPlan.single(recompute="selective", recompute_modules=("layernorm", "moe"))
    back = Candidates.from_plans([plan, ResolvedPlan.single()])
    assert back.plan(0).recompute_modules == ("layernorm", "moe")
    assert back.plan(1).recompute_modules == ()


def test_norm_and_elementwise_by_hand():
    acc = catalog.accelerator("h100-sxm-80gb")
    # one fused norm over 4096 tokens x 4096: read 2 B + write 2 B per element = 67,108,864 B
    assert rm.norm_s(4096, 4096, 1, True, acc) == pytest.approx(hbm_s(4096 * 4096 * 4.0, acc))
    # eager fp32 RMSNorm: 36 B per element, 9x the fused
    assert rm.norm_s(4096, 4096, 1, False, acc) == pytest.approx(9 * rm.norm_s(4096, 4096, 1, True, acc))
    # Megatron's TE spec: pre-MLP norm in a MoE layer, input norm under MLA, none in a dense GQA layer
    assert [
        rm.separate_norms(mla, moe) for mla, moe in [(False, False), (False, True), (True, False), (True, True)]
    ] == [
        0,
        1,
        1,
        2,
    ]
    assert rm.elementwise_s(1e9, 6.0, acc) == pytest.approx(hbm_s(6e9, acc))


def test_rerun_sums_disjoint_pieces_and_moe_holds_act_and_shared():
    fw = rm.ModuleForward(
        core_attn_s=1.0,
        core_attn_cp_s=0.5,
        core_attn_flops=10.0,
        layernorm_s=2.0,
        mla_up_proj_s=4.0,
        mla_up_proj_flops=40.0,
        mlp_s=8.0,
        mlp_tp_s=0.25,
        mlp_flops=80.0,
        moe_s=16.0,
        moe_tp_s=0.125,
        moe_ep_s=3.0,
        moe_flops=160.0,
        moe_act_s=32.0,
        shared_experts_s=64.0,
        shared_experts_flops=640.0,
    )
    r = rm.rerun(fw, ("core_attn", "layernorm"))
    assert (r.compute_s, r.tp_s, r.ep_s, r.flops) == (3.0, 0.5, 0.0, 10.0)
    r = rm.rerun(fw, ("moe_act", "shared_experts", "mla_up_proj", "mlp"))
    assert (r.compute_s, r.tp_s, r.ep_s, r.flops) == (108.0, 0.25, 0.0, 760.0)
    # moe re-runs the whole block: its activation and shared experts are not counted again
    r = rm.rerun(fw, ("moe", "moe_act", "shared_experts"))
    assert (r.compute_s, r.tp_s, r.ep_s, r.flops) == (16.0, 0.125, 3.0, 160.0)


@pytest.fixture
def priced(monkeypatch):
    monkeypatch.setattr(rm, "IN_STEP_TIME", True)


def moe_setup():
    model = catalog.model("qwen3-30b-a3b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    sw = catalog.software("megatron-core-deepep-2025")
    return model, system, sw, CollectiveModel(system)


def test_layernorm_and_moe_act_by_hand(priced):
    model, system, sw, comm = moe_setup()
    acc = system.accelerator
    base = ResolvedPlan.single(ep=8, dp=8, zero=1, recompute="selective")
    plan = base.model_copy(update={"recompute_modules": ("layernorm", "moe_act")})
    cost = layer_cost(model, plan, 4096, acc, sw, comm, moe=True)
    assert sw.elementwise_fused and model.gated and not model.is_mla
    # 4096 tokens, hidden h: the pre-MLP norm, 4 B per element
    norm = hbm_s(4096 * model.hidden * 4.0, acc)
    # routed copies on the busiest of 8 EP ranks: 4096 x top-k x load; SwiGLU writes expert_ffn per copy, 6 B each
    parts = layer_parts(model, plan, 4096, acc, sw, comm, True)
    load = parts.modules.moe_act_s / hbm_s(4096 * model.moe_topk * model.expert_ffn * 6.0, acc)
    assert 1.0 <= load < 1.5  # the router's expected maximum over the ranks (perf.imbalance), force-balanced or not
    act = hbm_s(4096 * model.moe_topk * load * model.expert_ffn * 6.0, acc)
    assert cost.recompute_s == pytest.approx(norm + act)
    plain = layer_cost(model, base, 4096, acc, sw, comm, moe=True)
    # Megatron-Core's plain selective is its default list ['core_attn'] (perf.selective_policy): the flash forward
    assert plain.recompute_s == parts.fwd_attn_s > 0.0
    assert cost.hw_flops == pytest.approx(plain.hw_flops - parts.core_flops)  # the modules' re-run: element-wise only


def test_moe_module_reruns_the_block_and_its_all_to_alls(priced):
    model, system, sw, comm = moe_setup()
    acc = system.accelerator
    plan = ResolvedPlan.single(ep=8, dp=8, zero=1, recompute="selective", recompute_modules=("moe",))
    parts = layer_parts(model, plan, 4096, acc, sw, comm, True)
    cost = layer_cost(model, plan, 4096, acc, sw, comm, moe=True)
    none = layer_cost(
        model, plan.model_copy(update={"recompute": "none", "recompute_modules": ()}), 4096, acc, sw, comm, True
    )
    full = layer_cost(
        model, plan.model_copy(update={"recompute": "full", "recompute_modules": ()}), 4096, acc, sw, comm, True
    )
    # dispatch and combine a third time, as a full recompute does
    assert cost.ep_comm_s == pytest.approx(3.0 * parts.ep_fwd_s) == pytest.approx(full.ep_comm_s)
    assert none.ep_comm_s == pytest.approx(2.0 * parts.ep_fwd_s)
    # the block's FLOPs: experts (gated up 2 f + down f per routed copy) and the router, 2 m n k each
    tok, h, f, k, e = 4096, model.hidden, model.expert_ffn, model.moe_topk, model.moe_experts
    flops = 2 * tok * k * (2 * f) * h + 2 * tok * k * h * f + 2 * tok * e * h
    assert cost.hw_flops - none.hw_flops == pytest.approx(flops)
    # the re-run is part of the forward: more than nothing, less than the whole layer's forward
    assert 0.0 < cost.recompute_s < full.recompute_s
    assert cost.recompute_s > parts.modules.moe_act_s


def test_mlp_module_on_a_dense_layer_by_flops(priced):
    model = catalog.model("llama3-8b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    sw = catalog.software("megatron-core-2024")
    comm = CollectiveModel(system)
    acc = system.accelerator
    plan = ResolvedPlan.single(recompute="selective", recompute_modules=("mlp",))
    cost = layer_cost(model, plan, 8192, acc, sw, comm, moe=False)
    none = layer_cost(
        model, plan.model_copy(update={"recompute": "none", "recompute_modules": ()}), 8192, acc, sw, comm, False
    )
    # SwiGLU MLP: fc1 8192 x 4096 -> 2 x 14336, fc2 14336 -> 4096: 2 m n k each
    assert cost.hw_flops - none.hw_flops == pytest.approx(2 * 8192 * 4096 * 2 * 14336 + 2 * 8192 * 14336 * 4096)
    # and an MoE layer has no dense MLP to re-run
    model, system, sw, comm = moe_setup()
    moe_plan = ResolvedPlan.single(ep=8, dp=8, zero=1, recompute="selective", recompute_modules=("mlp",))
    assert layer_cost(model, moe_plan, 4096, system.accelerator, sw, comm, moe=True).recompute_s == 0.0


def test_core_attn_reruns_the_fused_kernel_forward(priced):
    model, system, sw, comm = moe_setup()
    acc = system.accelerator
    plan = ResolvedPlan.single(ep=8, dp=8, zero=1, recompute="selective", recompute_modules=("core_attn",))
    cost = layer_cost(model, plan, 4096, acc, sw, comm, moe=True)
    assert cost.recompute_s == pytest.approx(cost.fwd_attn_s) and cost.recompute_s > 0.0


def test_switched_off_the_modules_price_as_plain_selective():
    assert rm.IN_STEP_TIME is False  # the verdict in perf.recompute_modules
    model, system, sw, comm = moe_setup()
    acc = system.accelerator
    base = ResolvedPlan.single(ep=8, dp=8, zero=1, recompute="selective")
    plan = base.model_copy(update={"recompute_modules": ("layernorm", "moe")})
    # a stated list the step time does not price keeps the unfused-core price (perf.selective_policy), not the
    # stack's plain selective (Megatron-Core's core_attn, which the stated list replaces)
    unfused = sw.model_copy(update={"selective_reruns": "unfused-core"})
    listed = layer_cost(model, plan, 4096, acc, sw, comm, True)
    assert listed == layer_cost(model, base, 4096, acc, unfused, comm, True)
    assert listed.recompute_s == 0.0 < layer_cost(model, base, 4096, acc, sw, comm, True).recompute_s


def test_rows_that_state_their_modules():
    text = resources.files("supercluster.validate.data").joinpath("recompute_modules.csv").read_text()
    table = list(csv.DictReader(io.StringIO(text)))
    ids = set()
    for name in ("moe_runs.csv", "vendor_runs.csv"):
        raw = resources.files("supercluster.validate.data").joinpath(name).read_text()
        ids |= {r["id"]: r for r in csv.DictReader(io.StringIO(raw))}.keys()
    # 23, less 25.11 GPT-OSS H100 (modules inert), plus 7 from the recipe audit, plus 23 from the archive tables of
    # NeMo 26.02, 26.02.01 and 26.04 (benchmarks/results/archive_moe_2026-12-01.json)
    assert len(table) == 52
    for entry in table:
        assert entry["id"] in ids, entry["id"]
        mods = tuple(entry["recompute_modules"].split())
        assert mods and set(mods) <= set(RECOMPUTE_MODULES)
        assert entry["quote"] and entry["source_url"].startswith("https://github.com/")
        # every quote names the modules as the source writes them (the ModelZoo table's short cell aside)
        if "norm, act" not in entry["quote"]:
            for m in mods:
                assert m in entry["quote"], (entry["id"], m)
    plan = row_plan({"id": "zoo-qwen3-235b-h100-256-16k-fb", "recompute": "selective"})
    assert plan.recompute == "selective" and plan.recompute_modules == ("layernorm", "moe")
    # a blank recompute cell is the selective recompute the module list implies
    assert row_plan({"id": "mb2509-h100-deepseek-v3-1024-fp8"}).recompute == "selective"
    with pytest.raises(SuperclusterError, match="valid: selective or blank"):
        row_plan({"id": "mb2509-h100-deepseek-v3-1024-fp8", "recompute": "full"})


def test_cli_takes_the_modules_and_says_what_is_wrong():
    from clirun import invoke

    base = ("estimate", "--model", "qwen3-30b-a3b", "--system", "dgx-h100-superpod", "--gpus", "64")
    base += ("--global-batch", "512", "--seq-len", "4096", "--tp", "1", "--pp", "1", "--ep", "8")
    ok = invoke(*base, "--recompute", "selective", "--recompute-modules", "layernorm,moe", "--json")
    assert ok.code == 0
    assert json.loads(ok.out)["plan"]["recompute_modules"] == ["layernorm", "moe"]
    bad = invoke(*base, "--recompute", "selective", "--recompute-modules", "layernorm,bogus", "--no-color")
    assert bad.code == 2 and "valid: core_attn, layernorm" in bad.err and len(bad.err.strip().splitlines()) == 1
    full = invoke(*base, "--recompute", "full", "--recompute-modules", "moe", "--no-color")
    assert full.code == 2 and "need recompute selective" in full.err
    # the same one line for --recompute none, from estimate and from the planner (checked before any search)
    for command in ("estimate", "plan"):
        none = invoke(command, *base[1:], "--recompute", "none", "--recompute-modules", "moe", "--no-color")
        assert none.code == 2, command
        assert len(none.err.strip().splitlines()) == 1, none.err
        assert "need recompute selective, got recompute none" in none.err, command


def test_the_planner_keeps_given_modules_on_its_selective_layouts(priced):
    from supercluster import api
    from supercluster.perf import context

    knobs = dict(model="qwen3-30b-a3b", system="dgx-h100-superpod", gpus=64, global_batch=512, seq_len=4096)
    context.clear()  # rows kept from a call with the term switched off would be stale here
    try:
        plain = api.plan(recompute="selective", top_k=1, **knobs).to_dict()
        mods = api.plan(recompute="selective", recompute_modules=("moe",), top_k=1, **knobs).to_dict()
    finally:
        context.clear()
    assert mods["top"][0]["plan"]["recompute_modules"] == ("moe",)
    assert plain["top"][0]["plan"]["recompute_modules"] == ()
    # re-running the MoE block costs time: the best layout with it is slower
    assert mods["top"][0]["step_time_s"] > plain["top"][0]["step_time_s"]


def test_rerun_kernels_by_count(priced):
    # moe on an all-MoE layer, no TP, no loop, 4 all-to-alls: router, top-k, permute, unpermute (4) + fc1, act, fc2
    # (3) + the forward's third of the all-to-alls (4 / 3)
    assert rm.rerun_kernels(("moe",), False, 1.0, 0.0, 0.0, 4.0, 0) == pytest.approx(4 + 3 + 4 / 3)
    # half the layers MoE: the pre-MLP norm and the expert activation on those, one kernel each
    assert rm.rerun_kernels(("layernorm", "moe_act"), False, 0.5, 0.0, 0.0, 4.0, 0) == pytest.approx(1.0)
    # MLA adds its input norm; a dense MLP with sequence-parallel TP (8 collectives a layer): 3 + 8 / 4 on dense layers
    assert rm.rerun_kernels(("layernorm", "mlp"), True, 0.0, 8.0, 0.0, 0.0, 0) == pytest.approx(1 + 3 + 2)
    assert rm.reruns_dispatch(("moe",)) and not rm.reruns_dispatch(("moe_act",))


def test_rerun_kernels_are_none_while_switched_off():
    assert rm.rerun_kernels(("moe",), False, 1.0, 0.0, 0.0, 4.0, 0) == 0.0
    assert not rm.reruns_dispatch(("moe",))
