"""Fully sharded rows at 256 GPUs and more: how much of each row's missing time the ZeRO-3 traffic could be
(issue 14: "fully sharded data parallelism without model parallelism at 1,000-2,000 GPUs reads 1.3-2.7x too fast").

For every bundled row whose measured layout shards parameters (ZeRO-3 / FSDP) on 256 GPUs or more, the row is priced
twice as ``validate`` prices it (harness.measured_estimate): once as the model stands, once with its stack's
overlap switched off (``SoftwareProfile.dp_overlap`` and ``param_gather_overlap`` false: every all-gather and
reduce-scatter the step model prices runs serially with the compute). Per row:

- ``traffic``: the ZeRO-3 traffic as the model prices it, all of it (the second pricing's ``dp_comm_s``);
- ``missing``: the measured step minus the model's step without its exposed data-parallel time (what the real run
  spent beyond the model's compute, recompute, optimizer and fixed costs);
- ``ratio``: missing / traffic. About 0: the model's overlap is right; about 1: the run behaved as if none of the
  traffic overlapped; above 1: even a fully serial ZeRO-3 at the model's collective prices is too fast, so the
  collectives themselves (bandwidth or per-call latency at this many ranks) cost more than priced.

Findings (main at 4f788fb with this branch's aws-p4d fabric and perf.zero3_serial, 2026-12-01):

- The DeepSpeed 0.6 rows, now priced serial (perf.zero3_serial), still miss more than their whole priced traffic:
  ratio 2.8 (2T, 1,024 A100), 2.3 (1T, 1,024), 1.7 (175B, 256) and 1.6 for BloombergGPT (512 A100 40GB on p4d,
  which runs the same profile); they read +27.9, +19.9, +4.7 and +22.8% too fast. The post's sweep says the same
  at scale: its per-step constant is about 8 s at 128 GPUs, the priced traffic, and about 20 s at 1,024, twice it
  (perf.zero3_serial). So at 512-1,024 ranks these 2022 collectives cost about twice what the collective model
  prices (bandwidth or per-call latency; nothing here tells which), which no cited measurement supplies: the
  aws-p4d fabric carries the one found (4 instances), none at 64-128 instances or on Azure at 1,024 GPUs.
- DeepSpeed 0.6.2's code read for the serialisation (partitioned_param_coordinator.py ``fetch_sub_module``: gathers
  on ``__allgather_stream``, waited for with ``wait_stream``, the host held back only by
  ``__max_ongoing_fetch_events = 2``; stage3.py ``__reduce_and_partition_ipg_grads`` on its own stream under
  ``overlap_comm``, host held back by ``__max_param_reduce_events``; partition_parameters.py's
  ``torch.cuda.synchronize()`` only in the synchronous ``param.all_gather()`` path used for external parameters;
  PyTorch 1.10.2 has ``_all_gather_base`` / ``_reduce_scatter_base``, so no per-rank copy fallback) shows no path
  that serialises a pass; the serial pricing rests on the measured sweep.
- The recent stacks (torchtitan, MaxText, llm-foundry, NeMo AutoModel) sit near or below ratio 1 with the model's
  overlap; torchtitan's Table 6 context-parallel rows are high for their own (context-parallel) reasons; PAX GPT-3
  175B FP8 (jax-fsdp-te-2024) rises from +10.9% at 256 GPUs to +17.3% at 2,048 with a ratio of 0.2-0.3, a
  scale-dependent cost that is not its ZeRO-3 traffic.

Run (bounded: the fully sharded rows at >= 256 GPUs, two pricings each; about 10 s):

    PYTHONPATH=src:scripts python scripts/zero3_serial_diagnosis.py [--json] [--no-color]
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from rich.table import Table
from script_args import emit, parse, run

from supercluster import catalog
from supercluster.validate import harness
from supercluster.validate.harness import read_rows

MIN_GPUS = 256
# the most rows priced (two pricings each): the bundled fully sharded rows at >= 256 GPUs are a few dozen
MAX_ROWS = 200


@dataclass(frozen=True)
class SerialCheck:
    """One fully sharded row priced with and without its stack's data-parallel overlap."""

    row_id: str
    software: str
    gpus: int
    speed_error_pct: float  # + = the model too fast, as the model stands
    serial_speed_error_pct: float  # the same with every ZeRO-3 collective serial
    model_step_s: float
    measured_step_s: float
    exposed_dp_s: float  # the model's exposed data-parallel time
    traffic_s: float  # all of it, serial (the second pricing's dp_comm_s)

    @property
    def missing_s(self) -> float:
        """Measured step minus the model's step without its exposed data-parallel time."""
        return self.measured_step_s - (self.model_step_s - self.exposed_dp_s)

    @property
    def ratio(self) -> float:
        """missing / traffic (module docstring)."""
        return self.missing_s / self.traffic_s if self.traffic_s > 0 else float("nan")


@contextmanager
def serial_stacks() -> Iterator[None]:
    """Every software profile the catalog hands out, with its data-parallel overlap off, while the block runs."""
    original = catalog.software

    def serial(name: str, *args: object, **kwargs: object) -> object:
        profile = original(name, *args, **kwargs)  # type: ignore[arg-type]
        return profile.model_copy(update={"dp_overlap": False, "param_gather_overlap": False})

    catalog.software = serial  # type: ignore[assignment]
    try:
        yield
    finally:
        catalog.software = original  # type: ignore[assignment]


def check(row: dict[str, str]) -> SerialCheck | None:
    """``row`` priced both ways, or None when it has no speed error or does not shard parameters at >= 256 GPUs."""
    res = harness.predict_row(row)
    if res.speed_error_pct is None or res.predicted is None:
        return None
    _, est = harness.measured_estimate(row)
    if est.plan.zero < 3 or est.gpus < MIN_GPUS:
        return None
    with serial_stacks():
        serial_res = harness.predict_row(row)
        _, serial_est = harness.measured_estimate(row)
    if serial_res.speed_error_pct is None or serial_est.dp_comm_s <= 0:
        return None  # (a layout with one data-parallel rank moves nothing)
    measured = est.step_time_s * (1.0 + res.speed_error_pct / 100.0)
    return SerialCheck(
        row["id"],
        res.software or "",
        int(est.gpus),
        res.speed_error_pct,
        serial_res.speed_error_pct,
        est.step_time_s,
        measured,
        float(est.dp_comm_s),
        float(serial_est.dp_comm_s),
    )


def checks(rows: list[dict[str, str]]) -> list[SerialCheck]:
    """:func:`check` of every row that shards parameters at >= 256 GPUs, at most MAX_ROWS of them."""
    out: list[SerialCheck] = []
    for row in rows:
        if int(float(row.get("gpus") or 0)) < MIN_GPUS:
            continue
        c = check(row)
        if c is not None:
            out.append(c)
        if len(out) >= MAX_ROWS:
            break
    return out


def render(results: list[SerialCheck]) -> Table:
    table = Table(title="Fully sharded rows >= 256 GPUs: model vs all-serial ZeRO-3", pad_edge=False)
    for col in ("row", "GPUs", "err%", "ser%", "traf s", "miss s", "ratio"):
        table.add_column(col, justify="left" if col == "row" else "right", no_wrap=True)
    for c in sorted(results, key=lambda c: -c.ratio):
        table.add_row(
            c.row_id[:26],
            f"{c.gpus:,}",
            f"{c.speed_error_pct:+.1f}",
            f"{c.serial_speed_error_pct:+.1f}",
            f"{c.traffic_s:.3g}",
            f"{c.missing_s:.3g}",
            f"{c.ratio:.2f}",
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv)
    _, rows = read_rows("all")
    results = checks(rows)
    doc = {"rows": [asdict(c) | {"missing_s": c.missing_s, "ratio": c.ratio} for c in results]}
    legend = (
        "err: speed error as the model stands (+ = too fast); ser: with every ZeRO-3 collective serial; "
        "traf: the ZeRO-3 traffic as priced, all serial; miss: measured step - model step without its "
        "exposed data-parallel time; ratio: miss / traf"
    )
    emit(args, doc, [render(results), legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
