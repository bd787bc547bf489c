"""Checkpoint size, stall and load times, and the optimum interval in closed form."""

from __future__ import annotations

import math

from supercluster.specs import CheckpointSpec, ModelSpec
from supercluster.units import GB


def checkpoint_bytes(model: ModelSpec, spec: CheckpointSpec) -> float:
    """Model state written per checkpoint: ~16 bytes per parameter (bf16 weights, fp32 master, Adam m and v)."""
    return model.total_params * spec.bytes_per_param


def write_s(nbytes: float, gpus: int, spec: CheckpointSpec) -> float:
    """Time to write the whole checkpoint to storage (aggregate bandwidth scales with the job's GPUs)."""
    return nbytes / (spec.write_gb_per_s_per_gpu * GB * gpus)


def load_s(nbytes: float, gpus: int, spec: CheckpointSpec) -> float:
    return nbytes / (spec.read_gb_per_s_per_gpu * GB * gpus)


def stall_s(nbytes: float, gpus: int, per_gpu_state_bytes: float, spec: CheckpointSpec) -> float:
    """Training time lost per checkpoint: the host-memory snapshot if asynchronous, the whole write if not."""
    snapshot = per_gpu_state_bytes / (spec.snapshot_gb_per_s_per_gpu * GB)
    return snapshot if spec.asynchronous else max(snapshot, write_s(nbytes, gpus, spec))


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


def expected_ettr(interval_s: float, delta_s: float, restart_s: float, mtbf_s: float) -> float:
    """First-order expected fraction of wall time spent on kept work (Daly 2006, eq. 12 to first order):

    per failure the job loses half an interval plus the restart; per interval it pays one stall.
    """
    overhead = delta_s / interval_s + (interval_s / 2.0 + restart_s) / mtbf_s
    return 1.0 / (1.0 + overhead)
