"""Plotly figures of the report, one function each. Strings from the user are escaped before they reach a title."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go

COLORS = {"F": "#4C78A8", "B": "#F58518"}
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "height": 420}


def _fig(title: str, **layout: Any) -> go.Figure:
    return go.Figure(layout={**LAYOUT, "title": {"text": html.escape(title)}, **layout})


def breakdown(est: dict[str, Any]) -> go.Figure:
    b = est["breakdown"]
    outside = not est.get("straggler_in_step_time", True)  # perf.straggler: priced beside the step, not in it
    names = [
        "straggler (not in step)" if outside and k == "straggler_s" else k.removesuffix("_s").replace("_", " ")
        for k in b
    ]
    fig = _fig(f"Step time {est['step_time_s']:.3f} s: where it goes (slowest stage)", yaxis_title="seconds per step")
    fig.add_bar(
        x=names,
        y=list(b.values()),
        marker_color="#4C78A8",
        text=[f"{v / est['step_time_s'] * 100:.1f}%" for v in b.values()],
        textposition="outside",
    )
    return fig


def memory(est: dict[str, Any]) -> go.Figure:
    m = est["memory"]
    parts = ["weights", "grads", "optimizer", "activations", "logits", "allowance"]
    fig = _fig(
        f"Memory per GPU: {m['total_gib']:.1f} of {m['capacity_gib']:.0f} GiB", barmode="stack", yaxis_title="GiB"
    )
    for part in parts:
        fig.add_bar(name=part, x=["worst stage"], y=[m[f"{part}_gib"]])
    fig.add_hline(y=m["capacity_gib"], line_dash="dash", line_color="red", annotation_text="HBM capacity")
    return fig


def pipeline(tl: dict[str, Any]) -> go.Figure:
    fig = _fig(
        f"One step, event by event: {tl['stages']} stages x {tl['chunks']} chunks x {tl['microbatches']} "
        f"micro-batches ({tl['relative_error'] * 100:+.1f}% vs the analytical step)",
        xaxis_title="seconds",
        yaxis_title="pipeline stage",
        barmode="overlay",
        height=460,
    )
    for kind, label in (("F", "forward"), ("B", "backward")):
        ops = [o for o in tl["ops"] if o[3] == kind]
        fig.add_bar(
            name=label,
            orientation="h",
            y=[f"stage {o[0]}" for o in ops],
            x=[o[5] - o[4] for o in ops],
            base=[o[4] for o in ops],
            marker_color=COLORS[kind],
            hovertext=[f"mb {o[2]} chunk {o[1]}" for o in ops],
            hoverinfo="text+x",
        )
    fig.update_yaxes(autorange="reversed")
    return fig


def scaling(rows: list[dict[str, Any]]) -> go.Figure:
    ok = [r for r in rows if "error" not in r]
    fig = _fig(
        "Scaling: best layout from 1,000 to 200,000 GPUs",
        xaxis={"title": "GPUs", "type": "log"},
        yaxis={"title": "days to train"},
        yaxis2={"title": "MFU", "overlaying": "y", "side": "right", "tickformat": ".0%"},
    )
    if ok and ok[0].get("time_to_train_days") is not None:
        if ok[0].get("time_to_train_interval_days"):
            fig.add_scatter(
                name="80% interval",
                x=[r["gpus"] for r in ok] + [r["gpus"] for r in reversed(ok)],
                y=[r["time_to_train_interval_days"][1] for r in ok]
                + [r["time_to_train_interval_days"][0] for r in reversed(ok)],
                fill="toself",
                line={"width": 0},
                opacity=0.25,
                hoverinfo="skip",
            )
        fig.add_scatter(
            name="days to train",
            x=[r["gpus"] for r in ok],
            y=[r["time_to_train_days"] for r in ok],
            mode="lines+markers",
            hovertext=[r["layout"] for r in ok],
        )
        if not ok[0].get("straggler_in_step", True):  # perf.straggler: priced beside the step, not in it
            fig.add_scatter(
                name="with the straggler wait",
                x=[r["gpus"] for r in ok],
                y=[r["time_to_train_days"] * (1 + r["straggler_share"]) for r in ok],
                mode="lines",
                line={"dash": "dash"},
            )
    fig.add_scatter(
        name="MFU",
        x=[r["gpus"] for r in ok],
        y=[r["mfu"] for r in ok],
        mode="lines+markers",
        yaxis="y2",
        line={"dash": "dot"},
    )
    return fig


def flows(rows: list[dict[str, Any]]) -> go.Figure:
    """Analytic contention factor against the flow-level bus-bandwidth fraction (fabric/flows.py), per routing."""
    fig = _fig(
        "Fabric contention: analytic term vs flow-level simulation (nodes scattered)",
        xaxis={"title": "GPUs", "type": "log"},
        yaxis={"title": "fraction of line rate", "tickformat": ".0%", "range": [0, 1.08]},
    )
    names = {"dp_ring": "DP ring step", "ep_all_to_all": "EP all-to-all"}
    first = [r for r in rows if r["routing"] == rows[0]["routing"] and r["collective"] == rows[0]["collective"]]
    fig.add_scatter(
        name="analytic (1 / taper)", x=[r["gpus"] for r in first], y=[r["analytic_fraction"] for r in first]
    )
    for routing, dash in (("adaptive", "solid"), ("ecmp", "dash")):
        for coll, label in names.items():
            sel = [r for r in rows if r["routing"] == routing and r["collective"] == coll]
            if not sel:
                continue
            x = [r["gpus"] for r in sel]
            fig.add_scatter(
                name=f"{label}, {routing}: slowest flow",
                x=x,
                y=[r["flow_fraction"] for r in sel],
                mode="lines+markers",
                line={"dash": dash},
            )
            if routing == "ecmp":
                fig.add_scatter(
                    name=f"{label}, ecmp: mean flow",
                    x=x,
                    y=[r["mean_rate_fraction"] for r in sel],
                    mode="lines+markers",
                    line={"dash": "dot"},
                )
    fig.add_hline(y=0.95, line_dash="dot", line_color="green", annotation_text="NVIDIA: Spectrum-X on Colossus 95%")
    fig.add_hline(y=0.60, line_dash="dot", line_color="red", annotation_text="NVIDIA: standard Ethernet 60%")
    return fig


def failures(sim: dict[str, Any]) -> go.Figure:
    events = [e for e in sim["timeline"] if e["kind"] in ("failure", "planned")]
    fig = _fig(
        f"Interruptions of one simulated run (ETTR {sim['ettr']['mean'] * 100:.1f}% over {sim['trials']} trials)",
        xaxis_title="days",
        yaxis_title="cumulative interruptions",
    )
    cats = sorted({e["category"] for e in events})
    for cat in cats:
        xs = [e["t_s"] / 86400 for e in events if e["category"] == cat]
        fig.add_scatter(name=cat, x=xs, y=list(range(1, len(xs) + 1)), mode="lines+markers", line_shape="hv")
    return fig


def goodput(sim: dict[str, Any]) -> go.Figure:
    rows = sim.get("ettr_vs_cluster_size") or []
    fig = _fig(
        "Goodput against cluster size (same job shape)",
        xaxis={"title": "GPUs", "type": "log"},
        yaxis={"title": "ETTR", "tickformat": ".0%"},
    )
    fig.add_scatter(
        name="simulated", x=[r["gpus"] for r in rows], y=[r["ettr_simulated"] for r in rows], mode="lines+markers"
    )
    fig.add_scatter(
        name="first order (Daly)",
        x=[r["gpus"] for r in rows],
        y=[r["ettr_first_order"] for r in rows],
        mode="lines",
        line={"dash": "dot"},
    )
    return fig


def power_timeline(sim: dict[str, Any], facility: dict[str, Any]) -> go.Figure:
    train = facility["power"]["training"]["facility_mw"]
    idle = facility["power"]["idle"]["facility_mw"]
    xs, ys = [0.0], [train]
    for e in sim["timeline"]:
        t0, t1 = e["t_s"] / 86400, (e["t_s"] + e["downtime_s"]) / 86400
        xs += [t0, t0, t1, t1]
        ys += [train, idle, idle, train]
    end = sim["wall_days"]["p50"] if sim["mode"] != "window" else sim["window_days"]
    xs.append(max(end, xs[-1]))
    ys.append(train)
    fig = _fig(
        "Facility power during one simulated run (dips: failures and maintenance)", xaxis_title="days", yaxis_title="MW"
    )
    fig.add_scatter(x=xs, y=ys, mode="lines", line_shape="linear", name="facility MW")
    return fig


def buildout(phases: list[dict[str, Any]]) -> go.Figure:
    fig = _fig("Build-out: megawatts needed against the power on site", barmode="group", yaxis_title="MW")
    names = [f"{p['name']} ({p['date']})" for p in phases]
    fig.add_bar(name="facility load", x=names, y=[p["facility_mw"] for p in phases])
    fig.add_bar(name="on-site supply (grid + turbines)", x=names, y=[p["supply_mw"] for p in phases])
    return fig


def top500(d: dict[str, Any]) -> go.Figure:
    table = d["ranking"]["table"]
    fig = _fig(f"TOP500 {d['ranking']['list']}: where the estimate would rank", xaxis_title="Rmax, PFLOP/s", height=460)
    fig.add_bar(
        orientation="h",
        y=[html.escape(r["system"]) for r in table],
        x=[r["rmax_pf"] for r in table],
        marker_color=["#E45756" if r["id"] == "estimate" else "#4C78A8" for r in table],
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def _swing(title: str, series: dict[str, Any], xaxis: str) -> go.Figure:
    """Load at the meter, the ramp-limited grid draw and the battery's state of charge (right axis)."""
    fig = _fig(
        title,
        xaxis_title=xaxis,
        yaxis={"title": "MW"},
        yaxis2={"title": "battery charge", "overlaying": "y", "side": "right", "tickformat": ".0%", "range": [0, 1]},
    )
    fig.add_scatter(name="facility load", x=series["t_s"], y=series["load_mw"], mode="lines", line={"width": 1})
    fig.add_scatter(name="grid draw (ramp-limited)", x=series["t_s"], y=series["grid_mw"], mode="lines")
    fig.add_scatter(
        name="battery charge", x=series["t_s"], y=series["soc"], mode="lines", yaxis="y2", line={"dash": "dot"}
    )
    return fig


def _limit_text(ps: dict[str, Any]) -> str:
    sm = ps["smoothing"]
    parts = []
    if sm["ramp_limit_mw_per_s"] is not None:
        parts.append(f"{sm['ramp_limit_mw_per_s']:.3g} MW/s")
    if sm["max_swing_mw"] is not None:
        parts.append(f"{sm['max_swing_mw']:.3g} MW swing")
    return " and ".join(parts)


def swing_steps(ps: dict[str, Any]) -> go.Figure:
    st = ps["step"]
    return _swing(
        f"Facility power over a few steps: {st['swing_mw']:.1f} MW swing every {st['step_time_s']:.2f} s; "
        f"grid held to {_limit_text(ps)}",
        ps["series"]["steps"],
        "seconds",
    )


def swing_event(ps: dict[str, Any]) -> go.Figure:
    ev, sm = ps["events"], ps["smoothing"]
    return _swing(
        f"Checkpoint, then a failure and restart ({ev['recovery_s']:.0f} s down): battery "
        f"{sm['event']['battery_mwh']:.3g} MWh for the restart at {_limit_text(ps)}",
        ps["series"]["event"],
        "seconds",
    )
