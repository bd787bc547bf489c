"""Grid-side smoothing of a facility load: a ramp-limited grid draw and the battery that covers the difference.

The controller is the simple causal rate limiter of Choukse et al., "Power stabilization for AI training
datacenters" (arXiv:2508.14318, section III: the utility's time-domain limits are a maximum ramp rate in
MW/s and a maximum short-term deviation; the energy-storage option of section IV supplies or absorbs what
the grid may not follow). Per sample of width dt:

    x[k] = clip(P[k] + bias, m - S/2, m + S/2)          target (S: allowed swing around the mean m; inf if none)
    g[k] = g[k-1] + clip(x[k] - g[k-1], -r dt, r dt)   grid draw, at most r W/s
    b[k] = P[k] - g[k]                                  battery power (positive: discharging)

and the battery's capacity is the excursion (max - min) of its stored energy -cumsum(b dt); its power
rating is max |b|. A periodic load (one training step repeated) needs a battery that ends each step with the
charge it started with; a slow state-of-charge loop does that by biasing the target, and its steady state is
a constant bias, found here by bisection so that the step's net battery energy is zero. A one-off event
(a restart) runs the limiter from the steady level with no bias; the charge it leaves is returned afterwards
by that slow loop (reported, not sized).

Square wave of amplitude A, period T, half high and half low (hand arithmetic, tested): when r >= 2A/T the
grid catches up within each half period and each edge leaves a triangle A x (A/r) / 2 for the battery:
E = A^2 / (2r). When r < 2A/T the grid cannot follow; it rides a small triangle around the mean and the
battery covers the half-period's deviation (A/2) x (T/2): E = A T / 4. The two agree at r = 2A/T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PERIODS = 6  # periods run to reach the periodic steady state; the last one is measured
BISECTIONS = 40  # bias search: 2^-40 of the load's range


@dataclass(frozen=True)
class BatteryNeed:
    """What the battery must deliver to hold the grid within the limits: rating, capacity, what the grid does."""

    power_w: float
    energy_j: float
    grid_ramp_w_per_s: float
    grid_swing_w: float
    leftover_j: float = 0.0  # net charge a one-off event leaves behind (returned later by the slow loop)

    @property
    def energy_mwh(self) -> float:
        return self.energy_j / 3.6e9

    def to_dict(self) -> dict[str, float]:
        return {
            "battery_mw": self.power_w / 1e6,
            "battery_mwh": self.energy_mwh,
            "grid_ramp_mw_per_s": self.grid_ramp_w_per_s / 1e6,
            "grid_swing_mw": self.grid_swing_w / 1e6,
            "leftover_mwh": self.leftover_j / 3.6e9,
        }


def _limit(x: list[float], g0: float, step_w: float) -> tuple[list[float], float]:
    """One pass of the rate limiter over the target x from grid level g0; step_w = r dt."""
    g = g0
    out = [0.0] * len(x)
    for k, xk in enumerate(x):
        d = xk - g
        if d > step_w:
            g += step_w
        elif d < -step_w:
            g -= step_w
        else:
            g = xk
        out[k] = g
    return out, g


def _target(load: np.ndarray, bias: float, mean: float, swing_w: float | None) -> list[float]:
    x = load + bias
    if swing_w is not None:
        x = np.clip(x, mean - swing_w / 2, mean + swing_w / 2)
    return [float(v) for v in x]


def _need(load: np.ndarray, grid: np.ndarray, dt_s: float) -> BatteryNeed:
    b = load - grid
    stored = -np.cumsum(b) * dt_s
    stored = np.concatenate(([0.0], stored))
    ramp = float(np.max(np.abs(np.diff(grid)))) / dt_s if grid.size > 1 else 0.0
    return BatteryNeed(
        power_w=float(np.max(np.abs(b))),
        energy_j=float(stored.max() - stored.min()),
        grid_ramp_w_per_s=ramp,
        grid_swing_w=float(grid.max() - grid.min()),
        leftover_j=float(stored[-1]),
    )


def periodic_grid(
    load_w: np.ndarray, dt_s: float, ramp_w_per_s: float | None, swing_w: float | None = None
) -> np.ndarray:
    """The grid draw over one period of a periodic load, in the energy-neutral periodic steady state."""
    load = np.asarray(load_w, dtype=float)
    mean = float(load.mean())
    if ramp_w_per_s is None and swing_w is None:
        return load.copy()
    step_w = math.inf if ramp_w_per_s is None else ramp_w_per_s * dt_s
    span = float(load.max() - load.min()) + (swing_w or 0.0) + 1.0

    def run(bias: float) -> tuple[np.ndarray, float]:
        x = _target(load, bias, mean, swing_w)
        g_end = mean
        last: list[float] = []
        for _ in range(PERIODS):
            last, g_end = _limit(x, g_end, step_w)
        grid = np.array(last)
        return grid, float((load - grid).mean())

    grid, drift = run(0.0)
    tol = 1e-9 * span
    if abs(drift) <= tol:
        return grid
    # drift (net discharge per sample) falls as the bias grows: bracket the root, then false position
    # (Illinois variant: the end that stays put has its value halved, so the bracket keeps shrinking)
    lo, hi = (0.0, span) if drift > 0 else (-span, 0.0)
    f_lo = drift if lo == 0.0 else run(lo)[1]
    f_hi = drift if hi == 0.0 else run(hi)[1]
    side = 0
    for _ in range(BISECTIONS):
        mid = hi - f_hi * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)
        grid, drift = run(mid)
        if abs(drift) <= tol or hi - lo <= tol:
            break
        if drift > 0:
            lo, f_lo = mid, drift
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = mid, drift
            if side == 1:
                f_lo *= 0.5
            side = 1
    return grid


def periodic_need(
    load_w: np.ndarray, dt_s: float, ramp_w_per_s: float | None, swing_w: float | None = None
) -> BatteryNeed:
    """Battery rating and capacity that keep the grid within the ramp (and swing) limit over a repeated period."""
    load = np.asarray(load_w, dtype=float)
    return need_of(load, periodic_grid(load, dt_s, ramp_w_per_s, swing_w), dt_s, periodic=True)


def need_of(load_w: np.ndarray, grid_w: np.ndarray, dt_s: float, periodic: bool) -> BatteryNeed:
    """The battery a given grid draw leaves to cover (a periodic one ends where it began: no leftover)."""
    need = _need(np.asarray(load_w, dtype=float), np.asarray(grid_w, dtype=float), dt_s)
    if periodic:
        return BatteryNeed(need.power_w, need.energy_j, need.grid_ramp_w_per_s, need.grid_swing_w, 0.0)
    return need


def event_grid(load_w: np.ndarray, dt_s: float, ramp_w_per_s: float | None, swing_w: float | None = None) -> np.ndarray:
    """The grid draw through a one-off event, starting from the load's first (steady) level."""
    load = np.asarray(load_w, dtype=float)
    if ramp_w_per_s is None and swing_w is None:
        return load.copy()
    x = load if swing_w is None else np.clip(load, load[0] - swing_w, load[0] + swing_w)
    step_w = math.inf if ramp_w_per_s is None else ramp_w_per_s * dt_s
    grid, _ = _limit([float(v) for v in x], float(load[0]), step_w)
    return np.array(grid)


def segments_need(
    segments: list[tuple[float, float]], ramp_w_per_s: float | None, swing_w: float | None = None
) -> BatteryNeed:
    """Exact battery need through a one-off event given as (duration s, load W) pieces, the grid starting at the
    first piece's level. Within a piece the grid moves toward its target at the limit and the battery's stored
    energy is monotonic (the load and the grid stay on the same side of the target), so its extremes lie at the
    ends of the ramps and of the pieces: no sampling, so a 50 ms ramp in a 20-minute window is counted."""
    start = segments[0][1]
    g = start
    stored = low = high = 0.0
    power = 0.0
    g_lo = g_hi = g
    for dur, p in segments:
        x = p if swing_w is None else min(max(p, start - swing_w), start + swing_w)
        t_ramp = 0.0 if ramp_w_per_s is None else min(dur, abs(x - g) / ramp_w_per_s)
        g1 = x if ramp_w_per_s is None or t_ramp < dur else g + math.copysign(ramp_w_per_s * t_ramp, x - g)
        power = max(power, abs(p - g), abs(p - g1))
        stored -= (p - 0.5 * (g + g1)) * t_ramp  # the grid moves linearly from g to g1 over the ramp
        low, high = min(low, stored), max(high, stored)
        stored -= (p - g1) * (dur - t_ramp)
        low, high = min(low, stored), max(high, stored)
        g = g1
        g_lo, g_hi = min(g_lo, g), max(g_hi, g)
    moved = g_hi > g_lo
    ramp = (ramp_w_per_s if ramp_w_per_s is not None else math.inf) if moved else 0.0
    return BatteryNeed(power, high - low, ramp, g_hi - g_lo, stored)


def square_wave_energy_j(amplitude_w: float, period_s: float, ramp_w_per_s: float) -> float:
    """Closed form for a half-high half-low square wave (module docstring): A^2/(2r), or AT/4 when r < 2A/T."""
    if ramp_w_per_s >= 2 * amplitude_w / period_s:
        return amplitude_w**2 / (2 * ramp_w_per_s)
    return amplitude_w * period_s / 4


def state_of_charge(load_w: np.ndarray, grid_w: np.ndarray, dt_s: float) -> np.ndarray:
    """Stored energy as a fraction of the capacity the series needs (0 = the lowest point, 1 = the highest)."""
    stored = -np.cumsum(np.asarray(load_w) - np.asarray(grid_w)) * dt_s
    span = float(stored.max() - stored.min())
    return (stored - stored.min()) / span if span > 0 else np.full(stored.shape, 0.5)
