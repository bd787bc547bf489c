"""Checkpoint size, write, stall and load times, and the interval: Young/Daly's optimum, never shorter than a drain."""

from __future__ import annotations

import math
from dataclasses import dataclass

from supercluster.lifecycle.storage import StoragePath
from supercluster.specs import CheckpointSpec, ModelSpec
from supercluster.units import GB

LONGEST_INTERVAL_S = 30 * 86400.0  # no failures at all (rate scale 0): checkpoint monthly, the longest interval taken


def checkpoint_bytes(model: ModelSpec, spec: CheckpointSpec) -> float:
    """Model state written per checkpoint: ~16 bytes per parameter (bf16 weights, fp32 master, Adam m and v)."""
    return model.total_params * spec.bytes_per_param


def write_s(nbytes: float, path: StoragePath) -> float:
    """Time to drain one checkpoint to storage: bytes / min(aggregate storage write, node storage path x nodes)."""
    return nbytes / path.write_bytes_per_s


def load_s(nbytes: float, path: StoragePath) -> float:
    """Time to read the checkpoint back at a restart, over the same bottleneck as the write, at read bandwidth."""
    return nbytes / path.read_bytes_per_s


def snapshot_s(per_gpu_state_bytes: float, spec: CheckpointSpec) -> float:
    """Copy of one GPU's state to host memory (all GPUs copy at once): state bytes / device-to-host bandwidth."""
    return per_gpu_state_bytes / (spec.snapshot_gb_per_s_per_gpu * GB)


def stall_s(snapshot: float, write: float, spec: CheckpointSpec) -> float:
    """Training time lost per checkpoint.

    Asynchronous (PyTorch async DCP, MegaScale's two-phase checkpoint): the host-memory snapshot plus the
    per-checkpoint planning, metadata and barrier cost; the write then drains in the background.
    Synchronous: training waits for the write as well.
    """
    if spec.asynchronous:
        return snapshot + spec.coordination_s
    return max(snapshot, write) + spec.coordination_s


def young_interval_s(delta_s: float, mtbf_s: float) -> float:
    """Young (1974), CACM 17(9): tau = sqrt(2 delta M)."""
    return math.sqrt(2.0 * delta_s * mtbf_s)


def daly_interval_s(delta_s: float, mtbf_s: float) -> float:
    """Daly (2006), FGCS 22(3), eq. 37: higher-order optimum, valid for delta < 2M, else M.

    tau = sqrt(2 delta M) [1 + (1/3) sqrt(delta / (2M)) + (1/9) (delta / (2M))] - delta
    """
    if delta_s >= 2.0 * mtbf_s:
        return mtbf_s
    x = delta_s / (2.0 * mtbf_s)
    return math.sqrt(2.0 * delta_s * mtbf_s) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - delta_s


@dataclass(frozen=True)
class IntervalChoice:
    """The checkpoint interval (compute seconds between checkpoints) and why it is what it is."""

    interval_s: float
    wanted_s: float  # Daly's optimum, or the interval asked for
    drain_s: float  # time one checkpoint takes to drain in the background
    requested: bool
    clamped: bool  # the wanted interval was shorter than the drain, so the drain sets the interval

    def why(self) -> str:
        wanted = "the interval asked for" if self.requested else "Daly's optimum"
        if self.clamped:
            return (
                f"{wanted} ({self.wanted_s:,.1f} s) is shorter than the {self.drain_s:,.1f} s a checkpoint takes to "
                "drain, and a checkpoint cannot start before the previous one is written: the drain sets the interval"
            )
        return f"{wanted}; the previous checkpoint has drained ({self.drain_s:,.1f} s) before the next one starts"


def choose_interval(stall: float, drain: float, mtbf_s: float, requested_s: float | None = None) -> IntervalChoice:
    """Daly's optimum (or the requested interval), clamped so that it is never shorter than the drain time.

    An asynchronous checkpoint writes in the background; the next one cannot start before that write has
    finished (one in-flight checkpoint, as PyTorch's async DCP and Megatron's async save hold), so
    interval >= drain. The drain does not move the optimum itself: in the first-order waste (see
    ``expected_ettr``) it adds a constant per failure.
    """
    if requested_s is not None:
        wanted = requested_s
    else:
        wanted = daly_interval_s(stall, mtbf_s) if math.isfinite(mtbf_s) else LONGEST_INTERVAL_S
    clamped = wanted < drain
    return IntervalChoice(max(wanted, drain), wanted, drain, requested_s is not None, clamped)


def expected_ettr(interval_s: float, delta_s: float, restart_s: float, mtbf_s: float, drain_s: float = 0.0) -> float:
    """First-order expected fraction of wall time spent on kept work (Daly 2006, eq. 12 to first order),
    extended with the drain window of an asynchronous checkpoint:

    per interval the job pays one stall delta; per failure it loses half an interval on average, plus the
    restart R, plus (derived here) the drain W: a failure within W of a checkpoint finds it unwritten and rolls
    back one interval further, which happens with probability W / tau and costs tau, W on average.
    waste = delta / tau + (tau / 2 + W + R) / M;  ETTR = 1 / (1 + waste).
    """
    overhead = delta_s / interval_s + (interval_s / 2.0 + drain_s + restart_s) / mtbf_s
    return 1.0 / (1.0 + overhead)
