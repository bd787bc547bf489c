"""Where scaling stops: utilisation and time to train as training compute grows, under a duration limit."""

from supercluster.limits.run import LimitsResult, run_limits

__all__ = ["LimitsResult", "run_limits"]
