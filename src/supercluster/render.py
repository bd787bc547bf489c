"""Rich tables for CLI results. Presentation only: no model logic here."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from supercluster.units import DAY_S


def _pairs(title: str) -> Table:
    """A two-column key/value table (bold keys) under a left-aligned title."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    return table


def _fmt_s(x: float) -> str:
    if x >= 1:
        return f"{x:.3f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.2f} ms"
    return f"{x * 1e6:.1f} us"


def estimate_tables(d: dict[str, Any]) -> list[Table]:
    head = _pairs(f"supercluster estimate: {d['scenario']}")
    head.add_row("model / system", f"{d['model']} on {d['system']} ({d['accelerator']}, {d['software']})")
    head.add_row("GPUs", f"{d['gpus']:,}")
    head.add_row("layout", d["layout"])
    head.add_row(
        "batch",
        f"{d['global_batch']:,} x {d['seq_len']:,} tokens = {d['tokens_per_step']:,} per step, "
        f"{d['microbatches']} micro-batches",
    )
    head.add_row("step time", _fmt_s(d["step_time_s"]))
    if d.get("step_time_interval_s"):
        lo, hi = d["step_time_interval_s"]
        iv = d["interval"]
        head.add_row(
            f"{iv['level'] * 100:.0f}% interval",
            f"{_fmt_s(lo)} to {_fmt_s(hi)} (from {iv['basis']})" + (f"; {iv['note']}" if iv["note"] else ""),
        )
    head.add_row("throughput", f"{d['tokens_per_s']:,.0f} tokens/s ({d['tokens_per_s_per_gpu']:,.0f} per GPU)")
    head.add_row("TFLOP/s per GPU", f"{d['model_tflops_per_gpu']:.1f} model, {d['hw_tflops_per_gpu']:.1f} hardware")
    head.add_row("MFU / HFU", f"{d['mfu'] * 100:.1f}% / {d['hfu'] * 100:.1f}% of dense BF16 peak")
    if d.get("time_to_train_s"):
        head.add_row(
            "time to train",
            f"{d['time_to_train_s'] / DAY_S:.1f} days for {d['train_tokens']:.3g} tokens "
            f"({d['gpu_hours']:,.0f} GPU-hours, no failures)"
            + (
                "; {:.1f}-{:.1f} days at 80%".format(*d["time_to_train_interval_days"])
                if d.get("time_to_train_interval_days")
                else ""
            ),
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
        if k == "wan_exposed_s" and not v and d["plan"].get("sites", 1) == 1:
            continue  # one site: nothing crosses a WAN
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
    summ = Table(
        title="MAPE per source table and per group (LOSO: the source left out of every fit; * = a constant was "
        "fitted on it)",
        title_justify="left",
    )
    for col in ("source / group", "rows", "failed", "MAPE", "LOSO", "speed bias", "worst |error|"):
        summ.add_column(col, justify="left" if col == "source / group" else "right")
    s = d["summary"]

    def pct(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt) + "%"

    def add(table: Table, name: str, st: dict[str, Any], style: str = "", loso: bool = True) -> None:
        row = [name, str(st["n"]), str(st["n_failed"]), pct(st["mape_pct"], ".2f")]
        if loso:
            row.append(pct(st.get("loso_mape_pct"), ".2f") + ("*" if st.get("fitted_here") else ""))
        row += [pct(st.get("mean_speed_error_pct"), "+.1f"), pct(st["max_abs_error_pct"], ".1f")]
        table.add_row(*row, style=style)

    for name, st in s["per_source"].items():
        add(summ, name, st)
    for name, st in s["per_group"].items():
        add(summ, f"group: {name}", {**st, "loso_mape_pct": None}, "bold")
    add(summ, "all rows", s, "bold")
    regimes = Table(
        title="Throughput rows by regime (speed bias: mean of predicted/measured speed - 1; + = model optimistic)",
        title_justify="left",
    )
    for col in ("regime", "rows", "failed", "MAPE", "speed bias", "worst |error|"):
        regimes.add_column(col, justify="left" if col == "regime" else "right")
    for key, label in (("per_gpu_band", "GPUs"), ("per_stack", "stack"), ("per_precision", "precision")):
        for name, st in s.get(key, {}).items():
            add(regimes, f"{label}: {name}", st, loso=False)
    return [rows, summ, regimes]


def plan_tables(d: dict[str, Any]) -> list[Table]:
    st = d["stats"]
    head = _pairs(f"supercluster plan: {d['model']} on {d['gpus']:,} GPUs of {d['system']}")
    head.add_row("batch", f"{d['global_batch']:,} x {d['seq_len']:,} tokens")
    head.add_row(
        "search",
        f"{st['generated']:,} layouts generated, {st['evaluated']:,} evaluated (dominated ones "
        f"pruned), {st['feasible']:,} fit; {st['wall_s'] * 1e3:.0f} ms, {st['configs_per_s']:,.0f} configs/s",
    )
    if d.get("best_time_to_train_days"):
        head.add_row(
            "best time to train",
            f"{d['best_time_to_train_days']:.1f} days for {d['train_tokens']:.3g} tokens (no failures)"
            + (
                "; {:.1f}-{:.1f} days at 80%".format(*d["best_time_to_train_interval_days"])
                if d.get("best_time_to_train_interval_days")
                else ""
            ),
        )
    if d.get("best_step_time_interval_s"):
        lo, hi = d["best_step_time_interval_s"]
        iv = d["interval"]
        head.add_row(
            "best step, 80% interval",
            f"{_fmt_s(lo)} to {_fmt_s(hi)} (from {iv['basis']})" + (f"; {iv['note']}" if iv["note"] else ""),
        )
    top = Table(title=f"top {len(d['top'])} layouts (fastest first)", title_justify="left")
    for col in ("#", "layout", "step", "tokens/s/GPU", "MFU", "memory GiB", "largest terms"):
        top.add_column(col, justify="left" if col in ("layout", "largest terms") else "right")
    for i, e in enumerate(d["top"], 1):
        terms = sorted(e["breakdown"].items(), key=lambda kv: -kv[1])[:2]
        largest = ", ".join(
            f"{k.removesuffix('_s').replace('_', ' ')} {v / e['step_time_s'] * 100:.0f}%" for k, v in terms
        )
        top.add_row(
            str(i),
            e["layout"],
            _fmt_s(e["step_time_s"]),
            f"{e['tokens_per_s_per_gpu']:,.0f}",
            f"{e['mfu'] * 100:.1f}%",
            f"{e['memory']['total_gib']:.1f}",
            largest,
        )
    tables = [head, top]
    tr = d.get("expert_tradeoff")
    if tr:
        t = _pairs("expert parallelism against tensor parallelism")
        for key, label in (("with_ep", "best with EP"), ("without_ep", "best without EP")):
            if tr.get(key):
                e = tr[key]
                t.add_row(
                    label,
                    f"{e['layout']}: {e['step_time_s']:.3f} s ({e['slower_than_best_pct']:+.1f}%), "
                    f"all-to-all {e['ep_comm_s']:.3g} s, {e['memory_gib']:.1f} GiB",
                )
        t.add_row("why", tr.get("why", ""))
        tables.append(t)
    for ex in d.get("explanations", []):
        t = _pairs(f"explain: {ex['layout']}")
        if ex["fits"]:
            t.add_row("rank", f"{ex['rank']:,} of {ex['feasible']:,} feasible (top {ex['top_percent']:.2f}%)")
            t.add_row("vs best", f"{ex['slower_than_best_pct']:+.1f}% step time")
        else:
            t.add_row("rank", "does not fit in memory")
        for r in ex["reasons"]:
            t.add_row("why", r)
        tables.append(t)
    return tables


def check_tables(d: dict[str, Any]) -> list[Table]:
    t = Table(title="published layouts among all feasible layouts (same precision)", title_justify="left")
    for col in ("id", "published layout", "rank", "top %", "best gain", "planner's best"):
        t.add_column(col, justify="right" if col in ("rank", "top %", "best gain") else "left")
    for r in d["rows"]:
        if r["rank"] is None:
            t.add_row(r["id"], r["published_layout"], "-", "-", "-", r["reason"] or r["status"], style="yellow")
            continue
        t.add_row(
            r["id"],
            r["published_layout"],
            f"{r['rank']:,}/{r['feasible']:,}",
            f"{r['top_percent']:.1f}",
            f"{r['best_gain_pct']:+.1f}%",
            r["best_layout"],
        )
    s = d["summary"]
    share = s["share_in_top_10_percent"]
    foot = Table(show_header=False)
    foot.add_column("")
    foot.add_row(
        f"{s['in_top_10_percent']} of {s['ranked']} published layouts in the top 10% "
        f"({share * 100:.0f}%); planner best slower than published: {s['best_slower_than_published']}; "
        f"median predicted gain {s['median_gain_pct']:.1f}%"
    )
    return [t, foot]


def simulate_tables(d: dict[str, Any]) -> list[Table]:
    head = _pairs(f"supercluster simulate: {d['scenario']} on {d['gpus']:,} GPUs ({d['trials']} trials, {d['mode']})")
    w, e, i = d["wall_days"], d["ettr"], d["interruptions"]
    if d["mode"] == "window":
        head.add_row("window", f"{d['window_days']:g} days")
    else:
        head.add_row(
            "time to train",
            f"{w['p50']:.1f} days median (p10 {w['p10']:.1f}, p90 {w['p90']:.1f}); "
            f"{d['ideal_days']:.1f} days without failures",
        )
    head.add_row("ETTR", f"{e['mean'] * 100:.1f}% (p10 {e['p10'] * 100:.1f}%, p90 {e['p90'] * 100:.1f}%)")
    head.add_row(
        "interruptions",
        f"{i['mean']:,.0f} unexpected (p10 {i['p10']:,.0f}, p90 {i['p90']:,.0f}; expected "
        f"{d['expected_interruptions']:,.0f}) + {d['planned']:.0f} planned; job MTBF {d['job_mtbf_h']:.2f} h",
    )
    g = d["gpu_hours"]
    head.add_row("GPU-hours", f"{g['p50']:,.0f} median")
    head.add_row(
        "lost time",
        f"{d['lost_work_h']:,.1f} h recomputed, {d['downtime_h']:,.1f} h down, "
        f"{d['checkpoint_stall_h']:,.1f} h checkpoint stalls, {d['spare_wait_h']:,.1f} h waiting for spares",
    )
    head.add_row("checkpoint", f"{d['checkpoint_tb']:.2f} TB every {d['checkpoint_interval_min']:.1f} min")
    cause = Table(title="interruptions by cause (mean per run)", title_justify="left")
    cause.add_column("category")
    cause.add_column("count", justify="right")
    cause.add_column("share", justify="right")
    total = sum(d["by_category"].values()) or 1.0
    for cat, n in sorted(d["by_category"].items(), key=lambda kv: -kv[1]):
        cause.add_row(cat, f"{n:,.1f}", f"{n / total * 100:.1f}%")
    tables = [head, cause]
    ia = d.get("interval_analysis")
    if ia:
        t = Table(title="checkpoint interval (30-day window)", title_justify="left")
        for col in ("interval min", "ETTR simulated", "ETTR first order"):
            t.add_column(col, justify="right")
        for c in ia["curve"]:
            t.add_row(
                f"{c['interval_min']:.2f}", f"{c['ettr_simulated'] * 100:.2f}%", f"{c['ettr_first_order'] * 100:.2f}%"
            )
        t.caption = (
            f"Young {ia['young_min']:.2f} min, Daly {ia['daly_min']:.2f} min, simulated optimum "
            f"{ia['simulated_optimum_min']:.2f} min"
        )
        tables.append(t)
    if d.get("ettr_vs_cluster_size"):
        t = Table(title="ETTR against cluster size (same job shape, 30-day window)", title_justify="left")
        for col in ("GPUs", "job MTBF h", "interruptions/day", "Daly min", "ETTR simulated", "ETTR first order"):
            t.add_column(col, justify="right")
        for r in d["ettr_vs_cluster_size"]:
            t.add_row(
                f"{r['gpus']:,}",
                f"{r['job_mtbf_h']:.2f}",
                f"{r['interruptions_per_day']:.1f}",
                f"{r['daly_interval_min']:.2f}",
                f"{r['ettr_simulated'] * 100:.1f}%",
                f"{r['ettr_first_order'] * 100:.1f}%",
            )
        tables.append(t)
    a = Table(title="assumptions", show_header=False, title_justify="left")
    a.add_column("")
    for line in d["assumptions"]:
        a.add_row(line)
    tables.append(a)
    return tables


def _kv(title: str) -> Table:
    t = _pairs(title)
    return t


def facility_tables(d: dict[str, Any]) -> list[Table]:
    p = d["power"]["training"]
    head = _kv(f"supercluster facility: {d['system']}, {d['gpus']:,} GPUs")
    head.add_row(
        "training power",
        f"{p['facility_mw']:.1f} MW facility = {p['it_mw']:.1f} MW IT x PUE {p['pue']:.2f}"
        + (f" (grid {d['grid_mw']:g} MW)" if d.get("grid_mw") else ""),
    )
    head.add_row(
        "IT load",
        f"compute {p['compute_w'] / 1e6:.1f} MW ({p['nodes']:,} nodes at {p['node_w'] / 1e3:.2f} kW)"
        f", network {p['network_w'] / 1e6:.1f} MW ({p['switches']:,} switches, {p['switch_tiers']} tiers), "
        f"storage {p['storage_w'] / 1e6:.1f} MW, pumps {p['cooling_pumps_w'] / 1e6:.1f} MW",
    )
    head.add_row("per GPU", f"{p['per_gpu_w']:.0f} W at the meter")
    head.add_row(
        "idle / HPL", f"{d['power']['idle']['facility_mw']:.1f} MW / {d['power']['hpl']['facility_mw']:.1f} MW"
    )
    c = d["capex"]
    head.add_row(
        "capital",
        f"${c['total_usd'] / 1e9:.2f} B (servers {c['servers_usd'] / 1e9:.2f}, network "
        f"{c['network_usd'] / 1e9:.2f}, facility {c['facility_usd'] / 1e9:.2f})",
    )
    tables = [head]
    if d.get("run"):
        r = d["run"]
        t = _kv("the training run (steady, no failures)")
        t.add_row("time", f"{r['wall_days']:.1f} days")
        t.add_row("energy", f"{r['energy_mwh']:,.0f} MWh ({r['kwh_per_million_tokens']:.2f} kWh per million tokens)")
        t.add_row(
            "cost",
            f"${r['total_usd'] / 1e6:,.1f} M = electricity ${r['electricity_usd'] / 1e6:,.2f} M + "
            f"amortised capital ${r['amortised_capex_usd'] / 1e6:,.1f} M (energy {r['energy_share'] * 100:.1f}%)",
        )
        t.add_row("water, CO2", f"{r['water_m3']:,.0f} m3, {r['co2_t']:,.0f} t CO2")
        tables.append(t)
    elif d.get("run_note"):
        t = _kv("the training run")
        t.add_row("note", d["run_note"])
        tables.append(t)
    if d.get("buildout"):
        t = Table(title="build-out", title_justify="left")
        for col in (
            "phase",
            "date",
            "GPUs",
            "facility MW",
            "on-site supply MW",
            "margin MW",
            "best layout",
            "days to train",
        ):
            t.add_column(col, justify="left" if col in ("phase", "best layout", "date") else "right")
        for ph in d["buildout"]:
            t.add_row(
                ph["name"],
                ph["date"],
                f"{ph['gpus']:,}",
                f"{ph['facility_mw']:.1f}",
                f"{ph['supply_mw']:.0f}",
                f"{ph['margin_mw']:+.1f}",
                (
                    f"{ph['layout']} (job on {ph['job_gpus']:,} GPUs)"
                    if ph.get("layout") and ph.get("job_gpus") and ph["job_gpus"] != ph["gpus"]
                    else ph.get("layout") or ph.get("note") or "-"
                ),
                f"{ph['time_to_train_days']:.1f}" if ph.get("time_to_train_days") else "-",
            )
        tables.append(t)
    a = Table(title="assumptions and sources", show_header=False, title_justify="left")
    a.add_column("what", style="bold")
    a.add_column("source")
    a.add_row("PUE", d.get("pue_source", ""))
    for k, v in d["assumptions"].items():
        a.add_row(k, v)
    tables.append(a)
    return tables


def top500_tables(d: dict[str, Any]) -> list[Table]:
    h = d["hpl"]
    head = _kv(f"supercluster top500: {d['name']} ({d['gpus']:,} GPUs)")
    head.add_row("Rpeak (FP64 matrix)", f"{h['rpeak_pf']:,.0f} PFLOP/s")
    head.add_row(
        "Rmax estimate",
        f"{h['rmax_pf']:,.0f} PFLOP/s ({h['efficiency'] * 100:.1f}% of peak, calibrated on "
        f"{', '.join(h['calibrated_on'])})",
    )
    if h.get("rmax_interval_pf"):
        lo, hi = h["rmax_interval_pf"]
        head.add_row("Rmax interval", f"{lo:,.0f} to {hi:,.0f} PFLOP/s ({h['interval_basis']})")
    head.add_row("power during HPL", f"{d['hpl_power_mw']:.1f} MW, {d['gflops_per_w']:.1f} GFLOPS/W")
    r = d["ranking"]
    where = f"#{r['rank']}" if r["rank"] else f"below #{r['below']} of the bundled entries"
    head.add_row(
        f"rank ({r['list']})", f"{where}; {r['ratio_to_leader']:.2f}x {r['leader']} ({r['leader_rmax_pf']:,.0f} PF)"
    )
    for n in h["notes"]:
        head.add_row("note", n)
    lt = Table(title=f"TOP500 {r['list']} with the estimate", title_justify="left")
    lt.add_column("#", justify="right")
    lt.add_column("system")
    lt.add_column("Rmax PF", justify="right")
    for i, e in enumerate(r["table"], 1):
        lt.add_row(str(i), e["system"], f"{e['rmax_pf']:,.1f}", style="bold" if e["id"] == "estimate" else "")
    vt = Table(title="the model on published systems (each estimated without its own Rmax)", title_justify="left")
    for col in ("system", "estimate PF", "80% interval PF", "published PF", "error", "calibrated on"):
        vt.add_column(col, justify="right" if "PF" in col or col == "error" else "left")
    for v in d["validation"]:
        lo, hi = v.get("interval_pf") or (v["estimate_pf"], v["estimate_pf"])
        vt.add_row(
            v["system"],
            f"{v['estimate_pf']:,.0f}",
            f"{lo:,.0f}-{hi:,.0f}" + ("" if v.get("inside_interval", True) else " (outside)"),
            f"{v['published_pf']:,.0f}",
            f"{v['error_pct']:+.1f}%",
            ", ".join(v["calibrated_on"]),
        )
    return [head, lt, vt]


def compare_tables(d: dict[str, Any]) -> list[Table]:
    t = Table(
        title=f"supercluster compare: {d['model']} for {d['train_tokens']:.3g} tokens at equal {d['equal']}",
        title_justify="left",
    )
    for col in (
        "system",
        "GPUs",
        "best layout",
        "MFU",
        "days",
        "facility MW",
        "energy MWh",
        "run cost $M",
        "capital $B",
    ):
        t.add_column(col, justify="left" if col in ("system", "best layout") else "right")
    for v in d["variants"]:
        t.add_row(
            f"{v['system']} ({v['accelerator']})",
            f"{v['gpus']:,}",
            v["layout"],
            f"{v['mfu'] * 100:.1f}%",
            f"{v['time_to_train_days']:.2f}",
            f"{v['facility_mw']:.1f}",
            f"{v['energy_mwh']:,.0f}",
            f"{v['cost_usd'] / 1e6:,.2f}",
            f"{v['capex_usd'] / 1e9:.2f}",
        )
    return [t]


def report_summary(d: dict[str, Any]) -> dict[str, Any]:
    e = d["estimate"]
    out: dict[str, Any] = {
        "scenario": d["scenario"]["name"],
        "gpus": d["scenario"]["gpus"],
        "layout": e["layout"],
        "step_time_s": e["step_time_s"],
        "mfu": e["mfu"],
        "memory_gib": e["memory"]["total_gib"],
        "time_to_train_days": e.get("time_to_train_days"),
        "best_layout": d["plan"]["top"][0]["layout"],
    }
    if d.get("simulation"):
        out["time_to_train_days_with_failures_p50"] = d["simulation"]["wall_days"]["p50"]
        out["ettr"] = d["simulation"]["ettr"]["mean"]
    if d.get("facility"):
        out["facility_mw"] = d["facility"]["power"]["training"]["facility_mw"]
        if d["facility"].get("run"):
            out["run_cost_usd"] = d["facility"]["run"]["total_usd"]
    if d.get("top500"):
        out["top500_rank"] = d["top500"]["ranking"]["rank"]
        out["rmax_pf"] = d["top500"]["hpl"]["rmax_pf"]
    return out


def report_tables(d: dict[str, Any], path: str) -> list[Table]:
    s = report_summary(d)
    t = _kv(f"supercluster report: {s['scenario']} ({s['gpus']:,} GPUs)")
    t.add_row("layout", f"{s['layout']} (planner's best: {s['best_layout']})")
    t.add_row("step, MFU", f"{s['step_time_s']:.3f} s, {s['mfu'] * 100:.1f}%; memory {s['memory_gib']:.1f} GiB per GPU")
    if s.get("time_to_train_days"):
        line = f"{s['time_to_train_days']:.1f} days without failures"
        if s.get("ettr"):
            line += f"; {s['time_to_train_days_with_failures_p50']:.1f} days with them (ETTR {s['ettr'] * 100:.0f}%)"
        t.add_row("time to train", line)
    if s.get("facility_mw"):
        cost = f", run ${s['run_cost_usd'] / 1e6:,.1f} M" if s.get("run_cost_usd") else ""
        t.add_row("power, cost", f"{s['facility_mw']:.0f} MW{cost}")
    if s.get("rmax_pf"):
        rank = f"#{s['top500_rank']}" if s.get("top500_rank") else "off the bundled top"
        t.add_row("TOP500", f"{rank} at ~{s['rmax_pf']:,.0f} PF estimated")
    t.add_row("report", path)
    return [t]


def fabric_tables(d: dict[str, Any]) -> list[Table]:
    b = d["bom"]
    t = _kv(f"supercluster fabric: {d['name']} ({b['gpus']:,} GPUs, {b['nodes']:,} nodes)")
    t.add_row(
        "topology",
        f"{b['kind']}, {b['tiers']} tiers of {b['switch_name']} (radix {b['radix']} at "
        f"{b['link_gbps']:g} Gb/s)" + (f", {b['groups']} groups" if b["groups"] else ""),
    )
    t.add_row("switches", ", ".join(f"{k} {v:,}" for k, v in b["switches"].items()) + f" = {b['switches_total']:,}")
    t.add_row("links", ", ".join(f"{k} {v:,}" for k, v in b["links"].items()))
    t.add_row("optics, NICs", f"{b['transceivers']:,} transceivers, {b['nics']:,} NICs")
    t.add_row("bisection", f"{b['bisection_tb_per_s']:,.1f} TB/s per direction")
    t.add_row("switch power", f"{b['switch_power_kw']:,.0f} kW")
    for n in b["notes"]:
        t.add_row("note", n)
    t.add_row("sources", f"{b['switch_source']} | {d['fabric']['source']}")
    tables = [t]
    if d.get("placement"):
        p = d["placement"]
        pt = Table(title=f"placement of {p['layout']} ({p['scenario']})", title_justify="left")
        for col in ("axis", "size", "stride", "GPUs spanned", "per domain", "slowest tier", "taper", "groups at once"):
            pt.add_column(col, justify="left" if col in ("axis", "slowest tier") else "right")
        for g in p["groups"]:
            pt.add_row(
                g["axis"],
                str(g["size"]),
                str(g["stride"]),
                f"{g['gpus_spanned']:,}",
                str(g["gpus_per_domain"]),
                g["tier"],
                f"{g['oversubscription_crossed']:g}",
                f"{g['concurrent_groups']:,}",
            )
        tables.append(pt)
    return tables


# ---- training across sites (issue 18) ----


def _fmt_bits(gbps: float | None) -> str:
    if gbps is None:
        return "none enough"
    for scale, unit in ((1e6, "Pb/s"), (1e3, "Tb/s"), (1.0, "Gb/s"), (1e-3, "Mb/s")):
        if gbps >= scale:
            return f"{gbps / scale:.3g} {unit}"
    return f"{gbps * 1e6:.3g} kb/s"


def _fmt_bytes(n: float) -> str:
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB")):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.3g} B"


def wan_tables(d: dict[str, Any]) -> list[Table]:
    head = _pairs(f"supercluster wan: {d['scenario']}")
    head.add_row("system", f"{d['system']}: {d['gpus']:,} GPUs over {d['sites']} sites")
    head.add_row(
        "WAN",
        f"{_fmt_bits(d['wan_gbps_per_site_pair'])} per site pair, {d['distance_km']:,.0f} km, "
        f"{d['latency_ms']:.2f} ms one way",
    )
    head.add_row("question", f"bandwidth at which the sites cost < {d['loss'] * 100:g}% of one-site throughput")
    rows = Table(title="per synchronisation scheme (layout held fixed)", title_justify="left")
    for col in ("sync", "1 site", "step", "loss", "WAN/step", "needed"):
        rows.add_column(col, justify="left" if col == "sync" else "right")
    for r in d["rows"]:
        name = r["sync"] + (f" H{r['inner_steps']}" if r["inner_steps"] else "")
        rows.add_row(
            name,
            _fmt_s(r["one_site_step_s"]),
            _fmt_s(r["step_s"]),
            f"{r['loss_at_system_wan'] * 100:.2f}%",
            _fmt_bytes(r["wan_bytes_per_step"]),
            _fmt_bits(r["needed_gbps"]),
        )
    notes = Table(title="layouts and assumptions", title_justify="left")
    notes.add_column("what")
    notes.add_column("value and reason")
    for r in d["rows"]:
        cost = f"; {r['cost_usd_per_year']:,.0f} USD/year" if r.get("cost_usd_per_year") else ""
        notes.add_row(r["sync"], f"{r['layout']}; {r['why']}{cost}")
    for a in d["assumptions"]:
        notes.add_row("note", a)
    return [head, rows, notes]


def print_tables(tables: list[Table], console: Console) -> None:
    for t in tables:
        console.print(t)
