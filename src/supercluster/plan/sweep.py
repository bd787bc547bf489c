"""Sweeps: a grid of scenarios, each planned, results streamed to Parquet.

Every finished task is written at once as its own Parquet file (written to a
temporary name, then renamed, so a killed sweep never leaves a half file). A
restarted sweep reads the finished keys and runs only the rest. The local
engine is a process pool; ``engine="ray"`` runs the same tasks on Ray.
Query the output with DuckDB::

    python -c "import duckdb; duckdb.sql(\"SELECT model, gpus, best_layout, mfu FROM 'sweep-out/*.parquet'\").show()"
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supercluster.errors import SuperclusterError
from supercluster.io import ensure_folder

AXES = ("model", "system", "gpus", "global_batch", "seq_len")


@dataclass(frozen=True)
class SweepTask:
    scenario: str | None
    model: str | None
    system: str | None
    gpus: int | None
    global_batch: int | None
    seq_len: int | None
    allow_fp8: bool

    @property
    def key(self) -> str:
        text = json.dumps(self.__dict__, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass
class SweepSummary:
    out_dir: str
    tasks: int
    skipped: int
    computed: int
    failed: int
    wall_s: float
    workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def grid(scenario: str | None, allow_fp8: bool = True, **axes: Iterable[Any] | None) -> list[SweepTask]:
    """The cartesian product of the axes (model, system, gpus, global_batch, seq_len)."""
    unknown = set(axes) - set(AXES)
    if unknown:
        raise SuperclusterError(f"unknown sweep axis {sorted(unknown)}; valid: {', '.join(AXES)}")
    lists = [list(axes.get(a) or [None]) for a in AXES]
    return [
        SweepTask(scenario, **dict(zip(AXES, combo, strict=True)), allow_fp8=allow_fp8)
        for combo in itertools.product(*lists)
    ]


def run_task(task: SweepTask) -> dict[str, Any]:
    """Plan one scenario; never raises: a failure is a row with its reason."""
    from supercluster import api

    row: dict[str, Any] = {"key": task.key, **{a: getattr(task, a) for a in AXES}, "scenario": task.scenario}
    t0 = time.perf_counter()
    try:
        res = api.plan(
            task.scenario,
            model=task.model,
            system=task.system,
            gpus=task.gpus,
            global_batch=task.global_batch,
            seq_len=task.seq_len,
            top_k=1,
            allow_fp8=task.allow_fp8,
        )
        d = res.to_dict()
        best = d["top"][0]
        step_lo, step_hi = d["best_step_time_interval_s"]
        days_lo, days_hi = d.get("best_time_to_train_interval_days") or (None, None)
        row.update(
            model=d["model"],
            system=d["system"],
            gpus=d["gpus"],
            global_batch=d["global_batch"],
            seq_len=d["seq_len"],
            accelerator=d["accelerator"],
            status="ok",
            error="",
            best_layout=best["layout"],
            **{k: best["plan"][k] for k in ("tp", "pp", "vpp", "cp", "ep", "dp", "zero")},
            micro_batch=best["plan"]["micro_batch"],
            recompute=best["plan"]["recompute"],
            precision=best["plan"]["precision"],
            step_time_s=best["step_time_s"],
            tokens_per_s=best["tokens_per_s"],
            mfu=best["mfu"],
            mfu_peak_precision=best["mfu_peak_precision"],
            mfu_bf16_peak=best["mfu_bf16_peak"],
            memory_gib=best["memory"]["total_gib"],
            time_to_train_days=d["best_time_to_train_days"],
            # the 80% interval from the validated runs nearest in kind (supercluster.validate.interval)
            step_time_p10_s=step_lo,
            step_time_p90_s=step_hi,
            time_to_train_p10_days=days_lo,
            time_to_train_p90_days=days_hi,
            beyond_validated=d["interval"]["extrapolated"],
            evaluated=d["stats"]["evaluated"],
            feasible=d["stats"]["feasible"],
        )
    except SuperclusterError as err:
        row.update(status="failed", error=str(err))
    except Exception as err:
        row.update(status="failed", error=f"internal error: {type(err).__name__}: {err}")
    row["wall_s"] = time.perf_counter() - t0
    return row


# One schema for every part file, failed rows included, so `SELECT * FROM 'dir/*.parquet'` just works.
COLUMNS = {
    "key": "string",
    "scenario": "string",
    "model": "string",
    "system": "string",
    "accelerator": "string",
    "gpus": "int64",
    "global_batch": "int64",
    "seq_len": "int64",
    "status": "string",
    "error": "string",
    "best_layout": "string",
    "tp": "int64",
    "pp": "int64",
    "vpp": "int64",
    "cp": "int64",
    "ep": "int64",
    "dp": "int64",
    "zero": "int64",
    "micro_batch": "int64",
    "recompute": "string",
    "precision": "string",
    "step_time_s": "float64",
    "tokens_per_s": "float64",
    "mfu": "float64",
    "mfu_peak_precision": "string",
    "mfu_bf16_peak": "float64",
    "memory_gib": "float64",
    "time_to_train_days": "float64",
    "step_time_p10_s": "float64",
    "step_time_p90_s": "float64",
    "time_to_train_p10_days": "float64",
    "time_to_train_p90_days": "float64",
    "beyond_validated": "bool_",
    "evaluated": "int64",
    "feasible": "int64",
    "wall_s": "float64",
}


def _write_row(out: Path, row: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in COLUMNS.items()])
    table = pa.Table.from_pylist([{name: row.get(name) for name in COLUMNS}], schema=schema)
    tmp = out / f".part-{row['key']}.parquet.tmp"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, out / f"part-{row['key']}.parquet")
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise SuperclusterError(f"cannot write sweep rows in {out}: {err.strerror or err}") from None


def finished_keys(out: Path) -> set[str]:
    return {p.name.removeprefix("part-").removesuffix(".parquet") for p in out.glob("part-*.parquet")}


def run(
    tasks: list[SweepTask],
    out_dir: str | Path,
    engine: str = "local",
    workers: int = 2,
    limit: int | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> SweepSummary:
    """Run the tasks not yet in ``out_dir``; ``limit`` stops after that many (to test resuming)."""
    if engine not in ("local", "ray"):
        raise SuperclusterError(f"unknown engine '{engine}'; valid: local, ray")
    if workers < 1:
        raise SuperclusterError(f"workers must be >= 1, got {workers}")
    out = ensure_folder(out_dir, "sweep folder")
    done = finished_keys(out)
    todo = [t for t in tasks if t.key not in done]
    if limit is not None:
        todo = todo[:limit]
    workers = max(1, min(workers, os.cpu_count() or 1, len(todo)))  # no more processes than CPUs or tasks
    # load the Parquet writer before any worker starts: importing pyarrow's extension modules can take seconds on a
    # cold disk cache, and a Ctrl-C that arrives inside that import is only handled once it returns
    import pyarrow.parquet  # noqa: F401

    t0 = time.perf_counter()
    failed = 0

    def record(row: dict[str, Any]) -> None:
        nonlocal failed
        _write_row(out, row)
        failed += row["status"] != "ok"
        if on_done:
            on_done(row)

    if engine == "ray":
        _run_ray(todo, workers, record)
    elif workers == 1 or len(todo) <= 1:
        for task in todo:
            record(run_task(task))
    else:
        _run_pool(todo, workers, record)
    return SweepSummary(
        str(out),
        len(tasks),
        len(tasks) - len([t for t in tasks if t.key not in done]),
        len(todo),
        failed,
        time.perf_counter() - t0,
        workers,
    )


def _worker_init(parent: int) -> None:
    """In each pool worker: Ctrl-C is the parent's to handle, and the worker exits when the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):  # the kernel sends SIGTERM when the parent dies
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:  # elsewhere: poll for the parent
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _run_pool(todo: list[SweepTask], workers: int, record: Callable[[dict[str, Any]], None]) -> None:
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(os.getpid(),))
    try:
        pending: set[Future[dict[str, Any]]] = {pool.submit(run_task, t) for t in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                record(fut.result())
    except BaseException:
        # Ctrl-C or a failed write: stop at once; finished rows are on disk and a rerun resumes from them
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_ray(todo: list[SweepTask], workers: int, record: Callable[[dict[str, Any]], None]) -> None:
    try:
        import ray
    except ImportError:
        raise SuperclusterError("engine 'ray' needs Ray: pip install 'supercluster[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = ray.remote(run_task)
        pending = [remote.remote(t) for t in todo]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                record(ray.get(ref))
    finally:
        if started:
            ray.shutdown()


def read(out_dir: str | Path) -> list[dict[str, Any]]:
    """All finished rows of a sweep directory."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for p in sorted(Path(out_dir).glob("part-*.parquet")):
        rows.extend(pq.read_table(p).to_pylist())
    return rows
