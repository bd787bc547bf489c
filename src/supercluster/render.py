"""Rich tables for CLI results. Presentation only: no model logic here."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from supercluster.units import DAY_S


def _fmt_s(x: float) -> str:
    if x >= 1:
        return f"{x:.3f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.2f} ms"
    return f"{x * 1e6:.1f} us"


def estimate_tables(d: dict[str, Any]) -> list[Table]:
    head = Table(title=f"supercluster estimate: {d['scenario']}", show_header=False, title_justify="left")
    head.add_column("", style="bold")
    head.add_column("")
    head.add_row("model / system", f"{d['model']} on {d['system']} ({d['accelerator']}, {d['software']})")
    head.add_row("GPUs", f"{d['gpus']:,}")
    head.add_row("layout", d["layout"])
    head.add_row(
        "batch",
        f"{d['global_batch']:,} x {d['seq_len']:,} tokens = {d['tokens_per_step']:,} per step, "
        f"{d['microbatches']} micro-batches",
    )
    head.add_row("step time", _fmt_s(d["step_time_s"]))
    head.add_row("throughput", f"{d['tokens_per_s']:,.0f} tokens/s ({d['tokens_per_s_per_gpu']:,.0f} per GPU)")
    head.add_row("TFLOP/s per GPU", f"{d['model_tflops_per_gpu']:.1f} model, {d['hw_tflops_per_gpu']:.1f} hardware")
    head.add_row("MFU / HFU", f"{d['mfu'] * 100:.1f}% / {d['hfu'] * 100:.1f}% of dense BF16 peak")
    if d.get("time_to_train_s"):
        head.add_row(
            "time to train",
            f"{d['time_to_train_s'] / DAY_S:.1f} days for {d['train_tokens']:.3g} tokens "
            f"({d['gpu_hours']:,.0f} GPU-hours, no failures)",
        )
    mem = d["memory"]
    fit = "fits" if mem["fits"] else "DOES NOT FIT"
    head.add_row(
        "memory per GPU",
        f"{mem['total_gib']:.1f} of {mem['capacity_gib']:.0f} GiB ({fit}, headroom {mem['headroom_gib']:.1f} GiB)",
    )

    br = Table(title="step breakdown (slowest stage)", title_justify="left")
    br.add_column("term")
    br.add_column("time", justify="right")
    br.add_column("share", justify="right")
    for k, v in d["breakdown"].items():
        br.add_row(k.removesuffix("_s").replace("_", " "), _fmt_s(v), f"{v / d['step_time_s'] * 100:.1f}%")

    mt = Table(title="memory / GPU", title_justify="left")
    mt.add_column("part")
    mt.add_column("GiB", justify="right")
    for k in ("weights_gib", "grads_gib", "optimizer_gib", "activations_gib", "logits_gib", "allowance_gib"):
        mt.add_row(k.removesuffix("_gib"), f"{mem[k]:.2f}")

    tables = [head, br, mt]
    notes = [(k, v) for k, v in d.get("filled", {}).items()]
    if notes or d.get("assumptions"):
        ft = Table(title="filled in or assumed", title_justify="left")
        ft.add_column("what")
        ft.add_column("value and reason")
        for k, v in notes:
            ft.add_row(k, v)
        for a in d.get("assumptions", []):
            ft.add_row("note", a)
        for a in d.get("scenario_assumptions", []):
            ft.add_row(a["what"], f"{a['value']}: {a['why']}")
        tables.append(ft)
    return tables


def validation_tables(d: dict[str, Any]) -> list[Table]:
    rows = Table(title=f"supercluster validate: {d['csv']}", title_justify="left")
    for col, just in (
        ("id", "left"),
        ("metric", "left"),
        ("measured", "right"),
        ("predicted", "right"),
        ("error", "right"),
        ("layout / reason", "left"),
    ):
        rows.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in d["rows"]:
        if r["error_pct"] is None:
            rows.add_row(r["id"], r["metric"], f"{r['measured']}", "-", "FAILED", r["reason"], style="red")
            continue
        err = r["error_pct"]
        style = "red" if abs(err) > 20 else ("yellow" if abs(err) > 10 else "")
        rows.add_row(
            r["id"],
            r["metric"],
            f"{r['measured']:.4g}",
            f"{r['predicted']:.4g}",
            f"{err:+.1f}%",
            r["layout"],
            style=style,
        )
    summ = Table(title="MAPE per source table and per group", title_justify="left")
    for col in ("source / group", "rows", "failed", "MAPE", "worst |error|"):
        summ.add_column(col, justify="left" if col == "source / group" else "right")
    s = d["summary"]

    def add(name: str, st: dict[str, Any], style: str = "") -> None:
        mape = "-" if st["mape_pct"] is None else f"{st['mape_pct']:.2f}%"
        worst = "-" if st["max_abs_error_pct"] is None else f"{st['max_abs_error_pct']:.1f}%"
        summ.add_row(name, str(st["n"]), str(st["n_failed"]), mape, worst, style=style)

    for name, st in s["per_source"].items():
        add(name, st)
    for name, st in s["per_group"].items():
        add(f"group: {name}", st, "bold")
    add("all rows", s, "bold")
    return [rows, summ]


def print_tables(tables: list[Table], console: Console) -> None:
    for t in tables:
        console.print(t)
