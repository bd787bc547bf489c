"""The supercluster command line. Every command prints a table and takes --json.

Bad input exits with status 2 and one line on stderr; never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from supercluster import __version__, api, catalog, inputs, io, render, text
from supercluster.errors import SuperclusterError
from supercluster.validate import run as run_validation

try:  # typer >= 0.20 carries its own copy of click
    from typer._click import exceptions as clickx
except ImportError:  # pragma: no cover
    from click import exceptions as clickx  # type: ignore[no-redef]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    help="A digital twin of AI training superclusters (Colossus-class): step time, memory, layouts.",
    pretty_exceptions_enable=False,
    # click's plain help: rich's panels truncate long option names at 80 columns and print a <bool> metavar on flags
    rich_markup_mode=None,
)


class Recompute(StrEnum):
    none = "none"
    selective = "selective"
    full = "full"


class Precision(StrEnum):
    bf16 = "bf16"
    fp8 = "fp8"
    mxfp8 = "mxfp8"
    nvfp4 = "nvfp4"


class Sync(StrEnum):
    allreduce = "allreduce"
    diloco = "diloco"
    streaming_diloco = "streaming-diloco"


def _console(no_color: bool) -> Console:
    """Text is printed as text: no markup, emoji codes or highlighting read from names a user wrote."""
    # --no-color is plain text: with no colour system rich writes no escape at all (no_color alone keeps bold
    # and italic)
    plain: dict[str, Any] = {"color_system": None} if no_color else {}
    return Console(no_color=no_color, soft_wrap=False, markup=False, emoji=False, highlight=False, **plain)


def _print(tables: Any, data: dict[str, Any], no_color: bool) -> None:
    """Render a result's tables with every string stripped of terminal escapes."""
    render.print_tables(tables(text.clean_data(data)), _console(no_color))


def _emit_json(data: Any) -> None:
    """JSON on stdout; a quantity with no finite value (the MTBF of a job that never fails) is null."""
    sys.stdout.write(json.dumps(text.finite_data(data), indent=2, default=str, allow_nan=False) + "\n")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="Plain output for scripts and logs.")]
ScenarioOpt = Annotated[str | None, typer.Option("--scenario", "-s", help="Scenario file or preset name.")]
SystemOpt = Annotated[str | None, typer.Option(help="System preset (see `supercluster presets systems`).")]
ModelOpt = Annotated[str | None, typer.Option(help="Model preset (see `supercluster presets models`).")]
GpusOpt = Annotated[int | None, typer.Option(min=1, help="GPUs the job uses.")]
BatchOpt = Annotated[int | None, typer.Option(help="Sequences per optimizer step.")]
SeqOpt = Annotated[int | None, typer.Option(help="Tokens per sequence.")]
TokensOpt = Annotated[float | None, typer.Option(help="Tokens of the whole run.")]
TpOpt = Annotated[int | None, typer.Option(help="Tensor parallel.")]
PpOpt = Annotated[int | None, typer.Option(help="Pipeline parallel.")]
VppOpt = Annotated[int | None, typer.Option(help="Virtual stages per pipeline rank.")]
CpOpt = Annotated[int | None, typer.Option(help="Context parallel.")]
EpOpt = Annotated[int | None, typer.Option(help="Expert parallel.")]
EtpOpt = Annotated[int | None, typer.Option(help="Expert tensor parallel (default: tp).")]
DpOpt = Annotated[int | None, typer.Option(help="Data parallel (default gpus / (tp*pp*cp)).")]
ZeroOpt = Annotated[int | None, typer.Option(help="ZeRO stage 0-3.")]
SpOpt = Annotated[bool | None, typer.Option("--sp/--no-sp", help="Sequence parallelism.")]
MbOpt = Annotated[int | None, typer.Option(help="Sequences per micro-batch.")]
LbOpt = Annotated[
    int | None,
    typer.Option(help="Sequences per DP rank in one pipeline pass (stacks that accumulate outside the schedule)."),
]
RcOpt = Annotated[Recompute | None, typer.Option(help="Activation recomputation.")]
RcfOpt = Annotated[
    float | None,
    typer.Option("--recompute-fraction", help="Share of a full recompute re-run (0-1], with --recompute full."),
]
RcmOpt = Annotated[
    str | None,
    typer.Option(
        "--recompute-modules",
        help="Megatron-Core modules a selective recompute re-runs, comma-separated (core_attn, layernorm, "
        "mla_up_proj, mlp, moe, moe_act, shared_experts), with --recompute selective.",
    ),
]
PrecOpt = Annotated[Precision | None, typer.Option(help="Matrix-multiply precision.")]
CalOpt = Annotated[str | None, typer.Option(help="Calibration profile (from `supercluster calibrate`).")]
SitesOpt = Annotated[int | None, typer.Option(help="Sites of a multi-site system the job spans (default: fewest).")]
SyncOpt = Annotated[Sync | None, typer.Option(help="How sites synchronise (default: allreduce).")]
InnerOpt = Annotated[int | None, typer.Option(help="DiLoCo inner steps H between outer synchronisations.")]
SoftwareOpt = Annotated[
    str | None,
    typer.Option(help="Training-stack profile (see `supercluster presets software`); default: the system's."),
]


def _plan_knobs(options: dict[str, Any]) -> dict[str, Any]:
    """The layout knobs among a command's options (enum choices as their values)."""
    knobs = {k: options[k] for k in api.PLAN_KEYS if k in options}
    for key in ("recompute", "precision", "sync"):
        knobs[key] = knobs[key].value if knobs.get(key) else None
    if knobs.get("recompute_modules") is not None:  # "layernorm,moe" -> ("layernorm", "moe")
        knobs["recompute_modules"] = tuple(m.strip() for m in knobs["recompute_modules"].split(",") if m.strip())
    return knobs


@app.command()
def estimate(
    scenario: ScenarioOpt = None,
    system: SystemOpt = None,
    model: ModelOpt = None,
    gpus: GpusOpt = None,
    global_batch: BatchOpt = None,
    seq_len: SeqOpt = None,
    train_tokens: TokensOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = None,
    vpp: VppOpt = None,
    cp: CpOpt = None,
    ep: EpOpt = None,
    etp: EtpOpt = None,
    dp: DpOpt = None,
    zero: ZeroOpt = None,
    sequence_parallel: SpOpt = None,
    micro_batch: MbOpt = None,
    local_batch: LbOpt = None,
    recompute: RcOpt = None,
    recompute_fraction: RcfOpt = None,
    recompute_modules: RcmOpt = None,
    precision: PrecOpt = None,
    sites: SitesOpt = None,
    sync: SyncOpt = None,
    diloco_inner_steps: InnerOpt = None,
    calibration: CalOpt = None,
    software: SoftwareOpt = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Step time, throughput, MFU and memory per GPU of one training job. Blank knobs are filled."""
    knobs = _plan_knobs(locals())
    scn = api.build_scenario(
        scenario,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
        calibration=calibration,
        software=software,
        **knobs,
    )
    data = api.estimate(scn).to_dict()
    if json_out:
        _emit_json(data)
    else:
        _print(render.estimate_tables, data, no_color)


@app.command()
def plan(
    scenario: ScenarioOpt = None,
    system: SystemOpt = None,
    model: ModelOpt = None,
    gpus: GpusOpt = None,
    global_batch: BatchOpt = None,
    seq_len: SeqOpt = None,
    train_tokens: TokensOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = None,
    vpp: VppOpt = None,
    cp: CpOpt = None,
    ep: EpOpt = None,
    etp: EtpOpt = None,
    dp: DpOpt = None,
    zero: ZeroOpt = None,
    sequence_parallel: SpOpt = None,
    micro_batch: MbOpt = None,
    local_batch: LbOpt = None,
    recompute: RcOpt = None,
    recompute_fraction: RcfOpt = None,
    recompute_modules: RcmOpt = None,
    precision: PrecOpt = None,
    sites: SitesOpt = None,
    sync: SyncOpt = None,
    diloco_inner_steps: InnerOpt = None,
    top: Annotated[int, typer.Option(min=1, max=100, help="How many of the best layouts to show.")] = 5,
    explain: Annotated[str | None, typer.Option(help="A layout to explain, e.g. 'tp8 pp16 vpp4 mb1'.")] = None,
    headroom_gib: Annotated[float, typer.Option(min=0.0, help="Memory to keep free on every GPU, GiB.")] = 0.0,
    no_fp8: Annotated[bool, typer.Option("--no-fp8", help="Search BF16 only.")] = False,
    calibration: CalOpt = None,
    software: SoftwareOpt = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Search every valid parallel layout and rank the ones that fit. Axes given on the command line are fixed;
    the scenario's own layout is explained, not imposed."""
    knobs = _plan_knobs(locals())
    result = api.plan(
        scenario,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
        top_k=top,
        explain=explain,
        headroom_gib=headroom_gib,
        allow_fp8=not no_fp8,
        calibration=calibration,
        software=software,
        **knobs,
    )
    data = result.to_dict()
    if json_out:
        _emit_json(data)
    else:
        _print(render.plan_tables, data, no_color)


def _split(text: str | None, kind: type, flag: str) -> list[Any] | None:
    if text is None:
        return None
    items = [x.strip() for x in text.split(",") if x.strip()]
    if kind is not int:
        return [kind(x) for x in items]
    values = []
    for x in items:
        try:
            number = float(x)
            values.append(catalog.loader.whole_number(number, flag))
        except (ValueError, SuperclusterError):
            raise SuperclusterError(
                f"{flag}: '{x}' is not a whole number; give a comma-separated list such as 64,128"
            ) from None
    if any(v < 1 for v in values):
        raise SuperclusterError(f"{flag}: every value must be >= 1, got {text}")
    return values


@app.command()
def sweep(
    scenario: ScenarioOpt = None,
    system: Annotated[str | None, typer.Option(help="Comma-separated system presets.")] = None,
    model: Annotated[str | None, typer.Option(help="Comma-separated model presets.")] = None,
    gpus: Annotated[str | None, typer.Option(help="Comma-separated GPU counts, e.g. 1024,16384,98304.")] = None,
    global_batch: Annotated[str | None, typer.Option(help="Comma-separated global batches.")] = None,
    seq_len: Annotated[str | None, typer.Option(help="Comma-separated sequence lengths.")] = None,
    out: Annotated[str, typer.Option(help="Output folder of Parquet parts (resumes if it exists).")] = "sweep-out",
    engine: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
    workers: Annotated[int, typer.Option(min=1, help="Parallel workers (at most the CPUs present).")] = 2,
    no_fp8: Annotated[bool, typer.Option("--no-fp8", help="Search BF16 only.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Plan every scenario of a grid (models x systems x GPU counts x ...) and stream the best layouts to Parquet.

    A killed sweep keeps its finished rows; run the same command again to finish it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from supercluster.plan import sweep as sw

    tasks = sw.grid(
        scenario,
        allow_fp8=not no_fp8,
        model=_split(model, str, "--model"),
        system=_split(system, str, "--system"),
        gpus=_split(gpus, int, "--gpus"),
        global_batch=_split(global_batch, int, "--global-batch"),
        seq_len=_split(seq_len, int, "--seq-len"),
    )
    io.ensure_folder(out, "sweep folder")
    console = _console(no_color)
    todo = len(tasks) - len(sw.finished_keys(Path(out)) & {t.key for t in tasks})
    show = not (quiet or json_out)
    with Progress(
        TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, disable=not show
    ) as progress:
        bar = progress.add_task("sweep", total=todo)
        summary = sw.run(tasks, out, engine=engine, workers=workers, on_done=lambda _row: progress.advance(bar))
    data = summary.to_dict()
    if json_out:
        _emit_json(data)
    else:
        console.print(
            f"{summary.tasks} scenarios: {summary.computed} computed ({summary.failed} failed), "
            f"{summary.skipped} already done; {summary.wall_s:.1f} s. Rows: {text.clean(out)}/part-*.parquet"
        )


@app.command()
def simulate(
    scenario: ScenarioOpt = None,
    system: SystemOpt = None,
    model: ModelOpt = None,
    gpus: GpusOpt = None,
    global_batch: BatchOpt = None,
    seq_len: SeqOpt = None,
    trials: Annotated[int, typer.Option(min=1, max=100_000, help="Monte Carlo trials.")] = 200,
    seed: Annotated[
        int, typer.Option(min=0, max=2**63 - 1, help="Random seed (results are deterministic for a seed).")
    ] = 0,
    days: Annotated[float | None, typer.Option(help="Simulate a fixed window of this many days.")] = None,
    tokens: Annotated[float | None, typer.Option(help="Run until this many tokens (default: the scenario's).")] = None,
    checkpoint_interval_min: Annotated[
        float | None, typer.Option(help="Minutes of compute between checkpoints (default: Daly's optimum).")
    ] = None,
    sync_checkpoint: Annotated[bool, typer.Option("--sync-checkpoint", help="Blocking checkpoint writes.")] = False,
    checkpoint_tier: Annotated[
        str | None,
        typer.Option(
            help="storage: every checkpoint to the system's storage; memory: to peers' host memory, hourly to storage."
        ),
    ] = None,
    spares: Annotated[
        int | None, typer.Option(min=0, help="Hot-spare nodes (default: sized from the swap rate).")
    ] = None,
    rate_scale: Annotated[float | None, typer.Option(min=0.0, help="Multiply every failure rate.")] = None,
    fault_tolerance: Annotated[
        str | None,
        typer.Option(
            help="global-restart: every failure restarts the job; replica: a GPU, host or network failure drops "
            "one data-parallel replica and the rest train on (TorchFT)."
        ),
    ] = None,
    collective_init: Annotated[
        str | None,
        typer.Option(help="linear: 30 s per 10,000 GPUs at each restart; scalable: NCCLX-class, 2.7 s."),
    ] = None,
    no_analysis: Annotated[bool, typer.Option("--no-analysis", help="Skip the interval and size sweeps.")] = False,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """When will the run really finish? Failures, checkpoints, restarts and goodput, by Monte Carlo."""
    if days is not None and tokens is not None:
        raise SuperclusterError("give --days or --tokens, not both")
    if checkpoint_interval_min is not None and not 0 < checkpoint_interval_min <= 30 * 24 * 60:
        raise SuperclusterError(
            f"--checkpoint-interval-min must be in (0, 43200] minutes (30 days), got {checkpoint_interval_min:g}"
        )
    rep = api.simulate(
        scenario,
        trials=trials,
        seed=seed,
        days=days,
        tokens=tokens,
        checkpoint_interval_s=checkpoint_interval_min * 60 if checkpoint_interval_min is not None else None,
        synchronous_checkpoint=sync_checkpoint,
        checkpoint_tier=checkpoint_tier,
        spare_nodes=spares,
        rate_scale=rate_scale,
        analyses=not no_analysis,
        fault_tolerance=fault_tolerance,
        collective_init=collective_init,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
    )
    data = rep.to_dict()
    if json_out:
        _emit_json(data)
    else:
        _print(render.simulate_tables, data, no_color)


@app.command()
def facility(
    scenario: ScenarioOpt = None,
    system: SystemOpt = None,
    model: ModelOpt = None,
    gpus: GpusOpt = None,
    global_batch: BatchOpt = None,
    seq_len: SeqOpt = None,
    train_tokens: TokensOpt = None,
    buildout: Annotated[
        bool | None,
        typer.Option("--buildout/--no-buildout", help="Colossus build-out phases (default: on for Colossus)."),
    ] = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Megawatts, energy, water, emissions and money of the run; the Colossus build-out against its power."""
    data = api.facility(
        scenario,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
        buildout=buildout,
    )
    if json_out:
        _emit_json(data)
    else:
        _print(render.facility_tables, data, no_color)


@app.command()
def power(
    scenario: ScenarioOpt = None,
    system: SystemOpt = None,
    model: ModelOpt = None,
    gpus: GpusOpt = None,
    global_batch: BatchOpt = None,
    seq_len: SeqOpt = None,
    ramp_limit_mw_per_s: Annotated[
        float | None,
        typer.Option(help="Grid-side ramp limit in MW/s (default: the training-to-idle drop over 60 s)."),
    ] = None,
    max_swing_mw: Annotated[
        float | None, typer.Option(help="Largest grid-side swing allowed around the mean, MW.")
    ] = None,
    gpu_slew_ms: Annotated[
        float | None, typer.Option(help="Time a GPU takes between compute and idle power (default 10 ms).")
    ] = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Power swings of the synchronous job: per step and per restart, MW, MW/s, frequency; the battery or
    GPU power floor that keeps the grid side within a ramp limit."""
    data = api.power_swings(
        scenario,
        ramp_limit_mw_per_s=ramp_limit_mw_per_s,
        max_swing_mw=max_swing_mw,
        gpu_slew_ms=gpu_slew_ms,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
    )
    if json_out:
        _emit_json(data)
    else:
        _print(render.power_tables, data, no_color)


@app.command()
def top500(
    system: Annotated[str, typer.Option(help="System preset to estimate.")] = "colossus-100k",
    gpus: GpusOpt = None,
    top500_list: Annotated[str, typer.Option("--list", help="nov-2024, jun-2025 or nov-2025.")] = "nov-2025",
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Estimated HPL Rmax, Rpeak, power and GF/W of a system, and its rank on a bundled TOP500 list."""
    data = api.top500(system, gpus=gpus, list_name=top500_list)
    if json_out:
        _emit_json(data)
    else:
        _print(render.top500_tables, data, no_color)


@app.command()
def compare(
    scenario: ScenarioOpt = None,
    systems: Annotated[str | None, typer.Option(help="Comma-separated system presets to compare.")] = None,
    equal: Annotated[str, typer.Option(help="Compare at equal 'gpus' or equal facility 'power'.")] = "gpus",
    system: SystemOpt = None,
    model: ModelOpt = None,
    gpus: GpusOpt = None,
    global_batch: BatchOpt = None,
    seq_len: SeqOpt = None,
    train_tokens: TokensOpt = None,
    available: Annotated[
        str | None,
        typer.Option(
            help="When each system could be had: h100=2024-07,b200=2025-03 (system or accelerator keys, YYYY-MM or "
            "YYYY-MM-DD); systems not named, or 'catalog', take the cited first volume shipments."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Date the clock starts, YYYY-MM[-DD] (default: the earliest availability).")
    ] = None,
    bring_up_days: Annotated[
        str | None,
        typer.Option(help="Days from delivery to training: one number or h100=19,gb200=60 (default 19, cited)."),
    ] = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """The same training job on H100, H200, B200 and GB200 systems: layout, time, power, energy, cost; with
    --available, which would have finished first counting delivery and bring-up. --system/--gpus set the
    reference job (whose power is the budget at --equal power)."""
    if equal not in ("gpus", "power"):
        raise SuperclusterError(f"--equal must be 'gpus' or 'power', got '{equal}'")
    data = api.compare(
        scenario,
        systems=_split(systems, str, "--systems"),
        equal=equal,
        gpus=gpus,
        system=system,
        model=model,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
        available=available,
        start=start,
        bring_up_days=bring_up_days,
    )
    if json_out:
        _emit_json(data)
    else:
        _print(render.compare_tables, data, no_color)


@app.command()
def report(
    scenario: Annotated[str | None, typer.Argument(help="Scenario file or preset (default: colossus-grok).")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="HTML file to write.")] = "report.html",
    trials: Annotated[int, typer.Option(min=1, max=10_000, help="Monte Carlo trials for failures.")] = 200,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary, just the file.")] = False,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """The main job: the scenario end to end (plan, memory, step timeline, scaling, fabric, failures,
    power, cost, TOP500) as a concise summary and a self-contained offline HTML report."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from supercluster.report import collect, html

    io.check_output(output, "report")
    console = _console(no_color)
    show = not (quiet or json_out)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
        transient=True,
    ) as progress:
        task = progress.add_task("report", total=None)
        data = collect.collect(scenario, step=lambda msg: progress.update(task, description=msg), trials=trials)
        data["version"] = __version__
        progress.update(task, description="writing HTML")
        path = html.write(data, output)
    if json_out:
        _emit_json({"report": str(path), "summary": render.report_summary(data)})
    elif not quiet:
        render.print_tables(render.report_tables(text.clean_data(data), text.clean(str(path))), console)


@app.command()
def trace(
    scenario: Annotated[str | None, typer.Argument(help="Scenario file or preset (default: colossus-grok).")] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="Trace JSON to write (open in Perfetto).")
    ] = "trace.json",
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,  # accepted as by every command; trace prints one plain line either way
) -> None:
    """One training step simulated event by event, written as Chrome/Perfetto trace JSON."""
    from supercluster.perf.timeline import simulate_step
    from supercluster.report.trace import check_trace_size, chrome_trace

    io.check_output(output, "trace")
    scn = api.build_scenario(scenario)
    est = api.estimate(scn).step
    check_trace_size(est)
    tl = simulate_step(scn.workload, scn.system, scn.software, est)
    data = chrome_trace(tl, scn.name, est.plan.label())
    io.write_text(output, json.dumps(data) + "\n", "trace")
    summary = {"trace": output, "events": len(data["traceEvents"]), **data["otherData"]}
    if json_out:
        _emit_json(summary)
    else:
        typer.echo(
            f"wrote {text.clean(output)}: {summary['events']:,} events; simulated step {tl.total_s:.3f} s vs "
            f"analytical {tl.analytical_s:.3f} s ({tl.relative_error * 100:+.1f}%). Open it at ui.perfetto.dev."
        )


@app.command()
def calibrate(
    device: Annotated[str, typer.Option(help="auto, cuda or cpu.")] = "auto",
    budget_s: Annotated[float, typer.Option("--budget-s", help="Stop measuring after this many seconds.")] = 600.0,
    output: Annotated[str, typer.Option("--output", "-o", help="Profile YAML to write.")] = "calibration.yaml",
    quick: Annotated[bool, typer.Option("--quick", help="Small shapes only (a smoke test).")] = False,
    ground_truth: Annotated[
        bool, typer.Option("--ground-truth/--no-ground-truth", help="Also train a small GPT against the prediction.")
    ] = False,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Measure GEMMs, attention, memory bandwidth (and collectives) on the local accelerator and write a
    calibration profile that estimate, plan and validate take with --calibration."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from supercluster.calibrate import measure

    io.check_output(output, "profile")
    console = _console(no_color)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=json_out,
        transient=True,
    ) as progress:
        task = progress.add_task("calibrating", total=1.0)
        prof = measure.run(
            device=device,
            budget_s=budget_s,
            quick=quick,
            progress=lambda msg, frac: progress.update(task, description=msg, completed=frac),
        )
    path = prof.save(output)
    out: dict[str, Any] = {
        "profile": str(path),
        "device": prof.device,
        "accelerator": prof.accelerator,
        "gemm_points": len(prof.gemm),
        "efficiency": prof.efficiency.model_dump(),
        "notes": prof.notes,
    }
    if ground_truth:
        from supercluster.calibrate import groundtruth

        if prof.backend == "cpu":
            # steps interleaved with re-sweeps of the profile's points, one thread: drift hits both sides alike
            gt = groundtruth.run_interleaved(prof)
        else:
            gt = groundtruth.run(prof)
            # eager against torch.compile on a Llama-style block: what elementwise_fused prices
            out["ground_truth_compile"] = groundtruth.run_llama_pair(prof)
        out["ground_truth"] = gt.to_dict()
    if json_out:
        _emit_json(out)
        return
    t = render._kv(text.clean(f"supercluster calibrate: {prof.device}"))
    t.add_row(
        "profile",
        f"{text.clean(str(path))} ({len(prof.gemm)} GEMM shapes, {len(prof.attention)} attention, "
        f"{len(prof.bandwidth)} bandwidth)",
    )
    e = prof.efficiency
    t.add_row(
        "fitted",
        f"GEMM {e.gemm_peak_fraction['bf16'] * 100:.1f}% of {prof.peak_tflops:.2f} TFLOP/s, tile "
        f"{e.gemm_tile_dim:g}; attention {e.attention_fwd_fraction * 100:.1f}% / "
        f"{e.attention_bwd_fraction * 100:.1f}%; memory {e.hbm_fraction * 100:.0f}%",
    )
    for n in prof.notes:
        t.add_row("note", text.clean(n))
    if ground_truth:
        g = out["ground_truth"]
        if g["blocks"]:
            errs = ", ".join(f"{e:+.1f}%" for e in g["block_errors_pct"])
            t.add_row(
                "ground truth",
                f"error {g['error_pct']:+.1f}%: the median of {len(g['blocks'])} blocks' errors ({errs}), each "
                f"block's steps timed among its own re-timed microbenchmarks; step {g['measured_step_s'] * 1e3:.1f} "
                f"ms measured, {g['predicted_step_s'] * 1e3:.1f} ms predicted (medians over blocks); "
                f"{g['threads']} PyTorch thread(s), timed in {'CPU' if g['clock'] == 'cpu' else 'wall'} time",
            )
        else:
            t.add_row(
                "ground truth",
                f"measured {g['measured_step_s'] * 1e3:.1f} ms, predicted "
                f"{g['predicted_step_s'] * 1e3:.1f} ms ({g['error_pct']:+.1f}%)",
            )
    console.print(t)


OPS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "p2p")


@app.command()
def fabric(
    system: Annotated[str, typer.Option(help="System preset.")] = "colossus-100k",
    gpus: GpusOpt = None,
    scenario: Annotated[str | None, typer.Option("--scenario", "-s", help="Also place this scenario's layout.")] = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """The network as built: tiers, switches, links and optics, NICs, bisection, power; and where a layout's
    parallel groups sit on it."""
    data = api.fabric(system, gpus=gpus, scenario=scenario)
    if json_out:
        _emit_json(data)
    else:
        _print(render.fabric_tables, data, no_color)


@app.command()
def collective(
    system: Annotated[str, typer.Option(help="System preset.")] = "dgx-h100-superpod",
    op: Annotated[str, typer.Option(help=f"One of {', '.join(OPS)}.")] = "all_reduce",
    nbytes: Annotated[float, typer.Option("--bytes", help="Message size in bytes (the full buffer).")] = 1e9,
    gpus: Annotated[int, typer.Option(min=1, help="Ranks in the group.")] = 8,
    stride: Annotated[int, typer.Option(min=1, help="GPUs between consecutive ranks (8 = one per node).")] = 1,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Time, algorithm and bus bandwidth of one collective, chosen the way NCCL's tuner chooses."""
    if op not in OPS:
        raise SuperclusterError(f"unknown --op '{op}'; valid: {', '.join(OPS)}")
    if not nbytes > 0 or nbytes > 1e15:
        raise SuperclusterError(f"--bytes must be in (0, 1e15], got {nbytes}")
    data = api.collective(system, op=op, nbytes=nbytes, gpus=gpus, stride=stride)
    if json_out:
        _emit_json(data)
        return
    t = render._kv(f"supercluster collective: {op} of {nbytes:,.0f} bytes on {gpus} GPUs of {system}")
    t.add_row("algorithm", data["algorithm"])
    t.add_row("time", f"{data['time_s'] * 1e6:,.1f} us")
    t.add_row("bandwidth", f"algbw {data['algbw_gb_per_s']:.1f} GB/s, busbw {data['busbw_gb_per_s']:.1f} GB/s")
    t.add_row("placement", f"{data['gpus_per_domain']} per scale-up domain, {data['gpus_spanned']} GPUs spanned")
    for name, sec in sorted(data["candidates"].items(), key=lambda kv: kv[1]):
        t.add_row("  " + name, f"{sec * 1e6:,.1f} us" if sec < 1e30 else "n/a")
    _console(no_color).print(t)


def _check_csv(csv_path: str | None) -> None:
    """A CSV the user names must be a UTF-8 text file of sensible size before its rows are read."""
    from supercluster.validate.harness import DATASETS

    if csv_path is not None and csv_path != "all" and csv_path not in DATASETS:
        if not Path(csv_path).exists():
            bundled = ", ".join([*DATASETS, "all"])
            raise SuperclusterError(
                f"validation CSV not found: {csv_path}; give a CSV path or a bundled set: {bundled}"
            )
        inputs.read_text(csv_path, "validation CSV")


@app.command()
def limits(
    accelerator: Annotated[
        str, typer.Option(help="Accelerator generation (see `supercluster presets accelerators`).")
    ] = "h100-sxm-80gb",
    months: Annotated[float, typer.Option(help="Duration limit in months of 30 days.")] = 3.0,
    min_flop: Annotated[float, typer.Option(help="Smallest training compute, FLOP.")] = 1e24,
    max_flop: Annotated[float, typer.Option(help="Largest training compute, FLOP.")] = 1e32,
    points_per_decade: Annotated[int, typer.Option(help="Compute points per factor of ten (1-8).")] = 4,
    system: Annotated[
        str | None, typer.Option(help="Generic system preset (default: the accelerator's best-connected one).")
    ] = None,
    software: Annotated[
        str | None, typer.Option(help="Training-stack profile (default: the catalog's limits rule).")
    ] = None,
    aspect_ratio: Annotated[
        float | None, typer.Option(help="d_model / n_layers of the models (default: the catalog rule, 128).")
    ] = None,
    seq_len: Annotated[int | None, typer.Option(help="Tokens per sequence (default 8,192).")] = None,
    fp8: Annotated[bool, typer.Option("--fp8", help="Let the planner choose FP8 GEMMs (MFU stays vs BF16).")] = False,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Where scaling stops: the best MFU and days to train from 1e24 to 1e32 FLOP under a duration limit, the
    utilisation knee and the latency wall, beside Erdil and Schneider-Joseph 2024 (arXiv:2411.01137)."""
    result = api.limits(
        accelerator=accelerator,
        months=months,
        min_flop=min_flop,
        max_flop=max_flop,
        points_per_decade=points_per_decade,
        system=system,
        software=software,
        aspect_ratio=aspect_ratio,
        seq_len=seq_len,
        allow_fp8=fp8,
    )
    data = result.to_dict()
    if json_out:
        _emit_json(data)
    else:
        _print(render.limits_tables, data, no_color)


@app.command("plan-check")
def plan_check(
    csv_path: Annotated[str | None, typer.Argument(help="CSV in the published-runs schema (default: bundled).")] = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Rank each published layout among all feasible ones, and the planner's predicted gain over it."""
    from supercluster.plan.check import check

    _check_csv(csv_path)
    data = check(csv_path).to_dict()
    if json_out:
        _emit_json(data)
    else:
        _print(render.check_tables, data, no_color)


@app.command()
def validate(
    csv_path: Annotated[
        str | None,
        typer.Argument(
            help="CSV in the published-runs schema, or a bundled set: published (default), project, fsdp, "
            "reports, moe, vendor, scale, or all."
        ),
    ] = None,
    calibration: CalOpt = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Predict every published run in the CSV and report each row's error and the MAPE per source."""
    _check_csv(csv_path)
    efficiency = None
    if calibration:
        from supercluster.calibrate.profile import load

        prof = load(calibration)
        if not prof.accelerator:
            raise SuperclusterError(
                f"calibration profile {calibration} was measured on {prof.device}, not a catalog accelerator: "
                "it matches no published run"
            )
        efficiency = {prof.accelerator: prof.efficiency}
    data = run_validation(csv_path, efficiency).to_dict()
    if json_out:
        _emit_json(data)
    else:
        _print(render.validation_tables, data, no_color)


@app.command()
def presets(
    kind: Annotated[
        str, typer.Argument(help="accelerators, models, systems, software, nodes, scenarios or sites")
    ] = "all",
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """List the bundled catalog; `presets sites` tabulates the tracked data-center sites with their dates."""
    kinds = ("accelerators", "models", "systems", "software", "nodes", "scenarios", "sites")
    if kind != "all" and kind not in kinds:
        raise SuperclusterError(f"unknown catalog kind '{kind}'; valid: all, {', '.join(kinds)}")
    if kind == "sites":
        _site_listing(json_out, no_color)
        return
    chosen = kinds if kind == "all" else (kind,)
    data = {k: (catalog.scenario_names() if k == "scenarios" else catalog.names(k)) for k in chosen}
    if json_out:
        _emit_json(data)
        return
    console = _console(no_color)
    for k, names in data.items():
        console.print(Text(f"{k}: ", style="bold") + Text(text.clean(", ".join(names))))


def _site_listing(json_out: bool, no_color: bool) -> None:
    from supercluster.catalog import sites

    data = sites.listing()
    if json_out:
        _emit_json(data)
    else:
        _print(render.sites_tables, data, no_color)


@app.command()
def version(
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,  # accepted as by every command; the version is one plain line
) -> None:
    """Print the version."""
    if json_out:
        _emit_json({"version": __version__})
    else:
        typer.echo(__version__)


# ---- training across sites ----


@app.command()
def wan(
    scenario: ScenarioOpt = None,
    system: SystemOpt = None,
    model: ModelOpt = None,
    gpus: GpusOpt = None,
    global_batch: BatchOpt = None,
    seq_len: SeqOpt = None,
    train_tokens: TokensOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = None,
    cp: CpOpt = None,
    ep: EpOpt = None,
    precision: PrecOpt = None,
    sites: SitesOpt = None,
    sync: SyncOpt = None,
    diloco_inner_steps: InnerOpt = None,
    loss: Annotated[
        float, typer.Option(min=0.001, max=0.5, help="Throughput share spanning the sites may cost (0.05 = 5%).")
    ] = 0.05,
    software: SoftwareOpt = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """The WAN bandwidth at which spanning the sites of a multi-site system costs less than --loss of the run's
    one-site throughput, for the all-reduce and DiLoCo synchronisations."""
    knobs = _plan_knobs(locals())
    report = api.wan(
        scenario,
        loss=loss,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
        software=software,
        **knobs,
    )
    data = report.to_dict()
    if json_out:
        _emit_json(data)
    else:
        _print(render.wan_tables, data, no_color)


def run(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit status. Every problem the user can fix is one line and status 2."""
    try:
        rv = _command()(args=argv, prog_name="supercluster", standalone_mode=False)
    except SuperclusterError as err:
        return _fail(str(err))
    except clickx.NoArgsIsHelpError as err:
        typer.echo(err.format_message())
        return 2
    except clickx.UsageError as err:
        name = f"{err.ctx.info_name} " if err.ctx and err.ctx.parent else ""
        where = f" (see: supercluster {name}--help)"
        return _fail(err.format_message() + where)
    except clickx.ClickException as err:
        return _fail(err.format_message())
    except (typer.Abort, KeyboardInterrupt):
        return _fail("interrupted", 130)
    except BrokenPipeError:
        return 1
    except (RecursionError, MemoryError) as err:
        # input the boundary should have bounded: still one line, never a traceback
        return _fail(f"the input is too large or too deeply nested to process ({type(err).__name__})")
    except Exception as err:  # a bug: one line that says so and how to see it, never a traceback for the user
        if os.environ.get("SUPERCLUSTER_TRACEBACK"):
            raise
        return _fail(
            f"internal error ({type(err).__name__}: {err}); this is a bug in supercluster, please report it with "
            "the command line (SUPERCLUSTER_TRACEBACK=1 prints the traceback)"
        )
    return rv if isinstance(rv, int) else 0


@functools.cache
def _command() -> Any:
    """The click command behind the typer app, built once (building it inspects every command's signature)."""
    return typer.main.get_command(app)


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"error: {text.one_line(message)}\n")
    sys.stderr.flush()
    return code


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run(argv))


if __name__ == "__main__":
    main()
