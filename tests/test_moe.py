"""Mixture of experts, attention variants, multi-token prediction, pipeline schedules (issue 5)."""

import itertools

import numpy as np
import pytest

from supercluster import api, catalog
from supercluster.errors import SuperclusterError
from supercluster.perf import estimate
from supercluster.perf.pipeline import schedule_bubble
from supercluster.plan import search
from supercluster.specs import ResolvedPlan, WorkloadSpec


@pytest.mark.parametrize(
    ("name", "total", "active"),
    [
        ("deepseek-v3", 671e9, 37e9),
        ("grok-1", 314e9, None),
        ("mixtral-8x7b", 46.7e9, 12.9e9),
        ("mixtral-8x22b", 141e9, 39e9),
        ("qwen3-30b-a3b", 30.5e9, 3.3e9),
        ("qwen3-235b-a22b", 235e9, 22e9),
        ("gpt-oss-120b", 116.8e9, 5.1e9),
    ],
)
def test_moe_presets_match_published_totals(name, total, active):
    m = catalog.model(name)
    assert m.total_params == pytest.approx(total, rel=0.01)
    if active:  # some cards count active parameters without the input embedding
        assert min(abs(m.active_params / active - 1), abs((m.active_params - m.embedding_params) / active - 1)) < 0.03


def test_deepseek_v3_has_mla_mtp_and_dense_leading_layers():
    m = catalog.model("deepseek-v3")
    assert m.is_mla and m.qk_dim == 192 and m.vdim == 128
    assert m.moe_dense_layers == 3 and m.moe_shared_experts == 1 and m.moe_topk == 8
    # MLA: latent projections make attention ~187M parameters a layer, far below 4 h^2 = 205M
    assert m.attention_params == pytest.approx(187.1e6, rel=0.01)
    assert 10e9 < m.mtp_params < 15e9  # DeepSeek: 14B for the MTP module incl. shared parts


def test_sliding_window_cuts_attention_span():
    # the span is stated before the caller's causal halving: half of it is the mean number of keys a query
    # sees. Count them: query i of a full causal layer sees i + 1 keys, of a 128-token window min(i + 1, 128).
    m = catalog.model("gpt-oss-120b")
    i = np.arange(4096)
    keys_full, keys_window = (i + 1).mean(), np.minimum(i + 1, 128).mean()
    half_span = 0.5 * m.attention_span(4096)
    assert half_span == pytest.approx(0.5 * keys_full + 0.5 * keys_window, rel=1e-3)  # 1/2 of seq + 1 term
    assert keys_window == pytest.approx(126.0, abs=0.05)  # a window costs its width, not half of it
    assert catalog.model("llama3-8b").attention_span(8192) == 8192


def _moe_run(ep: int, dp: int = 64):
    system = catalog.system("dgx-h100-superpod", gpus=8 * dp)
    sw = catalog.software(system.software)
    wl = WorkloadSpec(model=catalog.model("mixtral-8x7b"), seq_len=4096, global_batch=dp * 4)
    plan = ResolvedPlan.single(tp=8, ep=ep, dp=dp, zero=1, sequence_parallel=True, recompute="selective")
    return estimate(wl, system, sw, plan, 8 * dp)


def test_moe_memory_shrinks_with_expert_parallelism():
    mems = [_moe_run(ep).memory.weights_bytes for ep in (1, 2, 4, 8)]
    assert all(b < a for a, b in itertools.pairwise(mems))
    # at ep 1 the only dispatcher traffic left is the expert-TP gather and reduce-scatter of the routed copies over
    # the tp 8 ranks (perf.expert_tp); the all-to-all over 8 EP ranks comes on top of it
    assert _moe_run(8).ep_comm_s > _moe_run(1).ep_comm_s > 0


def test_routing_imbalance_slows_experts():
    base = catalog.model("mixtral-8x7b")
    even = base.model_copy(update={"moe_imbalance": 1.0})
    skew = base.model_copy(update={"moe_imbalance": 1.5})
    system = catalog.system("dgx-h100-superpod", gpus=64)
    sw = catalog.software(system.software)
    plan = ResolvedPlan.single(ep=8, dp=64, zero=1)
    t = [estimate(WorkloadSpec(model=m, seq_len=4096, global_batch=64), system, sw, plan, 64) for m in (even, skew)]
    assert t[1].step_time_s > t[0].step_time_s
    assert t[1].model_flops_per_step == pytest.approx(t[0].model_flops_per_step)  # useful work is the same


def test_schedule_bubbles_follow_the_papers():
    t, fs, p = np.array([3.0]), np.array([1 / 3]), np.array([8])
    one = schedule_bubble(np.array([0]), t, fs, p, 1)
    zbh1 = schedule_bubble(np.array([1]), t, fs, p, 1)
    zbv = schedule_bubble(np.array([2]), t, fs, p, 2)
    dual = schedule_bubble(np.array([3]), t, fs, p, 1)
    assert one[0] == pytest.approx(7 * 3.0)
    assert zbh1[0] == pytest.approx(one[0] / 3)  # ZB-H1: a third of 1F1B when F = B_in = W
    assert zbv[0] == pytest.approx(0.0)  # ZB-V: no bubble when F = B_in = W
    assert 0 < dual[0] < one[0]


def test_dualpipe_hides_all_to_all_and_doubles_weights():
    base = dict(
        workload={"model": "deepseek-v3", "seq_len": 4096, "global_batch": 4096},
        system={"preset": "dgx-h100-superpod"},
        gpus=2048,
        software="deepseek-hai-2024",
    )
    plans = {
        s: api.estimate(
            catalog.from_dict(
                {**base, "plan": {"tp": 1, "pp": 16, "ep": 64, "cp": 1, "zero": 1, "recompute": "full", "schedule": s}}
            )
        ).step
        for s in ("1f1b", "dualpipe")
    }
    # each all-to-all hides behind one chunk of the paired micro-batch (perf.ep_overlap): most of it, not all (under
    # a tenth of the 2.59 s stays exposed, where an all-to-all outlasts the forward half-layer it runs beside), and
    # the 20 of 132 SMs its kernels hold give back at most that share of the hidden time (perf.sm_share): 0.54 s
    assert 0 < plans["dualpipe"].ep_comm_s < (0.1 + 20 / 132) * plans["1f1b"].ep_comm_s
    assert plans["dualpipe"].ep_comm_s > 20 / 132 * 0.9 * plans["1f1b"].ep_comm_s
    assert plans["dualpipe"].bubble_s < plans["1f1b"].bubble_s
    assert plans["dualpipe"].memory.weights_bytes == pytest.approx(2 * plans["1f1b"].memory.weights_bytes)
    with pytest.raises(SuperclusterError, match="dualpipe needs an even pp"):
        api.estimate(
            catalog.from_dict({**base, "plan": {"tp": 1, "pp": 15, "ep": 64, "schedule": "dualpipe"}, "gpus": 1920})
        )


def test_planner_finds_moe_layouts_and_explains_expert_parallelism():
    for model, system, gpus, batch in (
        ("grok-1", "colossus-100k", 98304, 12288),
        ("deepseek-v3", "colossus-100k", 16384, 4096),
    ):
        sys_ = catalog.system(system)
        sw = catalog.software(sys_.software)
        wl = WorkloadSpec(model=catalog.model(model), seq_len=4096, global_batch=batch)
        res = search(wl, sys_, sw, gpus, top_k=1)
        assert res.best.memory.fits
        tr = res.expert_tradeoff()
        assert tr and tr["why"] and tr["best_ep"] == res.best.plan.ep


def test_project_validation_rows_all_get_predictions():
    from supercluster.validate import run

    rep = run("project")
    assert len(rep.rows) >= 10 and all(r.predicted for r in rep.rows)
    assert {"bf16 moe throughput", "fp8 moe throughput"} <= set(rep.summary()["per_group"])


def test_rows_are_priced_with_the_stack_they_ran_on():
    # the optional `software` column: DeepSeek-V3 ran DualPipe (section 3.2.1), so its row may pick that schedule;
    # an unknown stack is a clear failure of that row only
    from supercluster.validate.harness import predict_row, read_rows

    _, rows = read_rows("project")
    row = next(r for r in rows if r["id"] == "deepseek-v3-report-h800")
    assert row["software"] == "deepseek-hai-2024"
    with_stack = predict_row(row)
    default = predict_row(dict(row, software=""))
    assert "dualpipe" in (with_stack.layout or "") and "dualpipe" not in (default.layout or "")
    assert with_stack.predicted > default.predicted
    bad = predict_row(dict(row, software="jax-2030"))
    assert bad.status == "failed" and "valid:" in (bad.reason or "")


def test_grok3_class_scenario_is_marked_as_an_assumption():
    scn = catalog.load("grok-3-class")
    assert "assumption" in scn.description
    assert scn.workload.model.is_moe and scn.gpus == 196608
    assert len(scn.assumptions) >= 4


def test_dispatch_destinations_follow_the_router():
    from math import comb

    from supercluster.perf.routing import destinations

    # learned router, 128 experts on 8 ranks, top-8: a rank misses all 8 with C(112,8)/C(128,8)
    ranks, domains = destinations(128, 8, 8, 8, "learned", None)
    assert ranks == pytest.approx(8 * (1 - comb(112, 8) / comb(128, 8)))
    assert ranks == pytest.approx(5.34, abs=0.01) and domains == 1.0
    # DeepSeek-V3 on 8 nodes of 8: node-limited routing caps the nodes a token reaches at 4 (section 2.1.2)
    assert destinations(256, 8, 64, 8, "learned", 4)[1] == 4.0
    assert destinations(256, 8, 64, 8, "learned", None)[1] > 5.0
    # AutoModel's benchmark gate: token t takes experts t*8..t*8+7, which sit on 2 ranks of 4 experts, 1 node
    assert destinations(256, 8, 64, 8, "fake-balanced", None) == (2.0, 1.0)
    assert destinations(128, 8, 8, 8, "fake-balanced", None) == (1.0, 1.0)
    # a start that straddles blocks half the time: 6 experts per rank, top-4 -> 4/3 ranks on average
    assert destinations(24, 4, 4, 4, "fake-balanced", None)[0] == pytest.approx(4 / 3)


def test_deepep_dispatch_moves_fewer_bytes_than_per_expert_all_to_all():
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost

    model = catalog.model("qwen3-30b-a3b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    plan = ResolvedPlan.single(ep=8, dp=8, zero=1)
    comm = CollectiveModel(system)
    per_expert = catalog.software("megatron-core-2024")
    per_dest = per_expert.model_copy(update={"ep_dispatch": "per-destination"})
    a = layer_cost(model, plan, 4096, system.accelerator, per_expert, comm, moe=True).ep_comm_s
    b = layer_cost(model, plan, 4096, system.accelerator, per_dest, comm, moe=True).ep_comm_s
    # top-8 over 8 ranks reaches ~5.3 distinct ranks: about 2/3 of the per-expert traffic (latency aside)
    assert 0.6 < b / a < 0.75
    # Megatron's all-to-all dispatcher permutes the k copies on the sender and again by local expert after the
    # exchange; behind DeepEP only the receiver permutes its local copies (perf.moe_kernels)
    ea = layer_cost(model, plan, 4096, system.accelerator, per_expert, comm, moe=True).fwd_elem_s
    eb = layer_cost(model, plan, 4096, system.accelerator, per_dest, comm, moe=True).fwd_elem_s
    assert ea > eb


def test_narrow_attention_heads_run_further_from_peak():
    from supercluster.perf.layer import attention_dim_factor

    assert attention_dim_factor(128) == 1.0 == attention_dim_factor(192)
    assert attention_dim_factor(64) == pytest.approx(408 / 609)  # FA3 paper Fig. 5, cuDNN
    assert attention_dim_factor(64) < attention_dim_factor(96) < 1.0


def test_router_column_is_checked():
    from supercluster.validate.harness import predict_row, read_rows

    _, rows = read_rows("project")
    row = next(r for r in rows if r["id"] == "automodel-h100-qwen3-30b-a3b")
    assert row["moe_router"] == "fake-balanced" and row["software"] == "automodel-2025"
    bad = predict_row(dict(row, moe_router="psychic"))
    assert bad.status == "failed" and "moe_router" in (bad.reason or "")


def test_mla_selective_recompute_reruns_norms_and_up_projections():
    # DeepSeek-V3 section 3.2.3: norms and MLA up-projections are recomputed, so their outputs are not stored
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost
    from supercluster.perf.memory import layer_activation_bytes

    model = catalog.model("deepseek-v3")
    system = catalog.system("dgx-h100-superpod", gpus=64)
    sw = catalog.software("deepseek-hai-2024")
    comm = CollectiveModel(system)

    def plan(rc):
        return ResolvedPlan.single(ep=8, dp=8, zero=1, recompute=rc)

    mem = {rc: layer_activation_bytes(model, plan(rc), 4096, sw, moe=True) for rc in ("none", "selective", "full")}
    cost = {rc: layer_cost(model, plan(rc), 4096, system.accelerator, sw, comm, moe=True) for rc in mem}
    assert mem["full"] < mem["selective"] < 0.8 * mem["none"]
    assert 0 < cost["selective"].recompute_s < 0.25 * cost["full"].recompute_s
    # a dense (non-MLA) model under flash attention gains only the kernel's fp32 log-sum-exp from Megatron-Core's
    # selective (core_attn checkpointed, perf.selective_memory): 4 B x 64 heads x 4,096 queries x 1 = 1,048,576 B
    llama = catalog.model("llama3-70b")
    p_none, p_sel = plan("none").model_copy(update={"ep": 1}), plan("selective").model_copy(update={"ep": 1})
    sw2 = catalog.software("megatron-core-2024")
    saved = layer_activation_bytes(llama, p_none, 4096, sw2, moe=False) - layer_activation_bytes(
        llama, p_sel, 4096, sw2, moe=False
    )
    assert saved == 4 * 64 * 4096


def test_expert_inputs_are_stored_per_routed_copy_and_bf16_moments_shrink_optimizer_state():
    from supercluster.perf.batch import optimizer_state_bytes
    from supercluster.perf.memory import layer_activation_bytes

    sw = catalog.software("megatron-core-2024")
    plan = ResolvedPlan.single(ep=8, dp=8, zero=1)
    top2 = catalog.model("mixtral-8x7b")
    top4 = top2.model_copy(update={"moe_topk": 4})
    grow = layer_activation_bytes(top4, plan, 4096, sw, True) - layer_activation_bytes(top2, plan, 4096, sw, True)
    # two more copies per token: their expert inputs (h wide) and intermediates (3 x ffn wide), bf16
    per_copy = 2.0 * top2.hidden + 2.0 * top2.expert_ffn * 3
    from supercluster.perf.imbalance import plan_routing_load

    copies = 4 * plan_routing_load(top4, plan, 4096) - 2 * plan_routing_load(top2, plan, 4096)
    # and, Megatron-Core 0.9-0.12, two more returned copies the combine keeps (perf.combine_memory): 2 x 2 B x h each
    combine = 4096 * 2 * 2.0 * top2.hidden
    assert grow == pytest.approx(4096 * copies * per_copy + combine)
    assert optimizer_state_bytes(sw) == 12.0
    assert optimizer_state_bytes(catalog.software("deepseek-hai-2024")) == 8.0


def test_unfused_expert_biases_cost_their_hbm_passes():
    # GPT-OSS experts carry biases; NeMo AutoModel's DeepEP experts add them after the grouped GEMM (split,
    # add, cat, cast): 16 B per f + 28 B per h forward and 4 B per f + 20 B per h backward per routed copy.
    # A stack that fuses them into the GEMM (Transformer Engine's GroupedLinear) pays nothing extra.
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.gemm import memory_bound_s
    from supercluster.perf.layer import layer_cost

    model = catalog.model("gpt-oss-20b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    acc, comm = system.accelerator, CollectiveModel(system)
    plan = ResolvedPlan.single(ep=8, dp=8, micro_batch=2)
    unfused = catalog.software("automodel-2025")
    fused = unfused.model_copy(update={"expert_bias_fused": True})
    a = layer_cost(model, plan, 4096, acc, unfused, comm, moe=True)
    b = layer_cost(model, plan, 4096, acc, fused, comm, moe=True)
    from supercluster.perf.imbalance import plan_routing_load

    routed = 2 * 4096 * model.moe_topk * plan_routing_load(model, plan, 4096)
    f, h = model.expert_ffn, model.hidden
    assert a.fwd_elem_s - b.fwd_elem_s == pytest.approx(memory_bound_s(routed * (16 * f + 28 * h), acc))
    assert a.bwd_elem_s - b.bwd_elem_s == pytest.approx(memory_bound_s(routed * (4 * f + 20 * h), acc))
    # a model without expert biases is unaffected by the stack's choice
    plain = model.model_copy(update={"expert_bias": False})
    assert layer_cost(plain, plan, 4096, acc, unfused, comm, moe=True).total_s == pytest.approx(
        layer_cost(plain, plan, 4096, acc, fused, comm, moe=True).total_s
    )


def test_flex_attention_runs_at_its_share_of_the_fused_kernels():
    # FlexAttention's Triton kernels reach ~60% of FlashAttention-3 on Hopper (PyTorch blog, March 2026)
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost

    model = catalog.model("gpt-oss-120b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    acc, comm = system.accelerator, CollectiveModel(system)
    plan = ResolvedPlan.single(micro_batch=1)
    te, flex = catalog.software("automodel-2025"), catalog.software("automodel-2025-flex")
    assert flex.attention_speed_factor == pytest.approx(0.6)
    a = layer_cost(model, plan, 4096, acc, te, comm, moe=False)
    b = layer_cost(model, plan, 4096, acc, flex, comm, moe=False)
    assert b.fwd_attn_s == pytest.approx(a.fwd_attn_s / 0.6)
    assert b.bwd_attn_s == pytest.approx(a.bwd_attn_s / 0.6)
    assert b.fwd_gemm_s == pytest.approx(a.fwd_gemm_s)


def test_dualpipe_ranks_carry_a_mirrored_pair_of_stages():
    # DualPipe runs two mirrored pipelines on the same ranks (two copies of the parameters, DeepSeek-V3 section
    # 3.2.1): the rank with the last stage (output head, MTP) also holds the first. A heavier head (10% more
    # vocabulary, the same layer split) costs DualPipe half of what it costs 1F1B, whose last stage paces it.
    from supercluster.perf.batch import Candidates, evaluate

    system = catalog.system("dgx-h100-superpod", gpus=2048)
    sw = catalog.software("deepseek-hai-2024")
    base = catalog.model("deepseek-v3")

    def step(vocab: int, schedule: str) -> tuple[float, tuple[int, ...]]:
        wl = WorkloadSpec(model=base.model_copy(update={"vocab": vocab}), seq_len=4096, global_batch=15360)
        plan = ResolvedPlan.single(
            pp=16, ep=64, dp=128, zero=1, recompute="selective", precision="fp8", schedule=schedule
        )
        res = evaluate(wl, system, sw, Candidates.from_plans([plan]))
        return float(res.step_time_s[0]), tuple(res.stage_layers[0])

    # from 1.1x to 1.2x the vocabulary: at 1.0x the balanced split keeps one more layer on the last stage (with the
    # H100 SXM BF16 GEMM fraction of the whole-set fit the BF16 head is cheap enough), and the test needs one split
    v, heavier = int(base.vocab * 1.1), int(base.vocab * 1.2)
    (a, split_a), (b, split_b) = step(v, "1f1b"), step(heavier, "1f1b")
    (c, split_c), (d, split_d) = step(v, "dualpipe"), step(heavier, "dualpipe")
    assert split_a == split_b == split_c == split_d
    assert (d - c) / (b - a) == pytest.approx(0.5, abs=0.05)


def test_megatron_core_folds_expert_parallelism_over_context_parallelism():
    # MoE Parallel Folding (arXiv:2504.14960): expert layers order their ranks expert-TP, EP, expert-DP, so with
    # tp 2 and cp 8 an EP group of 8 spans 16 GPUs (two 8-GPU nodes), not 8 x 16 = 128 as when EP sits in DP
    from supercluster.fabric.placement import placement
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import ep_stride, expert_dispatch

    system = catalog.system("dgx-b200-superpod", gpus=256)
    plan = ResolvedPlan.single(tp=2, pp=4, cp=8, ep=8, dp=4, sequence_parallel=True)
    folded = catalog.software("megatron-core-2024")
    inside_dp = folded.model_copy(update={"ep_folded": False})
    assert ep_stride(plan, folded) == 2 and ep_stride(plan, inside_dp) == 16
    ep = {g["axis"]: g for g in placement(system, plan, folded)}["ep"]
    assert ep["stride"] == 2 and ep["gpus_spanned"] == 16
    model, comm = catalog.model("mixtral-8x22b"), CollectiveModel(system)
    token_bytes = 8192 * model.hidden * 2.0
    assert expert_dispatch(model, plan, folded, comm, token_bytes) < expert_dispatch(
        model, plan, inside_dp, comm, token_bytes
    )


def test_expert_tensor_parallel_below_tp_folds_expert_parallelism_over_tp():
    """Megatron-Core's expert TP (MoE Parallel Folding, arXiv:2504.14960, section 3): with etp 1 each expert is
    whole on one GPU, an EP group folds over tp * cp * dp / etp ranks (ep 32 on tp 2 x dp 16, as the
    Megatron-MoE-ModelZoo's Qwen3-235B H100 recipe runs it), the expert weights per GPU are E / ep experts, and
    the MoE block needs no TP collective. A given ep that only fits that way fills etp; a stack that does not
    fold refuses it."""
    from supercluster.plan import resolve
    from supercluster.specs import PlanSpec, WorkloadSpec

    model = catalog.model("qwen3-235b-a22b")
    wl = WorkloadSpec(model=model, seq_len=4096, global_batch=2048)
    system = catalog.system("dgx-h100-superpod", gpus=256)
    sw = catalog.software("megatron-core-2024")
    knobs = dict(tp=2, pp=8, vpp=4, cp=1, micro_batch=1, precision="bf16", recompute="none", zero=1)
    folded = resolve(PlanSpec(ep=32, etp=1, **knobs), wl, system, sw, 256)
    assert folded.plan.expert_ranks == 32 and "etp1" in folded.plan.label()
    filled = resolve(PlanSpec(ep=32, **knobs), wl, system, sw, 256)
    assert filled.plan.etp == 1 and "etp" in filled.filled
    assert filled.step_time_s == pytest.approx(folded.step_time_s)
    split = resolve(PlanSpec(ep=8, **knobs), wl, system, sw, 256)  # etp = tp: each expert split in two
    # only the attention block's TP collectives stay TP traffic either way: the expert block's gather and
    # reduce-scatter at etp 2 are the dispatcher's, priced with the EP traffic (perf.expert_tp), none at etp 1
    assert folded.tp_comm_s == pytest.approx(split.tp_comm_s)
    eager = catalog.software("fsdp-2024")  # EP inside DP only: no folding
    with pytest.raises(SuperclusterError):
        resolve(PlanSpec(ep=32, etp=1, **{**knobs, "zero": 3}), wl, system, eager, 256)
