"""Each formula against a published number or a closed form."""

import numpy as np
import pytest

from supercluster import catalog
from supercluster.perf.conventions import megatron_flops, megatron_recompute_flops, palm_flops
from supercluster.perf.gemm import gemm_time_s
from supercluster.perf.memory import inflight_microbatches, layer_activation_bytes
from supercluster.perf.pipeline import balance_layers, schedule_bubble
from supercluster.specs import ResolvedPlan
from supercluster.units import GIB


def plan(**kw):
    return ResolvedPlan.single(**kw)


MEGATRON_2022 = catalog.software("megatron-lm-2022")


@pytest.mark.parametrize(
    ("model", "kw", "expected_gib"),
    [
        # Korthikanti et al. 2022, Figure 1 (first stage, per GPU)
        ("gpt-22b", dict(tp=8, micro_batch=4), 59.25),
        ("gpt-22b", dict(tp=8, micro_batch=4, sequence_parallel=True, recompute="selective"), 9.5625),
        ("gpt-175b", dict(tp=8, pp=8, vpp=3), 66.84375),
        ("gpt-1t", dict(tp=8, pp=64, sequence_parallel=True, recompute="selective"), 26.5625),
    ],
)
def test_korthikanti_activation_memory(model, kw, expected_gib):
    m = catalog.model(model)
    p = plan(**kw)
    per_stage_layers = m.layers / p.pp
    act = layer_activation_bytes(m, p, 2048, MEGATRON_2022, moe=False) * per_stage_layers
    act *= inflight_microbatches(p, microbatches=512)
    assert act / GIB == pytest.approx(expected_gib, rel=1e-9)


def test_flash_attention_drops_the_score_matrix():
    m = catalog.model("gpt-22b")
    p = plan(tp=8, micro_batch=4)
    flash = catalog.software("megatron-core-2024")
    stored = layer_activation_bytes(m, p, 2048, MEGATRON_2022, moe=False)
    assert layer_activation_bytes(m, p, 2048, flash, moe=False) < 0.55 * stored


def test_gqa_and_swiglu_change_activations():
    m = catalog.model("llama3-70b")
    sw = catalog.software("megatron-core-2024")
    mha = m.model_copy(update={"kv_heads": None})
    gelu = m.model_copy(update={"activation": "gelu"})
    base = layer_activation_bytes(m, plan(tp=8), 8192, sw, moe=False)
    assert layer_activation_bytes(mha, plan(tp=8), 8192, sw, moe=False) > base
    assert layer_activation_bytes(gelu, plan(tp=8), 8192, sw, moe=False) < base


def test_llama3_405b_training_flops():
    # Llama 3 paper: 405B trained on 15.6T tokens with 3.8e25 FLOPs (6 N D).
    m = catalog.model("llama3-405b")
    per_seq = palm_flops(m, 1, 8192) - 12 * m.layers * m.hidden * 8192 * 8192
    assert per_seq / 8192 * 15.6e12 == pytest.approx(3.8e25, rel=0.03)


def test_megatron_conventions_agree_for_plain_gpt():
    # For GPT (g = a, f = 4h, no gating) the Megatron counter is 72 B s l h^2 (1 + s/(6h) + V/(12 l h)),
    # i.e. 3/4 of eq. 3 (which adds the recompute forward) up to the vocabulary term.
    m = catalog.model("gpt-175b")
    b, s = 1536, 2048
    h, ll, v = m.hidden, m.layers, m.vocab
    assert megatron_flops(m, b, s) == pytest.approx(72 * b * s * ll * h * h * (1 + s / (6 * h) + v / (12 * ll * h)))
    assert megatron_recompute_flops(m, b, s) == pytest.approx(
        96 * b * s * ll * h * h * (1 + s / (6 * h) + v / (16 * ll * h))
    )


def test_large_gemm_reaches_its_fraction_small_gemm_does_not():
    acc = catalog.accelerator("h100-sxm-80gb")
    n = 16384
    t = gemm_time_s(n, n, n, acc)
    eff = 2 * n**3 / t / acc.peak_flops("bf16")
    assert eff == pytest.approx(acc.efficiency.gemm_peak_fraction["bf16"], rel=0.05)
    small = gemm_time_s(256, 256, 256, acc)
    assert 2 * 256**3 / small / acc.peak_flops("bf16") < 0.5 * eff


def test_memory_bound_gemm_uses_hbm_roofline():
    acc = catalog.accelerator("h100-sxm-80gb")
    m, n, k = 65536, 65536, 1  # outer product: 2 flops per 2-byte output element
    t = gemm_time_s(m, n, k, acc)
    assert t == pytest.approx(2.0 * m * n / (acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction), rel=0.01)


def test_pipeline_bubble_closed_forms():
    # Narayanan et al. 2021: bubble (p-1)/m of the steady state for 1F1B, (p-1)/(v m) interleaved
    one = np.array([0])
    assert schedule_bubble(one, 1.0, 0.5, 8, 1) == pytest.approx(7.0)
    assert schedule_bubble(one, 1.0, 0.5, 8, 4) == pytest.approx(7 / 4)
    assert schedule_bubble(one, 1.0, 0.5, 1, 1) == 0


def test_uneven_stages_for_126_layers_on_16():
    counts = balance_layers(126, 16, first_extra=0.1, last_extra=0.8)
    assert sum(counts) == 126 and len(counts) == 16
    assert counts[-1] < max(counts)  # the head's stage gets fewer layers, as in Llama 3
    assert max(counts) == 8


def test_megatron_hides_the_input_gradient_collective_behind_wgrad():
    # Megatron's LinearWithGradAccumulationAndAsyncCommunication: without sequence parallelism the backward
    # all-reduce of each block's input gradient runs behind that block's weight-gradient GEMMs; with it, the
    # all-gather that is the backward of the output reduce-scatter stays exposed (one per block)
    from supercluster.perf.comm import CollectiveModel, span_of
    from supercluster.perf.layer import layer_cost

    model = catalog.model("gpt3-175b")
    system = catalog.system("dgx-a100-superpod", gpus=8)
    comm = CollectiveModel(system)
    sync = catalog.software("megatron-lm-2022").model_copy(update={"tp_async_dgrad": False})
    asyn = sync.model_copy(update={"tp_async_dgrad": True})
    tok_bytes = 2048 * model.hidden * 2.0
    span = span_of(8, 1, comm.domain)
    ar, ag = float(comm.all_reduce(tok_bytes, span)), float(comm.all_gather(tok_bytes, span))
    for sp in (False, True):
        plan = ResolvedPlan.single(tp=8, sequence_parallel=sp)
        a = layer_cost(model, plan, 2048, system.accelerator, sync, comm, moe=False).tp_comm_s
        b = layer_cost(model, plan, 2048, system.accelerator, asyn, comm, moe=False).tp_comm_s
        if sp:
            assert b == pytest.approx(a / 2 + 2 * ag, rel=1e-6)  # forward 2 x (AG + RS), backward 2 x AG
        else:
            assert a == pytest.approx(4 * ar, rel=1e-6) and b == pytest.approx(2 * ar, rel=1e-6)


def test_interleaved_fill_crosses_every_chunk_boundary(monkeypatch):
    # before the pipeline is full the first micro-batch crosses p*v - 1 chunk boundaries each way
    from supercluster.fabric.collectives import CollectiveModel
    from supercluster.perf.batch import Candidates, evaluate
    from supercluster.specs import WorkloadSpec

    model = catalog.model("gpt3-175b")
    system = catalog.system("dgx-h100-superpod", gpus=64)
    sw = catalog.software("megatron-core-2024")  # asynchronous p2p: no per-micro-batch cost, only the fill
    wl = WorkloadSpec(model=model, seq_len=2048, global_batch=64)

    plans = [ResolvedPlan.single(tp=8, pp=8, vpp=v, zero=1, sequence_parallel=True) for v in (1, 2)]
    p2p = float(CollectiveModel(system).p2p(2048 * model.hidden * 2.0 / 8, True))
    with_p2p = evaluate(wl, system, sw, Candidates.from_plans(plans)).bubble_s
    monkeypatch.setattr(CollectiveModel, "p2p", lambda self, nbytes, crosses: 0.0 * np.asarray(nbytes))
    without = evaluate(wl, system, sw, Candidates.from_plans(plans)).bubble_s
    for i, v in enumerate((1, 2)):
        assert with_p2p[i] - without[i] == pytest.approx(2 * (8 * v - 1) * p2p)


def test_loss_traffic_follows_the_stack():
    # Megatron's vocab-parallel cross-entropy: fp32 cast 6, max 4, subtract 8, exp 8, sum 4, normalise 8 = 38 B
    # per logit forward; scale 8 and cast back 6 = 14 B backward (megatron/core/tensor_parallel/cross_entropy.py)
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.gemm import linear_fwd_bwd_s, memory_bound_s
    from supercluster.perf.layer import head_cost

    model = catalog.model("llama3-8b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    plan = ResolvedPlan.single(micro_batch=1)
    comm = CollectiveModel(system)
    acc = system.accelerator
    gemm_f, gemm_b = linear_fwd_bwd_s(4096, model.vocab, model.hidden, acc, "bf16")
    logits = 4096 * model.vocab
    mega = head_cost(model, plan, 4096, acc, comm, catalog.software("megatron-core-2024"))
    assert mega[0] == pytest.approx(gemm_f + memory_bound_s(38 * logits, acc))
    assert mega[1] == pytest.approx(gemm_b + memory_bound_s(14 * logits, acc))
    # AutoModel's recipes keep the logits in bf16 (MaskedCrossEntropy, fp32_upcast false): less traffic
    auto = head_cost(model, plan, 4096, acc, comm, catalog.software("automodel-2025"))
    assert auto[0] + auto[1] < mega[0] + mega[1]


def test_fused_loss_of_the_nemo_recipes():
    # Megatron-Core's fused cross-entropy (megatron/core/fusions/fused_cross_entropy.py, jit_fuser = torch.compile):
    # cast + max 6, subtract + exp + sum 8, normalise 8 = 22 B forward; multiply written back 8 + bf16 cast 2 = 10 B
    # backward. NeMo's recipes turn it on (dgxc-benchmarking llama3.1 yamls "cross_entropy_loss_fusion: true",
    # NeMo 2.0 GPTConfig default True); the 2023 / early-2024 MLPerf GPT-3 recipes predate it (2024-06-14).
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.gemm import linear_fwd_bwd_s, memory_bound_s
    from supercluster.perf.layer import head_cost

    model = catalog.model("llama3-8b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    plan = ResolvedPlan.single(micro_batch=1)
    comm = CollectiveModel(system)
    acc = system.accelerator
    gemm_f, gemm_b = linear_fwd_bwd_s(4096, model.vocab, model.hidden, acc, "bf16")
    logits = 4096 * model.vocab
    for name in ("nemo-2024", "megatron-bridge-2025"):
        fused = head_cost(model, plan, 4096, acc, comm, catalog.software(name))
        assert fused[0] == pytest.approx(gemm_f + memory_bound_s(22 * logits, acc))
        assert fused[1] > gemm_b + memory_bound_s(10 * logits, acc) * 0.999  # + the head's gradient accumulation
    for name in ("nemo-2023-te-flash", "nemo-fp8-params-2024"):
        sw = catalog.software(name)
        assert (sw.ce_fwd_bytes_per_logit, sw.ce_bwd_bytes_per_logit) == (38, 14)


# Korthikanti et al. 2022 (arXiv:2205.05198) Table 4: forward and backward milliseconds of one transformer
# layer of their 22B model (h 6144, 64 heads, s 2048, micro-batch 4, tensor parallel 8 on A100 80GB)
KORTHIKANTI_TABLE4_MS = {
    # experiment: (sequence parallel, recompute, forward ms, backward ms)
    "baseline no recompute": (False, "none", 7.7, 11.9),
    "sequence parallelism": (True, "none", 7.2, 11.8),
    "baseline with recompute": (False, "full", 7.7, 19.5),
    "selective recompute": (False, "selective", 7.7, 13.2),
    "selective + sequence": (True, "selective", 7.2, 13.1),
}


@pytest.mark.parametrize("experiment", list(KORTHIKANTI_TABLE4_MS))
def test_one_layer_against_korthikanti_table4(experiment):
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost, tp_comm

    sp, recompute, fwd_ms, bwd_ms = KORTHIKANTI_TABLE4_MS[experiment]
    model = catalog.model("gpt-22b")
    system = catalog.system("dgx-a100-superpod", gpus=8)
    comm = CollectiveModel(system)
    p = ResolvedPlan.single(tp=8, micro_batch=4, sequence_parallel=sp, recompute=recompute)
    cost = layer_cost(model, p, 2048, system.accelerator, MEGATRON_2022, comm, moe=False)
    tp_fwd, _ = tp_comm(4 * 2048 * model.hidden * 2.0, p, MEGATRON_2022, comm, {})
    model_fwd_ms = (cost.fwd_s + tp_fwd) * 1e3
    model_total_ms = cost.total_s * 1e3
    # forward and the combined time within 4%; the backward (the rest) within 5%
    assert model_fwd_ms == pytest.approx(fwd_ms, rel=0.04)
    assert model_total_ms == pytest.approx(fwd_ms + bwd_ms, rel=0.04)
    assert model_total_ms - model_fwd_ms == pytest.approx(bwd_ms, rel=0.05)


def test_korthikanti_table4_orderings():
    # the paper's conclusions from Table 4: sequence parallelism alone is faster than the baseline; full
    # recomputation costs ~39% (not 33%: the recomputed forward's all-reduces are exposed, the backward's
    # hidden); selective recompute with sequence parallelism costs the least of the recomputing options
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost

    model = catalog.model("gpt-22b")
    system = catalog.system("dgx-a100-superpod", gpus=8)
    comm = CollectiveModel(system)

    def total(**kw):
        p = ResolvedPlan.single(tp=8, micro_batch=4, **kw)
        return layer_cost(model, p, 2048, system.accelerator, MEGATRON_2022, comm, moe=False).total_s

    base = total()
    assert total(sequence_parallel=True) < base
    assert total(recompute="full") / base == pytest.approx(1.39, abs=0.02)
    sel_sp = total(sequence_parallel=True, recompute="selective")
    assert sel_sp < total(recompute="selective") < total(recompute="full")
    # Known gap: the model puts selective + sequence parallel at +0.3% over the baseline, the paper at +4%.
    # Counting each elementwise backward op by op (norm 3 passes, gradient sum 3, dropout 2.5) instead of
    # twice the forward closes it (every Table 4 cell within 1%), but moves the end-to-end tables the other
    # way once refitted; kept as is until the end-to-end cost it was absorbing is found.
    assert 1.0 < sel_sp / base < 1.04


def test_megatron_causal_counter_matches_megatron_bridge_tflops_per_token():
    """Megatron-Bridge performance summary (25.11 container) prints tokens/s/GPU and model TFLOP/s/GPU side by
    side; their ratio is the counter's FLOPs per token: Llama 3 8B FP8 on 8 H100 744e12/14,451, Qwen3-30B-A3B
    FP8 on 16 H100 121e12/5,275, Qwen3-235B-A22B FP8 on 256 H100 233e12/1,575 (MoE: routed experts x top-k)."""
    from supercluster import catalog

    for name, seq, tflops, tokens in (
        ("llama3-8b", 8192, 744, 14451),
        ("qwen3-30b-a3b", 4096, 121, 5275),
        ("qwen3-235b-a22b", 4096, 233, 1575),
    ):
        per_token = megatron_flops(catalog.model(name), 1, seq, causal=True) / seq
        assert per_token == pytest.approx(tflops * 1e12 / tokens, rel=0.01), name
