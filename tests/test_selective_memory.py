"""What each stack's selective recompute and each Megatron-Core module keeps of a layer (perf.selective_memory)."""

import pytest

from supercluster import catalog
from supercluster.perf import selective_memory
from supercluster.perf.memory import layer_activation_bytes
from supercluster.specs import ResolvedPlan
from supercluster.units import GIB
from supercluster.validate.harness import measured_estimate, read_rows

MEGATRON_2022 = catalog.software("megatron-lm-2022")  # unfused-core, materialized scores
CORE = catalog.software("megatron-core-2024")  # core-attn, flash
TITAN = catalog.software("fsdp-2024")  # op-sac, flash
DEEPSEEK = catalog.software("deepseek-hai-2024")  # unfused-core, flash


def plan(**kw):
    return ResolvedPlan.single(**kw)


def test_korthikanti_table2_under_a_checkpointed_core_attention():
    # Korthikanti et al. 2022 Table 2: tensor + sequence parallel stores sbh/t (34 + 5as/h) bytes per layer, and with
    # selective recompute sbh/t x 34. GPT-3 175B (h 12,288, a 96), s 2,048, b 1, t 8: 2048 x 12288 / 8 x 34 =
    # 106,954,752 B; without recompute + 5 x 96 x 2048^2 / 8 = 251,658,240 B more. Megatron-Core's core_attn
    # checkpoint drops the same score terms as the paper's selective.
    m = catalog.model("gpt-175b")
    core_unfused = CORE.model_copy(update={"attention_kernel": "materialized"})
    for sw in (MEGATRON_2022, core_unfused):
        sel = layer_activation_bytes(m, plan(tp=8, sequence_parallel=True, recompute="selective"), 2048, sw, False)
        none = layer_activation_bytes(m, plan(tp=8, sequence_parallel=True), 2048, sw, False)
        assert sel == 2048 * 12288 / 8 * 34
        assert none - sel == 5 * 96 * 2048**2 / 8


def test_mla_selective_keeps_what_each_stack_discards():
    # DeepSeek-V3 (h 7,168, 128 heads, q/kv latents 1,536 / 512, rotary 64, qk 192, v 128), s 4,096, b 1, t 1, bf16
    m = catalog.model("deepseek-v3")
    s = 4096
    none = layer_activation_bytes(m, plan(), s, CORE, moe=False)
    # Megatron-Core's default ['core_attn']: the up-projections do not re-run, so only the log-sum-exp goes
    assert none - layer_activation_bytes(m, plan(recompute="selective"), s, CORE, moe=False) == 4 * 128 * s
    # DeepSeek's own stack (section 3.2.3): the two norm outputs (2 x 2 B x h) and the per-head Q, K, V
    # (2 B x 128 x (192 + 192 + 128)) go, the latents stay
    ds = none - layer_activation_bytes(m, plan(recompute="selective"), s, DEEPSEEK, moe=False)
    assert ds == s * (2 * 2 * 7168 + 2 * 128 * (192 + 192 + 128))
    # Megatron-Core's mla_up_proj: the per-head Q, K, V only (the norms re-run with ``layernorm``)
    up = plan(recompute="selective").model_copy(update={"recompute_modules": ("mla_up_proj",)})
    assert none - layer_activation_bytes(m, up, s, CORE, moe=False) == s * 2 * 128 * (192 + 192 + 128)
    both = up.model_copy(update={"recompute_modules": ("layernorm", "mla_up_proj")})
    # layernorm adds the input norm's output (TENorm under MLA): 2 B x h
    assert layer_activation_bytes(m, up, s, CORE, False) - layer_activation_bytes(m, both, s, CORE, False) == (
        s * 2 * 7168
    )


def test_torchtitan_op_policy_keeps_the_odd_matmul_outputs_and_the_attention_output():
    # Llama 3 8B (h 4,096, f 14,336, 32 heads, 8 KV heads of 128), t 1, per token in bf16: block input 2h; the mm
    # in order wq, wk, wv, wo, w1, w3, w2 saved at places 1, 3, 5, 7: wq 2 x 4096, wv 2 x 1024, w1 2 x 14336,
    # w2 2 x 4096; the SDPA output 2 x 4096 and its fp32 log-sum-exp 4 x 32 = 63,616 B; s 8,192 x b 2 x 32 layers
    # = 31.0625 GiB
    m = catalog.model("llama3-8b")
    per_token = 2 * 4096 + 2 * 4096 + 2 * 1024 + 2 * 14336 + 2 * 4096 + 2 * 4096 + 4 * 32
    assert per_token == 63616
    sel = layer_activation_bytes(m, plan(micro_batch=2, recompute="selective"), 8192, TITAN, moe=False)
    assert sel == 8192 * 2 * per_token
    assert sel * 32 / GIB == pytest.approx(31.0625)
    # the precision of the GEMMs does not change what is kept: mm outputs are bf16
    fp8 = plan(micro_batch=2, recompute="selective", precision="fp8")
    assert layer_activation_bytes(m, fp8, 8192, TITAN, moe=False) == sel
    # at t 2: the column-parallel outputs halve, the row-parallel w2 output is the whole h (a partial sum), and the
    # two reduce-scatter outputs (after wo and w2) add h / t each; the block input is sequence-sharded
    t2 = plan(micro_batch=2, tp=2, sequence_parallel=True, recompute="selective")
    per_rank = (2 * 4096 + 2 * 4096 + 2 * 1024 + 2 * 14336 + 2 * 4096 + 4 * 32) / 2 + 2 * 4096 + 2 * 2 * 4096 / 2
    assert layer_activation_bytes(m, t2, 8192, TITAN, moe=False) == pytest.approx(8192 * 2 * per_rank)
    # without sequence parallelism the block input is whole and the row-parallel outputs are all-reduced (re-run)
    no_sp = plan(micro_batch=2, tp=2, recompute="selective")
    per_rank = (2 * 4096 + 2 * 1024 + 2 * 14336 + 2 * 4096 + 4 * 32) / 2 + 2 * 4096 + 2 * 4096
    assert layer_activation_bytes(m, no_sp, 8192, TITAN, moe=False) == pytest.approx(8192 * 2 * per_rank)


def test_module_lists_drop_their_own_tensors():
    m = catalog.model("mixtral-8x7b")  # h 4,096, expert f 14,336, top-2, no shared experts
    base = plan(ep=8, dp=8, recompute="selective")
    s = 4096
    core = layer_activation_bytes(m, base, s, CORE, moe=True)

    def with_modules(*mods):
        return layer_activation_bytes(m, base.model_copy(update={"recompute_modules": mods}), s, CORE, moe=True)

    # moe_act: the routed copies' activation output (fc2's input, 2 B x f per copy) goes, on top of core_attn
    copies = core - with_modules("core_attn", "moe_act")
    from supercluster.perf.imbalance import plan_routing_load

    routed = s * 2 * plan_routing_load(m, base, s)
    assert copies == pytest.approx(routed * 14336 * 2)
    # moe: the copies' inputs (2 B x h) and both up-projection outputs too, and the whole layer's combine copies
    # (perf.combine_memory: megatron-core-2024 keeps 2 B x h per returned copy, k s of them, no routing load)
    combine = 2 * 2 * s * 4096
    assert core - with_modules("core_attn", "moe") == pytest.approx(routed * (2 * 4096 + 14336 * (2 * 2 + 2)) + combine)
    # mlp is a dense layer's module: nothing in a MoE layer
    assert with_modules("core_attn", "mlp") == core


def test_kept_selective_leaves_the_none_pieces_alone_without_a_policy_change():
    acts = selective_memory.LayerActivations(*([1.0] * 13))
    kept = selective_memory.kept_selective(acts, "core-attn", (), is_mla=False, flash=True)
    assert kept.split() == (4.0, 8.0)  # everything but the score terms


def _rows(ids):
    _, rows = read_rows("all")
    return [r for r in rows if r["id"] in ids]


def test_torchtitan_published_peak_memory():
    # pytorch/torchtitan benchmarks/llama3_h100_202412_torchtitan.md Table 1 (Llama 3 8B, 8 H100 96 GB, FSDP, local
    # batch 2, seq 8,192, op-level selective AC): "FSDP | 5,762 | 82.4", "FSDP + torch.compile | 6,667 | 77.0",
    # "FSDP + torch.compile + Float8 | 8,532 | 76.8" (TPS/GPU, peak memory GiB). The run fits; before this module the
    # model kept every activation (68 GiB) and said 103 GiB. The model's peak stays below the reported one: the loss's
    # fp32 logits (torchtitan casts them, .float(), and keeps the log-softmax: 10 B per logit at the peak against
    # the 6 B perf.memory books, 4 B x 16,384 tokens x 128,256 = 7.8 GiB) and the allocator's reserve are not in it.
    peaks = {
        "torchtitan24-table1-llama3-8b-8-fsdp": 82.4,
        "torchtitan24-table1-llama3-8b-8-fsdp-compile": 77.0,
        "torchtitan24-table1-llama3-8b-8-fsdp-compile-fp8": 76.8,
    }
    for row in _rows(peaks):
        _, est = measured_estimate(row)
        total = est.memory.total_bytes / GIB
        assert est.memory.fits
        assert total < peaks[row["id"]] < 1.2 * (total + 4 * 16384 * 128256 / GIB)


def test_megatron_module_lists_fit_the_runs_that_ran():
    # NVIDIA Megatron-MoE-ModelZoo best_practice/qwen3: Qwen3-235B on 256 H100 80 GB with "--recompute-granularity
    # selective --recompute-modules layernorm moe" at 16K-128K: the runs fit (the model read 118-129 GiB before the
    # modules' memory was priced)
    ids = {f"zoo-qwen3-235b-h100-256-{k}k-{v}" for k in (16, 32, 64, 128) for v in ("fb", "dropless")}
    rows = _rows(ids)
    assert len(rows) == 8
    for row in rows:
        _, est = measured_estimate(row)
        assert est.memory.fits, row["id"]


@pytest.mark.parametrize(
    ("model", "policy", "offered"),
    [
        ("llama3-8b", "op-sac", True),  # torchtitan's op policy keeps 31 of 68 GiB (above)
        ("llama3-8b", "core-attn", False),  # the log-sum-exp only, and a re-run of the core
        ("llama3-8b", "unfused-core", False),  # a fused kernel never stored the scores
        ("deepseek-v3", "unfused-core", True),  # DeepSeek's norms and up-projections
        ("deepseek-v3", "core-attn", False),  # Megatron-Core keeps MLA's Q, K, V
    ],
)
def test_the_planner_offers_selective_where_it_saves_memory(model, policy, offered):
    from supercluster.perf.batch import RECOMPUTE
    from supercluster.plan.space import enumerate_space
    from supercluster.specs import PlanSpec, WorkloadSpec

    assert selective_memory.saves_memory(policy, model == "deepseek-v3") is offered
    system = catalog.system("dgx-h100-superpod", gpus=64)
    wl = WorkloadSpec(model=catalog.model(model), seq_len=4096, global_batch=64)
    space = enumerate_space(wl, system, 64, PlanSpec(), flash_attention=True, selective_reruns=policy)
    assert (RECOMPUTE.index("selective") in set(space.candidates.rc.tolist())) is offered


def test_full_recompute_working_layer_is_the_whole_layer_whatever_the_stack_selective():
    # One layer re-run under full recompute holds all it stores but the score matrix its materialized core builds
    # and drops (perf.batch._whole_layer_sw): Llama 3 8B (no dropout: 2 B a score), tp 1, b 1, s 2,048, so the
    # working set is the none layer less 2 x a x s x s x b = 2 x 32 x 2,048 x 2,048 = 268,435,456 B, whether the
    # stack's plain selective is torchtitan's op policy, Korthikanti's core or Megatron-Core's core_attn.
    from supercluster.perf import batch
    from supercluster.perf.comm import CollectiveModel

    model, seq = catalog.model("llama3-8b"), 2048
    system = catalog.system("dgx-h100-superpod", gpus=8)
    none = layer_activation_bytes(model, plan(recompute="none"), seq, MEGATRON_2022, moe=False)
    scores = 2.0 * 32 * 2048 * 2048
    full = batch.RECOMPUTE.index("full")
    for policy in ("op-sac", "unfused-core", "core-attn"):
        sw = TITAN.model_copy(update={"attention_kernel": "materialized", "selective_reruns": policy})
        terms = batch.inner_terms(model, seq, system, sw, CollectiveModel(system), (1, 1, 1, 0, full, 0, 1, 1))
        assert terms["act_work"] == pytest.approx(none - scores), policy
    # without the whole-layer reading, the op policy's keep (a fraction of the layer) would be booked instead
    op = TITAN.model_copy(update={"attention_kernel": "materialized"})
    assert layer_activation_bytes(model, plan(recompute="selective"), seq, op, moe=False) < 0.6 * (none - scores)
