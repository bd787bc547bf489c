"""Facility power of a synchronous training job over one step and around restart and checkpoint events.

A synchronous job swings the whole campus between compute and communication phases (Choukse et al., "Power
stabilization for AI training datacenters", arXiv:2508.14318, abstract: "during every iteration there is a
computation-heavy phase ... and a communication-heavy phase where all the GPUs synchronize"; Llama 3,
arXiv:2407.21783 section 3.3.4: "fluctuations of power consumption across the data center on the order of
tens of megawatts"). The series here is derived from the step model's own event timeline
(:mod:`supercluster.perf.timeline`), not assumed all-in-phase:

- busy(t) in [0, 1] is the share of pipeline stages running a forward or backward chunk at time t, each chunk
  weighted by the compute share of its time (compute / (compute + exposed TP, EP and PP communication), from
  the step's breakdown: a chunk's own collectives are averaged over the chunk, not resolved); the pipeline's
  warm-up and drain stagger the stages, so the aggregate steps down stage by stage; the exposed gradient
  synchronisation is a low phase for every GPU; the optimizer step counts as busy. All data-parallel replicas
  run the same schedule in lockstep (one pipeline scaled; real replicas jitter, which softens the edges).
- A node draws the facility's training fraction of its rating when busy and its idle fraction otherwise
  (facility.yaml: 0.76 measured by Newkirk et al. arXiv:2506.14551; idle 0.30 an assumption); a GPU moves
  between the two linearly over gpu_slew_s (a moving average of that width over the phase series).
- Facility power = PUE x (nodes x node draw + network + storage + pumps), the convention of
  :func:`supercluster.facility.power.cluster_power` applied at every instant. Cooling plant answers in minutes,
  so for sub-second swings this is an upper bound: the meter swing lies between the IT swing and PUE times it.

Frequency content: the series is periodic with the step time T, so its spectrum is lines at k/T; the FFT of one
period (numpy.fft.rfft) gives the dominant line and the share of swing energy (variance) in the bands the
utilities set limits for. Events: a failure drops the whole job to idle for the mean recovery (detection,
restart, checkpoint load: :mod:`supercluster.lifecycle.run`), then it returns to the step's mean power; a
checkpoint stalls the job for its stall time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.facility.power import cluster_power
from supercluster.perf.step import StepEstimate
from supercluster.perf.timeline import StepTimeline, simulate_step
from supercluster.specs import Scenario, SystemSpec
from supercluster.specs.facility import FacilityAssumptions

MAX_TIMELINE_OPS = 200_000  # beyond this the step is shaped from the analytical breakdown (bounded work)
MIN_BINS, MAX_BINS = 256, 32_768  # samples of one step: slew / 4 wide where that fits
SMOOTH_BINS = 2048  # the periodic battery search runs on bin averages of this many samples
EVENT_SAMPLES = 40_000
LEAD_S, GAP_S = 60.0, 120.0  # layout of the event window: training before the checkpoint and before the failure


@dataclass(frozen=True)
class PowerLevels:
    """The two node draws of a synchronous job and the load that does not follow the step."""

    nodes: int
    compute_node_w: float
    comm_node_w: float
    fixed_w: float  # network switches, storage and service nodes, coolant pumps
    pue: float

    def facility_w(self, busy: Any) -> Any:
        """PUE x (nodes x (comm + (compute - comm) x busy) + fixed): busy 1 is every GPU computing."""
        node = self.comm_node_w + (self.compute_node_w - self.comm_node_w) * busy
        return self.pue * (self.nodes * node + self.fixed_w)

    @property
    def full_swing_w(self) -> float:
        return self.pue * self.nodes * (self.compute_node_w - self.comm_node_w)


def power_levels(system: SystemSpec, gpus: int, fa: FacilityAssumptions) -> PowerLevels:
    train = cluster_power(system, gpus, fa, "training")
    idle = cluster_power(system, gpus, fa, "idle")
    fixed = train.network_w + train.storage_w + train.cooling_pumps_w
    return PowerLevels(train.nodes, train.node_w, idle.node_w, fixed, train.pue)


def compute_share(step: StepEstimate) -> float:
    """Share of a chunk's time spent computing: the rest is its exposed TP, EP and PP communication."""
    busy = step.compute_s + step.recompute_s
    comm = step.tp_comm_s + step.ep_comm_s + step.pp_comm_s
    return busy / (busy + comm) if busy + comm > 0 else 1.0


def _coverage(edges: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Busy time summed over intervals [start, end) up to each edge: sum(clip(t - s, 0, e - s))."""

    def ramp(points: np.ndarray) -> np.ndarray:
        p = np.sort(points)
        cum = np.concatenate(([0.0], np.cumsum(p)))
        n = np.searchsorted(p, edges, side="left")
        return edges * n - cum[n]

    return ramp(starts) - ramp(ends)


def _bins(step_s: float, slew_s: float) -> int:
    return int(min(MAX_BINS, max(MIN_BINS, math.ceil(step_s / (slew_s / 4)))))


def busy_from_timeline(tl: StepTimeline, share: float, bins: int) -> np.ndarray:
    """Phase series of one step from the event simulation (see the module docstring)."""
    starts = np.array([o.start_s for o in tl.ops])
    ends = np.array([o.end_s for o in tl.ops])
    pass_s = float(ends.max()) if ends.size else 0.0
    passes = max(1, round(tl.pipeline_s / pass_s)) if pass_s > 0 else 1
    if passes > 1:  # a stack that accumulates outside the schedule repeats the simulated pass
        offsets = np.arange(passes)[:, None] * pass_s
        starts, ends = (starts + offsets).ravel(), (ends + offsets).ravel()
    edges = np.linspace(0.0, tl.total_s, bins + 1)
    dt = tl.total_s / bins
    pipe = np.diff(_coverage(edges, starts, ends)) / (dt * tl.stages)
    opt0 = tl.pipeline_s + tl.dp_s
    opt = np.diff(np.clip(edges - opt0, 0.0, tl.optimizer_s)) / dt
    return np.clip(share * pipe + opt, 0.0, 1.0)


def busy_analytical(step: StepEstimate, share: float, bins: int) -> np.ndarray:
    """Phase series from the analytical breakdown: the bubble spread evenly over the pipeline phase, then the
    exposed gradient synchronisation (low) and the optimizer (busy)."""
    t = step.step_time_s
    pipe_s = max(t - step.dp_comm_s - step.optimizer_s, 0.0)
    level = share * (pipe_s - step.bubble_s) / pipe_s if pipe_s > 0 else 0.0
    edges = np.linspace(0.0, t, bins + 1)
    dt = t / bins
    pipe = np.diff(np.clip(edges, 0.0, pipe_s)) / dt * level
    opt = np.diff(np.clip(edges - pipe_s - step.dp_comm_s, 0.0, step.optimizer_s)) / dt
    return np.clip(pipe + opt, 0.0, 1.0)


def slewed(busy: np.ndarray, width: int) -> np.ndarray:
    """Circular trailing moving average of `width` samples: a step in the phase becomes a linear ramp."""
    if width < 2:
        return busy.copy()
    padded = np.concatenate((busy[-(width - 1) :], busy))
    return np.convolve(padded, np.ones(width) / width, mode="valid")


@dataclass(frozen=True)
class StepSeries:
    step_s: float
    dt_s: float
    busy: np.ndarray
    facility_w: np.ndarray
    ramp_w_per_s: float
    source: str


def step_series(
    scn: Scenario, step: StepEstimate, levels: PowerLevels, slew_s: float, share: float | None = None
) -> StepSeries:
    """Facility power over one step, from the event timeline where it can be simulated, else analytical."""
    share = compute_share(step) if share is None else share
    plan = step.plan
    m = step.microbatches if plan.local_batch is None else plan.local_batch // plan.micro_batch
    tl = None
    if 2 * plan.pp * plan.vpp * m <= MAX_TIMELINE_OPS:
        try:
            tl = simulate_step(scn.workload, scn.system, scn.software, step)
        except SuperclusterError:
            tl = None
    step_s = tl.total_s if tl is not None else step.step_time_s
    bins = _bins(step_s, slew_s)
    if tl is not None:
        raw = busy_from_timeline(tl, share, bins)
        source = f"event simulation of one pipeline ({tl.stages} stages x {tl.chunks} chunks x {tl.microbatches})"
    else:
        raw = busy_analytical(step, share, bins)
        source = "analytical breakdown (no event simulation for this schedule or size)"
    dt = step_s / bins
    width = round(slew_s / dt)
    busy = slewed(raw, width)
    power = levels.facility_w(busy)
    if width >= 4:
        ramp = float(np.max(np.abs(np.diff(np.append(power, power[0]))))) / dt
    else:  # the bins are wider than the slew: a jump between bins happens within one slew time
        raw_power = levels.facility_w(raw)
        ramp = float(np.max(np.abs(np.diff(np.append(raw_power, raw_power[0]))))) / max(slew_s, dt)
    return StepSeries(step_s, dt, busy, power, ramp, source)


def bin_average(series: np.ndarray, dt_s: float, n_out: int) -> tuple[np.ndarray, float]:
    """Exact averages of a uniformly sampled series over n_out equal bins (energy kept)."""
    n = series.size
    if n <= n_out:
        return series.copy(), dt_s
    total = n * dt_s
    cum = np.concatenate(([0.0], np.cumsum(series) * dt_s))
    at = np.interp(np.linspace(0.0, total, n_out + 1), np.linspace(0.0, total, n + 1), cum)
    return np.diff(at) / (total / n_out), total / n_out


def spectrum(power_w: np.ndarray, step_s: float, bands: list[Any]) -> dict[str, Any]:
    """Lines of the periodic series at k / step_s: the dominant one and the variance share per band."""
    x = np.fft.rfft(power_w - power_w.mean())
    energy = np.abs(x[1:]) ** 2
    freqs = np.arange(1, x.size) / step_s
    total = float(energy.sum())
    if total <= 0:
        return {"dominant_hz": None, "dominant_harmonic": None, "fundamental_mw": 0.0, "band_share": {}}
    k = int(np.argmax(energy))
    share = {b.name: float(energy[(freqs >= b.lo_hz) & (freqs <= b.hi_hz)].sum()) / total for b in bands}
    return {
        "dominant_hz": float(freqs[k]),
        "dominant_harmonic": k + 1,
        "fundamental_mw": 2 * float(np.abs(x[1])) / power_w.size / 1e6,
        "band_share": share,
    }


def event_segments(
    levels: PowerLevels, train_w: float, stall_s: float, recovery_s: float, tail_s: float
) -> list[tuple[float, float]]:
    """(duration s, load W) around a checkpoint stall and a failure: training, stall (idle), training, recovery
    (idle), training. GPUs change level in milliseconds; at this time scale the transitions are steps."""
    idle_w = float(levels.facility_w(0.0))
    pieces = [(LEAD_S, train_w), (stall_s, idle_w), (GAP_S, train_w), (recovery_s, idle_w), (tail_s, train_w)]
    return [(d, w) for d, w in pieces if d > 0]


def sample(segments: list[tuple[float, float]]) -> tuple[np.ndarray, float]:
    """The pieces sampled at midpoints (for plotting and the sampled grid line)."""
    total = sum(d for d, _ in segments)
    dt = max(0.05, total / EVENT_SAMPLES)
    t = (np.arange(math.ceil(total / dt)) + 0.5) * dt
    ends = np.cumsum([d for d, _ in segments])
    idx = np.minimum(np.searchsorted(ends, t, side="right"), len(segments) - 1)
    return np.array([w for _, w in segments])[idx], dt
