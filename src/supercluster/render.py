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
    head.add_row("parameters", params_text(d["params_total"], d["params_active"]))
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
    head.add_row("MFU / HFU", mfu_text(d) + f"; HFU {d['hfu'] * 100:.1f}%")
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
        label = k.removesuffix("_s").replace("_", " ")
        if k == "straggler_s" and not d.get("straggler_in_step_time", True):
            label = "straggler (not in step)"  # perf.straggler: priced beside the step time, not added to it
        br.add_row(label, _fmt_s(v), f"{v / d['step_time_s'] * 100:.1f}%")

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
    by_prec = d.get("best_by_precision") or {}
    if len(by_prec) > 1:
        for prec, e in by_prec.items():
            head.add_row(
                f"best {prec.upper()}",
                f"{e['layout']}: {_fmt_s(e['step_time_s'])}, MFU {mfu_text(e)}"
                + (f"; {e['slower_than_best_pct']:+.1f}% vs the best" if e["slower_than_best_pct"] > 1e-9 else ""),
            )
    if d.get("best_step_time_interval_s"):
        lo, hi = d["best_step_time_interval_s"]
        iv = d["interval"]
        head.add_row(
            "best step, 80% interval",
            f"{_fmt_s(lo)} to {_fmt_s(hi)} (from {iv['basis']})" + (f"; {iv['note']}" if iv["note"] else ""),
        )
    top = Table(
        title=f"top {len(d['top'])} layouts (fastest first)",
        title_justify="left",
        caption="MFU: model FLOP/s over the dense peak of the layout's own precision",
        caption_justify="left",
    )
    for col in ("#", "layout", "step", "tokens/s/GPU", "MFU", "memory GiB", "largest terms"):
        top.add_column(col, justify="left" if col in ("layout", "largest terms") else "right")
    for i, e in enumerate(d["top"], 1):
        in_step = {k: v for k, v in e["breakdown"].items() if k != "straggler_s" or e.get("straggler_in_step_time")}
        terms = sorted(in_step.items(), key=lambda kv: -kv[1])[:2]
        largest = ", ".join(
            f"{k.removesuffix('_s').replace('_', ' ')} {v / e['step_time_s'] * 100:.0f}%" for k, v in terms
        )
        top.add_row(
            str(i),
            e["layout"],
            _fmt_s(e["step_time_s"]),
            f"{e['tokens_per_s_per_gpu']:,.0f}",
            mfu_cell(e),
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
            same = ex.get("slower_than_best_same_precision_pct")
            prec = ex["estimate"]["plan"]["precision"].upper()
            if same is not None and abs(same - ex["slower_than_best_pct"]) > 1e-9:
                t.add_row(f"vs best {prec}", f"{same:+.1f}% step time (same numeric format)")
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
    ck = d.get("checkpoint")
    if ck:
        head.add_row(
            "checkpoint",
            f"{d['checkpoint_tb']:.2f} TB every {d['checkpoint_interval_min']:.1f} min ({ck['tier']} tier"
            + (", clamped to the drain time" if ck["interval_clamped"] else "")
            + (
                f"); copies to peers drain in {ck['drain_s']:,.2f} s; to storage every "
                f"{ck['memory']['persist_interval_s'] / 60:,.0f} min"
                if ck.get("memory")
                else ")"
            )
            + f"; write {ck['write_s']:,.1f} s at {ck['storage_write_tb_per_s']:,.2f} TB/s"
            + (" (assumed)" if ck["storage_assumed"] else "")
            + f"; stall {ck['stall_s']:,.1f} s each",
        )
        r = ck["restart_s"]
        head.add_row(
            "restart",
            f"{r['total']:,.0f} s = scheduler {r['scheduler']:g} + process start {r['process_start']:g} + "
            f"collective init {r['collective_init']:,.0f}; load {ck['load_s']:,.1f} s",
        )
    else:
        head.add_row("checkpoint", f"{d['checkpoint_tb']:.2f} TB every {d['checkpoint_interval_min']:.1f} min")
    _tolerance_rows(head, d)
    cause = Table(title="interruptions by cause (mean per run)", title_justify="left")
    cause.add_column("category")
    cause.add_column("count", justify="right")
    cause.add_column("share", justify="right")
    total = sum(d["by_category"].values()) or 1.0
    for cat, n in sorted(d["by_category"].items(), key=lambda kv: -kv[1]):
        cause.add_row(cat, f"{n:,.1f}", f"{n / total * 100:.1f}%")
    tables = [head, cause]
    if d.get("recovery_options"):
        tables.append(recovery_options_table(d))
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
            f"{ia['simulated_optimum_min']:.2f} min; none shorter than the drain, {ia.get('drain_min', 0.0) * 60:.1f} s"
        )
        tables.append(t)
    if d.get("ettr_vs_cluster_size"):
        t = Table(title="ETTR against cluster size (same job shape, 30-day window)", title_justify="left")
        for col in ("GPUs", "job MTBF h", "interruptions/day", "interval min", "ETTR simulated", "ETTR first order"):
            t.add_column(col, justify="right")
        for r in d["ettr_vs_cluster_size"]:
            t.add_row(
                f"{r['gpus']:,}",
                f"{r['job_mtbf_h']:.2f}",
                f"{r['interruptions_per_day']:.1f}",
                f"{r['interval_min']:.2f}" + ("*" if r.get("interval_clamped") else ""),
                f"{r['ettr_simulated'] * 100:.1f}%",
                f"{r['ettr_first_order'] * 100:.1f}%",
            )
        tables.append(t)
    tables.append(ettr_basis_table(d))
    return tables


def _tolerance_rows(head: Table, d: dict[str, Any]) -> None:
    """simulate: failures that drop one replica (fault tolerance replica), and how the run was priced."""
    ft = d.get("fault_tolerance") or {}
    if ft.get("mode") == "replica":
        head.add_row(
            "replica failures",
            f"{ft['contained_failures']:,.0f} dropped one of {ft['dp']:,} replicas ({ft['per_hour']:,.1f}/h), "
            f"{ft['mean_cost_s']:,.1f} s each ({ft['mean_hold_s']:,.1f} s until dropped + a {ft['step_s']:,.2f} s "
            f"step + {ft['mean_replica_out_s']:,.0f} s out / {ft['dp']:,}): {ft['tax'] * 100:,.1f}% of the time; "
            f"{ft['replicas_out_mean']:,.1f} replicas out on average",
        )
    if d.get("method") == "renewal-reward":
        head.add_row("method", d["method_note"])


def recovery_options_table(d: dict[str, Any]) -> Table:
    """simulate: the four ways of surviving failures to first order, the scenario's marked."""
    ft = d.get("fault_tolerance") or {}
    t = Table(title="surviving failures (first-order ETTR; * this run)", title_justify="left")
    for col, just in (("on a failure", "left"), ("init", "left"), ("restart", "right"), ("ETTR", "right")):
        t.add_column(col, justify=just)
    t.add_column("job-wide failures")
    for o in d["recovery_options"]:
        mine = o["mode"] == ft.get("mode") and o["init"] == ft.get("init")
        t.add_row(
            ("* " if mine else "") + ("restart the job" if o["mode"] == "global-restart" else "drop a replica"),
            o["init"],
            f"{o['restart_s']:,.0f} s",
            "never" if o["never_finishes"] else f"{o['ettr_first_order'] * 100:.1f}%",
            o["why"],
        )
    t.caption = (
        "drop a replica: GPU, host and network failures cost one replica (TorchFT; tax: their share of the time); "
        "software bugs and silent data corruption still restart the job. init: collective initialisation"
    )
    return t


def _short(source: str, limit: int = 70) -> str:
    """The head of a source note for a table (the JSON carries it whole)."""
    text = " ".join(source.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def ettr_basis_table(d: dict[str, Any]) -> Table:
    """What the simulated ETTR rests on: each input, its value and (the head of) its source."""
    basis = d.get("ettr_basis")
    if not basis:
        a = Table(title="assumptions", show_header=False, title_justify="left")
        a.add_column("")
        for line in d["assumptions"]:
            a.add_row(line)
        return a
    e = d["ettr"]["mean"] * 100
    t = Table(title=f"assumptions: what the ETTR of {e:.1f}% rests on (--json: sources whole)", title_justify="left")
    t.add_column("input", style="bold")
    t.add_column("value")
    t.add_column("source")
    for b in basis:
        t.add_row(b["what"], b["value"], _short(b["source"]))
    return t


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
    if d.get("largest_site"):
        s = d["largest_site"]
        head.add_row(
            "sites",
            f"the estimate treats the sites as one machine; HPL across a WAN is not a run anyone has made. The "
            f"largest site alone ({s['site']}, {s['gpus']:,} GPUs): {s['rmax_pf']:,.0f} PFLOP/s",
        )
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
    """compare: the job, each system's speed and cost, its power against its spec sheet, its layout, and (with
    --available) when each would have finished."""
    ref = d["reference"]
    head = _pairs(f"supercluster compare: {d['model']} at equal {d['equal']}")
    head.add_row(
        "job",
        f"{d['train_tokens']:.3g} tokens, batch {d['global_batch']:,} x {d['seq_len']:,}; best BF16 layout per "
        "system, MFU of the dense BF16 peak",
    )
    head.add_row(
        "reference",
        f"{ref['system']}, {ref['gpus']:,} GPUs, {ref['facility_mw']:.1f} MW at the meter"
        + (" (the power budget)" if d["equal"] == "power" else ""),
    )
    head.add_row("layouts", f"pipeline stages within {d['max_stage_imbalance'] * 100:.0f}% of an even split")
    speed = Table(title="time and cost (steady training, no failures)", title_justify="left")
    for col in ("system", "GPUs", "days", "MFU", "MWh", "run $M", "capital $B"):
        speed.add_column(col, justify="left" if col == "system" else "right")
    power = Table(title="power per GPU against the node's published maximum", title_justify="left")
    for col in ("system", "MW", "W/GPU meter", "W/GPU IT", "node max", "PUE"):
        power.add_column(col, justify="left" if col == "system" else "right")
    lay = Table(title="layouts", title_justify="left")
    lay.add_column("system")
    lay.add_column("layout and pipeline split")
    notes = []
    for v in d["variants"]:
        speed.add_row(
            v["system"],
            f"{v['gpus']:,}",
            f"{v['time_to_train_days']:.1f}",
            f"{v['mfu'] * 100:.1f}%",
            f"{v['energy_mwh']:,.0f}",
            f"{v['cost_usd'] / 1e6:,.1f}",
            f"{v['capex_usd'] / 1e9:.2f}",
        )
        power.add_row(
            v["system"],
            f"{v['facility_mw']:.1f}",
            f"{v['facility_w_per_gpu']:,.0f}",
            f"{v['it_w_per_gpu']:,.0f}",
            f"{v['node_max_w_per_gpu']:,.0f}",
            f"{v['pue']:.2f}",
        )
        per_stage = (
            f"{v['stage_layers_min']}"
            if v["stage_layers_min"] == v["stage_layers_max"]
            else f"{v['stage_layers_min']}-{v['stage_layers_max']}"
        )
        split = (
            "no pipeline"
            if v["pp"] == 1
            else f"{per_stage} per stage" + (f" ({v['vpp']} chunks each)" if v["vpp"] > 1 else "")
        )
        lay.add_row(v["system"], f"{v['layout']}; {v['layers']} layers, {split}")
        if v["note"]:
            notes.append((v["system"], v["note"]))
    for name, why in d.get("skipped", {}).items():
        notes.append((name, f"left out: {why}"))
    tables = [head, speed, power, lay]
    if notes:
        nt = Table(title="notes", show_header=False, title_justify="left")
        nt.add_column("")
        nt.add_column("")
        for row in notes:
            nt.add_row(*row)
        tables.append(nt)
    if d.get("time_to_result"):
        tables.extend(_time_to_result_tables(d["time_to_result"]))
    return tables


def _time_to_result_tables(t: dict[str, Any]) -> list[Table]:
    """When each system finishes from the common start: availability, bring-up, training."""
    tt = Table(title=f"time to result from {t['start']} ({t['start_from']})", title_justify="left")
    for col in ("system", "available", "up d", "train d", "finish", "wins if by"):
        tt.add_column(col, justify="left" if col == "system" else "right")
    for r in t["rows"]:
        mark = "" if r["available_from"] == "catalog" else "*"
        tt.add_row(
            r["system"],
            r["available"] + mark,
            f"{r['bring_up_days']:g}",
            f"{r['train_days']:.1f}",
            r["finish"],
            r["win_if_available_by"] or "cannot",
        )
    verdict = _pairs("verdict")
    verdict.add_row("first", t["verdict"])
    verdict.add_row("dates", "* given with --available; others the catalog's first volume shipments")
    out = [tt, verdict]
    if t["assumptions"]:
        a = Table(title="filled in or assumed (sources in --json)", show_header=False, title_justify="left")
        a.add_column("", style="bold")
        a.add_column("")
        for item in t["assumptions"]:
            a.add_row(item["what"], item["value"])
        out.append(a)
    return out


def params_text(total: int, active: int) -> str:
    """Total parameters, and the active ones per token when they differ (mixtures of experts)."""
    text = f"{total / 1e9:,.1f}B total"
    return text + (f", {active / 1e9:,.1f}B active per token" if active != total else "")


def mfu_text(e: dict[str, Any]) -> str:
    """MFU with its denominator named, and the BF16-peak figure beside it when the layout is not BF16."""
    prec = e["mfu_peak_precision"]
    text = f"{e['mfu'] * 100:.1f}% of dense {prec.upper()} peak ({e['mfu_peak_tflops_per_gpu']:,.0f} TFLOP/s)"
    if prec != "bf16":
        text += f", {e['mfu_bf16_peak'] * 100:.1f}% of BF16 peak"
    return text


def mfu_cell(e: dict[str, Any]) -> str:
    """MFU for a table cell: against the layout's own precision, with the precision named when not BF16."""
    prec = e.get("mfu_peak_precision", "bf16")
    return f"{e['mfu'] * 100:.1f}%" + ("" if prec == "bf16" else f" {prec.upper()}")


def report_summary(d: dict[str, Any]) -> dict[str, Any]:
    e = d["estimate"]
    out: dict[str, Any] = {
        "scenario": d["scenario"]["name"],
        "gpus": d["scenario"]["gpus"],
        "layout": e["layout"],
        "step_time_s": e["step_time_s"],
        "mfu": e["mfu"],
        "mfu_text": mfu_text(e),
        "memory_gib": e["memory"]["total_gib"],
        "time_to_train_days": e.get("time_to_train_days"),
        "best_layout": d["plan"]["top"][0]["layout"],
        "best_by_precision": d["plan"].get("best_by_precision", {}),
        "precision": e["plan"]["precision"],
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
    t.add_row(
        "model",
        f"{d['estimate']['model']}: " + params_text(d["estimate"]["params_total"], d["estimate"]["params_active"]),
    )
    t.add_row("layout", s["layout"])
    mine = s["precision"]
    for prec, b in s["best_by_precision"].items():
        gap = (s["step_time_s"] / b["step_time_s"] - 1) * 100
        t.add_row(
            f"best {prec.upper()}",
            f"{b['layout']}, {_fmt_s(b['step_time_s'])}"
            + (f" (the scenario's layout: {gap:+.1f}% step time)" if prec == mine else " (another numeric format)"),
        )
    t.add_row("step, MFU", f"{s['step_time_s']:.3f} s, MFU {s['mfu_text']}; memory {s['memory_gib']:.1f} GiB per GPU")
    if s.get("time_to_train_days"):
        line = f"{s['time_to_train_days']:.1f} days without failures"
        if s.get("ettr"):
            line += f"; {s['time_to_train_days_with_failures_p50']:.1f} days with them (ETTR {s['ettr'] * 100:.0f}%)"
        t.add_row("time to train", line)
    st = d.get("story") or {}
    rr = st.get("reference_run")
    if rr and rr["rows"]:
        first = rr["estimates"][0]
        runs = [r for r in rr["rows"] if r["estimate"] == first["name"]]
        t.add_row(
            rr["name"],
            f"{first['flop']:.2g} FLOP: "
            + "; ".join(
                f"{r['days_with_failures_p50']:.0f} days with failures on {r['gpus']:,} GPUs "
                f"(ETTR {r['ettr'] * 100:.0f}%)"
                for r in runs
            ),
        )
    if st.get("decision"):
        t.add_row("H100 or B200", st["decision"]["time_to_result"]["verdict"])
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
    if b.get("wan") and b["wan"].get("usd_per_year") is not None:
        t.add_row("WAN cost", f"${b['wan']['usd_per_year'] / 1e6:,.1f} M per year")
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


def _count(x: float) -> str:
    """1,379 / 278k / 1.39M: a count short enough for a narrow column."""
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.0f}k"
    return f"{x:,.0f}"


def sites_tables(d: dict[str, Any]) -> list[Table]:
    """`presets sites`: each site's power and compute at the tracker's snapshot and at its largest milestone."""
    ds = d["dataset"]
    snap = ds["snapshot_date"]
    t = Table(title=f"frontier data-center sites (Epoch AI hub, snapshot {snap})", title_justify="left")
    t.add_column("site\nowner", no_wrap=True, min_width=20)
    t.add_column(f"MW / H100e\n{snap}", justify="right")
    t.add_column("largest, recorded\nor projected", justify="right")
    t.add_column("GPUs stated", justify="right")
    for r in d["sites"]:
        owner = r["owner"].split(" (")[0]
        gpus = f"{_count(r['gpus'])}\n{r['gpu_type']}\n{r['gpus_date']}" if r["gpus"] else "-"
        t.add_row(
            f"{r['id']}\n{owner}" + (f"\nsystem {r['system']}" if r["system"] else ""),
            f"{r['power_mw']:,.0f} / {_count(r['h100e'])}",
            f"{r['peak_power_mw']:,.0f} MW / {_count(r['peak_h100e'])}\n{r['peak_date']}",
            gpus,
        )
    src = _kv("source")
    src.add_row("dataset", f"{ds['title']}, {ds['url']} ({ds['license']})")
    src.add_row("dates", f"snapshot {snap}, read {ds['read_date']}; later dates are the hub's projections")
    src.add_row("read from", ds["read_from"])
    src.add_row("uncertainty", ds["uncertainty"])
    return [t, src]


# ---- training across sites ----


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


def _mwh(x: float) -> str:
    """Energy in MWh with three significant figures (a step's swing is kWh, a restart's MWh)."""
    return f"{x:,.1f}" if x >= 100 else f"{x:.3g}"


def power_tables(d: dict[str, Any]) -> list[Table]:
    """supercluster power: the swing of one step and of a restart, and what smooths it."""
    st, ev, sm = d["step"], d["events"], d["smoothing"]
    head = _pairs(f"supercluster power: {d['scenario']}, {d['gpus']:,} GPUs ({d['layout']})")
    head.add_row("step", f"{st['step_time_s']:.3f} s, {st['source']}")
    head.add_row(
        "facility power",
        f"peak {st['peak_mw']:,.1f} MW, trough {st['trough_mw']:,.1f} MW, mean {st['mean_mw']:,.1f} MW",
    )
    head.add_row("swing", f"{st['swing_mw']:,.1f} MW ({st['swing_pct_of_peak']:.1f}% of peak) every step")
    head.add_row("ramp", f"{st['ramp_mw_per_s']:,.0f} MW/s at the GPU slew")
    if st.get("dominant_hz"):
        bands = ", ".join(f"{k} {v * 100:.0f}%" for k, v in st["band_share"].items())
        head.add_row(
            "frequency",
            f"dominant {st['dominant_hz']:.3g} Hz (harmonic {st['dominant_harmonic']} of {st['step_hz']:.3g} Hz); "
            f"swing energy in {bands}",
        )
    head.add_row(
        "restart",
        f"-{ev['drop_mw']:,.1f} MW to {ev['idle_mw']:,.1f} MW for {ev['recovery_s']:,.0f} s, "
        f"{ev['restarts_per_day']:.1f} a day",
    )
    head.add_row("checkpoint", f"stall {ev['checkpoint_stall_s']:.3g} s, {ev['checkpoints_per_day']:,.0f} a day")
    limit = sm["ramp_limit_mw_per_s"]
    title = f"grid side held to {limit:.3g} MW/s" if limit is not None else "grid side"
    if sm.get("max_swing_mw") is not None:
        title += f" and a {sm['max_swing_mw']:.3g} MW swing"
    t = _pairs(title)
    t.add_row("ramp limit", sm["ramp_limit_note"])
    t.add_row(
        "battery",
        f"{sm['battery_mw']:,.1f} MW, {_mwh(sm['battery_mwh'])} MWh (steps {_mwh(sm['step']['battery_mwh'])}, "
        f"restart {_mwh(sm['event']['battery_mwh'])} MWh)",
    )
    ref = d["reference_storage"]
    t.add_row(
        "vs Memphis",
        f"{ref['name']}, {ref['power_mw']:,.0f} MW, {ref['energy_mwh']:,.0f} MWh: "
        + ("covers it" if ref["covers"] else "does not cover it")
        + f" ({ref['power_share'] * 100:.0f}% of its power, {ref['energy_share'] * 100:.2g}% of its energy)",
    )
    fl = d["floor"]
    t.add_row(
        "or a GPU floor",
        f"at {fl['floor_of_compute'] * 100:.1f}% of the compute draw: +{fl['wasted_mwh_per_day']:,.0f} MWh a day "
        f"(${fl['wasted_usd_per_day']:,.0f}, +{fl['wasted_pct_of_energy']:.1f}% energy); no help in a restart",
    )
    sweep = Table(title="battery against the grid's ramp limit", title_justify="left")
    for col in ("MW/s", "battery MW", "MWh", "restart MWh", "steps MWh"):
        sweep.add_column(col, justify="right")
    for r in d["sweep"]:
        sweep.add_row(
            f"{r['ramp_limit_mw_per_s']:.4g}" + (" *" if r["chosen"] else ""),
            f"{r['battery_mw']:,.1f}",
            _mwh(r["battery_mwh"]),
            _mwh(r["event_mwh"]),
            _mwh(r["step_mwh"]),
        )
    notes = Table(title="how it is computed", show_header=False, title_justify="left")
    notes.add_column("")
    for line in d["notes"]:
        notes.add_row(line)
    src = Table(title="sources", show_header=False, title_justify="left")
    src.add_column("what", style="bold")
    src.add_column("source")
    for k, v in d["sources"].items():
        src.add_row(k, v)
    return [head, t, sweep, notes, src]


# ---- supercluster limits ----
def _si(x: float | None, unit: str = "") -> str:
    """1.2e12 -> '1.2T': counts and FLOP in three significant characters."""
    if x is None:
        return "-"
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            v = x / scale
            return (f"{v:.0f}" if v >= 100 else f"{v:.3g}") + prefix + unit if v < 1000 else f"{x:.2g}{unit}"
    return f"{x:.3g}{unit}"


def _flop(x: float | None) -> str:
    return "-" if x is None else f"{x:.2g}"


def limits_tables(d: dict[str, Any]) -> list[Table]:
    head = _pairs(f"supercluster limits: {d['accelerator']} under {d['limit_days']:g} days")
    head.add_row("system, stack", f"{d['system']} ({d['fabric_gpus']:,} GPUs wired at most), {d['software']}")
    head.add_row(
        "grid",
        f"{_flop(d['min_flop'])} to {_flop(d['max_flop'])} FLOP, {d['points_per_decade']} per decade; "
        f"{d['trials']} GPU counts planned in {d['wall_s']:.1f} s",
    )
    head.add_row(
        "utilisation knee",
        f"{_flop(d['utilisation_knee_flop'])} FLOP (MFU below "
        f"{d['knee']['fraction_of_plateau'] * 100:.0f}% of its {(d['plateau_mfu'] or 0) * 100:.1f}% plateau)",
    )
    head.add_row("latency wall", f"{_flop(d['latency_wall_flop'])} FLOP (no GPU count finishes in time)")
    head.add_row("fabric wall", f"{_flop(d['fabric_wall_flop'])} FLOP (GPUs needed exceed the fabric)")

    paper = d["paper"]
    cmp_t = Table(title=f"beside {paper['authors'].split(' (')[0]} ({paper['url']})", title_justify="left")
    for col in ("figure, FLOP", "paper", "its summary", "supercluster", "apart"):
        cmp_t.add_column(col, justify="left" if col == "figure, FLOP" else "right")
    why = _pairs("why they differ")
    for c in d["comparison"]:
        apart = "-" if c["factor_apart"] is None else f"{c['factor_apart']:.1f}x"
        cmp_t.add_row(
            c["figure"],
            _flop(c["paper_flop"]),
            _flop(c["paper_summary_flop"]),
            _flop(c["supercluster_flop"]),
            apart,
        )
        why.add_row(c["figure"], c["why"])
    cmp_t.caption = "paper: the abstract's 'about'; its summary: Epoch AI's post on the paper"

    rows = Table(title="best layout per compute (fewest GPUs within the limit)", title_justify="left")
    for col in ("FLOP", "params", "tokens", "batch", "GPUs", "MFU", "days", "binding"):
        rows.add_column(col, justify="left" if col == "binding" else "right")
    for r in d["rows"]:
        days = "-" if r["days"] is None else f"{r['days']:,.0f}"
        gpus = "-" if r["gpus"] is None else _si(float(r["gpus"]))
        if r["gpus"] is not None and r.get("beyond_fabric"):
            gpus += "*"
        binding = r["binding"] + (" (batch)" if r.get("batch_limited") else "")
        rows.add_row(
            _flop(r["compute_flop"]),
            _si(r["params"]),
            _si(r["train_tokens"]),
            _si(float(r["tokens_per_step"])),
            gpus,
            "-" if r["mfu"] is None else f"{r['mfu'] * 100:.1f}%",
            days if r["feasible"] else f">{d['limit_days']:g}: {days}",
            binding,
            style="" if r["feasible"] else "red",
        )
    rows.caption = "batch in tokens; * more GPUs than the fabric wires; (batch) under one sequence per GPU"

    lay = Table(title="layouts (fastest one where none finishes in time)", title_justify="left")
    for col in ("FLOP", "layout", "step", "step budget"):
        lay.add_column(col, justify="left" if col == "layout" else "right")
    for r in d["rows"]:
        lay.add_row(
            _flop(r["compute_flop"]),
            r["layout"] or "no layout fits in memory",
            "-" if r["step_time_s"] is None else _fmt_s(r["step_time_s"]),
            _fmt_s(r["step_time_budget_s"]),
        )

    terms = Table(title="supercluster's side, term by term (at the wall)", title_justify="left")
    terms.add_column("term", style="bold")
    terms.add_column("supercluster")
    for t in d["terms"]:
        terms.add_row(t["term"], t["supercluster"])
    return [head, cmp_t, why, rows, lay, terms]
