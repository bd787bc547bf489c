"""Power swings of a training job and what smooths them: swing, ramp, spectrum, battery, GPU power floor.

The series come from :mod:`supercluster.facility.step_power` (one step from the step model's event timeline,
and a window with a checkpoint stall and a failure restart); the battery from the ramp-limited grid draw of
:mod:`supercluster.facility.smoothing` (Choukse et al., "Power stabilization for AI training datacenters",
arXiv:2508.14318: section III's utility limits, section IV's energy storage and minimum power floor). The need
is compared with a reference installation (the Megapacks at xAI's Memphis site, power_swings.yaml).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from supercluster.facility import smoothing
from supercluster.facility.step_power import (
    SMOOTH_BINS,
    PowerLevels,
    StepSeries,
    bin_average,
    compute_share,
    event_segments,
    power_levels,
    sample,
    spectrum,
    step_series,
)
from supercluster.perf.step import StepEstimate
from supercluster.specs import Scenario
from supercluster.specs.swings import SwingAssumptions
from supercluster.units import DAY_S

SHOW_STEPS, SHOW_POINTS = 4, 2000  # what the report plots


@dataclass(frozen=True)
class EventInputs:
    """What the lifecycle model says about the job's interruptions (supercluster.lifecycle.run)."""

    recovery_s: float
    checkpoint_stall_s: float
    mtbf_s: float
    checkpoint_interval_s: float


@dataclass
class SwingReport:
    levels: PowerLevels
    series: StepSeries
    spectrum: dict[str, Any]
    events: EventInputs
    event_segments: list[tuple[float, float]]
    ramp_limit_w_per_s: float | None
    ramp_limit_note: str
    max_swing_w: float | None
    step_need: smoothing.BatteryNeed
    event_need: smoothing.BatteryNeed
    battery_w: float
    battery_j: float
    sweep: list[dict[str, float]]
    floor: dict[str, float]
    reference: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    plot: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        s, lv = self.series, self.levels
        p = s.facility_w
        train_w = float(p.mean())
        idle_w = float(lv.facility_w(0.0))
        out: dict[str, Any] = {
            "levels": {
                "nodes": lv.nodes,
                "compute_node_w": lv.compute_node_w,
                "comm_node_w": lv.comm_node_w,
                "fixed_mw": lv.fixed_w / 1e6,
                "pue": lv.pue,
            },
            "step": {
                "step_time_s": s.step_s,
                "source": s.source,
                "peak_mw": float(p.max()) / 1e6,
                "trough_mw": float(p.min()) / 1e6,
                "mean_mw": train_w / 1e6,
                "swing_mw": float(p.max() - p.min()) / 1e6,
                "swing_pct_of_peak": float((p.max() - p.min()) / p.max() * 100),
                "ramp_mw_per_s": s.ramp_w_per_s / 1e6,
                "low_share": float(1.0 - s.busy.mean()),
                "step_hz": 1.0 / s.step_s,
                **self.spectrum,
            },
            "events": {
                "training_mw": train_w / 1e6,
                "idle_mw": idle_w / 1e6,
                "drop_mw": (train_w - idle_w) / 1e6,
                "recovery_s": self.events.recovery_s,
                "checkpoint_stall_s": self.events.checkpoint_stall_s,
                "restarts_per_day": DAY_S / self.events.mtbf_s if math.isfinite(self.events.mtbf_s) else 0.0,
                "checkpoints_per_day": DAY_S / self.events.checkpoint_interval_s,
            },
            "smoothing": {
                "ramp_limit_mw_per_s": None if self.ramp_limit_w_per_s is None else self.ramp_limit_w_per_s / 1e6,
                "ramp_limit_note": self.ramp_limit_note,
                "max_swing_mw": None if self.max_swing_w is None else self.max_swing_w / 1e6,
                "step": self.step_need.to_dict(),
                "event": self.event_need.to_dict(),
                "battery_mw": self.battery_w / 1e6,
                "battery_mwh": self.battery_j / 3.6e9,
            },
            "sweep": self.sweep,
            "floor": self.floor,
            "reference_storage": self.reference,
            "notes": self.notes,
        }
        if self.plot is not None:
            out["series"] = self.plot
        return out


def floor_alternative(
    levels: PowerLevels,
    series: StepSeries,
    ramp_limit_w_per_s: float | None,
    max_swing_w: float | None,
    usd_per_kwh: float,
) -> dict[str, float]:
    """Instead of a battery, hold every GPU at a power floor F during its low phases (the paper's section IV
    'minimum power floor'): node draw max(F, ...) makes the series F + (compute - F) x busy, so swing and ramp
    scale by (compute - F) / (compute - comm) and the extra energy per step is PUE x nodes x (F - comm) x
    integral(1 - busy) dt. F is the lowest floor that meets the limits; it does nothing for restarts."""
    p = series.facility_w
    swing = float(p.max() - p.min())
    keep = 1.0
    if ramp_limit_w_per_s is not None and series.ramp_w_per_s > 0:
        keep = min(keep, ramp_limit_w_per_s / series.ramp_w_per_s)
    if max_swing_w is not None and swing > 0:
        keep = min(keep, max_swing_w / swing)
    floor_w = levels.compute_node_w - keep * (levels.compute_node_w - levels.comm_node_w)
    low_s = float((1.0 - series.busy).sum()) * series.dt_s
    extra_j_per_step = levels.pue * levels.nodes * (floor_w - levels.comm_node_w) * low_s
    per_day_j = extra_j_per_step * DAY_S / series.step_s
    mean_w = float(p.mean())
    return {
        "floor_node_w": floor_w,
        "floor_of_compute": floor_w / levels.compute_node_w,
        "swing_after_mw": keep * swing / 1e6,
        "ramp_after_mw_per_s": keep * series.ramp_w_per_s / 1e6,
        "wasted_mwh_per_day": per_day_j / 3.6e9,
        "wasted_usd_per_day": per_day_j / 3.6e6 * usd_per_kwh,
        "wasted_pct_of_energy": extra_j_per_step / (mean_w * series.step_s) * 100 if mean_w > 0 else 0.0,
    }


def _downsample(x: np.ndarray, n: int) -> list[float]:
    if x.size <= n:
        return [float(v) for v in x]
    idx = np.linspace(0, x.size - 1, n).round().astype(int)
    return [float(v) for v in x[idx]]


def _plot_series(
    series: StepSeries,
    step_grid: np.ndarray,
    step_dt: float,
    event_load: np.ndarray,
    event_dt: float,
    ramp: float | None,
    swing: float | None,
) -> dict[str, Any]:
    """A few steps and the event window, load vs grid and the battery's state of charge, thinned for plotting."""
    load = np.tile(bin_average(series.facility_w, series.dt_s, step_grid.size)[0], SHOW_STEPS)
    grid = np.tile(step_grid, SHOW_STEPS)
    ev_grid = smoothing.event_grid(event_load, event_dt, ramp, swing)
    return {
        "steps": {
            "t_s": _downsample(np.arange(load.size) * step_dt, SHOW_POINTS),
            "load_mw": _downsample(load / 1e6, SHOW_POINTS),
            "grid_mw": _downsample(grid / 1e6, SHOW_POINTS),
            "soc": _downsample(smoothing.state_of_charge(load, grid, step_dt), SHOW_POINTS),
        },
        "event": {
            "t_s": _downsample(np.arange(event_load.size) * event_dt, SHOW_POINTS),
            "load_mw": _downsample(event_load / 1e6, SHOW_POINTS),
            "grid_mw": _downsample(ev_grid / 1e6, SHOW_POINTS),
            "soc": _downsample(smoothing.state_of_charge(event_load, ev_grid, event_dt), SHOW_POINTS),
        },
    }


def combined(step: smoothing.BatteryNeed, event: smoothing.BatteryNeed, above_mean_w: float) -> tuple[float, float]:
    """One battery for both: the step's and the event's capacities stack (a failure can come at either end of
    the step's charge band); the rating is the larger of the step's and the event's plus the step's excursion
    above its mean (at a restart the job comes back oscillating while the grid is still near idle)."""
    return max(step.power_w, event.power_w + above_mean_w), step.energy_j + event.energy_j


def _envelope(
    load: np.ndarray,
    dt_s: float,
    levels: PowerLevels,
    train_w: float,
    events: EventInputs,
    limits: list[float],
    max_swing_w: float | None,
) -> dict[float, tuple[smoothing.BatteryNeed, smoothing.BatteryNeed, float]]:
    """Battery needs at each ramp limit, as the best over the limits evaluated at or below it: a controller
    allowed r may ramp slower, so a tighter limit never needs less battery (the causal limiter alone can be a
    little worse at a higher rate). Returns (step need, event need, the step's rate that achieved it)."""
    drop_w = train_w - float(levels.facility_w(0.0))
    out: dict[float, tuple[smoothing.BatteryNeed, smoothing.BatteryNeed, float]] = {}
    best_step: tuple[smoothing.BatteryNeed, float] | None = None
    best_event: smoothing.BatteryNeed | None = None
    for r in sorted(limits):
        segments = event_segments(
            levels, train_w, events.checkpoint_stall_s, events.recovery_s, max(300.0, 1.5 * drop_w / r)
        )
        s_need = smoothing.periodic_need(load, dt_s, r, max_swing_w)
        e_need = smoothing.segments_need(segments, r, max_swing_w)
        if best_step is None or s_need.energy_j < best_step[0].energy_j:
            best_step = (s_need, r)
        if best_event is None or e_need.energy_j < best_event.energy_j:
            best_event = e_need
        out[r] = (best_step[0], best_event, best_step[1])
    return out


def analyse(
    scn: Scenario,
    step: StepEstimate,
    events: EventInputs,
    assumptions: SwingAssumptions,
    *,
    ramp_limit_w_per_s: float | None = None,
    max_swing_w: float | None = None,
    gpu_slew_s: float | None = None,
    plot: bool = False,
) -> SwingReport:
    slew = gpu_slew_s if gpu_slew_s is not None else assumptions.gpu_slew_s
    levels = power_levels(scn.system, scn.gpus, scn.facility)
    series = step_series(scn, step, levels, slew)
    spec = spectrum(series.facility_w, series.step_s, assumptions.bands)
    train_w = float(series.facility_w.mean())
    drop_w = train_w - float(levels.facility_w(0.0))
    if ramp_limit_w_per_s is None and max_swing_w is None:
        ramp_limit_w_per_s = drop_w / assumptions.grid_response_s
        note = (
            f"default: the {drop_w / 1e6:,.1f} MW training-to-idle drop over {assumptions.grid_response_s:g} s "
            "(NVIDIA: generation takes one to 90 minutes to respond)"
        )
    else:
        note = "given" if ramp_limit_w_per_s is not None else "none (swing limit only)"
    smooth_load, smooth_dt = bin_average(series.facility_w, series.dt_s, SMOOTH_BINS)

    ev_tail = max(300.0, 1.5 * drop_w / ramp_limit_w_per_s) if ramp_limit_w_per_s else 300.0
    ev_segments = event_segments(levels, train_w, events.checkpoint_stall_s, events.recovery_s, ev_tail)
    limits = sorted(set(assumptions.ramp_limits_w_per_s) | ({ramp_limit_w_per_s} if ramp_limit_w_per_s else set()))
    best = _envelope(smooth_load, smooth_dt, levels, train_w, events, limits, max_swing_w)
    above_mean_w = float(series.facility_w.max()) - train_w
    sweep = [
        {
            "ramp_limit_mw_per_s": r / 1e6,
            "step_mwh": best[r][0].energy_mwh,
            "event_mwh": best[r][1].energy_mwh,
            "battery_mw": combined(best[r][0], best[r][1], above_mean_w)[0] / 1e6,
            "battery_mwh": best[r][0].energy_mwh + best[r][1].energy_mwh,
            "chosen": r == ramp_limit_w_per_s,
        }
        for r in limits
    ]
    if ramp_limit_w_per_s is not None:
        step_need, event_need, plot_r = (
            best[ramp_limit_w_per_s][0],
            best[ramp_limit_w_per_s][1],
            best[ramp_limit_w_per_s][2],
        )
    else:  # a swing limit alone
        plot_r = None
        step_need = smoothing.periodic_need(smooth_load, smooth_dt, None, max_swing_w)
        event_need = smoothing.segments_need(ev_segments, None, max_swing_w)
    floor = floor_alternative(
        levels, series, ramp_limit_w_per_s, max_swing_w, scn.facility.prices.electricity_usd_per_kwh
    )
    ref = assumptions.reference_storage
    need_w, need_j = combined(step_need, event_need, above_mean_w)
    reference = {
        "name": ref.name,
        "power_mw": ref.power_w / 1e6,
        "energy_mwh": ref.energy_j / 3.6e9,
        "covers": bool(need_w <= ref.power_w and need_j <= ref.energy_j),
        "power_share": need_w / ref.power_w,
        "energy_share": need_j / ref.energy_j,
    }
    notes = [
        f"one step from the {series.source}; all {step.plan.dp:,} data-parallel replicas in lockstep; stages "
        "staggered by the schedule, not assumed in phase",
        f"node draw {levels.compute_node_w / 1e3:.2f} kW computing, {levels.comm_node_w / 1e3:.2f} kW in "
        f"communication, bubbles and restarts (facility training and idle fractions); chunks weighted by their "
        f"compute share {compute_share(step):.2f}; GPU slew {slew * 1e3:g} ms",
        f"facility = PUE {levels.pue:g} x IT at every instant: an upper bound for sub-second swings (cooling "
        "answers in minutes), the IT-only swing is 1/PUE of it",
        "battery = causal ramp limiter on the grid side with a slow state-of-charge loop (energy-neutral per "
        "step); step and event capacities stacked; the charge an event leaves is returned by the slow loop",
        f"floor alternative: the lowest GPU power floor meeting the same limits ({floor['floor_of_compute']:.0%} "
        "of the compute draw); it cannot hold power through a restart",
    ]
    report = SwingReport(
        levels=levels,
        series=series,
        spectrum=spec,
        events=events,
        event_segments=ev_segments,
        ramp_limit_w_per_s=ramp_limit_w_per_s,
        ramp_limit_note=note,
        max_swing_w=max_swing_w,
        step_need=step_need,
        event_need=event_need,
        battery_w=need_w,
        battery_j=need_j,
        sweep=sweep,
        floor=floor,
        reference=reference,
        notes=notes,
    )
    if plot:
        step_grid = smoothing.periodic_grid(smooth_load, smooth_dt, plot_r, max_swing_w)
        ev_load, ev_dt = sample(ev_segments)
        report.plot = _plot_series(series, step_grid, smooth_dt, ev_load, ev_dt, ramp_limit_w_per_s, max_swing_w)
    return report
