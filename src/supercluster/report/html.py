"""The self-contained HTML report: plotly.js inlined, no network access needed to open it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plotly.offline
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from supercluster.io import write_text
from supercluster.report import figures


def _plot(div_id: str, fig: Any) -> Markup:
    spec = fig.to_plotly_json()
    payload = json.dumps({"data": spec["data"], "layout": spec["layout"]}, default=str)
    payload = payload.replace("</", "<\\/")  # no user string can close the script element
    return Markup(
        f'<div class="plot" id="{div_id}" data-plot="1"></div>\n'
        f'<script>(function(){{var s={payload};Plotly.newPlot("{div_id}", s.data, s.layout, '
        "{responsive: true, displaylogo: false});})();</script>"
    )


def plots(d: dict[str, Any]) -> dict[str, Markup]:
    out = {
        "breakdown": _plot("plot-breakdown", figures.breakdown(d["estimate"])),
        "memory": _plot("plot-memory", figures.memory(d["estimate"])),
        "scaling": _plot("plot-scaling", figures.scaling(d["scaling"])),
    }
    if d.get("fabric", {}).get("flows"):
        out["flows"] = _plot("plot-flows", figures.flows(d["fabric"]["flows"]))
    if d.get("timeline"):
        out["pipeline"] = _plot("plot-pipeline", figures.pipeline(d["timeline"]))
    if d.get("simulation"):
        out["failures"] = _plot("plot-failures", figures.failures(d["simulation"]))
        out["goodput"] = _plot("plot-goodput", figures.goodput(d["simulation"]))
        out["power"] = _plot("plot-power", figures.power_timeline(d["simulation"], d["facility"]))
    if d.get("facility", {}).get("buildout"):
        out["buildout"] = _plot("plot-buildout", figures.buildout(d["facility"]["buildout"]))
    if d.get("power_swings", {}).get("series"):
        out["swing_steps"] = _plot("plot-swing-steps", figures.swing_steps(d["power_swings"]))
        out["swing_event"] = _plot("plot-swing-event", figures.swing_event(d["power_swings"]))
    if d.get("top500"):
        out["top500"] = _plot("plot-top500", figures.top500(d["top500"]))
    return out


def render(d: dict[str, Any]) -> str:
    env = Environment(loader=PackageLoader("supercluster.report", "templates"), autoescape=True)
    template = env.get_template("report.html.j2")
    return template.render(d=d, plots=plots(d), plotly_js=Markup(plotly.offline.get_plotlyjs()))


def write(d: dict[str, Any], path: str | Path) -> Path:
    return write_text(path, render(d), "report")
