"""What a plain selective recompute re-runs, by stack (perf.selective_policy): hand arithmetic for each policy."""

import pytest

from supercluster import catalog
from supercluster.perf import selective_policy as sp
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.layer import layer_cost, layer_parts
from supercluster.specs import ResolvedPlan


def setup(software: str, model: str = "llama3-8b", gpus: int = 8):
    system = catalog.system("dgx-h100-superpod", gpus=gpus)
    return catalog.model(model), system, catalog.software(software), CollectiveModel(system)


def test_each_stack_family_says_what_its_selective_reruns():
    # Megatron-Core and every profile built on it: the default recompute_modules ['core_attn']
    for name in ("megatron-core-2024", "megatron-lm-2024", "nemo-2024-flash-attn", "megatron-bridge-deepep-2025"):
        assert catalog.software(name).selective_reruns == "core-attn", name
    # torchtitan's op-level policy
    for name in ("fsdp-2024", "fsdp-eager-2024"):
        assert catalog.software(name).selective_reruns == "op-sac", name
    # Korthikanti's attention core (materialized) and DeepSeek-V3's norms and up-projections; FSDP1 and JAX
    for name in ("megatron-lm-2022", "deepseek-hai-2024", "fsdp1-2023", "jax-fsdp-2024", "automodel-2025"):
        assert catalog.software(name).selective_reruns == "unfused-core", name


def test_torchtitan_even_mm_shares_of_llama3_8b_by_hand():
    # forward order wq, wk, wv, wo: 4096x4096, 4096x1024, 4096x1024, 4096x4096; the 2nd and 4th re-run:
    # (4,194,304 + 16,777,216) / 41,943,040 = 0.5
    model = catalog.model("llama3-8b")
    assert sp.attention_mm_flops(model) == [4096 * 4096, 4096 * 1024, 4096 * 1024, 4096 * 4096]
    shares = sp.op_sac_shares(model, moe=False)
    assert shares.projections == 0.5
    # the count runs on: w1 is the 5th mm (saved), w3 the 6th (re-run), w2 the 7th (saved): 1/3 of the MLP
    assert shares.block == pytest.approx(1.0 / 3.0)
    assert sp.even_mm_share([1.0, 2.0, 3.0]) == pytest.approx(2.0 / 6.0)
    assert sp.even_mm_share([1.0, 2.0, 3.0], start=1) == pytest.approx(4.0 / 6.0)
    assert sp.even_mm_share([]) == 0.0
    # a MoE block's grouped expert GEMMs are not aten.mm: all of it re-runs
    assert sp.op_sac_shares(catalog.model("qwen3-30b-a3b"), moe=True).block == 1.0


def test_plain_rerun_arithmetic_by_hand():
    args = dict(
        selective_extra_s=0.0,
        mla_selective_s=7.0,
        mla_up_flops=70.0,
        core_flops=100.0,
        core_attn_s=3.0,
        core_attn_cp_s=0.5,
        fwd_gemm_s=10.0,
        fwd_elem_s=2.0,
        flops_fwd=1000.0,
        proj_gemm_s=4.0,
        proj_flops=400.0,
        shares=sp.OpSacShares(projections=0.5, block=1.0 / 3.0),
        tp_gather_s=0.25,
    )
    # op-sac under flash: 0.5 x 4 + (10 - 4) / 3 = 4 s of GEMMs, + 2 s element-wise; 0.5 x 400 + 600 / 3 = 400 FLOPs
    op = sp.plain_rerun("op-sac", True, False, **args)
    assert op.compute_s == pytest.approx(6.0) and op.flops == pytest.approx(400.0) and op.tp_s == 0.25
    # materialized attention: its bmm and softmax are outside the save list and re-run too
    unfused = dict(args, selective_extra_s=3.0)
    op_mat = sp.plain_rerun("op-sac", False, False, **unfused)
    assert op_mat.compute_s == pytest.approx(9.0) and op_mat.flops == pytest.approx(500.0)
    # core-attn: the attention core whatever the kernel, and its CP exchange; nothing of MLA's up-projections
    core = sp.plain_rerun("core-attn", True, True, **args)
    assert (core.compute_s, core.flops, core.tp_s) == (3.0, 100.0, 0.5)
    # unfused-core: nothing under flash but MLA's norms and up-projections; the materialized core otherwise
    assert sp.plain_rerun("unfused-core", True, True, **args) == sp.PlainRerun(7.0, 70.0, 0.0)
    assert sp.plain_rerun("unfused-core", False, False, **unfused) == sp.PlainRerun(3.0, 100.0, 0.0)


def test_policy_for_a_stated_module_list():
    assert sp.policy_for("core-attn", ()) == "core-attn"
    assert sp.policy_for("op-sac", ()) == "op-sac"
    assert sp.policy_for("core-attn", ("layernorm", "moe_act")) == "unfused-core"
    assert sp.policy_for("unfused-core", ("core_attn", "mlp")) == "core-attn"


def test_megatron_core_plain_selective_reruns_the_flash_forward():
    model, system, sw, comm = setup("megatron-core-2024")
    acc = system.accelerator
    plan = ResolvedPlan.single(recompute="selective")
    parts = layer_parts(model, plan, 8192, acc, sw, comm, False)
    cost = layer_cost(model, plan, 8192, acc, sw, comm, False)
    none = layer_cost(model, plan.model_copy(update={"recompute": "none"}), 8192, acc, sw, comm, False)
    assert cost.recompute_s == parts.fwd_attn_s > 0.0
    assert cost.hw_flops == pytest.approx(none.hw_flops + parts.core_flops)
    # the profile's default before perf.selective_policy: nothing under flash
    old = sw.model_copy(update={"selective_reruns": "unfused-core"})
    assert layer_cost(model, plan, 8192, acc, old, comm, False).recompute_s == 0.0


def test_torchtitan_op_policy_on_llama3_8b_layer():
    model, system, sw, comm = setup("fsdp-2024")
    acc = system.accelerator
    plan = ResolvedPlan.single(recompute="selective", dp=8, zero=3, micro_batch=2)
    parts = layer_parts(model, plan, 8192, acc, sw, comm, False)
    cost = layer_cost(model, plan, 8192, acc, sw, comm, False)
    expected = 0.5 * parts.proj_gemm_s + (parts.fwd_gemm_s - parts.proj_gemm_s) / 3.0 + parts.fwd_elem_s
    assert cost.recompute_s == pytest.approx(expected)
    # no attention core (flash output saved), and the re-run is a sizeable share of the forward
    assert 0.3 < cost.recompute_s / parts.fwd_gemm_s < 0.6
    tokens = 2 * 8192
    mm = 2.0 * tokens * (4096 * 1024 + 4096 * 4096 + 4096 * 14336)  # wk, wo, w3
    assert cost.hw_flops - layer_cost(
        model, plan.model_copy(update={"recompute": "none"}), 8192, acc, sw, comm, False
    ).hw_flops == pytest.approx(mm)


def test_torchtitan_op_policy_saves_the_same_fp8_matmuls_compiled_or_eager():
    # under torch.compile the policy still sees aten.mm on the float8 subclass and its _scaled_mm inherits the
    # tag (module docstring): an FP8 layer re-runs wk, wo and w3 as a BF16 one does, not every forward GEMM
    model = catalog.model("llama3-8b")
    tokens = 2 * 8192
    mm = 2.0 * tokens * (4096 * 1024 + 4096 * 4096 + 4096 * 14336)  # wk, wo, w3
    for name in ("fsdp-2024", "fsdp-eager-2024"):
        _, system, sw, comm = setup(name)
        acc = system.accelerator
        plan = ResolvedPlan.single(recompute="selective", dp=8, zero=3, micro_batch=2, precision="fp8")
        parts = layer_parts(model, plan, 8192, acc, sw, comm, False)
        cost = layer_cost(model, plan, 8192, acc, sw, comm, False)
        none = layer_cost(model, plan.model_copy(update={"recompute": "none"}), 8192, acc, sw, comm, False)
        assert cost.hw_flops - none.hw_flops == pytest.approx(mm), name
        expected = 0.5 * parts.proj_gemm_s + (parts.fwd_gemm_s - parts.proj_gemm_s) / 3.0 + parts.fwd_elem_s
        assert cost.recompute_s == pytest.approx(expected), name
        assert cost.recompute_s < 0.6 * parts.fwd_gemm_s + parts.fwd_elem_s, name


def test_op_policy_reruns_the_tp_all_gathers_not_the_reduce_scatters():
    # Llama 3 8B, tp 8, one micro-batch of 8,192 tokens: each block's h-wide message is 2 B x 8,192 x 4,096 =
    # 67,108,864 B. Sequence parallel: the forward runs an all-gather and a reduce-scatter per block (two blocks);
    # torchtitan saves the reduce-scatters, so the re-run is the two all-gathers, half the forward TP time. Without
    # sequence parallelism the two all-reduces are outside the save list: all of it.
    from supercluster.perf.comm import span_of

    model, system, sw, comm = setup("fsdp-2024")
    acc = system.accelerator
    msg = 2.0 * 8192 * 4096
    span = span_of(8, 1, comm.domain)
    hidden = 1.0 - sw.tp_overlap_fraction
    ag, rs, ar = (float(f(msg, span)) for f in (comm.all_gather, comm.reduce_scatter, comm.all_reduce))
    seq_par = ResolvedPlan.single(recompute="selective", tp=8, sequence_parallel=True)
    parts = layer_parts(model, seq_par, 8192, acc, sw, comm, False)
    assert parts.tp_fwd_s == pytest.approx(2.0 * (ag + rs) * hidden)
    assert parts.tp_gather_s == pytest.approx(2.0 * ag * hidden) and ag == pytest.approx(rs)
    plain = layer_parts(model, seq_par.model_copy(update={"sequence_parallel": False}), 8192, acc, sw, comm, False)
    assert plain.tp_gather_s == pytest.approx(2.0 * ar * hidden) == plain.tp_fwd_s
    cost = layer_cost(model, seq_par, 8192, acc, sw, comm, False)
    none = layer_cost(model, seq_par.model_copy(update={"recompute": "none"}), 8192, acc, sw, comm, False)
    assert cost.tp_comm_s - none.tp_comm_s == pytest.approx(2.0 * ag * hidden)


def test_deepseek_v3_attention_mms_in_torchtitans_order_by_hand():
    # DeepSeek-V3 (arXiv:2412.19437, section 4.2): h 7,168, 128 heads, query latent 1,536, key-value latent 512,
    # shared rotary key 64, per-head qk 192 (128 + 64) and v 128. wq_a 7,168 -> 1,536 (replicated), wq_b 1,536 ->
    # 128 x 192, wkv_a 7,168 -> 512 + 64 (replicated), wkv_b 512 -> 128 x (128 + 128), wo 128 x 128 -> 7,168
    from supercluster.perf.selective_memory import mm_outputs_attention

    model = catalog.model("deepseek-v3")
    assert sp.attention_mm_flops(model) == [
        7168 * 1536,
        1536 * 128 * 192,
        7168 * 576,
        512 * 128 * 256,
        128 * 128 * 7168,
    ]
    # the memory side reads the same list's outputs before wo: widths and whether whole on every TP rank
    assert mm_outputs_attention(model) == [(1536.0, True), (24576.0, False), (576.0, True), (32768.0, False)]
    # even places of the count (wq_b, wkv_b) re-run: (1536 x 24,576 + 512 x 32,768) / total
    flops = sp.attention_mm_flops(model)
    assert sp.op_sac_shares(model, moe=True).projections == pytest.approx((flops[1] + flops[3]) / sum(flops))
