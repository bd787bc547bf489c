"""Sweeps stream to Parquet, survive interruption, and run on Ray."""

from pathlib import Path

import duckdb
import pytest

from supercluster.plan import sweep


def tasks():
    return sweep.grid(
        None,
        allow_fp8=False,
        model=["llama3-8b", "llama3-70b"],
        system=["dgx-h100-superpod"],
        gpus=[64, 256, 1000],
        global_batch=[512],
    )


def test_interrupted_sweep_resumes_without_recomputing(tmp_path: Path):
    out = tmp_path / "sweep"
    first = sweep.run(tasks(), out, workers=1, limit=3)  # stops half way, as if killed
    assert first.computed == 3
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert len(before) == 3
    (out / ".part-deadbeef.parquet.tmp").write_bytes(b"half a file")  # a write cut off by the kill
    second = sweep.run(tasks(), out, workers=2)
    assert second.skipped == 3 and second.computed == 3
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert len(after) == 6
    assert all(after[name] == mtime for name, mtime in before.items())  # finished rows untouched
    third = sweep.run(tasks(), out)
    assert third.computed == 0 and third.skipped == 6


def test_failed_scenarios_are_rows_with_reasons(tmp_path: Path):
    summary = sweep.run(tasks(), tmp_path, workers=2)
    assert summary.failed == 2  # 1000 GPUs give no whole batch per replica for 512 sequences
    rows = {(r["model"], r["gpus"]): r for r in sweep.read(tmp_path)}
    assert rows[("llama3-70b", 1000)]["status"] == "failed"
    assert "GPU counts that work" in rows[("llama3-70b", 1000)]["error"]
    assert rows[("llama3-8b", 64)]["status"] == "ok" and rows[("llama3-8b", 64)]["mfu"] > 0.2
    ok = rows[("llama3-8b", 64)]
    # every row carries the 80% interval of its step time and time to train (supercluster.validate.interval)
    assert ok["step_time_p10_s"] < ok["step_time_s"] < ok["step_time_p90_s"]
    assert ok["beyond_validated"] is False or ok["beyond_validated"] == 0


def test_duckdb_query_from_the_docs(tmp_path: Path):
    sweep.run(tasks(), tmp_path, workers=1)
    q = f"SELECT model, gpus, best_layout, mfu FROM '{tmp_path}/*.parquet' WHERE status = 'ok' ORDER BY model, gpus"
    rows = duckdb.sql(q).fetchall()
    assert len(rows) == 4 and rows[0][0] == "llama3-70b"


def test_unknown_axis_and_engine_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown sweep axis"):
        sweep.grid(None, accelerator=["h100"])
    with pytest.raises(ValueError, match="unknown engine"):
        sweep.run(tasks(), tmp_path, engine="spark")


def test_ray_engine_with_two_cpus(tmp_path: Path):
    pytest.importorskip("ray")
    summary = sweep.run(tasks()[:3], tmp_path, engine="ray", workers=2)
    assert summary.computed == 3
    assert len(sweep.read(tmp_path)) == 3
