"""Knobs a training stack lacks are never filled in: Megatron-DeepSpeed as BigScience (BLOOM) and MT-NLG ran it
in 2021-22 had no sequence parallelism, no selective recompute and no interleaved schedule (software.yaml:
megatron-deepspeed-2022), and its TP backward all-reduce was synchronous."""

import pytest

from supercluster import catalog
from supercluster.perf.comm import CollectiveModel, span_of
from supercluster.perf.layer import layer_cost
from supercluster.plan import search
from supercluster.plan.fill import resolve
from supercluster.specs import PlanSpec, ResolvedPlan, WorkloadSpec
from supercluster.validate.harness import predict_row, read_rows

DS2022 = "megatron-deepspeed-2022"


def _bloom():
    # BLOOM-176B on Jean Zay as the tr11 README lays it out: tp 4, pp 12, dp 8 on 384 A100
    model = catalog.model("bloom-176b")
    system = catalog.system("jean-zay-a100", gpus=384)
    return model, system, WorkloadSpec(model=model, seq_len=2048, global_batch=2048)


def test_the_2022_deepspeed_stack_declares_what_it_lacks_and_newer_stacks_keep_it():
    old = catalog.software(DS2022)
    assert not old.has_sequence_parallel and not old.has_selective_recompute and not old.has_interleaved_schedule
    assert not old.tp_async_dgrad
    new = catalog.software("megatron-core-2024")
    assert new.has_sequence_parallel and new.has_selective_recompute and new.has_interleaved_schedule


def test_the_fill_leaves_sequence_parallelism_and_interleaving_off_and_says_why():
    _, system, wl = _bloom()
    plan = PlanSpec(tp=4, pp=12, dp=8, micro_batch=2, recompute="full", zero=1, precision="bf16")
    est = resolve(plan, wl, system, catalog.software(DS2022), 384)
    assert est.plan.sequence_parallel is False and est.plan.vpp == 1
    assert "has no sequence parallelism" in est.filled["sequence_parallel"]
    assert "has no interleaved schedule" in est.filled["vpp"]
    # the same blank knobs under a stack that has both: sequence parallelism is on (it never costs time)
    newer = resolve(plan, wl, system, catalog.software("megatron-lm-2022"), 384)
    assert newer.plan.sequence_parallel is True


def test_the_planner_never_offers_what_the_stack_lacks_but_prices_a_given_knob():
    _, system, wl = _bloom()
    sw = catalog.software(DS2022)
    res = search(wl, system, sw, 384, PlanSpec(precision="bf16"), top_k=3)
    c = res.batch.cand
    assert not c.sp.any() and (c.vpp == 1).all() and not (c.rc == 1).any()
    assert (c.tp > 1).any() and (c.pp > 1).any()  # the layouts where those knobs would have been offered
    # a knob the user gives is priced as given, as for ZeRO stages
    given = PlanSpec(tp=4, pp=12, dp=8, micro_batch=2, recompute="selective", sequence_parallel=True)
    est = resolve(given.model_copy(update={"zero": 1, "precision": "bf16"}), wl, system, sw, 384)
    assert est.plan.recompute == "selective" and est.plan.sequence_parallel


def test_without_sequence_parallelism_each_tp_rank_runs_the_norms_on_the_whole_sequence():
    # Korthikanti et al. 2022, section 4.2.2: sequence parallelism splits the LayerNorm/dropout region over the
    # t ranks; without it each rank streams all b*s*h elements. At t = 4 the elementwise forward time with
    # sequence parallelism is a quarter of the time without it, everything elementwise that is split
    # likewise (norms, residual adds); the GEMMs do not change.
    model, system, _ = _bloom()
    comm = CollectiveModel(system)
    sw = catalog.software(DS2022)
    with_sp = layer_cost(
        model, ResolvedPlan.single(tp=4, sequence_parallel=True), 2048, system.accelerator, sw, comm, False
    )
    no_sp = layer_cost(model, ResolvedPlan.single(tp=4), 2048, system.accelerator, sw, comm, False)
    assert no_sp.fwd_gemm_s == pytest.approx(with_sp.fwd_gemm_s, rel=1e-12)
    assert no_sp.fwd_elem_s > with_sp.fwd_elem_s


def test_a_synchronous_tp_backward_exposes_both_all_reduces():
    # Shoeybi et al. 2019 section 3: two all-reduces per layer forward (g) and two backward (f). With the
    # BigScience fork's synchronous copy_to_tensor_model_parallel_region nothing hides the backward pair, so the
    # exposed TP time of a layer without recompute is 4 all-reduces of the b*s*h bf16 activation.
    model, system, _ = _bloom()
    comm = CollectiveModel(system)
    sw = catalog.software(DS2022)
    plan = ResolvedPlan.single(tp=4)
    cost = layer_cost(model, plan, 2048, system.accelerator, sw, comm, False)
    one = float(comm.all_reduce(1 * 2048 * model.hidden * 2.0, span_of(4, 1, comm.domain)))
    assert cost.tp_comm_s == pytest.approx(4.0 * one, rel=1e-9)
    hidden = layer_cost(
        model, plan, 2048, system.accelerator, sw.model_copy(update={"tp_async_dgrad": True}), comm, False
    )
    assert hidden.tp_comm_s < cost.tp_comm_s


def test_mt_nlg_fills_full_recompute_as_its_flop_count_implies():
    # Smith et al. 2022 (arXiv:2201.11990) section 2.4: 126 TFLOP/s per GPU at 60.1 s per step on 2,240 GPUs;
    # Narayanan et al. 2021 eq. 3 (which counts the recompute pass) gives it: 96 B s l h^2 (1 + s/6h + V/16lh)
    # with B 1920, s 2048, l 105, h 20480, V 50272 = 1.692e22 FLOPs -> / (60.1 s x 2240) = 125.7e12.
    B, s, layers, h, V = 1920, 2048, 105, 20480, 50272
    flops = 96 * B * s * layers * h * h * (1 + s / (6 * h) + V / (16 * layers * h))
    assert flops / (60.1 * 2240) == pytest.approx(125.7e12, rel=1e-3)
    # the 2022 stack has no selective recompute and no recompute does not fit: the fill recomputes whole layers
    rows = [r for r in read_rows("reports")[1] if r["id"] == "mtnlg22-s24-530b-2240"]
    assert len(rows) == 1 and rows[0]["recompute"] == ""  # the row leaves it blank: the fill chooses
    result = predict_row(rows[0])
    assert result.status == "ok" and "rc-full" in result.layout and "+sp" not in result.layout
    assert "recompute" in result.filled


def test_a_node_wiring_a_third_of_the_nvlinks_has_a_third_of_the_tp_bandwidth():
    # BLOOM paper p. 18: "4 NVLink GPU-to-GPU interconnects per node" on Jean Zay, read as 4 of the A100's 12
    # NVLink3 links: a 1 GB all-reduce over the 8 GPUs of a node is bandwidth-bound, so it takes 3x as long
    # (busbw 235 GB/s -> 78.3 GB/s: 2 x 7/8 x 1e9 B / 78.3e9 B/s = 22.3 ms, against 7.4 ms).
    jz = catalog.system("jean-zay-a100", gpus=384)
    assert jz.scale_up_link_fraction == pytest.approx(1 / 3, abs=1e-3)
    full = jz.model_copy(update={"scale_up_link_fraction": 1.0})
    span = span_of(8, 1, jz.domain_gpus)
    slow = float(CollectiveModel(jz).all_reduce(1e9, span))
    fast = float(CollectiveModel(full).all_reduce(1e9, span))
    assert fast == pytest.approx(2 * 7 / 8 * 1e9 / 235e9, rel=0.05)
    assert slow / fast == pytest.approx(3.0, rel=0.02)


def test_bf16_optimizer_all_reduces_the_fp32_gradient_and_the_tied_embedding_after_the_flush():
    # DeepSpeed PipelineEngine, bf16: ReduceTiedGrads all-reduces the tied embedding's fp32 gradient between the
    # first and last stage, then ReduceGrads all-reduces every fp32 gradient (buffered_allreduce_fallback) even
    # with ZeRO-1 sharded states; a reduce-scatter would move half the bytes. BLOOM tp 4, pp 12, dp 8: the
    # tied table is 250,880 / 4 x 14,336 = 899.2 M elements = 3.597 GB in fp32.
    from supercluster.perf.batch import Candidates, evaluate

    model, system, wl = _bloom()
    sw = catalog.software(DS2022)
    assert sw.sharded_grad_allreduce and sw.tied_embedding_grad_bytes == 4
    assert model.vocab / 4 * model.hidden * 4 == pytest.approx(3.597e9, rel=1e-3)
    plan = PlanSpec(tp=4, pp=12, dp=8, micro_batch=2, recompute="full", zero=1, precision="bf16")
    cand = Candidates.from_plans([resolve(plan, wl, system, sw, 384).plan])
    comm = CollectiveModel(system)
    plain = sw.model_copy(update={"sharded_grad_allreduce": False, "tied_embedding_grad_bytes": 0.0})
    ours, theirs = evaluate(wl, system, sw, cand), evaluate(wl, system, plain, cand)
    tied = float(comm.all_reduce(model.vocab / 4 * model.hidden * 4.0, span_of(2, 4 * 8 * 11, system.domain_gpus)))
    assert tied > 0.1  # two ranks a pipeline apart, over Omni-Path: a tenth of a second and more
    extra = float(ours.dp_comm_s[0] - theirs.dp_comm_s[0])
    assert extra > tied  # the all-reduce of the whole gradient adds to the tied one
    assert float(ours.step_time_s[0] - theirs.step_time_s[0]) == pytest.approx(extra, rel=1e-9)
