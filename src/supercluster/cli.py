"""The supercluster command line. Every command prints a table and takes --json.

Bad input exits with status 2 and one line on stderr; never a traceback.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

from supercluster import __version__, api, catalog, render
from supercluster.errors import SuperclusterError
from supercluster.validate import run as run_validation

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    help="A digital twin of AI training superclusters (Colossus-class): step time, memory, layouts.",
    pretty_exceptions_enable=False,
)


class Recompute(StrEnum):
    none = "none"
    selective = "selective"
    full = "full"


class Precision(StrEnum):
    bf16 = "bf16"
    fp8 = "fp8"


def _console(no_color: bool) -> Console:
    return Console(no_color=no_color, soft_wrap=False, width=max(Console().width, 120))


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="Plain output for scripts and logs.")]


@app.command()
def estimate(
    scenario: Annotated[str | None, typer.Option("--scenario", "-s", help="Scenario file or preset name.")] = None,
    system: Annotated[str | None, typer.Option(help="System preset (see `supercluster presets systems`).")] = None,
    model: Annotated[str | None, typer.Option(help="Model preset (see `supercluster presets models`).")] = None,
    gpus: Annotated[int | None, typer.Option(help="GPUs the job uses.")] = None,
    global_batch: Annotated[int | None, typer.Option(help="Sequences per optimizer step.")] = None,
    seq_len: Annotated[int | None, typer.Option(help="Tokens per sequence.")] = None,
    train_tokens: Annotated[float | None, typer.Option(help="Tokens of the whole run.")] = None,
    tp: Annotated[int | None, typer.Option(help="Tensor parallel.")] = None,
    pp: Annotated[int | None, typer.Option(help="Pipeline parallel.")] = None,
    vpp: Annotated[int | None, typer.Option(help="Virtual stages per pipeline rank.")] = None,
    cp: Annotated[int | None, typer.Option(help="Context parallel.")] = None,
    ep: Annotated[int | None, typer.Option(help="Expert parallel.")] = None,
    dp: Annotated[int | None, typer.Option(help="Data parallel (default gpus / (tp*pp*cp)).")] = None,
    zero: Annotated[int | None, typer.Option(help="ZeRO stage 0-3.")] = None,
    sequence_parallel: Annotated[bool | None, typer.Option("--sp/--no-sp", help="Sequence parallelism.")] = None,
    micro_batch: Annotated[int | None, typer.Option(help="Sequences per micro-batch.")] = None,
    recompute: Annotated[Recompute | None, typer.Option(help="Activation recomputation.")] = None,
    precision: Annotated[Precision | None, typer.Option(help="Matrix-multiply precision.")] = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Step time, throughput, MFU and memory per GPU of one training job. Blank knobs are filled."""
    scn = api.build_scenario(
        scenario,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
        tp=tp,
        pp=pp,
        vpp=vpp,
        cp=cp,
        ep=ep,
        dp=dp,
        zero=zero,
        sequence_parallel=sequence_parallel,
        micro_batch=micro_batch,
        recompute=recompute.value if recompute else None,
        precision=precision.value if precision else None,
    )
    data = api.estimate(scn).to_dict()
    if json_out:
        _emit_json(data)
    else:
        render.print_tables(render.estimate_tables(data), _console(no_color))


@app.command()
def validate(
    csv_path: Annotated[str | None, typer.Argument(help="CSV in the published-runs schema (default: bundled).")] = None,
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Predict every published run in the CSV and report each row's error and the MAPE per source."""
    data = run_validation(csv_path).to_dict()
    if json_out:
        _emit_json(data)
    else:
        render.print_tables(render.validation_tables(data), _console(no_color))


@app.command()
def presets(
    kind: Annotated[str, typer.Argument(help="accelerators, models, systems, software, nodes or scenarios")] = "all",
    json_out: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """List the bundled catalog."""
    kinds = ("accelerators", "models", "systems", "software", "nodes", "scenarios")
    if kind != "all" and kind not in kinds:
        raise SuperclusterError(f"unknown catalog kind '{kind}'; valid: all, {', '.join(kinds)}")
    chosen = kinds if kind == "all" else (kind,)
    data = {k: (catalog.scenario_names() if k == "scenarios" else catalog.names(k)) for k in chosen}
    if json_out:
        _emit_json(data)
        return
    console = _console(no_color)
    for k, names in data.items():
        console.print(f"[bold]{k}[/bold]: " + ", ".join(names))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app(standalone_mode=True)
    except SuperclusterError as err:
        typer.echo(f"error: {err}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
