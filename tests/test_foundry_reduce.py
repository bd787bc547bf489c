"""llm-foundry's Jan 2024 large-scale runs reduce their gradients in fp32 (Composer 0.17 mixed_precision DEFAULT)."""

from __future__ import annotations

from supercluster import catalog
from supercluster.validate.harness import predict_row, read_rows
from supercluster.validate.rows import row_specs

LARGE_SCALE = "H100 80GB BF16 (Large Scale, >= 128 GPUs)"
PAIRS = (("llm-foundry-2024", "fsdp1-2023"), ("llm-foundry-triton-2024", "llm-foundry-triton-2023"))


def _rows() -> list[dict[str, str]]:
    return [r for r in read_rows("fsdp")[1] if r["id"].startswith("foundry24")]


def test_fp32_reduce_stacks_differ_from_their_bf16_twins_only_in_the_reduce_width():
    for new, old in PAIRS:
        # and in Composer's FSDP1 BACKWARD_POST prefetch default (perf.fsdp), which the Composer stacks carry and
        # fms-fsdp (fsdp1-2023's other user, not on Composer) does not
        exclude = {"id", "name", "source", "grad_reduce_bytes", "backward_post_prefetch"}
        a = catalog.software(new).model_dump(exclude=exclude)
        b = catalog.software(old).model_dump(exclude=exclude)
        assert a == b, new
        assert catalog.software(new).backward_post_prefetch
        # Composer v0.17.2 get_mixed_precision, DEFAULT: reduce_dtype = torch.float32 (4 bytes); the twins reduce
        # in bf16 (2 bytes)
        assert catalog.software(new).grad_reduce_bytes == 4
        assert catalog.software(old).grad_reduce_bytes == 2


def test_every_large_scale_row_and_no_other_runs_the_fp32_reduce():
    rows = _rows()
    large = [r for r in rows if LARGE_SCALE in r["source"]]
    # the table has 6 models x 3 GPU counts (128, 256, 512), every one with MP Mode DEFAULT
    assert len(large) == 18
    assert {int(r["gpus"]) for r in large} == {128, 256, 512}
    for r in large:
        assert "| DEFAULT |" in r["quote"], r["id"]
        assert ">=0.17.2,<0.18" in r["notes"], r["id"]
        expected = "llm-foundry-triton-2024" if "attn_impl triton" in r["notes"] else "llm-foundry-2024"
        assert r["software"] == expected, r["id"]
    others = [r for r in rows if LARGE_SCALE not in r["source"]]
    assert others and not any(r["software"] in ("llm-foundry-2024", "llm-foundry-triton-2024") for r in others)


def test_fp32_reduce_slows_the_mpt_13b_512_gpu_step_by_at_most_the_extra_reduce_scatter():
    # mpt-13b, 512 H100, Triton attention, micro-batch 16, full checkpointing (measured 4,952 tokens/s/GPU), against
    # its twin that differs only in the reduce width (llm-foundry-triton-2023: bf16). The fp32 reduce doubles the
    # reduce-scatter: P params x 2 extra bytes per step through each node's eight 400 Gb/s NICs (400 GB/s per node,
    # each GPU's share of a ring crossing them): P x 2 / 400e9 s, the most the step can grow if none of it hides
    # behind the backward (13B: about 65 ms).
    row = next(r for r in _rows() if r["id"] == "foundry24-h100-mpt-13b-s2048-g512-mb16")
    assert row["software"] == "llm-foundry-triton-2024"
    now = predict_row(row)
    before = predict_row({**row, "software": "llm-foundry-triton-2023"})
    assert now.measured == 4952.0
    tokens_per_gpu = 16 * 2048
    step_now = tokens_per_gpu / now.predicted
    step_before = tokens_per_gpu / before.predicted
    params = row_specs(row).model.total_params
    extra_s = params * 2 / 400e9
    assert 12e9 < params < 14e9
    assert 0.0 < step_now - step_before <= extra_s


def test_fms_fsdp_selective_ac_is_full_recompute_on_the_fraction_its_hfu_over_mfu_implies():
    # fms-fsdp's 'Selective AC' checkpoints whole blocks on a fraction p of them (ac_handler.py), so HFU/MFU =
    # 1 + p/3; p = 3 x (HFU/MFU - 1), the mean of the README's A100 and H100 columns, at most 1.
    hfu_mfu = {  # (kind, model): ((MFU, HFU) A100, (MFU, HFU) H100), README HFU tables
        ("eager", "llama2-13b"): ((0.51, 0.59), (0.35, 0.40)),
        ("compile", "llama2-13b"): ((0.61, 0.69), (0.43, 0.46)),
        ("compile", "fms-llama-34b"): ((0.55, 0.74), (0.38, 0.49)),
        ("compile", "llama2-70b"): ((0.55, 0.74), (0.38, 0.47)),
    }
    rows = [r for r in read_rows("fsdp")[1] if r["id"].startswith("fmsfsdp24")]
    assert len(rows) == 16 and not any(r["recompute"] == "selective" for r in rows)
    checked = 0
    for r in rows:
        if "Selective AC" not in r["quote"]:
            continue
        pairs = hfu_mfu[(r["id"].split("-")[1], r["model"])]
        p = min(1.0, sum(3.0 * (hfu / mfu - 1.0) for mfu, hfu in pairs) / 2)
        assert r["recompute"] == "full", r["id"]
        assert float(r["recompute_fraction"]) == round(p, 2), r["id"]
        checked += 1
    # 13b in both tables, 34b and 70b in the compiled one, each on A100 and H100
    assert checked == 8
    # eager 13b: 3 x (0.59/0.51 - 1) = 0.4706, 3 x (0.40/0.35 - 1) = 0.4286, mean 0.45
    assert round((3 * (0.59 / 0.51 - 1) + 3 * (0.40 / 0.35 - 1)) / 2, 2) == 0.45
