"""2021-22 era stacks: the DeepSpeed Azure rows ran DeepSpeed ZeRO-3 in fp16 on Megatron-DeepSpeed, as the recipes
the post links say (microsoft/Megatron-DeepSpeed examples/azure/run-175b.sh and run-1t.sh, commit 62bc456)."""

from supercluster import catalog
from supercluster.validate.harness import predict_row, read_rows


def _rows(prefix: str) -> list[dict[str, str]]:
    return [r for r in read_rows("all")[1] if r["id"].startswith(prefix)]


def test_dsazure_rows_ran_deepspeed_zero3_in_fp16():
    rows = _rows("dsazure22-")
    assert len(rows) == 3
    # run-175b.sh leaves the optimizer on the GPU (OFFLOAD_DEVICE="none"); run-1t.sh offloads it (and the 2T run,
    # larger, with it): the offload profile
    expected = {
        "175b": "deepspeed-zero3-2022",
        "1t": "deepspeed-zero3-2022-offload",
        "2t": "deepspeed-zero3-2022-offload",
    }
    for row in rows:
        software = expected[row["id"].split("-")[1]]
        assert row["software"] == software
        assert row["precision"] == "fp16"
        assert row["zero"] == "3" and row["tp"] == "1" and row["pp"] == "1"
        assert '"fp16": {"enabled": true}' in row["notes"]
        res = predict_row(row)
        assert res.status == "ok" and res.software == software
        assert "fp16 priced as bf16" in res.filled["precision"]


def test_deepspeed_zero3_2022_profile_reads_the_recipe():
    sw = catalog.software("deepspeed-zero3-2022")
    assert sw.dp_bucket_params == 90_000_000  # "reduce_bucket_size": 90000000
    assert sw.grad_reduce_bytes == 2  # communication_data_type fp16 (DeepSpeed 0.6.2 engine.py)
    assert sw.dp_overlap and sw.param_gather_overlap  # "overlap_comm": true; stage-3 prefetch
    assert sw.attention_kernel == "materialized"  # baddbmm + FusedScaleMaskSoftmax before 2022-12-08
    assert not (sw.shard_root_unit or sw.shard_copy_out or sw.zero2_regather)  # ZeRO-3, not FSDP units
    assert not (sw.has_sequence_parallel or sw.has_selective_recompute or sw.has_interleaved_schedule)
    assert 3 in sw.zero_stages
