"""Whole-run simulation inputs for tests: one failure cause and nothing else, so hand arithmetic applies."""

import math

import numpy as np

from supercluster.lifecycle.failures import FailureRates
from supercluster.lifecycle.montecarlo import RunInputs


def one_cause(rate_per_hour: float, detect_s: float = 0.0) -> FailureRates:
    """A single GPU failure cause at ``rate_per_hour`` for the whole job, detected after ``detect_s``."""
    return FailureRates(("x",), ("GPU",), np.array([rate_per_hour]), np.array([detect_s]), np.array([False]))


def run_inputs(rate_per_hour: float, **kw) -> RunInputs:
    """No work limit, 60 days, one failure cause; every cost zero unless given in ``kw``."""
    base = {
        "work_s": math.inf,
        "horizon_s": 60 * 86400.0,
        "rates": one_cause(rate_per_hour),
        "restart_s": 0.0,
        "load_s": 0.0,
        "swap_s": 0.0,
        "stall_s": 0.0,
        "interval_s": 600.0,
        "planned_per_s": 0.0,
        "planned_downtime_s": 0.0,
        "spares": 0,
        "repair_s": 0.0,
        "straggler_mean": 0.0,
        "straggler_sigma": 0.0,
    }
    return RunInputs(**{**base, **kw})
